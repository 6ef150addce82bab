"""get, set, edit and clear, for every helper over every kind of schema."""

from __future__ import annotations

from typing import Any

import pytest
from charms.state_helpers.v0.state import InvalidStateError, StateError
from scaffold import (
    FLAVOURS,
    JUJU_UNIT_KEYS,
    TYPED,
    WHERES,
    Flavour,
    Hook,
    databag,
    helper,
    raw,
    seeded,
)

flavours = pytest.mark.parametrize('flavour', FLAVOURS, ids=lambda f: f.id)
where_param = pytest.mark.parametrize('where', WHERES)


@flavours
@where_param
def test_get_without_stored_data_gives_defaults(hook: Hook, flavour: Flavour, where: str):
    result = hook(lambda c: helper(c, where, flavour.schema), lambda h: h.get(), seeded(where))
    assert result.error is None
    assert result.value == flavour.empty()


@flavours
@where_param
def test_set_then_get_in_a_later_hook(hook: Hook, flavour: Flavour, where: str):
    value = flavour.make(name='db', replicas=3, tags=['a', 'b'])
    build = lambda c: helper(c, where, flavour.schema)  # noqa: E731

    first = hook(build, lambda h: h.set(value), seeded(where))
    assert first.error is None
    assert raw(first.out, where) == {'name': 'db', 'replicas': 3, 'tags': ['a', 'b']}

    second = hook(build, lambda h: h.get(), first.out)
    assert second.value == value


@flavours
@where_param
def test_get_in_the_same_hook_sees_the_write(hook: Hook, flavour: Flavour, where: str):
    value = flavour.make(name='db', replicas=3)

    def set_and_get(h: Any) -> Any:
        h.set(value)
        return h.get()

    result = hook(lambda c: helper(c, where, flavour.schema), set_and_get, seeded(where))
    assert result.value == value


@flavours
@where_param
def test_get_returns_a_fresh_object(hook: Hook, flavour: Flavour, where: str):
    def mutate_then_get(h: Any) -> tuple[Any, Any]:
        first = h.get()
        first_fields = flavour.fields(first)
        if flavour.typed:
            first.tags.append('mutated')
            first.name = 'mutated'
        else:
            first['tags'].append('mutated')
            first['name'] = 'mutated'
        return first_fields, flavour.fields(h.get())

    state = seeded(where, {'name': 'db', 'replicas': 2, 'tags': ['a']})
    result = hook(lambda c: helper(c, where, flavour.schema), mutate_then_get, state)
    before, after = result.value
    assert after == before
    assert raw(result.out, where) == {'name': 'db', 'replicas': 2, 'tags': ['a']}


@flavours
@where_param
def test_value_set_is_not_kept_by_reference(hook: Hook, flavour: Flavour, where: str):
    def set_then_mutate(h: Any) -> Any:
        value = flavour.make(name='db', replicas=2, tags=['a'])
        h.set(value)
        if flavour.typed:
            value.tags.append('later')
        else:
            value['tags'].append('later')
        return flavour.fields(h.get())

    result = hook(lambda c: helper(c, where, flavour.schema), set_then_mutate, seeded(where))
    assert result.value['tags'] == ['a']
    assert raw(result.out, where)['tags'] == ['a']


@flavours
@where_param
def test_edit_stores_what_the_block_changed(hook: Hook, flavour: Flavour, where: str):
    def edit(h: Any) -> None:
        with h.edit() as value:
            if flavour.typed:
                value.replicas = 5
                value.tags.append('c')
            else:
                value['replicas'] = 5
                value['tags'].append('c')

    state = seeded(where, {'name': 'db', 'replicas': 2, 'tags': ['a']})
    result = hook(lambda c: helper(c, where, flavour.schema), edit, state)
    assert result.error is None
    assert raw(result.out, where) == {'name': 'db', 'replicas': 5, 'tags': ['a', 'c']}


@flavours
@where_param
def test_edit_stores_nothing_when_the_block_raises(hook: Hook, flavour: Flavour, where: str):
    class BoomError(Exception):
        pass

    def edit(h: Any) -> None:
        with h.edit() as value:
            if flavour.typed:
                value.replicas = 5
            else:
                value['replicas'] = 5
            raise BoomError()

    state = seeded(where, {'name': 'db', 'replicas': 2})
    result = hook(lambda c: helper(c, where, flavour.schema), edit, state)
    result.raised(BoomError)
    assert raw(result.out, where) == {'name': 'db', 'replicas': 2}


@flavours
@where_param
def test_edit_then_get_in_the_same_hook(hook: Hook, flavour: Flavour, where: str):
    def edit_and_get(h: Any) -> Any:
        with h.edit() as value:
            if flavour.typed:
                value.name = 'new'
            else:
                value['name'] = 'new'
        return flavour.fields(h.get())

    state = seeded(where, {'name': 'old'})
    result = hook(lambda c: helper(c, where, flavour.schema), edit_and_get, state)
    assert result.value['name'] == 'new'


@flavours
@where_param
def test_clear_removes_what_the_helper_stored(hook: Hook, flavour: Flavour, where: str):
    def clear_and_get(h: Any) -> Any:
        h.clear()
        return h.get()

    state = seeded(where, {'name': 'db', 'replicas': 2, 'tags': ['a']})
    result = hook(lambda c: helper(c, where, flavour.schema), clear_and_get, state)
    assert result.error is None
    assert result.value == flavour.empty()
    assert raw(result.out, where) == {}
    later = hook(lambda c: helper(c, where, flavour.schema), lambda h: h.get(), result.out)
    assert later.value == flavour.empty()


@flavours
@where_param
def test_clear_of_nothing_stored_is_fine(hook: Hook, flavour: Flavour, where: str):
    result = hook(lambda c: helper(c, where, flavour.schema), lambda h: h.clear(), seeded(where))
    assert result.error is None
    assert raw(result.out, where) == {}


@flavours
@pytest.mark.parametrize('where', ['unit'])
def test_clear_and_set_keep_juju_unit_keys(hook: Hook, flavour: Flavour, where: str):
    def set_then_clear(h: Any) -> None:
        h.set(flavour.make(name='x'))
        h.clear()

    result = hook(lambda c: helper(c, where, flavour.schema), set_then_clear, seeded(where))
    assert result.error is None
    bag = databag(result.out, where)
    for key in JUJU_UNIT_KEYS:
        assert bag[key] == '192.0.2.0'
    assert 'name' not in bag


@flavours
@where_param
def test_errors_share_one_base(hook: Hook, flavour: Flavour, where: str):
    state = seeded(where, {'name': 3})
    result = hook(lambda c: helper(c, where, flavour.schema), lambda h: h.get(), state)
    if flavour.typed:
        error = result.raised(InvalidStateError)
        assert isinstance(error, StateError)
        assert isinstance(error, ValueError)
    else:
        assert result.value == {'name': 3}


@pytest.mark.parametrize('flavour', TYPED, ids=lambda f: f.id)
@where_param
def test_stored_keys_missing_read_as_defaults(hook: Hook, flavour: Flavour, where: str):
    state = seeded(where, {'name': 'db'})
    result = hook(lambda c: helper(c, where, flavour.schema), lambda h: h.get(), state)
    assert result.value == flavour.make(name='db', replicas=1, tags=[])
