#!/usr/bin/env python3
"""Check the charm's libraries the way charmcraft will when they are published.

Run it with charmcraft installed, from anywhere::

    python .ci/lib_check.py              # check
    python .ci/lib_check.py --update     # record the content hash of every library
    python .ci/lib_check.py --libs-only  # skip the charmcraft.yaml check, which takes seconds

It checks three things and reports every failure before it exits with status 1:

1. Each library under ``lib/charms/<charm>/`` parses with charmcraft's own library reader,
   the code behind ``charmcraft publish-lib`` and ``fetch-lib``: LIBID, LIBAPI and LIBPATCH
   are plain constants, LIBAPI matches the ``vN`` directory, and so on. LIBID must also be
   32 lowercase hex digits, the form Charmhub issues.
2. ``charmcraft.yaml`` (with the fields it takes from ``metadata.yaml``) passes
   ``charmcraft expand-extensions``, and ``metadata.yaml`` fits charmcraft's metadata model.
3. Each library's content hash, computed by charmcraft (the file without its LIBID, LIBAPI
   and LIBPATCH lines), matches the hash recorded beside it in ``<lib>.lock`` for its
   LIBPATCH. Charmhub refuses a new content under a LIBPATCH it already has, so a change of
   content needs a new LIBPATCH, and the lock records the content that LIBPATCH stands for.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
from dataclasses import dataclass

import yaml
from charmcraft.models.metadata import CharmMetadataLegacy
from charmcraft.utils import charmlibs
from craft_cli import CraftError

UPDATE_COMMAND = 'tox -e lib-check -- --update'
LIBID_FORM = re.compile(r'[0-9a-f]{32}')


@dataclass(frozen=True)
class Record:
    """What a lock file records: the content a library's LIBPATCH stands for."""

    libid: str
    api: int
    patch: int
    content_hash: str

    def to_json(self) -> str:
        """The lock file's text."""
        data = {
            'libid': self.libid,
            'api': self.api,
            'patch': self.patch,
            'content_hash': self.content_hash,
        }
        return json.dumps(data, indent=2) + '\n'


class CheckError(Exception):
    """A check failed; the message says what is wrong and what to do."""


def main(argv: list[str] | None = None) -> int:
    """Run every check, or record the hashes with ``--update``.

    Args:
        argv: the command-line arguments, without the program name.

    Returns:
        The exit status: 0 when every check passed, 1 otherwise.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--root',
        type=pathlib.Path,
        default=pathlib.Path(__file__).resolve().parent.parent,
        help='the charm project to check (default: this repository)',
    )
    parser.add_argument(
        '--update',
        action='store_true',
        help="record each library's content hash for its current LIBPATCH",
    )
    parser.add_argument(
        '--libs-only',
        action='store_true',
        help='check the libraries only, not charmcraft.yaml and metadata.yaml (quicker)',
    )
    args = parser.parse_args(argv)

    # charmcraft's library and metadata readers work on paths relative to the project.
    os.chdir(args.root)
    failures: list[str] = []

    try:
        libraries = read_libraries()
    except CheckError as e:
        failures.append(str(e))
        libraries = []

    for library in libraries:
        try:
            if args.update:
                print(update_lock(library))
            else:
                print(check_lock(library))
        except CheckError as e:
            failures.append(str(e))

    if not args.libs_only:
        try:
            print(check_project())
        except CheckError as e:
            failures.append(str(e))

    for failure in failures:
        print(f'lib-check: FAILED: {failure}', file=sys.stderr)
    return 1 if failures else 0


def read_libraries() -> list[charmlibs.LibData]:
    """Read every library of this charm with charmcraft's library reader.

    Returns:
        The libraries, as charmcraft sees them.

    Raises:
        CheckError: if charmcraft rejects a library, its LIBID is not of Charmhub's form,
            or the charm has no library.
    """
    name = charmlibs.get_name_from_yaml()
    if not name:
        raise CheckError('no charm name in charmcraft.yaml or metadata.yaml')

    try:
        libraries = charmlibs.get_libs_from_tree(name)
    except CraftError as e:
        raise CheckError(f'charmcraft rejects a library: {e}') from None
    if not libraries:
        where = charmlibs.get_lib_charm_path(name)
        raise CheckError(f'charm {name!r} has no library under {where}/vN/')

    for library in libraries:
        if not LIBID_FORM.fullmatch(current(library).libid):
            raise CheckError(
                f'{library.full_name}: LIBID {library.lib_id!r} is not 32 lowercase hex '
                'digits, the form Charmhub issues; use the LIBID that `charmcraft create-lib` '
                'gave this library'
            )
    return libraries


def lock_path(library: charmlibs.LibData) -> pathlib.Path:
    """Where a library's record lives: beside it, as ``<name>.lock``."""
    return library.path.with_suffix('.lock')


def read_lock(library: charmlibs.LibData) -> Record | None:
    """The record beside a library, or None if there is none.

    Raises:
        CheckError: if the lock file is not a record.
    """
    path = lock_path(library)
    if not path.exists():
        return None

    try:
        data = json.loads(path.read_text())
        return Record(
            libid=str(data['libid']),
            api=int(data['api']),
            patch=int(data['patch']),
            content_hash=str(data['content_hash']),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise CheckError(
            f'{path} is not a library record ({type(e).__name__}: {e}); delete it and '
            f'record the hash again with: {UPDATE_COMMAND}'
        ) from None


def current(library: charmlibs.LibData) -> Record:
    """The record a library's current content would get.

    Raises:
        CheckError: if the library's file has gone since it was read.
    """
    # charmcraft leaves both None only for a library whose file does not exist.
    if library.lib_id is None or library.content_hash is None:
        raise CheckError(f'{library.path} is missing')
    return Record(library.lib_id, library.api, library.patch, library.content_hash)


def check_lock(library: charmlibs.LibData) -> str:
    """Compare a library with its record, as Charmhub compares it with its last release.

    Returns:
        A line saying the library matches its record.

    Raises:
        CheckError: saying what changed and what to bump or record.
    """
    now = current(library)
    recorded = read_lock(library)
    name = library.full_name
    if recorded is None:
        raise CheckError(
            f'{name}: no content hash is recorded ({lock_path(library)} is missing); '
            f'record it with: {UPDATE_COMMAND}'
        )
    check_identity(library, recorded)

    if now.patch == recorded.patch:
        if now.content_hash == recorded.content_hash:
            return f'lib-check: {name} {now.api}.{now.patch} matches its recorded hash'
        raise CheckError(
            f'{name} changed but LIBPATCH is still {now.patch} (recorded hash '
            f'{recorded.content_hash[:12]}, now {now.content_hash[:12]}): raise LIBPATCH to '
            f'{now.patch + 1}, then record the new hash with: {UPDATE_COMMAND}. If '
            f'{now.api}.{now.patch} was never published, record the new hash without raising '
            'LIBPATCH.'
        )
    check_step(library, recorded)
    raise CheckError(
        f'{name}: LIBPATCH is {now.patch} but the recorded hash is for LIBPATCH '
        f'{recorded.patch}; record the new hash with: {UPDATE_COMMAND}'
    )


def check_identity(library: charmlibs.LibData, recorded: Record) -> None:
    """Check that the record is this library's: the same LIBID and LIBAPI.

    Raises:
        CheckError: if LIBID or LIBAPI differs from the record.
    """
    now = current(library)
    if now.libid != recorded.libid:
        raise CheckError(
            f'{library.full_name}: LIBID changed from {recorded.libid} to {now.libid}; '
            'a LIBID never changes, or Charmhub takes the file for another library: put '
            f'{recorded.libid} back'
        )
    if now.api != recorded.api:
        raise CheckError(
            f'{library.full_name}: LIBAPI is {now.api} but {lock_path(library)} records '
            f'LIBAPI {recorded.api}; a new LIBAPI is a new file under lib/charms/.../v{now.api}/'
        )


def check_step(library: charmlibs.LibData, recorded: Record) -> None:
    """Check that LIBPATCH moved on from the record by exactly one, with new content.

    Raises:
        CheckError: if LIBPATCH went back, skipped a number, or rose with the same content.
    """
    now = current(library)
    name = library.full_name
    if now.patch < recorded.patch:
        raise CheckError(
            f'{name}: LIBPATCH went back from {recorded.patch} to {now.patch}; Charmhub only '
            f'takes a higher one: set it to {recorded.patch} (or {recorded.patch + 1} for new '
            'content)'
        )
    if now.patch > recorded.patch + 1:
        raise CheckError(
            f'{name}: LIBPATCH jumped from {recorded.patch} to {now.patch}; Charmhub takes '
            f'only the next one: set it to {recorded.patch + 1}'
        )
    if now.content_hash == recorded.content_hash:
        raise CheckError(
            f'{name}: LIBPATCH was raised to {now.patch} but the content is the one recorded '
            f'for LIBPATCH {recorded.patch}; Charmhub refuses that: set LIBPATCH back to '
            f'{recorded.patch}'
        )


def update_lock(library: charmlibs.LibData) -> str:
    """Record a library's content hash for its current LIBPATCH.

    Returns:
        A line saying what was recorded.

    Raises:
        CheckError: if the library is not one the record can move on to: another LIBID or
            LIBAPI, a LIBPATCH that went back or skipped a number, or a raised LIBPATCH with
            unchanged content.
    """
    now = current(library)
    recorded = read_lock(library)
    if recorded is not None:
        check_identity(library, recorded)
        if now.patch != recorded.patch:
            check_step(library, recorded)

    if recorded == now:
        return f'lib-check: {library.full_name} {now.api}.{now.patch} is already recorded'
    lock_path(library).write_text(now.to_json())
    return (
        f'lib-check: recorded {library.full_name} {now.api}.{now.patch} as '
        f'{now.content_hash[:12]} in {lock_path(library)}'
    )


def check_project() -> str:
    """Validate charmcraft.yaml with charmcraft, and metadata.yaml with its metadata model.

    Returns:
        A line saying both are valid.

    Raises:
        CheckError: with charmcraft's own message.
    """
    # expand-extensions loads and validates the whole project offline, without a build.
    result = subprocess.run(
        [sys.executable, '-m', 'charmcraft', 'expand-extensions'],
        capture_output=True,
        text=True,
        check=False,
        # Keep charmcraft's own warnings (an unset XDG_RUNTIME_DIR, say) out of the report.
        env={**os.environ, 'PYTHONWARNINGS': 'ignore'},
    )
    if result.returncode != 0:
        raise CheckError(
            'charmcraft expand-extensions rejects charmcraft.yaml:\n' + result.stderr.strip()
        )

    metadata = pathlib.Path('metadata.yaml')
    if metadata.exists():
        try:
            CharmMetadataLegacy.unmarshal(yaml.safe_load(metadata.read_text()))
        except (CraftError, ValueError, yaml.YAMLError) as e:
            raise CheckError(f'charmcraft rejects metadata.yaml: {e}') from None
    return 'lib-check: charmcraft.yaml and metadata.yaml are valid'


if __name__ == '__main__':
    sys.exit(main())
