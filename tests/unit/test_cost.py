"""What reaches Juju: one relation-set of the changed keys, one relation-get, no is-leader more."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from charms.state_helpers.v0.state import LocalState, PeerState
from scaffold import (
    FLAVOURS,
    PEER_WHERES,
    TYPED,
    WHERES,
    Flavour,
    Hook,
    Settings,
    Spy,
    helper,
    peer_relation,
    seeded,
)

flavours = pytest.mark.parametrize('flavour', FLAVOURS, ids=lambda f: f.id)
typed = pytest.mark.parametrize('flavour', TYPED, ids=lambda f: f.id)
peer_wheres = pytest.mark.parametrize('where', PEER_WHERES)


def edit_fields(**fields: Any) -> Any:
    """A function that edits the helper's value, whatever the schema."""

    def edit(h: Any) -> None:
        with h.edit() as value:
            for name, new in fields.items():
                if isinstance(value, dict):
                    value[name] = new
                else:
                    setattr(value, name, new)

    return edit


@flavours
@peer_wheres
def test_set_sends_one_relation_set_of_the_changed_keys(
    hook: Hook, spy: Spy, flavour: Flavour, where: str
):
    state = seeded(where, {'name': 'db', 'replicas': 2, 'tags': ['a']})
    value = flavour.make(name='db', replicas=3, tags=['a', 'b'])
    result = hook(lambda c: helper(c, where, flavour.schema), lambda h: h.set(value), state)
    assert result.error is None
    assert spy.sent() == [{'replicas': '3', 'tags': '["a","b"]'}]


@flavours
@peer_wheres
def test_edit_sends_one_relation_set_of_the_changed_keys(
    hook: Hook, spy: Spy, flavour: Flavour, where: str
):
    state = seeded(where, {'name': 'db', 'replicas': 2})
    edit = edit_fields(replicas=4, name='db')
    result = hook(lambda c: helper(c, where, flavour.schema), edit, state)
    assert result.error is None
    assert spy.sent() == [{'replicas': '4'}]


@flavours
@peer_wheres
def test_clear_sends_one_relation_set_removing_the_keys(
    hook: Hook, spy: Spy, flavour: Flavour, where: str
):
    state = seeded(where, {'name': 'db', 'replicas': 2})
    result = hook(lambda c: helper(c, where, flavour.schema), lambda h: h.clear(), state)
    assert result.error is None
    assert spy.sent() == [{'name': '', 'replicas': ''}]


@flavours
@peer_wheres
def test_nothing_changed_sends_nothing(hook: Hook, spy: Spy, flavour: Flavour, where: str):
    stored = {'name': 'db', 'replicas': 2, 'tags': ['a']}

    def write_same(h: Any) -> None:
        h.set(flavour.make(**stored))
        edit_fields(**stored)(h)

    result = hook(lambda c: helper(c, where, flavour.schema), write_same, seeded(where, stored))
    assert result.error is None
    assert spy.sent() == []


@peer_wheres
def test_clear_of_nothing_sends_nothing(hook: Hook, spy: Spy, where: str):
    result = hook(lambda c: helper(c, where, Settings), lambda h: h.clear(), seeded(where))
    assert result.error is None
    assert spy.sent() == []


@typed
@peer_wheres
def test_default_where_the_key_is_absent_sends_nothing(
    hook: Hook, spy: Spy, flavour: Flavour, where: str
):
    result = hook(
        lambda c: helper(c, where, flavour.schema), lambda h: h.set(flavour.empty()), seeded(where)
    )
    assert result.error is None
    assert spy.sent() == []


@typed
@peer_wheres
def test_default_where_another_value_is_stored_is_sent(
    hook: Hook, spy: Spy, flavour: Flavour, where: str
):
    state = seeded(where, {'replicas': 7})
    result = hook(
        lambda c: helper(c, where, flavour.schema), lambda h: h.set(flavour.empty()), state
    )
    assert result.error is None
    assert spy.sent() == [{'replicas': '1'}]


@flavours
@peer_wheres
def test_comparison_is_by_json_value_not_text(hook: Hook, spy: Spy, flavour: Flavour, where: str):
    # As json.dumps spaces them, and with a float where the schema has an int value.
    state = seeded(where)
    (relation,) = state.relations
    texts = {'name': '"db"', 'replicas': '2', 'tags': '[ "a",  "b" ]'}
    relation = peer_relation(where, {}, **{bag_of(where): {**bag_data(relation, where), **texts}})
    state = dataclasses.replace(state, relations={relation})

    value = flavour.make(name='db', replicas=2, tags=['a', 'b'])
    result = hook(lambda c: helper(c, where, flavour.schema), lambda h: h.set(value), state)
    assert result.error is None
    assert spy.sent() == []


@peer_wheres
def test_true_is_not_one(hook: Hook, spy: Spy, where: str):
    # A comparison that took True for 1 would drop a change of type in untyped state.
    result = hook(
        lambda c: helper(c, where, None), lambda h: h.set({'x': True}), seeded(where, {'x': 1})
    )
    assert result.error is None
    assert spy.sent() == [{'x': 'true'}]


def bag_of(where: str) -> str:
    return 'local_app_data' if where == 'app' else 'local_unit_data'


def bag_data(relation: Any, where: str) -> dict[str, str]:
    return dict(getattr(relation, bag_of(where)))


@peer_wheres
def test_untyped_set_removes_keys_that_left_the_dict(hook: Hook, spy: Spy, where: str):
    state = seeded(where, {'a': 1, 'b': 2})
    result = hook(lambda c: helper(c, where, None), lambda h: h.set({'a': 1}), state)
    assert result.error is None
    assert spy.sent() == [{'b': ''}]


@typed
@peer_wheres
def test_corrupt_stored_text_is_replaced_by_set(
    hook: Hook, spy: Spy, flavour: Flavour, where: str
):
    state = seeded(where)
    (relation,) = state.relations
    relation = peer_relation(
        where, {}, **{bag_of(where): {**bag_data(relation, where), 'name': '{'}}
    )
    state = dataclasses.replace(state, relations={relation})
    result = hook(
        lambda c: helper(c, where, flavour.schema), lambda h: h.set(flavour.empty()), state
    )
    assert result.error is None
    assert spy.sent() == [{'name': '""'}]


# ---------------------------------------------------------------------------------------
# relation-get and is-leader


def everything(h: Any) -> None:
    h.get()
    h.set(Settings(name='x'))
    h.get()
    with h.edit() as value:
        value.replicas = 9
    h.get()
    h.clear()
    h.get()


@peer_wheres
def test_one_relation_get_per_databag_per_hook(hook: Hook, spy: Spy, where: str):
    result = hook(lambda c: helper(c, where, Settings), everything, seeded(where, {'name': 'a'}))
    assert result.error is None
    assert spy.commands('relation-get') == ['relation-get']
    assert len(spy.sent()) == 3


@peer_wheres
def test_two_helpers_on_one_databag_share_one_relation_get(hook: Hook, spy: Spy, where: str):
    @dataclasses.dataclass
    class Other:
        other: int = 0

    def build(charm: Any) -> tuple[Any, Any]:
        return helper(charm, where, Settings), helper(charm, where, Other)

    def use_both(helpers: tuple[Any, Any]) -> None:
        mine, other = helpers
        mine.set(Settings(name='x'))
        other.set(Other(other=1))
        mine.get()
        other.get()

    result = hook(build, use_both, seeded(where))
    assert result.error is None
    assert spy.commands('relation-get') == ['relation-get']


def test_app_write_costs_one_is_leader(hook: Hook, spy: Spy):
    # ops keeps is-leader for a lease; the library goes through ops, so Juju sees one.
    result = hook(lambda c: helper(c, 'app', Settings), everything, seeded('app'))
    assert result.error is None
    assert spy.commands('is-leader') == ['is-leader']


@pytest.mark.parametrize('action', ['get', 'everything', 'units'])
def test_unit_scope_asks_no_is_leader(hook: Hook, spy: Spy, action: str):
    fns = {'get': lambda h: h.get(), 'everything': everything, 'units': lambda h: h.units()}
    state = seeded('unit', leader=False)
    result = hook(lambda c: helper(c, 'unit', Settings), fns[action], state)
    assert result.error is None
    assert spy.commands('is-leader') == []


@flavours
@peer_wheres
def test_reads_never_write(hook: Hook, spy: Spy, flavour: Flavour, where: str):
    def read(h: Any) -> None:
        h.get()
        _ = h.ready
        if where == 'unit':
            h.units()

    state = seeded(where, {'name': 'db'})
    result = hook(lambda c: helper(c, where, flavour.schema), read, state)
    assert result.error is None
    assert spy.sent() == []
    assert result.out.relations == state.relations


@flavours
def test_local_state_makes_no_hook_command(hook: Hook, spy: Spy, flavour: Flavour):
    def use(h: Any) -> None:
        h.get()
        h.set(flavour.make(name='x'))
        edit_fields(replicas=3)(h)
        h.clear()

    result = hook(lambda c: helper(c, 'local', flavour.schema), use, seeded('local'))
    assert result.error is None
    assert spy.calls == []


@pytest.mark.parametrize('where', WHERES)
def test_construction_makes_no_hook_command(hook: Hook, spy: Spy, where: str):
    result = hook(lambda c: helper(c, where, Settings), lambda h: None, seeded(where))
    assert result.error is None
    assert spy.calls == []


def test_helpers_are_ops_objects_with_a_fixed_handle_kind():
    assert LocalState.handle_kind == 'LocalState'
    assert PeerState.handle_kind == 'PeerState'
