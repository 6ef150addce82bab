"""Build hook: the package's version comes from the library's LIBAPI and LIBPATCH.

The library file is the one source of the package, so its version is read from the file
rather than written a second time: ``LIBAPI.LIBPATCH``, so LIBAPI 0 with LIBPATCH 3 is
version 0.3. The file is parsed, not imported, since the build has no ops to import.
"""

from __future__ import annotations

import ast
import pathlib
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

LIBRARY = pathlib.Path('lib', 'charms', 'state_helpers', 'v0', 'state.py')


def library_version(path: pathlib.Path) -> str:
    """The package version of a library file: ``LIBAPI.LIBPATCH``.

    Args:
        path: the library file.

    Returns:
        The version, for example ``'0.1'``.

    Raises:
        ValueError: if LIBAPI or LIBPATCH is not a top-level assignment of an int.
    """
    fields: dict[str, int] = {}
    for node in ast.parse(path.read_text(encoding='utf-8')).body:
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Constant):
            continue
        value = node.value.value
        for target in node.targets:
            if isinstance(target, ast.Name) and target.id in ('LIBAPI', 'LIBPATCH'):
                # bool is an int, but `LIBPATCH = True` is no version.
                if type(value) is not int:
                    raise ValueError(f'{path}: {target.id} must be an int, not {value!r}')
                fields[target.id] = value

    missing = sorted({'LIBAPI', 'LIBPATCH'} - set(fields))
    if missing:
        raise ValueError(f'{path}: no top-level {" or ".join(missing)} assignment')
    return f'{fields["LIBAPI"]}.{fields["LIBPATCH"]}'


class LibraryVersionHook(MetadataHookInterface):
    """Set the package version from the library file."""

    PLUGIN_NAME = 'custom'

    def update(self, metadata: dict[str, Any]) -> None:
        """Fill in the dynamic version.

        Args:
            metadata: the project's core metadata, changed in place.
        """
        metadata['version'] = library_version(pathlib.Path(self.root) / LIBRARY)
