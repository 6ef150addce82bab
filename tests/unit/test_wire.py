"""The wire format: keys, aliases, ops save/load, keys of others, Juju's keys, JSON limits."""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any

import ops
import pydantic
import pytest
from charms.state_helpers.v0.state import InvalidStateError, PeerState, decode, encode
from scaffold import (
    FLAVOURS,
    JUJU_UNIT_DATA,
    JUJU_UNIT_KEYS,
    PEER_WHERES,
    WHERES,
    Flavour,
    Hook,
    Spy,
    databag,
    helper,
    peer_relation,
    raw,
    seeded,
)


@dataclasses.dataclass
class Creds:
    db_host: str = dataclasses.field(default='', metadata={'alias': 'db-host'})
    port: int = 5432
    users: list[str] = dataclasses.field(default_factory=list)


class CredsModel(pydantic.BaseModel):
    db_host: str = pydantic.Field(default='', alias='db-host')
    port: int = 5432
    users: list[str] = []


def creds(schema: type[Any], **fields: Any) -> Any:
    """A value of either schema, built from its databag keys."""
    if schema is CredsModel:
        return CredsModel.model_validate(fields)
    return Creds(**{k.replace('-', '_'): v for k, v in fields.items()})


aliased = pytest.mark.parametrize('schema', [Creds, CredsModel])
FULL = {'db-host': 'db.local', 'port': 6543, 'users': ['ann', 'bob']}


# ---------------------------------------------------------------------------------------
# Aliases and ops Relation.save / Relation.load


@aliased
@pytest.mark.parametrize('where', WHERES)
def test_alias_is_the_databag_key(hook: Hook, where: str, schema: type[Any]):
    build = lambda c: helper(c, where, schema)  # noqa: E731
    first = hook(build, lambda h: h.set(creds(schema, **FULL)), seeded(where))
    assert raw(first.out, where) == FULL

    second = hook(build, lambda h: h.get(), first.out)
    assert second.value == creds(schema, **FULL)


@aliased
def test_encode_and_decode_use_aliases(schema: type[Any]):
    data = encode(creds(schema, **FULL))
    assert data == {'db-host': '"db.local"', 'port': '6543', 'users': '["ann","bob"]'}
    assert decode(schema, data) == creds(schema, **FULL)


def entity(charm: ops.CharmBase, where: str) -> ops.Application | ops.Unit:
    return charm.app if where == 'app' else charm.unit


@aliased
@pytest.mark.parametrize('where', PEER_WHERES)
def test_data_written_by_relation_save_is_read(hook: Hook, where: str, schema: type[Any]):
    def save(charm: ops.CharmBase) -> None:
        relation = charm.model.get_relation('peers')
        assert relation is not None
        relation.save(creds(schema, **FULL), entity(charm, where))

    saved = hook(lambda c: c, save, seeded(where))
    assert saved.error is None
    assert databag(saved.out, where)['users'] == '["ann", "bob"]'  # json.dumps spacing

    result = hook(lambda c: helper(c, where, schema), lambda h: h.get(), saved.out)
    assert result.value == creds(schema, **FULL)


@aliased
@pytest.mark.parametrize('where', PEER_WHERES)
def test_data_written_is_read_by_relation_load(hook: Hook, where: str, schema: type[Any]):
    build = lambda c: helper(c, where, schema)  # noqa: E731
    written = hook(build, lambda h: h.set(creds(schema, **FULL)), seeded(where))

    def load(charm: ops.CharmBase) -> Any:
        relation = charm.model.get_relation('peers')
        assert relation is not None
        return relation.load(schema, entity(charm, where))

    assert hook(lambda c: c, load, written.out).value == creds(schema, **FULL)


@aliased
@pytest.mark.parametrize('where', PEER_WHERES)
def test_same_value_as_relation_save_sends_nothing(
    hook: Hook, spy: Spy, where: str, schema: type[Any]
):
    def save(charm: ops.CharmBase) -> None:
        relation = charm.model.get_relation('peers')
        assert relation is not None
        relation.save(creds(schema, **FULL), entity(charm, where))

    saved = hook(lambda c: c, save, seeded(where))
    spy.calls.clear()
    build = lambda c: helper(c, where, schema)  # noqa: E731
    result = hook(build, lambda h: h.set(creds(schema, **FULL)), saved.out)
    assert result.error is None
    assert spy.sent() == []
    assert databag(result.out, where) == databag(saved.out, where)


# ---------------------------------------------------------------------------------------
# Keys the schema does not know


FOREIGN = {'other-lib': 'not JSON {', 'name-of-something': '42'}


@pytest.mark.parametrize('schema', [Creds, CredsModel])
@pytest.mark.parametrize('where', PEER_WHERES)
def test_unknown_keys_are_ignored_on_read(hook: Hook, where: str, schema: type[Any]):
    state = with_foreign_keys(seeded(where, {'port': 1}), where)
    result = hook(lambda c: helper(c, where, schema), lambda h: h.get(), state)
    assert result.error is None
    assert result.value == creds(schema, port=1)


@pytest.mark.parametrize('schema', [Creds, CredsModel])
@pytest.mark.parametrize('action', ['set', 'edit', 'clear'])
@pytest.mark.parametrize('where', PEER_WHERES)
def test_unknown_keys_are_never_touched_on_write(
    hook: Hook, spy: Spy, where: str, schema: type[Any], action: str
):
    def write(h: Any) -> None:
        if action == 'set':
            h.set(creds(schema, **FULL))
        elif action == 'edit':
            with h.edit() as value:
                value.port = 2
        else:
            h.clear()

    state = with_foreign_keys(seeded(where, {'port': 1}), where)
    result = hook(lambda c: helper(c, where, schema), write, state)
    assert result.error is None
    bag = databag(result.out, where)
    assert {k: bag[k] for k in FOREIGN} == FOREIGN
    for sent in spy.sent():
        assert not set(sent) & set(FOREIGN)


@pytest.mark.parametrize('schema', [Creds, CredsModel])
def test_unknown_keys_in_local_state_are_kept(hook: Hook, schema: type[Any]):
    state = seeded('local', {'port': 1, 'other': {'kept': True}})
    result = hook(lambda c: helper(c, 'local', schema), lambda h: h.clear(), state)
    assert result.error is None
    assert raw(result.out, 'local') == {'other': {'kept': True}}


def test_decode_ignores_unknown_keys():
    assert decode(Creds, {'port': '1', **FOREIGN}) == Creds(port=1)


def with_foreign_keys(state: Any, where: str) -> Any:
    (relation,) = state.relations
    bag = 'local_app_data' if where == 'app' else 'local_unit_data'
    relation = dataclasses.replace(relation, **{bag: {**getattr(relation, bag), **FOREIGN}})
    return dataclasses.replace(state, relations={relation})


# ---------------------------------------------------------------------------------------
# Juju's own unit keys


def test_juju_unit_keys_are_not_state_with_no_schema(hook: Hook):
    state = seeded('unit', {'a': 1})
    assert set(JUJU_UNIT_KEYS) <= set(databag_of(state, 'unit'))
    result = hook(lambda c: helper(c, 'unit', None), lambda h: h.get(), state)
    assert result.value == {'a': 1}


def test_juju_unit_keys_of_peers_are_not_state_with_no_schema(hook: Hook):
    relation = peer_relation('unit', {'a': 1}, peers_data={1: {**JUJU_UNIT_DATA, 'b': '2'}})
    state = seeded('unit')
    state = dataclasses.replace(state, relations={relation})
    result = hook(lambda c: helper(c, 'unit', None), lambda h: list(h.units().values()), state)
    assert result.value == [{'a': 1}, {'b': 2}]


@pytest.mark.parametrize('action', ['set', 'set-empty', 'clear'])
def test_juju_unit_keys_are_never_removed(hook: Hook, spy: Spy, action: str):
    def write(h: Any) -> None:
        if action == 'set':
            h.set({'b': 2})
        elif action == 'set-empty':
            h.set({})
        else:
            h.clear()

    result = hook(lambda c: helper(c, 'unit', None), write, seeded('unit', {'a': 1}))
    assert result.error is None
    assert {k: databag(result.out, 'unit')[k] for k in JUJU_UNIT_KEYS} == JUJU_UNIT_DATA
    (sent,) = spy.sent()
    assert not set(sent) & set(JUJU_UNIT_KEYS)


@pytest.mark.parametrize('key', JUJU_UNIT_KEYS)
def test_juju_unit_key_cannot_be_written_as_state(hook: Hook, spy: Spy, key: str):
    result = hook(lambda c: helper(c, 'unit', None), lambda h: h.set({key: 'x'}), seeded('unit'))
    assert repr(key) in str(result.raised(InvalidStateError))
    assert spy.sent() == []


@pytest.mark.parametrize('key', JUJU_UNIT_KEYS)
def test_schema_using_a_juju_unit_key_is_a_type_error(hook: Hook, key: str):
    schema = dataclasses.make_dataclass(
        'Clash', [('address', str, dataclasses.field(default='', metadata={'alias': key}))]
    )
    result = hook(lambda c: helper(c, 'unit', schema), lambda h: None, seeded('unit'))
    assert repr(key) in str(result.raised(TypeError))


def test_decode_skips_juju_unit_keys():
    assert decode(None, {**JUJU_UNIT_DATA, 'a': '1'}) == {'a': 1}


def databag_of(state: Any, where: str) -> dict[str, str]:
    (relation,) = state.relations
    return dict(relation.local_app_data if where == 'app' else relation.local_unit_data)


# ---------------------------------------------------------------------------------------
# Falsy values


@dataclasses.dataclass
class Truthy:
    zero: int = 5
    empty: str = 'x'
    false: bool = True
    none: int | None = 3
    nothing: list[int] = dataclasses.field(default_factory=lambda: [1])
    blank: dict[str, int] = dataclasses.field(default_factory=lambda: {'a': 1})
    naught: float = 1.5


class TruthyModel(pydantic.BaseModel):
    zero: int = 5
    empty: str = 'x'
    false: bool = True
    none: int | None = 3
    nothing: list[int] = [1]
    blank: dict[str, int] = {'a': 1}
    naught: float = 1.5


FALSY = {
    'zero': 0,
    'empty': '',
    'false': False,
    'none': None,
    'nothing': [],
    'blank': {},
    'naught': 0.0,
}


@pytest.mark.parametrize('schema', [Truthy, TruthyModel, None])
@pytest.mark.parametrize('where', WHERES)
def test_falsy_values_are_stored_and_read_as_themselves(
    hook: Hook, where: str, schema: type[Any] | None
):
    value = dict(FALSY) if schema is None else schema(**FALSY)
    build = lambda c: helper(c, where, schema)  # noqa: E731
    first = hook(build, lambda h: h.set(value), seeded(where))
    assert first.error is None
    assert raw(first.out, where) == FALSY

    second = hook(build, lambda h: h.get(), first.out)
    got = second.value if schema is None else vars(second.value)
    assert got == FALSY
    assert [type(v) for v in got.values()] == [type(v) for v in FALSY.values()]


# ---------------------------------------------------------------------------------------
# Values JSON cannot carry


@dataclasses.dataclass
class Loose:
    ratio: float = 0.0
    anything: Any = None
    table: dict[str, Any] = dataclasses.field(default_factory=dict)


class LooseModel(pydantic.BaseModel):
    ratio: float = 0.0
    anything: Any = None
    table: dict[str, Any] = {}


# What no schema can store: every kind of schema refuses these.
UNSTORABLE = [
    ('ratio', float('nan')),
    ('ratio', float('inf')),
    ('ratio', float('-inf')),
    ('anything', float('nan')),
    ('anything', [1, float('inf')]),
    ('anything', {1: 'one'}),
    ('anything', {'a': {None: 1}}),
    ('anything', object()),
    ('table', {'k': float('nan')}),
]
# What pydantic turns into JSON on its own terms (set to list, date to text), but a
# dataclass or untyped schema refuses, since it would not read back as itself.
NOT_JSON = [
    ('anything', {'a', 'b'}),
    ('anything', b'bytes'),
    ('anything', (1, 2)),
    ('anything', datetime.date(2024, 1, 1)),
]


@pytest.mark.parametrize(('field', 'bad'), UNSTORABLE + NOT_JSON)
@pytest.mark.parametrize('schema', [Loose, None])
@pytest.mark.parametrize('where', WHERES)
def test_values_json_cannot_carry_are_refused_and_nothing_stored(
    hook: Hook, spy: Spy, where: str, schema: type[Any] | None, field: str, bad: Any
):
    assert_refused(hook, spy, where, schema, field, bad)


def assert_refused(
    hook: Hook, spy: Spy, where: str, schema: type[Any] | None, field: str, bad: Any
) -> None:
    fields = {'ratio': 1.0, field: bad}
    value = fields if schema is None else schema(**fields)
    stored = {'ratio': 2.5}

    result = hook(
        lambda c: helper(c, where, schema), lambda h: h.set(value), seeded(where, stored)
    )
    message = str(result.raised(InvalidStateError))
    assert repr(field) in message
    assert raw(result.out, where) == stored
    assert spy.sent() == []


@pytest.mark.parametrize('bad', [{1: 'one'}, float('nan')], ids=['int-key', 'nan'])
def test_encode_refuses_what_json_cannot_carry(bad: Any):
    with pytest.raises(InvalidStateError, match="'x'"):
        encode({'x': bad})


@pytest.mark.parametrize('flavour', FLAVOURS, ids=lambda f: f.id)
def test_a_value_of_another_type_is_refused(hook: Hook, spy: Spy, flavour: Flavour):
    result = hook(lambda c: helper(c, 'app', flavour.schema), lambda h: h.set(42), seeded('app'))
    result.raised(InvalidStateError)
    assert spy.sent() == []


def test_peerstate_is_generic_over_its_schema():
    # PeerState[T] is what charm code annotates with; it must stay subscriptable.
    assert PeerState[Creds] is not None
    assert json.loads(encode(Creds())['users']) == []


@aliased
@pytest.mark.parametrize('where', WHERES)
def test_read_error_of_an_aliased_field_names_field_and_key(
    hook: Hook, where: str, schema: type[Any]
):
    state = seeded(where, {'db-host': 5})
    result = hook(lambda c: helper(c, where, schema), lambda h: h.get(), state)
    message = str(result.raised(InvalidStateError))
    assert "'db_host'" in message
    assert "'db-host'" in message
