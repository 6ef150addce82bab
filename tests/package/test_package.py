"""The Python package: build the sdist and wheel, install the wheel in a fresh venv, use it.

``tox -e package`` runs these; they need ``build`` and reach the package index for
hatchling and ops.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import tarfile
import textwrap
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LIBRARY = ROOT / 'lib' / 'charms' / 'state_helpers' / 'v0' / 'state.py'


def library_field(name: str) -> int:
    """A metadata field of the library file, read as plain text."""
    match = re.search(rf'^{name} = (\d+)$', LIBRARY.read_text(), flags=re.MULTILINE)
    assert match is not None, name
    return int(match[1])


VERSION = f'{library_field("LIBAPI")}.{library_field("LIBPATCH")}'


def clean_env() -> dict[str, str]:
    """This environment without PYTHONPATH, which tox points at lib/ and would hide the wheel."""
    return {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME')}


@pytest.fixture(scope='module')
def dist(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    # python -m build makes the sdist, then the wheel from the unpacked sdist, so the wheel
    # also proves that the sdist holds everything a build needs.
    out = tmp_path_factory.mktemp('dist')
    subprocess.run(
        [sys.executable, '-m', 'build', '--outdir', str(out), str(ROOT)],
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    return out


@pytest.fixture(scope='module')
def venv(dist: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    # A fresh venv with the wheel and its testing extra, and nothing from this environment.
    path = tmp_path_factory.mktemp('venv')
    subprocess.run([sys.executable, '-m', 'venv', str(path)], check=True, env=clean_env())
    wheel = dist / f'state_helpers-{VERSION}-py3-none-any.whl'
    subprocess.run(
        [str(path / 'bin' / 'python'), '-m', 'pip', 'install', '--quiet', f'{wheel}[testing]'],
        check=True,
        env=clean_env(),
    )
    return path


def test_version_is_libapi_dot_libpatch(dist: pathlib.Path) -> None:
    assert sorted(p.name for p in dist.iterdir()) == [
        f'state_helpers-{VERSION}-py3-none-any.whl',
        f'state_helpers-{VERSION}.tar.gz',
    ]


def test_wheel_holds_the_library_file_as_state_helpers(dist: pathlib.Path) -> None:
    with zipfile.ZipFile(dist / f'state_helpers-{VERSION}-py3-none-any.whl') as wheel:
        names = sorted(wheel.namelist())
        module = wheel.read('state_helpers/__init__.py')
        metadata = wheel.read(f'state_helpers-{VERSION}.dist-info/METADATA').decode()

    info = f'state_helpers-{VERSION}.dist-info'
    assert names == [
        f'{info}/METADATA',
        f'{info}/RECORD',
        f'{info}/WHEEL',
        f'{info}/licenses/LICENSE',
        'state_helpers/__init__.py',
        'state_helpers/py.typed',
    ]
    assert module == LIBRARY.read_bytes()
    assert 'Name: state-helpers\n' in metadata
    assert f'Version: {VERSION}\n' in metadata
    assert 'Requires-Python: >=3.10\n' in metadata
    assert 'Requires-Dist: ops<4,>=2.23\n' in metadata
    assert "Requires-Dist: ops[testing]<4,>=2.23; extra == 'testing'\n" in metadata


def test_sdist_holds_the_library_and_the_build_hook(dist: pathlib.Path) -> None:
    with tarfile.open(dist / f'state_helpers-{VERSION}.tar.gz') as sdist:
        names = sorted(sdist.getnames())

    top = f'state_helpers-{VERSION}'
    assert names == [
        f'{top}/.gitignore',
        f'{top}/CHANGELOG.md',
        f'{top}/LICENSE',
        f'{top}/PKG-INFO',
        f'{top}/README.md',
        f'{top}/lib/charms/state_helpers/v0/state.py',
        f'{top}/pypi/hatch_build.py',
        f'{top}/pypi/py.typed',
        f'{top}/pyproject.toml',
    ]


# A charm that uses every helper, run with ops.testing inside the fresh venv. It prints what
# the test checks, as JSON.
USE = textwrap.dedent("""\
    import dataclasses
    import importlib.metadata
    import importlib.util
    import json
    import pathlib

    import ops
    from ops import testing

    import state_helpers
    from state_helpers import LocalState, NotLeaderError, PeerState, decode, decode_local


    @dataclasses.dataclass
    class Cluster:
        token: str = ''


    @dataclasses.dataclass
    class Counter:
        events: int = 0


    class Charm(ops.CharmBase):
        def __init__(self, framework):
            super().__init__(framework)
            self.cluster = PeerState(self, 'cluster', Cluster)
            self.counter = LocalState(self, 'counter', Counter)
            framework.observe(self.on.start, self._on_start)

        def _on_start(self, event):
            with self.counter.edit() as counter:
                counter.events += 1
            try:
                self.cluster.set(Cluster(token='abc'))
            except NotLeaderError:
                self.unit.status = ops.BlockedStatus('not leader')


    meta = {'name': 'user', 'peers': {'cluster': {'interface': 'user_cluster'}}}
    ctx = testing.Context(Charm, meta=meta)
    results = {}
    for leader in (True, False):
        peer = testing.PeerRelation('cluster')
        out = ctx.run(ctx.on.start(), testing.State(leader=leader, relations={peer}))
        app = out.get_relation(peer.id).local_app_data
        results[f'leader={leader}'] = {
            'app': dataclasses.asdict(decode(Cluster, app)),
            'local': dataclasses.asdict(decode_local(out, 'counter', Counter)),
            'status': out.unit_status.name,
        }

    package = pathlib.Path(state_helpers.__file__).parent
    print(json.dumps({
        'version': importlib.metadata.version('state-helpers'),
        'libpatch': state_helpers.LIBPATCH,
        'py.typed': (package / 'py.typed').is_file(),
        'in site-packages': package.parent.name == 'site-packages',
        'charms importable': importlib.util.find_spec('charms') is not None,
        'results': results,
    }))
    """)


def test_installed_wheel_works_in_a_charm(venv: pathlib.Path, tmp_path: pathlib.Path) -> None:
    # Run from an empty directory, so that nothing of this repository is importable.
    result = subprocess.run(
        [str(venv / 'bin' / 'python'), '-c', USE],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(),
    )

    assert json.loads(result.stdout) == {
        'version': VERSION,
        'libpatch': library_field('LIBPATCH'),
        'py.typed': True,
        'in site-packages': True,
        'charms importable': False,
        'results': {
            'leader=True': {'app': {'token': 'abc'}, 'local': {'events': 1}, 'status': 'unknown'},
            'leader=False': {'app': {'token': ''}, 'local': {'events': 1}, 'status': 'blocked'},
        },
    }
