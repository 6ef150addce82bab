r"""Typed, persistent state for charms: in the unit database, or in a peer relation.

A charm is a fresh Python process for every Juju event, so whatever it must remember has to be
stored, and where it is stored decides how long it lives. This library gives each lifetime a
typed helper. You declare a dataclass (or a pydantic model), and read and write instances of
it; the library handles the JSON, the databag rules of Juju and the failure modes that
hand-written databag code gets wrong: lost writes, crashes in ``install``, follower writes
that Juju drops, falsy values that vanish, and data that only fails when it is read back.

Getting it
==========

Add it to ``charmcraft.yaml`` and run ``charmcraft fetch-libs``::

    charm-libs:
      - lib: state-helpers.state
        version: "0"

or fetch it once with ``charmcraft fetch-lib charms.state_helpers.v0.state``. It needs only
``ops`` (2.23 or later, or ops 3) and Python 3.10 or later.

Quick start
===========

::

    import dataclasses
    import secrets

    import ops
    from charms.state_helpers.v0.state import LocalState, PeerState

    @dataclasses.dataclass
    class ClusterState:          # one per application, written by the leader
        token: str = ''
        members: list[str] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass
    class Progress:              # one per unit, lives with its machine or container
        migrated: bool = False
        attempts: int = 0

    class MyCharm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.cluster = PeerState(self, 'cluster', ClusterState)  # a peer in metadata
            self.progress = LocalState(self, 'progress', Progress)
            framework.observe(self.on.leader_elected, self._on_leader_elected)
            framework.observe(self.on.start, self._on_start)

        def _on_leader_elected(self, event: ops.LeaderElectedEvent):
            if not self.cluster.ready:   # no peer relation yet, or the install hook
                return
            with self.cluster.edit() as state:      # stores what changed, on a clean exit
                if not state.token:
                    state.token = secrets.token_hex(16)

        def _on_start(self, event: ops.StartEvent):
            with self.progress.edit() as progress:
                progress.attempts += 1
            token = self.cluster.get().token        # '' until the leader has set it

Every field needs a default: ``ClusterState()`` is the state before anything was stored, and
it is what ``get()`` returns while the peer relation is not there. Create each helper once, in
the charm's ``__init__``, and keep it as an attribute.

Lifetimes
=========

===========================  ==============================  ====================================
helper                       lives as long as                who writes; who reads
===========================  ==============================  ====================================
``LocalState``               the machine or container        this unit; this unit
``PeerState(scope='app')``   the application                 the leader; every unit
``PeerState(scope='unit')``  the unit's membership of the    this unit; every unit (``units()``)
                             application
===========================  ==============================  ====================================

``LocalState`` lives in the ops unit database (``ops.StoredState``). On Kubernetes the
container is recreated on every charm upgrade, and the unit database with it: keep in
``LocalState`` only what the unit can rebuild, and anything that must survive in a
``PeerState``.

Reading and writing
===================

``get()``
    The stored value, as a fresh object: changing it stores nothing. Keys that are absent
    read as the field's default. Reading never writes.
``set(value)``
    Stores a whole value. The new value is compared with the stored one key by key, as JSON
    values (not as text), and only the keys that changed are sent, in a single
    ``relation-set``; when nothing changed, nothing is sent.
``edit()``
    A context manager that yields a fresh value; on a clean exit, what changed is stored as
    by ``set()``; if the block raises, nothing is stored and the exception goes on. The
    errors of a write that cannot succeed are raised on entry, before the block runs.
``clear()``
    Removes every key the helper stored; the next ``get()`` gives the defaults.
``PeerState.ready``
    Whether the relation is there and Juju serves its data in this hook. It is False before
    ``relation-created``, in ``install`` (Juju lists the peer relation there but refuses its
    data) and once the relation is broken.
``PeerState.units()``
    For ``scope='unit'``: every unit's value, this unit first, then by unit number. Without
    the relation, this unit alone, with the defaults.

Schemas
=======

A schema is a dataclass, a pydantic (v2) model, or ``None`` for a ``dict`` of JSON values.
Schemas are checked when the helper is built, so mistakes fail at charm start-up with a
``TypeError`` that names the field, not at the first read. Dataclass fields may be ``str``,
``int``, ``float``, ``bool``, ``None``, ``Any`` (JSON values), ``Optional[X]``, ``X | Y``,
``Literal[...]`` of str, int or bool, ``enum.Enum`` subclasses (stored by value), nested
dataclasses (whose fields may lack defaults), ``list[X]`` and ``dict[str, X]``. Values are
checked both ways: a ``bool`` is not an ``int``, an ``int`` is a valid ``float``. For
anything richer (datetimes, validators, constrained types), use a pydantic model; it is
validated on read and on write, and pydantic is never imported by this library.

Each top-level field is one databag key: its name, or ``metadata={'alias': 'key-name'}`` for
a dataclass field, or the alias of a pydantic field, as with ops ``Relation.save`` and
``Relation.load``. Several helpers may share a databag (a charm's state and a library's,
say) when their keys differ; a helper that claims a key another helper of the same charm
claims on that databag is a ``TypeError``, and an untyped helper claims every key.

Wire format
===========

In a peer databag each field is one key holding the field's JSON text, so ``Relation.save``
and ``Relation.load`` read and write the same data. Keys the schema does not know are ignored
and never touched, and Juju's own unit keys (``egress-subnets``, ``ingress-address``,
``private-address``) are never read as state, not even with ``schema=None``. In the unit
database, a ``LocalState`` keeps the same JSON values (plain dicts, lists, strings and
numbers) in the ``StoredState`` named ``_stored`` of the object ``LocalState[<key>]``; its
data is found by its key alone, so renaming the charm class or subclassing the helper keeps
it. Values that JSON cannot carry faithfully (NaN, infinities, dicts with non-string keys,
objects of other types) are refused with ``InvalidStateError`` before anything is stored.

An absent key reads as the field's default, and a field whose value equals its default while
its key is absent sends nothing. So a schema's defaults are part of its wire format: change a
default, and every databag that never wrote that field reads the new one. A field that was
stored and is set back to its default is written, so it keeps that value.

Details that follow from the above
----------------------------------

- To decide what changed, values are compared as JSON values: ``1`` and ``1.0`` are one
  number, as are ``0.0`` and ``-0.0``, so changing one into the other sends nothing;
  ``True`` is not ``1``. Reading still checks types: ``2.0`` stored for an ``int`` field is
  an ``InvalidStateError``.
- With ``schema=None`` the dict is the whole state: ``set()`` removes keys that are not in
  the new dict (Juju's own unit keys excepted, which can never be written).
- ``set()`` replaces stored text that does not decode: it is the way out of a corrupt key.
  ``get()`` and ``edit()`` refuse it instead, so it is never overwritten silently.
- ``units()`` lists this unit first, then its peers by unit number.
- A ``PeerState`` refuses on write an empty key (Juju has none) and ints too long for Python
  to write as text; the unit database holds both. Both helpers refuse values nested too
  deeply for Python to read back.

Errors
======

Every error derives from ``StateError``, and every message names the relation or key, the
databag and the field, and the way out, but never the stored value: state often holds
credentials, and an uncaught error ends up in the Juju debug log. For the same reason a
place inside a dict is named by position (``[<key 2>]``), not by its key, and the messages
of a pydantic model's own validators are not quoted.

=======================  ===============================================================
``PeerNotReadyError``    A write while the peer relation is not there, or while Juju
                         refuses its data (``install``). Wait for ``relation-created``,
                         or check ``ready``.
``NotLeaderError``       An application-scope write from a unit that is not the leader.
                         Guard it with ``self.unit.is_leader()``.
``InvalidStateError``    Stored data that is not JSON or does not fit the schema (on
                         read; it is never overwritten silently: ``set()`` a whole value
                         or ``clear()``), or a value that cannot be stored (on write;
                         nothing is stored). It is also a ``ValueError``.
``TypeError``            At construction: a schema field without a default or of a type
                         that cannot be stored, a databag key two helpers claim, or a
                         ``LocalState`` key used by two helpers.
``ValueError``           At construction: a ``scope`` other than ``'app'`` and ``'unit'``,
                         a relation that is not a declared peer, or a ``LocalState`` key
                         that is empty or holds ``/``, ``[`` or ``]``.
=======================  ===============================================================

Transactions
============

Juju applies relation data only when the hook succeeds, and ops commits the unit database
only at the end of a successful event. So when an exception ends the hook, both the peer
writes and the ``LocalState`` writes of that hook are discarded, together.

Logging
=======

A ``PeerState`` write logs one DEBUG line naming the keys it sent or removed, never their
values. Nothing else is logged: under ops every log line is a ``juju-log`` hook command, so
a read, a write that changes nothing and a ``LocalState`` write stay silent.

Cost
====

At most one ``relation-get`` per databag per hook (ops caches it, and this library parses
each key once per hook), one ``relation-set`` per written databag and none when nothing
changed, no ``is-leader`` beyond the one ops caches, and no hook command at all for
``LocalState``. Importing the library loads nothing beyond the standard library and ops.

Typing
======

The library is fully typed and checked with pyright in strict mode. The helpers are generic
in their schema, so ``PeerState(self, 'cluster', ClusterState).get()`` is a
``ClusterState`` to the type checker, ``edit()`` yields one, and ``schema=None`` gives
``dict[str, Any]``. A vendored copy in ``lib/`` is type-checked as part of the charm's own
code; the Python package ships a ``py.typed`` marker.

Testing a charm that uses it
============================

With ``ops.testing``, seed and read state in one line each, without knowing the layout::

    from ops import testing
    from charms.state_helpers.v0.state import decode, decode_local, encode, encode_local

    def test_start_counts_attempts():
        ctx = testing.Context(MyCharm)
        peer = testing.PeerRelation('cluster', local_app_data=encode(ClusterState(token='t')))
        state_in = testing.State(
            relations={peer}, stored_states={encode_local('progress', Progress(attempts=2))}
        )

        state_out = ctx.run(ctx.on.start(), state_in)

        assert decode_local(state_out, 'progress', Progress).attempts == 3
        app_data = state_out.get_relation(peer.id).local_app_data
        assert decode(ClusterState, app_data).token == 't'

Check what a charm wrote with ``decode()``, not by comparing the databag with ``encode()``:
``encode()`` gives every field, while a write sends only what changed, and never a field
that still has its default.

Under ``ops.testing`` the ``install`` hook behaves as under Juju: ``ready`` is False and a
peer write raises ``PeerNotReadyError``, so the tests see what a deployment would.

``encode(value)`` gives the databag form of a value (every field, defaults too) and
``decode(schema, data)`` reads one back; ``encode_local(key, value)`` gives the
``testing.StoredState`` that seeds ``LocalState(charm, key, ...)``, and
``decode_local(state, key, schema)`` reads its value from a ``testing.State``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import json
import logging
import math
import os
import types
import typing
import weakref
from collections.abc import Callable, Generator, Mapping
from typing import Any, Generic, Literal, TypeVar, overload

import ops
from ops.storage import NoSnapshotError

if typing.TYPE_CHECKING:
    from ops import testing

# The unique Charmhub library identifier, never change it
LIBID = '93431bea739341ed8f458ab5d2ef6a86'

# Increment this major API version when introducing breaking changes
LIBAPI = 0

# Increment this PATCH version before using `charmcraft publish-lib` or reset
# to 0 if you are raising the major API version
LIBPATCH = 1

__all__ = [
    'InvalidStateError',
    'LocalState',
    'NotLeaderError',
    'PeerNotReadyError',
    'PeerState',
    'StateError',
    'decode',
    'decode_local',
    'encode',
    'encode_local',
]

logger = logging.getLogger(__name__)

T = TypeVar('T')
_S = TypeVar('_S')  # T again, for the overloads of __init__ that bind it

# Juju writes these into every unit's databag of a relation; they are never state.
JUJU_UNIT_KEYS = frozenset({'egress-subnets', 'ingress-address', 'private-address'})


# ---------------------------------------------------------------------------------------
# Errors


class StateError(Exception):
    """Base of every error this library raises."""


class PeerNotReadyError(StateError):
    """The peer relation is not there yet, or Juju does not serve its data in this hook."""


class NotLeaderError(StateError):
    """An application-scope write from a unit that is not the leader."""


class InvalidStateError(StateError, ValueError):
    """Stored data that does not decode or fit the schema, or a value that cannot be stored."""


# ---------------------------------------------------------------------------------------
# The schema layer: from typed values to JSON values and back


class _Mismatch(Exception):  # noqa: N818 (internal; never reaches charm code)
    """A value that does not fit its type; the caller adds where it was found.

    It never carries the value itself: state often holds credentials.
    """

    def __init__(self, expected: str, found: str):
        super().__init__(expected, found)
        self.expected = expected
        self.found = found
        self.path: list[str] = []

    def describe(self) -> str:
        where = ''.join(self.path)
        at = f' at {where}' if where else ''
        return f'expected {self.expected}, found {self.found}{at}'


def _kind(value: object) -> str:
    """Name a value's type for a message, without showing the value."""
    if value is None:
        return 'null'
    if type(value) is float and not math.isfinite(value):
        return 'a float that JSON cannot carry (NaN or infinity)'
    return type(value).__name__


def _json_copy(value: Any) -> Any:
    """A fresh copy of a JSON value, refusing anything JSON cannot carry faithfully."""
    kind = type(value)  # pyright: ignore[reportUnknownVariableType]
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if not math.isfinite(value):
            raise _Mismatch('a JSON value', _kind(value))
        return value
    if kind is list:
        return [_json_item(item, f'[{i}]') for i, item in enumerate(value)]
    if kind is dict:
        copy: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if type(key) is not str:
                raise _Mismatch('a dict with str keys', f'a {_kind(key)} key')
            copy[key] = _json_item(item, _dict_step(i))
        return copy
    raise _Mismatch('a JSON value', _kind(value))


def _dict_step(index: int) -> str:
    # A dict key is stored data too (a user name, a token), so a path names its position.
    return f'[<key {index}>]'


def _json_item(value: Any, step: str) -> Any:
    try:
        return _json_copy(value)
    except _Mismatch as e:
        e.path.insert(0, step)
        raise


def _same(a: Any, b: Any) -> bool:
    """Whether two JSON values are equal as JSON values (True is not 1; 1 is 1.0)."""
    kind = type(a)  # pyright: ignore[reportUnknownVariableType]
    if kind is not type(b):
        # JSON has a single number type, so 1 and 1.0 are one value; bool is not a number.
        numbers = (int, float)
        return kind in numbers and type(b) in numbers and a == b
    if kind is dict:
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if kind is list:
        return len(a) == len(b) and all(map(_same, a, b))
    return a == b


@dataclasses.dataclass(frozen=True)
class _Codec:
    """How one declared type turns into JSON values (dump) and back (load)."""

    label: str
    load: Callable[[Any], Any]
    dump: Callable[[Any], Any]
    #: For str, int and bool: the one type that passes both ways unchanged, so the hot
    #: paths can check it inline instead of calling load or dump.
    plain: type | None = None


def _load_str(value: Any) -> str:
    if type(value) is not str:
        raise _Mismatch('str', _kind(value))
    return value


def _dump_str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Mismatch('str', _kind(value))
    return str.__str__(value)


def _load_int(value: Any) -> int:
    if type(value) is not int:
        raise _Mismatch('int', _kind(value))
    return value


def _dump_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Mismatch('int', _kind(value))
    return int(value)


def _load_float(value: Any) -> float:
    kind = type(value)  # pyright: ignore[reportUnknownVariableType]
    if kind is float and math.isfinite(value):
        return value
    # An int is a valid float, as in JSON and in Python's own typing rules.
    if kind is not float and kind is not int:
        raise _Mismatch('float', _kind(value))
    return _finite(value)


def _dump_float(value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _Mismatch('float', _kind(value))
    return _finite(value)


def _finite(number: float) -> float:
    # JSON text such as 1e400 parses as infinity, and an int can be too large for a float.
    try:
        result = float(number)
    except OverflowError:
        raise _Mismatch('a finite float', 'an int too large for a float') from None
    if not math.isfinite(result):
        raise _Mismatch('a finite float', _kind(result))
    return result


def _check_bool(value: Any) -> bool:
    if type(value) is not bool:
        raise _Mismatch('bool', _kind(value))
    return value


def _load_none(value: Any) -> None:
    if value is not None:
        raise _Mismatch('None', _kind(value))


_STR = _Codec('str', _load_str, _dump_str, str)
_INT = _Codec('int', _load_int, _dump_int, int)
_FLOAT = _Codec('float', _load_float, _dump_float)
_BOOL = _Codec('bool', _check_bool, _check_bool, bool)
_NONE = _Codec('None', _load_none, _load_none)
_ANY = _Codec('Any', _json_copy, _json_copy)
_SIMPLE: dict[Any, _Codec] = {str: _STR, int: _INT, float: _FLOAT, bool: _BOOL, type(None): _NONE}


def _union_codec(arms: list[_Codec]) -> _Codec:
    label = ' | '.join(arm.label for arm in arms)
    # Optional[str] and friends: the None and plain arms are settled by a type check,
    # without raising and catching a mismatch per arm.
    takes_none = _NONE in arms
    plain = tuple(arm.plain for arm in arms if arm.plain is not None)
    others = [arm for arm in arms if arm is not _NONE]

    def pick(value: Any, dumping: bool) -> Any:
        if (value is None and takes_none) or type(value) in plain:
            return value
        if len(others) == 1:
            # Optional[X]: where X's mismatch is deeper inside the value (which field of a
            # nested dataclass, which item of a list), it says more than the union's.
            try:
                return others[0].dump(value) if dumping else others[0].load(value)
            except _Mismatch as e:
                if e.path:
                    raise
                raise _Mismatch(label, _kind(value)) from None
        for arm in arms:
            try:
                return arm.dump(value) if dumping else arm.load(value)
            except _Mismatch:
                continue
        raise _Mismatch(label, _kind(value))

    return _Codec(label, lambda v: pick(v, False), lambda v: pick(v, True))


def _literal_codec(choices: tuple[Any, ...], where: str) -> _Codec:
    for choice in choices:
        if type(choice) not in (str, int, bool, type(None)):
            raise TypeError(
                f'{where}: Literal values must be str, int, bool or None, '
                f'not {type(choice).__name__}; use an Enum for other values'
            )
    label = 'one of ' + ', '.join(repr(c) for c in choices)

    def check(value: Any) -> Any:
        for choice in choices:
            if type(value) is type(choice) and value == choice:
                return choice
        raise _Mismatch(label, f'another {_kind(value)}')

    return _Codec(label, check, check)


def _enum_codec(cls: type[enum.Enum], where: str) -> _Codec:
    for member in cls:
        if type(member.value) not in (str, int, bool, type(None)) and not (
            type(member.value) is float and math.isfinite(member.value)
        ):
            raise TypeError(
                f'{where}: {cls.__name__}.{member.name} has a value of type '
                f'{type(member.value).__name__}; an Enum is stored by its value, '
                'which must be a str, int, float, bool or None'
            )
    label = f'a value of {cls.__name__}'

    def load(value: Any) -> enum.Enum:
        for member in cls:
            if type(member.value) is type(value) and member.value == value:
                return member
        raise _Mismatch(label, f'another {_kind(value)}')

    def dump(value: Any) -> Any:
        if not isinstance(value, cls):
            raise _Mismatch(f'a member of {cls.__name__}', _kind(value))
        return value.value

    return _Codec(cls.__name__, load, dump)


def _list_codec(item: _Codec) -> _Codec:
    label = f'list[{item.label}]'
    plain = item.plain

    def convert(value: Any, step: Callable[[Any], Any]) -> list[Any]:
        if type(value) is not list:
            raise _Mismatch(label, _kind(value))
        if plain is not None:
            # list[str] and friends: a copy, once every element has the exact type.
            copy = typing.cast('list[Any]', value)[:]
            if all(type(element) is plain for element in copy):
                return copy
        out: list[Any] = []
        for i, element in enumerate(typing.cast('list[Any]', value)):
            try:
                out.append(step(element))
            except _Mismatch as e:
                e.path.insert(0, f'[{i}]')
                raise
        return out

    return _Codec(label, lambda v: convert(v, item.load), lambda v: convert(v, item.dump))


def _dict_codec(item: _Codec) -> _Codec:
    label = f'dict[str, {item.label}]'
    plain = item.plain

    def convert(value: Any, step: Callable[[Any], Any]) -> dict[str, Any]:
        if type(value) is not dict:
            raise _Mismatch(label, _kind(value))
        if plain is not None:
            # dict[str, str] and friends: a copy, once every key and value has its type.
            copy = typing.cast('dict[Any, Any]', value).copy()
            if all(type(k) is str and type(v) is plain for k, v in copy.items()):
                return copy
        out: dict[str, Any] = {}
        for i, (key, element) in enumerate(typing.cast('dict[Any, Any]', value).items()):
            if type(key) is not str:
                raise _Mismatch('a dict with str keys', f'a {_kind(key)} key')
            try:
                out[key] = step(element)
            except _Mismatch as e:
                e.path.insert(0, _dict_step(i))
                raise
        return out

    return _Codec(label, lambda v: convert(v, item.load), lambda v: convert(v, item.dump))


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str  # the attribute
    key: str  # the databag key
    codec: _Codec
    required: bool  # only nested dataclasses may have fields without a default


@dataclasses.dataclass(frozen=True)
class _Fields:
    """A dataclass's stored fields, by databag key."""

    cls: type[Any]
    by_key: dict[str, _Field]

    @functools.cached_property
    def required(self) -> tuple[_Field, ...]:
        return tuple(field for field in self.by_key.values() if field.required)


def _dataclass_fields(cls: type[Any], where: str) -> _Fields:
    try:
        hints = typing.get_type_hints(cls)
    except Exception as e:
        raise TypeError(
            f'{where}: cannot resolve the annotations of {cls.__name__} ({e}); '
            'import the names they use at module level'
        ) from None

    fields: dict[str, _Field] = {}
    for field in dataclasses.fields(cls):
        field_where = f'field {field.name!r} of {cls.__name__}'
        if not field.init:
            raise TypeError(
                f'{field_where} has init=False, so it cannot be loaded from storage; '
                'make it an init field or move it out of the stored class'
            )
        key = field.metadata.get('alias', field.name)
        if not isinstance(key, str) or not key:
            raise TypeError(f"{field_where}: metadata 'alias' must be a non-empty str")
        if key in fields:
            raise TypeError(f'{field_where}: the databag key {key!r} is used twice')
        has_default = (
            field.default is not dataclasses.MISSING
            or field.default_factory is not dataclasses.MISSING
        )
        codec = _codec_for(hints[field.name], field_where)
        fields[key] = _Field(field.name, key, codec, not has_default)
    return _Fields(cls, fields)


def _dataclass_codec(cls: type[Any], where: str) -> _Codec:
    fields = _dataclass_fields(cls, where)

    def load(value: Any) -> Any:
        if type(value) is not dict:
            raise _Mismatch(f'a dict for {cls.__name__}', _kind(value))
        return _load_fields(fields, typing.cast('dict[str, Any]', value), top=False)

    def dump(value: Any) -> dict[str, Any]:
        if not isinstance(value, cls):
            raise _Mismatch(cls.__name__, _kind(value))
        return _dump_fields(fields, value, top=False)

    return _Codec(cls.__name__, load, dump)


def _load_fields(fields: _Fields, values: dict[str, Any], *, top: bool) -> Any:
    """Build a dataclass from the JSON values of its stored keys; a missing key is default."""
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        field = fields.by_key.get(key)
        if field is None:
            continue  # a nested dict may hold keys its class no longer has
        if type(value) is field.codec.plain:
            kwargs[field.name] = value
            continue
        try:
            kwargs[field.name] = field.codec.load(value)
        except _Mismatch as e:
            e.path.insert(0, key if top else f'.{field.name}')
            raise

    for field in fields.required:
        if field.name not in kwargs:
            missing = _Mismatch(f'a value for {fields.cls.__name__}.{field.name}', 'none')
            missing.path = [f'.{field.name}']
            raise missing
    return _construct(fields.cls, kwargs)


def _dump_fields(fields: _Fields, value: Any, *, top: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, field in fields.by_key.items():
        item = getattr(value, field.name)
        if type(item) is field.codec.plain:
            out[key] = item
            continue
        try:
            out[key] = field.codec.dump(item)
        except _Mismatch as e:
            e.path.insert(0, key if top else f'.{field.name}')
            raise
    return out


def _construct(cls: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        # The exception's text may quote the value; name only its type.
        raise _Mismatch(
            f'values that {getattr(cls, "__name__", cls)}() accepts',
            f'values it refused with {type(e).__name__}',
        ) from None


_SUPPORTED = (
    'str, int, float, bool, None, Any, Optional[X], X | Y, Literal[...], Enum subclasses, '
    'dataclasses, list[X] and dict[str, X]'
)


def _codec_for(hint: Any, where: str) -> _Codec:
    """Compile a type annotation into a codec, or say why it cannot be stored."""
    # typing.get_type_hints() has already turned None into NoneType and dropped Annotated.
    if hint is Any:
        return _ANY
    if isinstance(hint, type) and hint in _SIMPLE:
        return _SIMPLE[hint]

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return _union_codec([_codec_for(arg, where) for arg in args])
    if origin is Literal:
        return _literal_codec(args, where)
    if origin is list and len(args) == 1:
        return _list_codec(_codec_for(args[0], where))
    if origin is dict and len(args) == 2 and args[0] is str:
        return _dict_codec(_codec_for(args[1], where))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum_codec(hint, where)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass_codec(hint, where)

    shown = typing.cast(object, hint)
    name: str = getattr(shown, '__name__', None) or repr(shown)
    raise TypeError(
        f'{where} has type {name}, which cannot be stored; supported types are '
        f'{_SUPPORTED}. For anything richer, use a pydantic model as the schema'
    )


class _Schema:
    """What a helper knows about its schema: the keys it owns and how to convert them.

    Values cross this boundary as dicts of JSON values keyed by databag key; the helpers
    turn those into text (PeerState) or keep them as they are (LocalState).
    """

    #: Names the schema in messages.
    label: str = 'dict'
    #: The databag keys this schema owns; None means every key.
    keys: frozenset[str] | None = None
    #: The JSON value of each key in the empty state (a missing key reads as this).
    defaults: Mapping[str, Any] = types.MappingProxyType({})
    #: Key to attribute name, for messages.
    names: Mapping[str, str] = types.MappingProxyType({})

    def from_json(self, values: dict[str, Any]) -> Any:
        """Build a fresh value from the JSON values of the keys that are stored."""
        try:
            return self.load(values)
        except RecursionError:
            raise _Mismatch('a value nested less deeply', 'one too deep for Python') from None

    def to_json(self, value: Any) -> dict[str, Any]:
        """The JSON value of every key of a value."""
        try:
            return self.dump(value)
        except RecursionError:
            raise _Mismatch('a value nested less deeply', 'one too deep for Python') from None

    # What each kind of schema does; the two above add what holds for every kind.

    def load(self, values: dict[str, Any]) -> Any:
        return {key: _json_item(value, key) for key, value in values.items()}

    def dump(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise _Mismatch('a dict', _kind(value))
        out: dict[str, Any] = {}
        for key, item in typing.cast('Mapping[Any, Any]', value).items():
            if type(key) is not str:
                raise _Mismatch('a dict with str keys', f'a {_kind(key)} key')
            out[key] = _json_item(item, key)
        return out


class _DataclassSchema(_Schema):
    cls: type[Any]

    def __init__(self, cls: type[Any]):
        where = f'schema {cls.__name__}'
        self.cls = cls
        self.label = cls.__name__
        self._fields = _dataclass_fields(cls, where)
        for field in self._fields.by_key.values():
            if field.required:
                raise _no_default(cls, field.name)
        self.keys = frozenset(self._fields.by_key)
        _check_reserved(cls, self.keys)
        self.names = {key: field.name for key, field in self._fields.by_key.items()}
        self.defaults = _defaults(self, cls, where)

    def load(self, values: dict[str, Any]) -> Any:
        return _load_fields(self._fields, values, top=True)

    def dump(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, self.cls):
            raise _Mismatch(self.label, _kind(value))
        return _dump_fields(self._fields, value, top=True)


class _PydanticSchema(_Schema):
    """A pydantic (v2) model, recognised by its methods so that pydantic is never imported."""

    cls: type[Any]

    def __init__(self, cls: type[Any]):
        where = f'schema {cls.__name__}'
        self.cls = cls
        self.label = cls.__name__
        self._validate: Callable[[dict[str, Any]], Any] = cls.model_validate
        model_fields: dict[str, Any] = getattr(cls, 'model_fields', {})
        names: dict[str, str] = {}
        for name, info in model_fields.items():
            if info.is_required():
                raise _no_default(cls, name)
            key = info.alias or name
            if key in names:
                raise TypeError(f'{where}: the databag key {key!r} is used twice')
            names[key] = name
        self.names = names
        self.keys = frozenset(names)
        _check_reserved(cls, self.keys)
        self.defaults = _defaults(self, cls, where)

    def load(self, values: dict[str, Any]) -> Any:
        # pydantic may keep the very containers it is given (for Any fields, say), and
        # takes the infinity that text such as 1e400 parses as: give it checked copies.
        fresh = {key: _json_item(value, key) for key, value in values.items()}
        try:
            return self._validate(fresh)
        except ValueError as e:
            raise _pydantic_mismatch(e) from None

    def dump(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, self.cls):
            raise _Mismatch(self.label, _kind(value))
        try:
            dumped: dict[str, Any] = value.model_dump(mode='json', by_alias=True, warnings=False)
        except Exception as e:
            raise self._unserialisable(value, e) from None

        out: dict[str, Any] = {}
        for key in self.names:
            if key in dumped:
                try:
                    out[key] = _json_copy(dumped[key])
                except _Mismatch as e:
                    e.path.insert(0, key)
                    raise

        # Assignments are not validated by default, so a wrong type would only show up at
        # the next read, in another hook; validate what would be stored instead.
        try:
            stored = self._validate(out)
        except ValueError as e:
            raise _pydantic_mismatch(e) from None

        # pydantic's JSON mode quietly turns NaN into null and int dict keys into strings
        # where a field allows Any; what reads back must be what was given.
        for key, name in self.names.items():
            if key in out and getattr(stored, name) != getattr(value, name):
                mismatch = _Mismatch(
                    'a value that JSON carries faithfully',
                    'one that reads back different (NaN, infinity or a non-str dict key)',
                )
                mismatch.path = [key]
                raise mismatch
        return out

    def _unserialisable(self, value: Any, error: Exception) -> _Mismatch:
        """Find the field pydantic cannot serialise, by serialising one field at a time."""
        mismatch = _Mismatch('a value pydantic can serialise', type(error).__name__)
        for key, name in self.names.items():
            try:
                value.model_dump(mode='json', include={name}, warnings=False)
            except Exception:
                mismatch.path = [key]
                break
        return mismatch


def _pydantic_mismatch(error: ValueError) -> _Mismatch:
    """Turn a pydantic ValidationError into a mismatch that does not quote the input."""
    errors_of = getattr(error, 'errors', None)
    details: list[dict[str, Any]] = []
    if callable(errors_of):
        details = typing.cast(
            'list[dict[str, Any]]',
            errors_of(include_input=False, include_url=False, include_context=False),
        )
    if not details:
        return _Mismatch('a valid value', f'a value refused with {type(error).__name__}')

    first = details[0]
    kind = str(first.get('type', 'invalid'))
    # The messages of custom validators may quote the value; pydantic's own do not.
    if kind in ('value_error', 'assertion_error'):
        reason = f'a value a validator refused ({kind})'
    else:
        reason = f'a value refused: {first.get("msg", kind)}'
    mismatch = _Mismatch('a valid value', reason)

    # Past the field, a str step may be a dict key, which is stored data: show positions.
    loc: tuple[Any, ...] = tuple(first.get('loc', ()))
    if loc:
        steps = [f'[{step}]' if type(step) is int else '[<key>]' for step in loc[1:]]
        mismatch.path = [str(loc[0]), *steps]
    return mismatch


def _no_default(cls: type[Any], name: str) -> TypeError:
    return TypeError(
        f'field {name!r} of {cls.__name__} has no default; give every field a default, '
        f'so that {cls.__name__}() builds the empty state'
    )


def _check_reserved(cls: type[Any], keys: frozenset[str]) -> None:
    # A key Juju writes into unit databags is never read as state, in any databag, so a
    # schema that uses one could store a field and never read it back.
    reserved = sorted(keys & JUJU_UNIT_KEYS)
    if reserved:
        raise TypeError(
            f'schema {cls.__name__} uses the key {reserved[0]!r}, which Juju writes into '
            'every unit databag and is never read as state; rename the field or give it '
            'another key with an alias'
        )


def _defaults(schema: _Schema, cls: type[Any], where: str) -> Mapping[str, Any]:
    try:
        empty = cls()
    except Exception as e:
        raise TypeError(
            f'{where}: {cls.__name__}() must build the empty state, but raised {type(e).__name__}'
        ) from None
    try:
        return types.MappingProxyType(schema.to_json(empty))
    except _Mismatch as e:
        raise TypeError(
            f'{where}: the default of field {e.path[0]!r} cannot be stored: {e.describe()}'
        ) from None


_UNTYPED = _Schema()
_schemas: weakref.WeakKeyDictionary[type, _Schema] = weakref.WeakKeyDictionary()


def _schema_for(cls: object) -> _Schema:
    """The compiled schema of a class, built once per class and process."""
    if cls is None or cls is dict:
        return _UNTYPED
    if not isinstance(cls, type):
        raise TypeError(f'a schema must be a class, not {_kind(cls)}')
    cls = typing.cast('type[Any]', cls)
    schema = _schemas.get(cls)
    if schema is not None:
        return schema

    if dataclasses.is_dataclass(cls):
        schema = _DataclassSchema(cls)
    elif callable(getattr(cls, 'model_validate', None)) and callable(
        getattr(cls, 'model_dump', None)
    ):
        schema = _PydanticSchema(cls)
    else:
        raise TypeError(
            f'schema {cls.__name__} is neither a dataclass nor a pydantic model; '
            'use one of those, or None for a dict of JSON values'
        )
    _schemas[cls] = schema
    return schema


_decoder = json.JSONDecoder(parse_constant=lambda name: _reject_constant(name))
_encoder = json.JSONEncoder(separators=(',', ':'), allow_nan=False)


def _reject_constant(name: str) -> Any:
    raise ValueError('NaN and infinities are not JSON')


def _texts(values: dict[str, Any]) -> dict[str, str]:
    """The JSON text of each value, all of them before any is sent."""
    texts: dict[str, str] = {}
    for key, value in values.items():
        try:
            texts[key] = _encoder.encode(value)
        except ValueError:
            # Python refuses to write ints of more than 4300 digits as text (by default).
            mismatch = _Mismatch('a value JSON text can hold', 'an int too long to write')
            mismatch.path = [key]
            raise mismatch from None
    return texts


def _parse(text: str) -> Any:
    """The JSON value of a databag text; raises _Mismatch if it is not JSON."""
    try:
        return _decoder.decode(text)
    except ValueError:
        raise _Mismatch('JSON text', 'text that is not JSON') from None
    except RecursionError:
        raise _Mismatch('JSON text', 'text nested too deeply for Python to read') from None


# ---------------------------------------------------------------------------------------
# The helpers


class _Corrupt:
    """Stands for stored text that does not parse; it equals no value, so set() replaces it."""


_CORRUPT = _Corrupt()

# Per framework (that is, per charm instance): which keys of which databag each helper
# claims, so that two helpers cannot silently overwrite each other's fields.
_claims: weakref.WeakKeyDictionary[ops.Framework, dict[str, list[frozenset[str] | None]]] = (
    weakref.WeakKeyDictionary()
)


def _claim(framework: ops.Framework, databag: str, keys: frozenset[str] | None) -> int:
    """Record a helper's keys on a databag; returns how many helpers claimed it before."""
    claims = _claims.setdefault(framework, {}).setdefault(databag, [])
    for other in claims:
        if keys is not None and other == keys:
            # Most often a helper built in a property or a handler, so built twice.
            raise TypeError(
                f'a helper with the same keys already stores state in {databag}; create each '
                "helper once, in the charm's __init__, and keep it as an attribute"
            )
        if other is None or keys is None:
            raise TypeError(
                f'two helpers of this charm store state in {databag} and one of them is '
                'untyped (schema=None), which claims every key; give both a schema with '
                'distinct keys, or use another key or relation'
            )
        shared = sorted(other & keys)
        if shared:
            raise TypeError(
                f'two helpers of this charm claim the key {shared[0]!r} in {databag}; '
                "rename one field, or give it another key with metadata={'alias': ...}"
            )
    claims.append(keys)
    return len(claims) - 1


class _StateHelper(ops.Object, Generic[T]):
    """get/set/edit/clear over a store of JSON values; subclasses provide the store."""

    _schema: _Schema

    # -- what a store provides

    def _where(self) -> str:
        """Name the stored state for messages: helper, relation or key, databag."""
        raise NotImplementedError

    def _check_writable(self) -> None:
        """Raise the error that explains why a write cannot succeed now, if any."""

    def _stored(self, *, lenient: bool) -> dict[str, Any]:
        """The JSON value of each stored key this helper owns.

        With lenient, a key whose text does not parse maps to _CORRUPT instead of raising.
        """
        raise NotImplementedError

    def _write(self, changed: dict[str, Any], removed: list[str]) -> None:
        raise NotImplementedError

    # -- the public behaviour, the same for every store

    def get(self) -> T:
        """The stored value, as a fresh object: changing it stores nothing.

        Missing keys read as the schema's defaults. Reading never writes.

        Raises:
            InvalidStateError: stored data does not decode or does not fit the schema.
        """
        return self._load(self._stored(lenient=False))

    def set(self, value: T) -> None:
        """Store a whole value, sending only the keys whose JSON value changed.

        Raises:
            PeerNotReadyError: the peer relation is not there (PeerState).
            NotLeaderError: an application-scope write from a unit that is not leader.
            InvalidStateError: the value cannot be stored; nothing is stored.
        """
        self._check_writable()
        new = self._dump(value)
        stored = self._stored(lenient=True)
        self._store_changes(stored, new)

    @contextlib.contextmanager
    def edit(self) -> Generator[T, None, None]:
        """Yield a fresh value to change in place; on a clean exit, store what changed.

        If the block raises, nothing is stored and the exception goes on. The errors of a
        write that cannot succeed are raised on entry, before the block runs.

        Example::

            with self.cluster.edit() as state:
                state.members.append(self.unit.name)
        """
        self._check_writable()
        stored = self._stored(lenient=False)
        value = self._load(stored)
        yield value

        # The value was built fresh from `stored`, so `stored` still holds what was read.
        self._store_changes(stored, self._dump(value))

    def clear(self) -> None:
        """Remove every key this helper stored, so that the next read gives the defaults."""
        self._check_writable()
        removed = list(self._stored(lenient=True))
        if removed:
            self._write({}, removed)

    # -- shared steps

    def _load(self, stored: dict[str, Any], where: str | None = None) -> T:
        try:
            return self._schema.from_json(stored)
        except _Mismatch as e:
            raise InvalidStateError(self._describe_mismatch(e, 'cannot be read', where)) from None

    def _dump(self, value: Any) -> dict[str, Any]:
        try:
            new = self._schema.to_json(value)
        except _Mismatch as e:
            raise InvalidStateError(self._describe_mismatch(e, 'cannot be stored')) from None
        self._check_keys(new)
        return new

    def _check_keys(self, new: dict[str, Any]) -> None:
        """Refuse keys the store may not hold; by default every key is fine."""

    def _store_changes(self, stored: dict[str, Any], new: dict[str, Any]) -> None:
        defaults = self._schema.defaults
        changed: dict[str, Any] = {}
        for key, value in new.items():
            old = stored[key] if key in stored else defaults.get(key, _CORRUPT)
            try:
                same = old is not _CORRUPT and _same(value, old)
            except RecursionError:
                same = False  # too deep to compare: writing it again is the safe side
            if not same:
                changed[key] = value

        # Untyped state is the whole dict, so a key that left it is removed; typed state
        # keeps keys it does not know.
        removed = [key for key in stored if key not in new] if self._schema.keys is None else []
        # Under ops every log line is a juju-log hook command, so a write that sends
        # nothing logs nothing either.
        if changed or removed:
            self._write(changed, removed)

    def _describe_mismatch(self, e: _Mismatch, what: str, where: str | None = None) -> str:
        where = where or self._where()
        if not e.path:
            return f'{where}: the value {what}: {e.describe()}'
        key = e.path[0]
        e.path = e.path[1:]
        name = self._schema.names.get(key)
        field = _field_label(self._schema, key)
        hint = (
            'store a whole value with set(), or remove it with clear()'
            if what == 'cannot be read'
            else f'fix the value of {name or key!r}; nothing was stored'
        )
        return f'{where}: {field} {what}: {e.describe()}; {hint}'


class LocalState(_StateHelper[T]):
    """Typed state in the unit database, kept for the life of the machine or container.

    Args:
        charm: the charm (or any ops.Object of it).
        key: names the state; its data is found by this key alone.
        schema: a dataclass or pydantic model with a default for every field, or None
            for a dict of JSON values.
    """

    handle_kind = 'LocalState'

    @overload
    def __init__(
        self: LocalState[dict[str, Any]], charm: ops.Object, key: str, schema: None = None
    ) -> None: ...

    @overload
    def __init__(self: LocalState[_S], charm: ops.Object, key: str, schema: type[_S]) -> None: ...

    def __init__(self, charm: ops.Object, key: str, schema: type[T] | None = None):
        # The key becomes part of a handle path, which '/' and brackets would break.
        if not key or any(c in key for c in '/[]'):
            raise ValueError(
                f'LocalState key {key!r} must be a non-empty str without "/", "[" or "]"'
            )
        self._schema = _schema_for(schema)
        self._key = key

        # One object of the framework per key holds the data, so a key has one owner.
        databag = f'LocalState {key!r}'
        if _claims.get(charm.framework, {}).get(databag):
            raise TypeError(
                f'two LocalStates of this charm use the key {key!r}; give each its own key, '
                "and create each once, in the charm's __init__"
            )
        _claim(charm.framework, databag, self._schema.keys)

        # Hang off the framework, not the charm, so the handle path is 'LocalState[key]':
        # renaming the charm class or subclassing this one keeps the data where it was.
        super().__init__(charm.framework, key)
        framework = self.framework
        framework.register_type(ops.StoredStateData, self)
        handle = ops.Handle(self, ops.StoredStateData.handle_kind, '_stored')
        try:
            data = typing.cast(ops.StoredStateData, framework.load_snapshot(handle))
        except NoSnapshotError:
            data = ops.StoredStateData(self, '_stored')
        framework.observe(framework.on.commit, data.on_commit)
        self._data = data

    def _where(self) -> str:
        return f'LocalState {self._key!r}'

    def _stored(self, *, lenient: bool) -> dict[str, Any]:
        content: dict[str, Any] = self._data.snapshot()
        keys = self._schema.keys
        if keys is None:
            return dict(content)
        return {key: content[key] for key in keys if key in content}

    def _write(self, changed: dict[str, Any], removed: list[str]) -> None:
        content = {k: v for k, v in self._data.snapshot().items() if k not in removed}
        content.update(changed)
        # restore() swaps the content in; setting dirty makes ops save it at commit.
        self._data.restore(content)
        self._data.dirty = True
        # No log line: under ops it would be a juju-log hook command, and LocalState makes
        # none.


class PeerState(_StateHelper[T]):
    """Typed state in a peer relation's databags, kept for the life of the application.

    Args:
        charm: the charm (or any ops.Object of it).
        relation_name: a peer relation declared in the charm's metadata.
        schema: a dataclass or pydantic model with a default for every field, or None
            for a dict of JSON values.
        scope: 'app' for the application databag (the leader writes, every unit reads),
            'unit' for this unit's own databag (this unit writes, every peer reads).
    """

    handle_kind = 'PeerState'

    @overload
    def __init__(
        self: PeerState[dict[str, Any]],
        charm: ops.Object,
        relation_name: str,
        schema: None = None,
        *,
        scope: Literal['app', 'unit'] = 'app',
    ) -> None: ...

    @overload
    def __init__(
        self: PeerState[_S],
        charm: ops.Object,
        relation_name: str,
        schema: type[_S],
        *,
        scope: Literal['app', 'unit'] = 'app',
    ) -> None: ...

    def __init__(
        self,
        charm: ops.Object,
        relation_name: str,
        schema: type[T] | None = None,
        *,
        scope: Literal['app', 'unit'] = 'app',
    ):
        if scope not in ('app', 'unit'):
            raise ValueError(f"PeerState scope must be 'app' or 'unit', not {scope!r}")
        peers = charm.framework.meta.peers
        if relation_name not in peers:
            known = ', '.join(repr(name) for name in sorted(peers)) or 'none'
            raise ValueError(
                f'{relation_name!r} is not a peer relation of this charm (peers: {known}); '
                'declare it under "peers:" in metadata.yaml or charmcraft.yaml'
            )
        self._schema = _schema_for(schema)
        self._relation_name = relation_name
        self._scope = scope

        databag = f'the {scope} databag of peer relation {relation_name!r}'
        index = _claim(charm.framework, databag, self._schema.keys)
        super().__init__(charm, f'{relation_name}.{scope}.{index}')

        # The text and JSON value last parsed for each key, so a hook parses each once.
        self._parsed: dict[str, tuple[str, Any]] = {}
        # The relation last opened and its loaded databag, or None if Juju refused it: a
        # refusal costs one call.
        self._opened: tuple[ops.Relation, ops.RelationDataContent | None] | None = None
        self._in_install = _in_install_hook()

    # -- public

    @property
    def ready(self) -> bool:
        """Whether the peer relation is there and Juju serves its data in this hook.

        False before relation-created, in the install hook (where Juju lists the relation
        but refuses its data) and once the relation is broken. Reads then give defaults
        and writes raise PeerNotReadyError.
        """
        return self._databag() is not None

    def units(self) -> dict[ops.Unit, T]:
        """Every unit's value in the relation, this unit first, then by unit number.

        Without the relation, this unit alone, with the defaults.

        Raises:
            TypeError: this PeerState has scope='app'.
            InvalidStateError: a unit's stored data does not decode; the message names it.
        """
        if self._scope != 'unit':
            raise TypeError(
                f'units() reads unit databags, but this PeerState of {self._relation_name!r} '
                "has scope='app'; use get(), or a PeerState with scope='unit'"
            )
        unit = self.model.unit
        result: dict[ops.Unit, T] = {unit: self.get()}
        relation = self._relation()
        if relation is None or self._databag() is None:
            return result
        for peer in sorted(relation.units, key=_unit_number):
            databag = relation.data[peer]
            stored = self._read(databag, peer.name, lenient=False)
            result[peer] = self._load(stored, self._where(peer.name))
        return result

    # -- the store

    def _where(self, unit_name: str | None = None) -> str:
        if self._scope == 'app':
            databag = 'application databag'
        else:
            databag = f'unit databag of {unit_name or self.model.unit.name}'
        return f'peer relation {self._relation_name!r}, {databag}'

    def _relation(self) -> ops.Relation | None:
        relation = self.model.get_relation(self._relation_name)
        if relation is None or not relation.active:
            return None
        return relation

    def _databag(self) -> ops.RelationDataContent | None:
        """This helper's databag, loaded; None when the relation is missing or refused."""
        relation = self._relation()
        if relation is None or self._in_install:
            return None

        # ops keeps one Relation object per hook, so what was learnt about it holds.
        opened = self._opened
        if opened is not None and opened[0] is relation:
            return opened[1]

        entity = self.model.app if self._scope == 'app' else self.model.unit
        databag: ops.RelationDataContent | None = relation.data[entity]
        try:
            # Loads the data (one relation-get, cached by ops for the rest of the hook).
            len(databag)
        except ops.ModelError as e:
            # ops 2 reports Juju's refusal of the data as a ModelError on the first read.
            logger.debug('%s: Juju refused the data (%s)', self._where(), type(e).__name__)
            databag = None
        self._opened = (relation, databag)
        return databag

    def _check_writable(self) -> None:
        if self._relation() is None:
            raise PeerNotReadyError(
                f'{self._where()}: the relation is not there yet, so nothing can be written; '
                f'write from relation-created on, or check {type(self).__name__}.ready first'
            )
        if self._scope == 'app' and not self.model.unit.is_leader():
            raise NotLeaderError(
                f'{self._where()}: unit {self.model.unit.name} is not the leader and cannot '
                "write the application databag (scope='app'); guard the write with "
                "self.unit.is_leader(), or keep per-unit data in scope='unit'"
            )
        if self._databag() is None:
            raise PeerNotReadyError(
                f'{self._where()}: Juju does not serve the relation data in this hook '
                '(as in install), so nothing can be written; write from a later hook, or '
                f'check {type(self).__name__}.ready first'
            )

    def _stored(self, *, lenient: bool) -> dict[str, Any]:
        databag = self._databag()
        if databag is None:
            return {}
        return self._read(databag, self.model.unit.name, lenient=lenient)

    def _read(
        self, databag: ops.RelationDataContent, unit_name: str, *, lenient: bool
    ) -> dict[str, Any]:
        # Walk the keys that are stored, not the schema's: a young state stores few of them.
        keys = self._schema.keys
        skip = JUJU_UNIT_KEYS if keys is None else ()
        # Only this unit's own databag is cached: it is the one read again and again.
        cache = self._parsed if unit_name == self.model.unit.name else {}
        values: dict[str, Any] = {}
        for key, text in _contents(databag).items():
            if key in skip or (keys is not None and key not in keys):
                continue
            hit = cache.get(key)
            if hit is not None and hit[0] == text:
                values[key] = hit[1]
                continue
            try:
                value = _parse(text)
            except _Mismatch as e:
                if lenient:
                    values[key] = _CORRUPT
                    continue
                e.path.insert(0, key)
                where = self._where(unit_name)
                raise InvalidStateError(
                    self._describe_mismatch(e, 'cannot be read', where)
                ) from None
            cache[key] = (text, value)
            values[key] = value
        return values

    def _check_keys(self, new: dict[str, Any]) -> None:
        if '' in new:
            raise InvalidStateError(
                f"{self._where()}: key '' cannot be stored, since Juju has no empty databag "
                'keys; use a non-empty key; nothing was stored'
            )
        reserved = sorted(JUJU_UNIT_KEYS.intersection(new))
        if reserved:
            raise InvalidStateError(
                f'{self._where()}: key {reserved[0]!r} is written by Juju into every unit '
                'databag and is never read as state; use another key; nothing was stored'
            )

    def _write(self, changed: dict[str, Any], removed: list[str]) -> None:
        databag = self._databag()
        assert databag is not None  # _check_writable() ran first
        try:
            update = _texts(changed)
        except _Mismatch as e:
            raise InvalidStateError(self._describe_mismatch(e, 'cannot be stored')) from None
        update.update(dict.fromkeys(removed, ''))
        # One update() is one relation-set, whatever the number of keys.
        try:
            databag.update(update)
        except ops.ModelError as e:
            raise PeerNotReadyError(
                f'{self._where()}: Juju refused the write ({type(e).__name__}), so nothing '
                f'was stored; write from a later hook, or check {type(self).__name__}.ready'
            ) from e
        logger.debug('%s: sent keys %s, removed keys %s', self._where(), sorted(changed), removed)


def _contents(databag: ops.RelationDataContent) -> Mapping[str, str]:
    """A databag's data, loaded and checked once.

    Every read through ops' Mapping interface repeats its access check, a leadership lookup
    per key: most of the cost of reading a large databag. A peer relation's databags are
    readable by every unit, so after one checked read this takes the dict ops loaded. ops
    has no public way to read it whole; if ops stops keeping that dict, or a public way
    appears, the checked reads below are what remains.
    """
    len(databag)  # loads the data through ops' checked path (one relation-get per hook)
    data = getattr(databag, '_lazy_data', None)
    if type(data) is dict:
        return typing.cast('dict[str, str]', data)
    return dict(databag.items())


def _in_install_hook() -> bool:
    """Whether this is the install hook, where Juju lists the peer relation but refuses its data.

    ops 2 reports that refusal as a ModelError on the first read, which the helpers catch.
    ops 3.9 and later read it as a relation that is gone and give an empty databag, which
    looks like a relation with no data yet; only the hook's name tells the two apart.
    """
    return os.environ.get('JUJU_DISPATCH_PATH') == 'hooks/install'


def _unit_number(unit: ops.Unit) -> tuple[str, int]:
    app, _, number = unit.name.rpartition('/')
    return app, int(number) if number.isdigit() else -1


# ---------------------------------------------------------------------------------------
# Conversions, for tests and for code that handles databags itself


def encode(value: Any) -> dict[str, str]:
    """The databag form of a value: one key per field, each holding the field's JSON text.

    Every field is included, defaults too. A dict is taken as untyped state.

    Raises:
        InvalidStateError: the value cannot be stored.
    """
    schema = _schema_of(value)
    try:
        values = schema.to_json(value)
        reserved = sorted(JUJU_UNIT_KEYS.intersection(values))
        if reserved:
            mismatch = _Mismatch('a key of its own', 'a key Juju writes, never read as state')
            mismatch.path = [reserved[0]]
            raise mismatch
        return _texts(values)
    except _Mismatch as e:
        raise InvalidStateError(
            _describe_free(schema, e, 'encode()', 'cannot be stored')
        ) from None


def _schema_of(value: object) -> _Schema:
    """The schema of a value to encode: its class, or untyped for a mapping."""
    return _UNTYPED if isinstance(value, Mapping) else _schema_for(type(value))


def decode(schema: type[T] | None, data: Mapping[str, str]) -> T:
    """Build a value from databag data; keys the schema does not know are ignored.

    Raises:
        InvalidStateError: the data does not decode or does not fit the schema.
    """
    compiled = _schema_for(schema)
    keys = compiled.keys
    values: dict[str, Any] = {}
    try:
        for key, text in data.items():
            if key in JUJU_UNIT_KEYS or (keys is not None and key not in keys):
                continue
            try:
                values[key] = _parse(text)
            except _Mismatch as e:
                e.path.insert(0, key)
                raise
        return compiled.from_json(values)
    except _Mismatch as e:
        raise InvalidStateError(
            _describe_free(compiled, e, 'decode()', 'cannot be read')
        ) from None


def _describe_free(schema: _Schema, e: _Mismatch, where: str, what: str) -> str:
    if not e.path:
        return f'{where}: the {schema.label} value {what}: {e.describe()}'
    key, e.path = e.path[0], e.path[1:]
    field = _field_label(schema, key)
    return f'{where}: {field} of {schema.label} {what}: {e.describe()}'


def _field_label(schema: _Schema, key: str) -> str:
    """Name a databag key as the schema knows it: its field, and the key if it differs."""
    name = schema.names.get(key)
    if name is None:
        return f'key {key!r}'
    if name == key:
        return f'field {name!r}'
    return f'field {name!r} (key {key!r})'


def encode_local(key: str, value: Any) -> testing.StoredState:
    """A ``testing.StoredState`` that seeds ``LocalState(charm, key, ...)`` with a value.

    Example::

        state = testing.State(stored_states={encode_local('counter', Counter(events=3))})
    """
    from ops import testing

    schema = _schema_of(value)
    try:
        content = schema.to_json(value)
    except _Mismatch as e:
        raise InvalidStateError(
            _describe_free(schema, e, 'encode_local()', 'cannot be stored')
        ) from None
    return testing.StoredState('_stored', owner_path=f'LocalState[{key}]', content=content)


def decode_local(state: testing.State, key: str, schema: type[T] | None = None) -> T:
    """The value ``LocalState(charm, key, schema)`` holds in a ``testing.State``.

    Example::

        counter = decode_local(state_out, 'counter', Counter)
    """
    compiled = _schema_for(schema)
    content: dict[str, Any] = {}
    for stored in state.stored_states:
        if stored.owner_path == f'LocalState[{key}]' and stored.name == '_stored':
            content = dict(stored.content)
    keys = compiled.keys
    if keys is not None:
        content = {k: v for k, v in content.items() if k in keys}
    try:
        return compiled.from_json(content)
    except _Mismatch as e:
        raise InvalidStateError(
            _describe_free(compiled, e, 'decode_local()', 'cannot be read')
        ) from None
