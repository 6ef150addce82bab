"""The host charm: its token, unit records, event counter, status and actions."""

from __future__ import annotations

import json
import pathlib
import re
import time
import typing
from typing import Any

import pytest
import yaml
from charms.state_helpers.v0.state import decode, decode_local, encode, encode_local
from ops import testing

from charm import ClusterState, EventCounter, StateHelpersCharm, UnitRecord

ROOT = pathlib.Path(__file__).parents[2]
META: dict[str, Any] = yaml.safe_load((ROOT / 'metadata.yaml').read_text())
ACTIONS: dict[str, Any] = yaml.safe_load((ROOT / 'charmcraft.yaml').read_text())['actions']

NOW = 1700000000.5
TOKEN = '0123456789abcdef0123456789abcdef'
TOKEN_FINGERPRINT = '3eb1bd439947'  # the first 12 hex digits of sha256(TOKEN)
HEX_TOKEN = re.compile('[0-9a-f]{32}')


@pytest.fixture
def ctx() -> testing.Context[StateHelpersCharm]:
    return testing.Context(StateHelpersCharm, meta=META, actions=ACTIONS)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(time, 'time', lambda: NOW)
    return NOW


def network(address: str | None) -> testing.Network:
    """The cluster binding as network-get reports it; None for a binding with no address."""
    if address is None:
        return testing.Network('cluster', bind_addresses=[])
    addresses = [testing.BindAddress([testing.Address(address)])]
    return testing.Network('cluster', bind_addresses=addresses)


def app_data(state: testing.State, relation: testing.PeerRelation) -> ClusterState:
    return decode(ClusterState, state.get_relation(relation.id).local_app_data)


def unit_data(state: testing.State, relation: testing.PeerRelation) -> UnitRecord:
    return decode(UnitRecord, state.get_relation(relation.id).local_unit_data)


def state_after(failed: pytest.ExceptionInfo[testing.ActionFailed]) -> testing.State:
    """The output state of a failed action; ops types it as its own State protocol."""
    assert failed.value.state is not None
    return typing.cast(testing.State, failed.value.state)


def set_state(scope: str, field: str, value: str) -> dict[str, str]:
    return {'scope': scope, 'field': field, 'value': value}


# ---------------------------------------------------------------------------------------
# The cluster token (scope='app')


@pytest.mark.parametrize(
    'event',
    ['leader_elected', 'start', 'config_changed', 'update_status', 'upgrade_charm'],
)
def test_leader_creates_token_in_any_hook(ctx: testing.Context[StateHelpersCharm], event: str):
    peer = testing.PeerRelation('cluster')

    state_out = ctx.run(getattr(ctx.on, event)(), testing.State(leader=True, relations={peer}))

    cluster = app_data(state_out, peer)
    assert HEX_TOKEN.fullmatch(cluster.token)
    assert cluster.created_by == 'state-helpers/0'


def test_leader_creates_token_when_relation_created(ctx: testing.Context[StateHelpersCharm]):
    peer = testing.PeerRelation('cluster')

    state_out = ctx.run(
        ctx.on.relation_created(peer), testing.State(leader=True, relations={peer})
    )

    assert HEX_TOKEN.fullmatch(app_data(state_out, peer).token)


def test_leader_keeps_existing_token(ctx: testing.Context[StateHelpersCharm]):
    seeded = encode(ClusterState(token=TOKEN, created_by='state-helpers/1'))
    peer = testing.PeerRelation('cluster', local_app_data=seeded, peers_data={1: {}})

    state_out = ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations={peer}))

    assert app_data(state_out, peer) == ClusterState(token=TOKEN, created_by='state-helpers/1')


def test_new_leader_keeps_token_of_previous_leader():
    first = testing.Context(StateHelpersCharm, meta=META, actions=ACTIONS, unit_id=0)
    peer = testing.PeerRelation('cluster', peers_data={1: {}})
    created = first.run(first.on.leader_elected(), testing.State(leader=True, relations={peer}))
    cluster = app_data(created, peer)

    # Unit 1 sees the same application databag, and unit 0 as its peer.
    second = testing.Context(StateHelpersCharm, meta=META, actions=ACTIONS, unit_id=1)
    app = created.get_relation(peer.id).local_app_data
    peer_of_1 = testing.PeerRelation('cluster', local_app_data=app, peers_data={0: {}})
    state_in = testing.State(leader=True, relations={peer_of_1})
    state_out = second.run(second.on.leader_elected(), state_in)

    assert app_data(state_out, peer_of_1) == cluster
    assert cluster.created_by == 'state-helpers/0'


def test_follower_never_writes_app_databag(ctx: testing.Context[StateHelpersCharm]):
    peer = testing.PeerRelation('cluster', peers_data={1: {}})

    state_out = ctx.run(
        ctx.on.relation_joined(peer, remote_unit=1), testing.State(relations={peer})
    )

    assert state_out.get_relation(peer.id).local_app_data == {}


# ---------------------------------------------------------------------------------------
# The unit record (scope='unit')


def test_unit_publishes_record(ctx: testing.Context[StateHelpersCharm], clock: float):
    peer = testing.PeerRelation('cluster')
    state_in = testing.State(relations={peer}, networks={network('10.1.2.3')})

    state_out = ctx.run(ctx.on.relation_created(peer), state_in)

    assert unit_data(state_out, peer) == UnitRecord(address='10.1.2.3', joined_at=1700000000.5)


def test_record_keeps_first_joined_at(ctx: testing.Context[StateHelpersCharm], clock: float):
    seeded = encode(UnitRecord(address='10.1.2.3', joined_at=1600000000.0))
    peer = testing.PeerRelation('cluster', local_unit_data=seeded)
    state_in = testing.State(relations={peer}, networks={network('10.9.8.7')})

    state_out = ctx.run(ctx.on.config_changed(), state_in)

    assert unit_data(state_out, peer) == UnitRecord(address='10.9.8.7', joined_at=1600000000.0)


def test_record_address_is_empty_without_binding_address(
    ctx: testing.Context[StateHelpersCharm], clock: float
):
    peer = testing.PeerRelation('cluster')
    state_in = testing.State(relations={peer}, networks={network(None)})

    state_out = ctx.run(ctx.on.start(), state_in)

    assert unit_data(state_out, peer) == UnitRecord(address='', joined_at=1700000000.5)


def test_unchanged_record_sends_nothing(ctx: testing.Context[StateHelpersCharm]):
    record = encode(UnitRecord(address='10.1.2.3', joined_at=1600000000.0))
    seeded = {'ingress-address': '10.1.2.3', 'marker': 'kept', **record}
    peer = testing.PeerRelation('cluster', local_unit_data=seeded)
    state_in = testing.State(relations={peer}, networks={network('10.1.2.3')})

    state_out = ctx.run(ctx.on.update_status(), state_in)

    assert state_out.get_relation(peer.id).local_unit_data == seeded


# ---------------------------------------------------------------------------------------
# The event counter (LocalState)


def test_counter_counts_hooks(ctx: testing.Context[StateHelpersCharm]):
    state_in = testing.State(stored_states={encode_local('events', EventCounter(4, 'start'))})

    state_out = ctx.run(ctx.on.update_status(), state_in)

    assert decode_local(state_out, 'events', EventCounter) == EventCounter(5, 'update_status')


def test_counter_starts_at_install(ctx: testing.Context[StateHelpersCharm]):
    state_out = ctx.run(ctx.on.install(), testing.State())

    assert decode_local(state_out, 'events', EventCounter) == EventCounter(1, 'install')


def test_counter_skips_actions(ctx: testing.Context[StateHelpersCharm]):
    state_in = testing.State(stored_states={encode_local('events', EventCounter(4, 'start'))})

    state_out = ctx.run(ctx.on.action('get-state'), state_in)

    assert decode_local(state_out, 'events', EventCounter) == EventCounter(4, 'start')


# ---------------------------------------------------------------------------------------
# Status


def test_status_sums_up_shared_token(ctx: testing.Context[StateHelpersCharm]):
    peer = testing.PeerRelation(
        'cluster', local_app_data=encode(ClusterState(token=TOKEN)), peers_data={1: {}, 2: {}}
    )
    counter = encode_local('events', EventCounter(11, 'start'))
    state_in = testing.State(relations={peer}, stored_states={counter})

    state_out = ctx.run(ctx.on.update_status(), state_in)

    assert state_out.unit_status == testing.ActiveStatus(
        '3 units; cluster token shared; 12 events here'
    )


def test_status_of_single_unit(ctx: testing.Context[StateHelpersCharm]):
    peer = testing.PeerRelation('cluster')

    state_out = ctx.run(ctx.on.start(), testing.State(leader=True, relations={peer}))

    assert state_out.unit_status == testing.ActiveStatus(
        '1 unit; cluster token shared; 1 event here'
    )


def test_status_waits_for_token(ctx: testing.Context[StateHelpersCharm]):
    peer = testing.PeerRelation('cluster', peers_data={1: {}})

    state_out = ctx.run(ctx.on.start(), testing.State(relations={peer}))

    assert state_out.unit_status == testing.WaitingStatus(
        '2 units; waiting for the cluster token; 1 event here'
    )


def test_status_waits_for_relation(ctx: testing.Context[StateHelpersCharm]):
    state_out = ctx.run(ctx.on.start(), testing.State(leader=True))

    assert state_out.unit_status == testing.WaitingStatus('waiting for the cluster peer relation')


# ---------------------------------------------------------------------------------------
# install: Juju lists the peer relation there but refuses its data. ops.testing always
# serves the data, so only the library's tests cover the refusal.


def test_install_with_peer_relation_writes_no_peer_data(
    ctx: testing.Context[StateHelpersCharm], clock: float
):
    # Juju lists the peer relation in install but refuses its data, so the charm waits.
    peer = testing.PeerRelation('cluster')
    state_in = testing.State(leader=True, relations={peer}, networks={network('10.1.2.3')})

    state_out = ctx.run(ctx.on.install(), state_in)

    relation = state_out.get_relation(peer.id)
    assert relation.local_app_data == {}
    assert relation.local_unit_data == peer.local_unit_data
    assert state_out.unit_status == testing.WaitingStatus('waiting for the cluster peer relation')
    assert decode_local(state_out, 'events', EventCounter) == EventCounter(1, 'install')


def test_install_without_peer_relation(ctx: testing.Context[StateHelpersCharm]):
    state_out = ctx.run(ctx.on.install(), testing.State(leader=True))

    assert state_out.unit_status == testing.WaitingStatus('waiting for the cluster peer relation')
    assert decode_local(state_out, 'events', EventCounter) == EventCounter(1, 'install')


# ---------------------------------------------------------------------------------------
# get-state


def test_get_state_reports_everything(ctx: testing.Context[StateHelpersCharm]):
    peer = testing.PeerRelation(
        'cluster',
        local_app_data=encode(ClusterState(token=TOKEN, created_by='state-helpers/2')),
        local_unit_data=encode(UnitRecord(address='10.0.0.10', joined_at=1600000000.0)),
        peers_data={
            2: encode(UnitRecord(address='10.0.0.12', joined_at=1600000002.0)),
            1: encode(UnitRecord(address='10.0.0.11', joined_at=1600000001.5)),
        },
    )
    counter = encode_local('events', EventCounter(7, 'update_status'))
    state_in = testing.State(relations={peer}, stored_states={counter})

    ctx.run(ctx.on.action('get-state'), state_in)

    assert ctx.action_results is not None
    assert json.loads(ctx.action_results['state']) == {
        'unit': 'state-helpers/0',
        'leader': False,
        'ready': True,
        'app': {'token_fingerprint': '3eb1bd439947', 'created_by': 'state-helpers/2'},
        'units': {
            'state-helpers/0': {'address': '10.0.0.10', 'joined_at': 1600000000.0},
            'state-helpers/1': {'address': '10.0.0.11', 'joined_at': 1600000001.5},
            'state-helpers/2': {'address': '10.0.0.12', 'joined_at': 1600000002.0},
        },
        'local': {'handled': 7, 'last': 'update_status'},
    }


def test_get_state_never_shows_token(ctx: testing.Context[StateHelpersCharm]):
    peer = testing.PeerRelation('cluster', local_app_data=encode(ClusterState(token=TOKEN)))

    ctx.run(ctx.on.action('get-state'), testing.State(relations={peer}))

    assert ctx.action_results is not None
    assert TOKEN not in ctx.action_results['state']
    assert TOKEN_FINGERPRINT in ctx.action_results['state']


def test_get_state_without_relation(ctx: testing.Context[StateHelpersCharm]):
    ctx.run(ctx.on.action('get-state'), testing.State(leader=True))

    assert ctx.action_results is not None
    assert json.loads(ctx.action_results['state']) == {
        'unit': 'state-helpers/0',
        'leader': True,
        'ready': False,
        'app': {'token_fingerprint': '', 'created_by': ''},
        'units': {'state-helpers/0': {'address': '', 'joined_at': 0.0}},
        'local': {'handled': 0, 'last': ''},
    }


def test_get_state_fails_on_unreadable_peer_record(ctx: testing.Context[StateHelpersCharm]):
    peer = testing.PeerRelation('cluster', peers_data={1: {'joined_at': '"yesterday"'}})

    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action('get-state'), testing.State(relations={peer}))

    assert 'unit databag of state-helpers/1' in failed.value.message
    assert "field 'joined_at'" in failed.value.message
    assert 'yesterday' not in failed.value.message


# ---------------------------------------------------------------------------------------
# set-state: success


def test_set_state_writes_app_field(ctx: testing.Context[StateHelpersCharm]):
    seeded = encode(ClusterState(token=TOKEN, created_by='state-helpers/0'))
    peer = testing.PeerRelation('cluster', local_app_data=seeded)
    state_in = testing.State(leader=True, relations={peer})

    state_out = ctx.run(
        ctx.on.action('set-state', params=set_state('app', 'token', '"t2"')), state_in
    )

    assert ctx.action_results == {'written': 'app.token'}
    assert app_data(state_out, peer) == ClusterState(token='t2', created_by='state-helpers/0')


def test_set_state_writes_unit_field(ctx: testing.Context[StateHelpersCharm]):
    seeded = encode(UnitRecord(address='10.1.2.3', joined_at=1600000000.0))
    peer = testing.PeerRelation('cluster', local_unit_data=seeded)
    params = set_state('unit', 'joined_at', '1650000000')

    state_out = ctx.run(ctx.on.action('set-state', params=params), testing.State(relations={peer}))

    assert ctx.action_results == {'written': 'unit.joined_at'}
    assert unit_data(state_out, peer) == UnitRecord(address='10.1.2.3', joined_at=1650000000.0)


def test_set_state_writes_local_field(ctx: testing.Context[StateHelpersCharm]):
    state_in = testing.State(stored_states={encode_local('events', EventCounter(4, 'start'))})

    state_out = ctx.run(
        ctx.on.action('set-state', params=set_state('local', 'handled', '42')), state_in
    )

    assert ctx.action_results == {'written': 'local.handled'}
    assert decode_local(state_out, 'events', EventCounter) == EventCounter(42, 'start')


def test_set_state_takes_bare_word_as_string(ctx: testing.Context[StateHelpersCharm]):
    params = set_state('local', 'last', 'restarted')

    state_out = ctx.run(ctx.on.action('set-state', params=params), testing.State())

    assert decode_local(state_out, 'events', EventCounter) == EventCounter(0, 'restarted')


# ---------------------------------------------------------------------------------------
# set-state: failures write nothing


def test_set_state_app_field_fails_on_follower(ctx: testing.Context[StateHelpersCharm]):
    seeded = encode(ClusterState(token=TOKEN, created_by='state-helpers/1'))
    peer = testing.PeerRelation('cluster', local_app_data=seeded, peers_data={1: {}})
    params = set_state('app', 'token', '"t2"')

    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action('set-state', params=params), testing.State(relations={peer}))

    assert 'unit state-helpers/0 is not the leader' in failed.value.message
    assert state_after(failed).get_relation(peer.id).local_app_data == seeded


def test_set_state_unit_field_fails_without_relation(ctx: testing.Context[StateHelpersCharm]):
    params = set_state('unit', 'address', '"10.1.2.3"')

    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action('set-state', params=params), testing.State(leader=True))

    assert "peer relation 'cluster', unit databag of state-helpers/0" in failed.value.message
    assert 'the relation is not there yet' in failed.value.message


def test_set_state_fails_on_unknown_field(ctx: testing.Context[StateHelpersCharm]):
    peer = testing.PeerRelation('cluster')
    params = set_state('app', 'colour', '"blue"')

    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(
            ctx.on.action('set-state', params=params), testing.State(leader=True, relations={peer})
        )

    assert failed.value.message == (
        "unknown field 'colour' for scope 'app'; known fields: token, created_by"
    )
    assert state_after(failed).get_relation(peer.id).local_app_data == {}


def test_set_state_fails_on_wrongly_typed_value(ctx: testing.Context[StateHelpersCharm]):
    state_in = testing.State(stored_states={encode_local('events', EventCounter(4, 'start'))})
    params = set_state('local', 'handled', 'many')

    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action('set-state', params=params), state_in)

    assert "LocalState 'events': field 'handled' cannot be stored" in failed.value.message
    assert 'expected int, found str' in failed.value.message
    assert decode_local(state_after(failed), 'events', EventCounter) == EventCounter(4, 'start')


def test_set_state_never_logs_value(
    ctx: testing.Context[StateHelpersCharm], caplog: pytest.LogCaptureFixture
):
    peer = testing.PeerRelation('cluster')
    params = set_state('app', 'token', '"s3cr3t-t0ken"')

    with caplog.at_level('DEBUG'):
        ctx.run(
            ctx.on.action('set-state', params=params), testing.State(leader=True, relations={peer})
        )

    assert 's3cr3t-t0ken' not in caplog.text
    assert 'set-state wrote app.token' in caplog.text
