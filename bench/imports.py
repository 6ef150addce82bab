"""Import time of the library against import time of ops, with ``python -X importtime``."""

from __future__ import annotations

import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

from bench.inprocess import ROOT

LIBRARY = 'charms.state_helpers.v0.state'


def _importtime(code: str, cache: str | None) -> list[tuple[int, int, str]]:
    """(self us, cumulative us, indented name) for each module a fresh interpreter imports.

    With ``cache``, compiled modules are kept under that directory, as a deployed charm
    keeps them beside its code after its first hook; without, every import compiles.
    """
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(ROOT / 'lib'), env.get('PYTHONPATH', '')])
    env.pop('PYTHONDONTWRITEBYTECODE', None)
    if cache is None:
        env['PYTHONDONTWRITEBYTECODE'] = '1'
        # An empty cache directory: nothing compiled to find, nothing written to it.
        cache = str(pathlib.Path(tempfile.gettempdir()) / 'bench-no-pycache')
    env['PYTHONPYCACHEPREFIX'] = cache
    proc = subprocess.run(
        [sys.executable, '-X', 'importtime', '-c', code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    rows: list[tuple[int, int, str]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith('import time:') or 'cumulative' in line:
            continue
        self_us, cumulative_us, name = line.removeprefix('import time:').split('|')
        rows.append((int(self_us), int(cumulative_us), name))
    return rows


def _top_level(name: str) -> bool:
    # importtime indents a module two spaces per level of nesting, after one space.
    return not name.startswith('  ')


def ops_import(cache: str | None) -> int:
    """Microseconds to import ops into a fresh interpreter."""
    rows = _importtime('import ops', cache)
    return next(cumulative for _, cumulative, name in rows if name.strip() == 'ops')


def library_import(cache: str | None) -> int:
    """Microseconds to import the library into an interpreter that has imported ops.

    Everything imported after ops is the library's own cost: the module, its packages and
    any module it needs that ops did not load.
    """
    rows = _importtime(f'import ops; import {LIBRARY}', cache)
    after_ops = False
    total = 0
    for _, cumulative, name in rows:
        if not _top_level(name):
            continue
        if after_ops:
            total += cumulative
        elif name.strip() == 'ops':
            after_ops = True
    return total


def measure(runs: int) -> tuple[list[float], list[float], list[float]]:
    """Import times in seconds, one per run: ops, the library, the library uncompiled.

    The first two are with compiled modules cached (every hook after the first); the
    third compiles the library in every run, as the first hook after a deploy or an
    upgrade does.
    """
    ops_times: list[float] = []
    library_times: list[float] = []
    cold_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix='bench-pycache-') as cache:
        library_import(cache)  # compile once, as the first hook does
        for _ in range(runs):
            ops_times.append(ops_import(cache) / 1e6)
            library_times.append(library_import(cache) / 1e6)
            cold_times.append(library_import(None) / 1e6)
    return ops_times, library_times, cold_times


if __name__ == '__main__':
    for label, times in zip(('ops', 'library', 'library, uncompiled'), measure(5), strict=True):
        print(f'{label}: {statistics.median(times) * 1e3:.2f} ms')
