"""LocalState: found by its key alone, plain JSON in StoredState, one-line test helpers."""

from __future__ import annotations

from typing import Any

import ops
import pytest
from charms.state_helpers.v0.state import (
    InvalidStateError,
    LocalState,
    decode,
    decode_local,
    encode,
    encode_local,
)
from ops import testing
from scaffold import FLAVOURS, Flavour, Hook, Settings, SettingsModel

flavours = pytest.mark.parametrize('flavour', FLAVOURS, ids=lambda f: f.id)
VALUE = {'name': 'db', 'replicas': 3, 'tags': ['a', 'b']}


class RenamedLocalState(LocalState[Any]):
    """A subclass, as a refactor might introduce."""


class Holder(ops.Object):
    """A charm library's object that owns its LocalState, instead of the charm."""

    def __init__(self, charm: ops.CharmBase, schema: Any):
        super().__init__(charm, 'holder')
        self.state = LocalState(self, 'state', schema)


@flavours
@pytest.mark.parametrize(
    'reader',
    ['renamed charm', 'subclassed helper', 'helper of a charm library object'],
)
def test_data_is_found_by_key_alone(hook: Hook, flavour: Flavour, reader: str):
    value = flavour.make(**VALUE)
    first = hook(lambda c: LocalState(c, 'state', flavour.schema), lambda h: h.set(value))

    builds = {
        'renamed charm': lambda c: LocalState(c, 'state', flavour.schema),
        'subclassed helper': lambda c: RenamedLocalState(c, 'state', flavour.schema),
        'helper of a charm library object': lambda c: Holder(c, flavour.schema).state,
    }
    charm_name = 'RenamedCharm' if reader == 'renamed charm' else 'HostCharm'
    second = hook(builds[reader], lambda h: h.get(), first.out, charm_name=charm_name)
    assert second.value == value


@flavours
def test_stored_state_content_is_plain_json(hook: Hook, flavour: Flavour):
    result = hook(
        lambda c: LocalState(c, 'state', flavour.schema), lambda h: h.set(flavour.make(**VALUE))
    )
    stored = result.out.get_stored_state('_stored', owner_path='LocalState[state]')
    assert stored.content == VALUE
    assert type(stored.content['tags']) is list


@flavours
def test_encode_local_seeds_in_one_line(hook: Hook, flavour: Flavour):
    state = testing.State(stored_states={encode_local('state', flavour.make(**VALUE))})
    result = hook(lambda c: LocalState(c, 'state', flavour.schema), lambda h: h.get(), state)
    assert result.value == flavour.make(**VALUE)


@flavours
def test_decode_local_reads_back_in_one_line(hook: Hook, flavour: Flavour):
    result = hook(
        lambda c: LocalState(c, 'state', flavour.schema), lambda h: h.set(flavour.make(**VALUE))
    )
    assert decode_local(result.out, 'state', flavour.schema) == flavour.make(**VALUE)


@flavours
def test_decode_local_without_the_key_gives_defaults(flavour: Flavour):
    assert decode_local(testing.State(), 'state', flavour.schema) == flavour.empty()


def test_decode_local_ignores_keys_the_schema_does_not_know():
    stored = testing.StoredState('_stored', owner_path='LocalState[state]', content={'x': 1})
    assert decode_local(testing.State(stored_states={stored}), 'state', Settings) == Settings()


def test_decode_local_of_a_wrong_type_is_invalid():
    stored = testing.StoredState(
        '_stored', owner_path='LocalState[state]', content={'replicas': 'three'}
    )
    with pytest.raises(InvalidStateError, match="'replicas'"):
        decode_local(testing.State(stored_states={stored}), 'state', Settings)


def test_encode_local_refuses_what_json_cannot_carry():
    with pytest.raises(InvalidStateError, match="'x'"):
        encode_local('state', {'x': float('nan')})


@pytest.mark.parametrize('schema', [Settings, SettingsModel])
def test_encode_and_decode_seed_and_read_a_peer_databag(hook: Hook, schema: Any):
    relation = testing.PeerRelation('peers', local_app_data=encode(schema(**VALUE)))
    state = testing.State(leader=True, relations={relation})

    def build(charm: ops.CharmBase) -> Any:
        from charms.state_helpers.v0.state import PeerState

        return PeerState(charm, 'peers', schema)

    def bump(h: Any) -> Any:
        with h.edit() as value:
            value.replicas += 1
        return h.get()

    result = hook(build, bump, state)
    assert result.value == schema(**{**VALUE, 'replicas': 4})
    out = decode(schema, result.out.get_relation(relation.id).local_app_data)
    assert out == schema(**{**VALUE, 'replicas': 4})


@pytest.mark.parametrize('key', ['', 'a/b', 'a[0]', 'a]'])
def test_a_key_that_breaks_a_handle_path_is_a_value_error(hook: Hook, key: str):
    result = hook(lambda c: LocalState(c, key), lambda h: None)
    assert repr(key) in str(result.raised(ValueError))


def test_two_local_states_on_one_key_is_a_type_error(hook: Hook):
    def build(charm: ops.CharmBase) -> Any:
        LocalState(charm, 'state', Settings)
        LocalState(charm, 'state', Settings)

    result = hook(build, lambda h: None)
    assert "'state'" in str(result.raised(TypeError))


def test_two_local_states_on_two_keys_keep_apart(hook: Hook):
    def build(charm: ops.CharmBase) -> Any:
        return LocalState(charm, 'one', Settings), LocalState(charm, 'two', Settings)

    def write(helpers: Any) -> None:
        one, two = helpers
        one.set(Settings(name='one'))
        two.set(Settings(name='two'))

    result = hook(build, write)
    assert decode_local(result.out, 'one', Settings) == Settings(name='one')
    assert decode_local(result.out, 'two', Settings) == Settings(name='two')


def test_a_value_of_old_plain_stored_state_is_left_alone(hook: Hook):
    # A charm moving to LocalState keeps its old StoredState: the two do not meet.
    old = testing.StoredState('_stored', owner_path='HostCharm', content={'name': 'old'})
    state = testing.State(stored_states={old})
    result = hook(lambda c: LocalState(c, '_stored', Settings), lambda h: h.get(), state)
    assert result.value == Settings()
    assert old in result.out.stored_states
