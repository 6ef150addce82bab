"""The library check (.ci/lib_check.py) on a small charm project of its own.

These tests need charmcraft installed in the running Python: ``tox -e lib-check`` runs them.
Most call the script's ``main`` in this process with ``--libs-only``, since importing
charmcraft and running ``charmcraft expand-extensions`` takes seconds; the tests of the
project check and one of the command line run it whole.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import pathlib
import subprocess
import sys
import textwrap
from types import ModuleType

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / '.ci' / 'lib_check.py'
LIBID = '0123456789abcdef0123456789abcdef'
LIB = 'charms.state_helpers.v0.state'
UPDATE = 'tox -e lib-check -- --update'

CHARMCRAFT_YAML = """\
name: state-helpers
type: charm
summary: A charm that hosts a library.
description: A charm that hosts a library.
base: ubuntu@24.04
platforms:
  amd64:
parts:
  charm:
    plugin: charm
    source: .
"""


def library_text(*, patch: object = 1, body: str = 'VALUE = 1', libid: str = LIBID) -> str:
    """A library file as charmcraft create-lib lays it out."""
    return textwrap.dedent(f"""\
        \"\"\"A small library.\"\"\"

        # The unique Charmhub library identifier, never change it
        LIBID = {libid!r}

        # Increment this major API version when introducing breaking changes
        LIBAPI = 0

        # Increment this PATCH version before using `charmcraft publish-lib`
        LIBPATCH = {patch!r}

        {body}
        """)


def content_hash(text: str) -> str:
    """The hash charmcraft publishes: SHA-256 of the file without its three metadata lines."""
    kept = [
        line
        for line in text.splitlines(keepends=True)
        if not line.startswith(('LIBID', 'LIBAPI', 'LIBPATCH'))
    ]
    return hashlib.sha256(''.join(kept).encode()).hexdigest()


def load_script() -> ModuleType:
    """Import .ci/lib_check.py as a module, as it is not in a package."""
    spec = importlib.util.spec_from_file_location('lib_check', SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up by name while they are built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclasses.dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


class Project:
    """A charm project in a temporary directory, with one library."""

    def __init__(
        self, root: pathlib.Path, script: ModuleType, capsys: pytest.CaptureFixture[str]
    ) -> None:
        self.root = root
        self.script = script
        self.capsys = capsys
        self.lib = root / 'lib' / 'charms' / 'state_helpers' / 'v0' / 'state.py'
        self.lock = self.lib.with_suffix('.lock')
        self.lib.parent.mkdir(parents=True)
        (root / 'charmcraft.yaml').write_text(CHARMCRAFT_YAML)

    def write_lib(self, *, patch: object = 1, body: str = 'VALUE = 1', libid: str = LIBID) -> str:
        text = library_text(patch=patch, body=body, libid=libid)
        self.lib.write_text(text)
        return text

    def record(self, *, patch: int = 1, body: str = 'VALUE = 1', libid: str = LIBID) -> None:
        text = library_text(patch=patch, body=body, libid=libid)
        lock = {'libid': libid, 'api': 0, 'patch': patch, 'content_hash': content_hash(text)}
        self.lock.write_text(json.dumps(lock))

    def run(self, *args: str, libs_only: bool = True) -> Result:
        """Run the check in this process; the fixture restores the working directory."""
        argv = ['--root', str(self.root), *args]
        returncode = self.script.main([*argv, '--libs-only'] if libs_only else argv)
        captured = self.capsys.readouterr()
        return Result(returncode, captured.out, captured.err)


@pytest.fixture(scope='module')
def script() -> ModuleType:
    return load_script()


@pytest.fixture
def project(
    tmp_path: pathlib.Path,
    script: ModuleType,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Project:
    # main() changes into the project; this puts the working directory back afterwards.
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path, script, capsys)


def test_update_records_charmcraft_hash(project: Project) -> None:
    text = project.write_lib()

    result = project.run('--update')

    assert result.returncode == 0, result.stderr
    assert json.loads(project.lock.read_text()) == {
        'libid': LIBID,
        'api': 0,
        'patch': 1,
        'content_hash': content_hash(text),
    }
    assert result.stdout.splitlines() == [
        f'lib-check: recorded {LIB} 0.1 as {content_hash(text)[:12]} in '
        'lib/charms/state_helpers/v0/state.lock',
    ]


def test_recorded_library_passes(project: Project) -> None:
    project.write_lib()
    project.record()

    result = project.run()

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f'lib-check: {LIB} 0.1 matches its recorded hash']
    assert result.stderr == ''


def test_metadata_lines_are_not_hashed(project: Project) -> None:
    # Charmcraft leaves the LIBID, LIBAPI and LIBPATCH lines out of the hash, so a comment on
    # one of them is no change of content.
    project.write_lib(body='VALUE = 1')
    project.record()
    project.lib.write_text(project.lib.read_text().replace('LIBAPI = 0', 'LIBAPI = 0  # major'))

    result = project.run()

    assert result.returncode == 0, result.stderr


def test_changed_content_needs_a_new_libpatch(project: Project) -> None:
    project.record(body='VALUE = 1')
    text = project.write_lib(body='VALUE = 2')

    result = project.run()

    assert result.returncode == 1
    old, new = content_hash(library_text(body='VALUE = 1')), content_hash(text)
    assert result.stderr == (
        f'lib-check: FAILED: {LIB} changed but LIBPATCH is still 1 (recorded hash {old[:12]}, '
        f'now {new[:12]}): raise LIBPATCH to 2, then record the new hash with: {UPDATE}. '
        'If 0.1 was never published, record the new hash without raising LIBPATCH.\n'
    )


def test_raised_libpatch_is_recorded_by_update(project: Project) -> None:
    project.record(patch=1, body='VALUE = 1')
    text = project.write_lib(patch=2, body='VALUE = 2')

    before = project.run()
    update = project.run('--update')
    after = project.run()

    assert before.returncode == 1
    assert (
        f'{LIB}: LIBPATCH is 2 but the recorded hash is for LIBPATCH 1; record the new hash '
        f'with: {UPDATE}'
    ) in before.stderr
    assert update.returncode == 0, update.stderr
    assert json.loads(project.lock.read_text())['patch'] == 2
    assert json.loads(project.lock.read_text())['content_hash'] == content_hash(text)
    assert after.returncode == 0, after.stderr


def test_update_of_an_unpublished_libpatch(project: Project) -> None:
    # While a LIBPATCH is unpublished its content may still change: --update records it.
    project.record(patch=1, body='VALUE = 1')
    text = project.write_lib(patch=1, body='VALUE = 2')

    update = project.run('--update')

    assert update.returncode == 0, update.stderr
    assert json.loads(project.lock.read_text())['content_hash'] == content_hash(text)
    assert project.run().returncode == 0


@pytest.mark.parametrize(
    ('patch', 'message'),
    [
        (
            1,
            f'{LIB}: LIBPATCH went back from 2 to 1; Charmhub only takes a higher one: set it '
            'to 2 (or 3 for new content)',
        ),
        (
            4,
            f'{LIB}: LIBPATCH jumped from 2 to 4; Charmhub takes only the next one: set it to 3',
        ),
    ],
)
def test_libpatch_moves_by_one(project: Project, patch: int, message: str) -> None:
    project.record(patch=2, body='VALUE = 1')
    project.write_lib(patch=patch, body='VALUE = 2')

    check = project.run()
    update = project.run('--update')

    assert check.returncode == 1
    assert message in check.stderr
    assert update.returncode == 1
    assert message in update.stderr
    assert json.loads(project.lock.read_text())['patch'] == 2


def test_raised_libpatch_needs_new_content(project: Project) -> None:
    project.record(patch=1, body='VALUE = 1')
    project.write_lib(patch=2, body='VALUE = 1')

    result = project.run()

    assert result.returncode == 1
    assert (
        f'{LIB}: LIBPATCH was raised to 2 but the content is the one recorded for LIBPATCH 1; '
        'Charmhub refuses that: set LIBPATCH back to 1'
    ) in result.stderr


def test_libid_never_changes(project: Project) -> None:
    project.record()
    project.write_lib(libid='f' * 32)

    check = project.run()
    update = project.run('--update')

    message = f'{LIB}: LIBID changed from {LIBID} to {"f" * 32}'
    assert check.returncode == 1
    assert message in check.stderr
    assert update.returncode == 1
    assert message in update.stderr


def test_missing_record(project: Project) -> None:
    project.write_lib()

    result = project.run()

    assert result.returncode == 1
    assert result.stderr == (
        f'lib-check: FAILED: {LIB}: no content hash is recorded '
        f'(lib/charms/state_helpers/v0/state.lock is missing); record it with: {UPDATE}\n'
    )


def test_unreadable_record(project: Project) -> None:
    project.write_lib()
    project.lock.write_text('{"libid": "x"}')

    result = project.run()

    assert result.returncode == 1
    assert (
        "lib/charms/state_helpers/v0/state.lock is not a library record (KeyError: 'api')"
    ) in result.stderr


@pytest.mark.parametrize(
    ('patch', 'message'),
    [
        ('1', 'metadata field LIBPATCH must be a constant assignment of zero or a positive'),
        (-1, 'metadata field LIBPATCH must be a constant assignment of zero or a positive'),
        (0, 'metadata fields LIBAPI and LIBPATCH cannot both be zero'),
    ],
)
def test_charmcraft_rejects_the_library(project: Project, patch: object, message: str) -> None:
    project.write_lib(patch=patch)

    result = project.run()

    assert result.returncode == 1
    assert 'lib-check: FAILED: charmcraft rejects a library: Library ' in result.stderr
    assert message in result.stderr


def test_libapi_must_match_the_directory(project: Project) -> None:
    project.lib.write_text(library_text().replace('LIBAPI = 0', 'LIBAPI = 1'))

    result = project.run()

    assert result.returncode == 1
    assert 'metadata field LIBAPI is different from the version in the path' in result.stderr


def test_libid_has_charmhub_form(project: Project) -> None:
    project.write_lib(libid='my-library')
    project.record(libid='my-library')

    result = project.run()

    assert result.returncode == 1
    assert (
        f"{LIB}: LIBID 'my-library' is not 32 lowercase hex digits, the form Charmhub issues"
    ) in result.stderr


def test_charm_without_library(project: Project) -> None:
    result = project.run()

    assert result.returncode == 1
    assert (
        "lib-check: FAILED: charm 'state-helpers' has no library under "
        'lib/charms/state_helpers/vN/\n'
    ) in result.stderr


def test_charmcraft_yaml_is_validated(project: Project) -> None:
    project.write_lib()
    project.record()
    (project.root / 'charmcraft.yaml').write_text(
        CHARMCRAFT_YAML.replace('base: ubuntu@24.04', 'base: ubuntu@99.04')
    )

    result = project.run(libs_only=False)

    assert result.returncode == 1
    assert 'lib-check: FAILED: charmcraft expand-extensions rejects charmcraft.yaml:' in (
        result.stderr
    )
    assert "input_value='ubuntu@99.04'" in result.stderr


def test_metadata_yaml_is_validated(project: Project) -> None:
    project.write_lib()
    project.record()
    charmcraft_yaml = CHARMCRAFT_YAML.replace('name: state-helpers\n', '')
    for field in ('summary', 'description'):
        charmcraft_yaml = charmcraft_yaml.replace(f'{field}: A charm that hosts a library.\n', '')
    (project.root / 'charmcraft.yaml').write_text(charmcraft_yaml)
    (project.root / 'metadata.yaml').write_text(
        'name: state-helpers\nsummary: s\ndescription: d\ndocs: not a link\n'
    )

    result = project.run(libs_only=False)

    assert result.returncode == 1
    assert 'lib-check: FAILED: charmcraft rejects metadata.yaml: ' in result.stderr
    assert 'docs\n  Input should be a valid URL' in result.stderr


def test_command_line(tmp_path: pathlib.Path) -> None:
    # As CI runs it: a process of its own, every check, from another directory.
    project = tmp_path / 'charm'
    lib = project / 'lib' / 'charms' / 'state_helpers' / 'v0' / 'state.py'
    lib.parent.mkdir(parents=True)
    lib.write_text(library_text())
    (project / 'charmcraft.yaml').write_text(CHARMCRAFT_YAML)
    command = [sys.executable, str(SCRIPT), '--root', str(project)]

    first = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path)
    update = subprocess.run(
        [*command, '--update'], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    second = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path)

    assert first.returncode == 1
    assert f'{LIB}: no content hash is recorded' in first.stderr
    assert update.returncode == 0, update.stderr
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [
        f'lib-check: {LIB} 0.1 matches its recorded hash',
        'lib-check: charmcraft.yaml and metadata.yaml are valid',
    ]
    assert second.stderr == ''
