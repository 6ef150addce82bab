"""PeerState: readiness, writes that cannot succeed, install, units()."""

from __future__ import annotations

from typing import Any

import ops
import pytest
from charms.state_helpers.v0.state import (
    InvalidStateError,
    NotLeaderError,
    PeerNotReadyError,
    PeerState,
)
from ops import testing
from scaffold import (
    FLAVOURS,
    PEER_WHERES,
    SECRET,
    Flavour,
    Hook,
    Settings,
    Spy,
    helper,
    peer_relation,
    seeded,
)

flavours = pytest.mark.parametrize('flavour', FLAVOURS, ids=lambda f: f.id)
peer_wheres = pytest.mark.parametrize('where', PEER_WHERES)
SCOPE_WORDS = {'app': 'application databag', 'unit': 'unit databag of host/0'}


def attempt(action: str, flavour: Flavour) -> Any:
    """A write of the given kind; for edit, records whether the block ran."""

    def write(h: Any) -> Any:
        if action == 'set':
            h.set(flavour.make(name='x'))
        elif action == 'clear':
            h.clear()
        else:
            with h.edit():
                write.block_ran = True  # type: ignore

    write.block_ran = False  # type: ignore
    return write


# ---------------------------------------------------------------------------------------
# Without the relation


@flavours
@peer_wheres
def test_without_the_relation_get_gives_defaults_and_not_ready(
    hook: Hook, flavour: Flavour, where: str
):
    result = hook(
        lambda c: helper(c, where, flavour.schema),
        lambda h: (h.ready, h.get()),
        testing.State(leader=True),
    )
    assert result.value == (False, flavour.empty())


@flavours
@peer_wheres
def test_with_the_relation_ready_is_true(hook: Hook, flavour: Flavour, where: str):
    result = hook(lambda c: helper(c, where, flavour.schema), lambda h: h.ready, seeded(where))
    assert result.value is True


@pytest.mark.parametrize('action', ['set', 'edit', 'clear'])
@flavours
@peer_wheres
def test_write_without_the_relation_is_peer_not_ready(
    hook: Hook, spy: Spy, flavour: Flavour, where: str, action: str
):
    write = attempt(action, flavour)
    state = testing.State(leader=True)
    result = hook(lambda c: helper(c, where, flavour.schema), write, state)
    message = str(result.raised(PeerNotReadyError))
    assert "'peers'" in message
    assert SCOPE_WORDS[where] in message
    assert 'relation-created' in message
    assert 'ready' in message
    assert write.block_ran is False
    assert spy.sent() == []


@flavours
def test_units_without_the_relation_is_this_unit_with_defaults(hook: Hook, flavour: Flavour):
    result = hook(
        lambda c: helper(c, 'unit', flavour.schema),
        lambda h: {unit.name: value for unit, value in h.units().items()},
        testing.State(),
    )
    assert result.value == {'host/0': flavour.empty()}


@flavours
@peer_wheres
def test_relation_broken_reads_defaults(hook: Hook, flavour: Flavour, where: str):
    relation = peer_relation(where, {'name': 'db'})
    state = testing.State(leader=True, relations={relation})
    ctx_result = hook_on_broken(hook, lambda c: helper(c, where, flavour.schema), state, relation)
    assert ctx_result == (False, flavour.empty())


def hook_on_broken(hook: Hook, build: Any, state: testing.State, relation: Any) -> Any:
    """Run (ready, get()) in relation-broken of `relation`."""
    box: dict[str, Any] = {}

    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.helper = build(self)
            framework.observe(self.on['peers'].relation_broken, self._on_broken)

        def _on_broken(self, _: ops.RelationBrokenEvent) -> None:
            box['value'] = (self.helper.ready, self.helper.get())

    ctx = testing.Context(Charm, meta={'name': 'host', 'peers': {'peers': {'interface': 'x'}}})
    ctx.run(ctx.on.relation_broken(relation), state)
    return box['value']


# ---------------------------------------------------------------------------------------
# Leadership


@pytest.mark.parametrize('action', ['set', 'edit', 'clear'])
@flavours
def test_app_write_from_a_follower_is_not_leader(
    hook: Hook, spy: Spy, flavour: Flavour, action: str
):
    write = attempt(action, flavour)
    state = seeded('app', {'name': 'db'}, leader=False)
    result = hook(lambda c: helper(c, 'app', flavour.schema), write, state)
    message = str(result.raised(NotLeaderError))
    assert "'peers'" in message
    assert 'host/0' in message
    assert "scope='app'" in message
    assert 'is_leader()' in message
    assert write.block_ran is False
    assert spy.sent() == []


@flavours
def test_a_follower_reads_the_app_databag(hook: Hook, flavour: Flavour):
    state = seeded('app', {'name': 'db'}, leader=False)
    result = hook(lambda c: helper(c, 'app', flavour.schema), lambda h: h.get(), state)
    assert result.error is None
    assert flavour.fields(result.value)['name'] == 'db'


@flavours
def test_a_follower_writes_its_unit_databag(hook: Hook, flavour: Flavour):
    state = seeded('unit', leader=False)
    result = hook(
        lambda c: helper(c, 'unit', flavour.schema), lambda h: h.set(flavour.make(name='x')), state
    )
    assert result.error is None


# ---------------------------------------------------------------------------------------
# install: Juju lists the peer relation but refuses its data


@pytest.mark.parametrize('action', ['ready', 'get', 'units', 'set', 'edit', 'clear'])
@flavours
@peer_wheres
def test_refused_data_in_install_reads_as_missing(
    hook: Hook, spy: Spy, flavour: Flavour, where: str, action: str
):
    if action == 'units' and where == 'app':
        action = 'get'
    spy.refuse_relation_get = True
    write = attempt(action, flavour)
    fns = {
        'ready': lambda h: h.ready,
        'get': lambda h: h.get(),
        'units': lambda h: {u.name: v for u, v in h.units().items()},
    }

    state = seeded(where, {'name': 'db'})
    result = hook(
        lambda c: helper(c, where, flavour.schema),
        fns.get(action, write),
        state,
        event='install',
    )
    expected = {
        'ready': False,
        'get': flavour.empty(),
        'units': {'host/0': flavour.empty()},
    }
    if action in expected:
        assert result.error is None
        assert result.value == expected[action]
    else:
        message = str(result.raised(PeerNotReadyError))
        assert "'peers'" in message
        assert write.block_ran is False
    assert len(spy.commands('relation-get')) <= 1
    assert spy.sent() == []


@peer_wheres
def test_install_asks_juju_for_no_peer_data(hook: Hook, spy: Spy, where: str):
    spy.refuse_relation_get = True

    def everything(h: Any) -> list[str]:
        return [type(e).__name__ for e in collect(h)]

    result = hook(lambda c: helper(c, where, Settings), everything, seeded(where), event='install')
    assert result.value == ['PeerNotReadyError'] * 3
    assert spy.commands('relation-get') == []


@peer_wheres
def test_refused_data_in_another_hook_costs_one_relation_get(hook: Hook, spy: Spy, where: str):
    # Wherever Juju refuses the data, the helper asks once and then reads it as missing.
    spy.refuse_relation_get = True

    def everything(h: Any) -> tuple[bool, Any, list[str]]:
        return h.ready, h.get(), [type(e).__name__ for e in collect(h)]

    result = hook(lambda c: helper(c, where, Settings), everything, seeded(where), event='start')
    assert result.value == (False, Settings(), ['PeerNotReadyError'] * 3)
    assert spy.commands('relation-get') == ['relation-get']


def collect(h: Any) -> list[Exception]:
    h.get()
    _ = h.ready
    h.get()
    errors: list[Exception] = []
    for write in (lambda: h.set(Settings(name='x')), h.clear, lambda: h.edit().__enter__()):
        try:
            write()
        except Exception as e:
            errors.append(e)
    return errors


# ---------------------------------------------------------------------------------------
# units()


@flavours
def test_units_holds_every_unit_this_one_first(hook: Hook, flavour: Flavour):
    relation = peer_relation(
        'unit',
        {'name': 'zero'},
        peers_data={2: {'name': '"two"'}, 1: {'name': '"one"', 'replicas': '3'}},
    )
    result = hook(
        lambda c: helper(c, 'unit', flavour.schema),
        lambda h: [(unit.name, value) for unit, value in h.units().items()],
        testing.State(relations={relation}),
    )
    assert result.value == [
        ('host/0', flavour.make(name='zero')),
        ('host/1', flavour.make(name='one', replicas=3)),
        ('host/2', flavour.make(name='two')),
    ]


def test_units_of_app_scope_is_a_type_error(hook: Hook):
    result = hook(lambda c: helper(c, 'app', Settings), lambda h: h.units(), seeded('app'))
    message = str(result.raised(TypeError))
    assert "scope='app'" in message
    assert "'peers'" in message


@pytest.mark.parametrize('text', [SECRET, '{"replicas": "' + SECRET + '"}'])
def test_units_names_a_corrupt_peer_unit(hook: Hook, text: str):
    key = 'name' if text == SECRET else 'replicas'
    stored = text if text == SECRET else '"' + SECRET + '"'
    relation = peer_relation('unit', {}, peers_data={1: {'name': '"ok"'}, 2: {key: stored}})
    result = hook(
        lambda c: helper(c, 'unit', Settings),
        lambda h: h.units(),
        testing.State(relations={relation}),
    )
    message = str(result.raised(InvalidStateError))
    assert 'unit databag of host/2' in message
    assert repr(key) in message
    assert SECRET[:4] not in message


# ---------------------------------------------------------------------------------------
# Construction


def test_a_relation_that_is_not_a_peer_is_a_value_error(hook: Hook):
    result = hook(lambda c: PeerState(c, 'nope'), lambda h: None)
    message = str(result.raised(ValueError))
    assert "'nope'" in message
    assert "'peers'" in message


def test_an_unknown_scope_is_a_value_error(hook: Hook):
    result = hook(lambda c: PeerState(c, 'peers', scope='model'), lambda h: None)  # type: ignore
    assert "'model'" in str(result.raised(ValueError))


@pytest.mark.parametrize('action', ['set', 'clear'])
@peer_wheres
def test_refused_write_is_peer_not_ready(hook: Hook, spy: Spy, where: str, action: str):
    spy.refuse_relation_set = True

    def write(h: Any) -> None:
        if action == 'set':
            h.set(Settings(name='x'))
        else:
            h.clear()

    result = hook(lambda c: helper(c, where, Settings), write, seeded(where, {'name': 'db'}))
    message = str(result.raised(PeerNotReadyError))
    assert "'peers'" in message
    assert 'ready' in message
