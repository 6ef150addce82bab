"""The state the benchmarks store: the same dataclasses for every implementation."""

from __future__ import annotations

import dataclasses
from typing import Any

# The field types cycle through what charm state usually holds.
_KINDS: list[tuple[Any, Any, Any]] = [
    # (type, default, the stored value)
    (str, '', 'postgresql-k8s'),
    (int, 0, 5432),
    (bool, False, True),
    (list[str], None, ['10.0.0.1', '10.0.0.2', '10.0.0.3']),
    (dict[str, str], None, {'tier': 'db', 'zone': 'eu-west-1a'}),
    (str | None, None, 'a3f1c9e07b2d4e8f9a6c5b4d3e2f1a0b'),
    (float, 0.0, 0.75),
]


def _field(kind: Any, default: Any) -> Any:
    if kind in (list[str], dict[str, str]):
        return dataclasses.field(default_factory=kind.__origin__)
    return dataclasses.field(default=default)


def _schema(name: str, size: int) -> type[Any]:
    fields = [
        (f'field_{i}', _KINDS[i % len(_KINDS)][0], _field(*_KINDS[i % len(_KINDS)][:2]))
        for i in range(size)
    ]
    return dataclasses.make_dataclass(name, fields)


AppState20 = _schema('AppState20', 20)
AppState200 = _schema('AppState200', 200)

#: The field every "change one field" workload changes: an int.
CHANGED = 'field_1'


def stored_values(schema: type[Any]) -> dict[str, Any]:
    """A value for every field, none of them the default: a state written long ago."""
    return {
        field.name: _KINDS[i % len(_KINDS)][2]
        for i, field in enumerate(dataclasses.fields(schema))
    }


@dataclasses.dataclass
class UnitRecord:
    """What each unit publishes about itself."""

    address: str = ''
    port: int = 0
    ready: bool = False
    version: str = ''
    roles: list[str] = dataclasses.field(default_factory=list)


def unit_record(number: int) -> dict[str, Any]:
    """The record unit ``number`` has stored."""
    return {
        'address': f'10.0.0.{number + 1}',
        'port': 5432,
        'ready': True,
        'version': '16.4',
        'roles': ['replica'] if number else ['primary'],
    }


@dataclasses.dataclass
class Blob:
    """A large value kept in the unit database (a CA bundle, a rendered config)."""

    name: str = ''
    data: str = ''


def one_megabyte() -> str:
    """1 MB of text (1,048,576 characters)."""
    line = 'MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n'
    return (line * (2**20 // len(line) + 1))[: 2**20]
