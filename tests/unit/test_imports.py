"""Importing the library loads nothing beyond the standard library and ops."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import ops
before = set(sys.modules)
import charms.state_helpers.v0.state
after = set(sys.modules)
print(json.dumps(sorted(after - before)))
"""


def test_import_loads_only_the_standard_library_and_ops():
    out = subprocess.run(
        [sys.executable, '-c', PROBE], capture_output=True, text=True, check=True
    ).stdout
    added = json.loads(out)

    stdlib = sys.stdlib_module_names
    foreign = [
        name
        for name in added
        if name.split('.')[0] not in stdlib and name.split('.')[0] not in ('ops', 'charms')
    ]
    assert foreign == []
    assert 'charms.state_helpers.v0.state' in added


def test_import_does_not_load_pydantic_or_ops_testing():
    probe = (
        'import sys, charms.state_helpers.v0.state; '
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'pydantic_core', 'scenario') or m == 'ops.testing'))"
    )
    out = subprocess.run(
        [sys.executable, '-c', probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == '[]'
