"""The two examples of the ops guide "How to manage stored state", written with the library.

The first keeps an expensive value for the life of the machine (LocalState); the second
keeps it for the life of the application, in the peer application databag (PeerState).
"""

from __future__ import annotations

import dataclasses
import logging

import ops
from charms.state_helpers.v0.state import (
    LocalState,
    PeerState,
    decode,
    decode_local,
    encode,
    encode_local,
)
from ops import testing

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Expensive:
    expensive_value: int | None = None


def calculate_expensive_value() -> int:
    return 42


# ---------------------------------------------------------------------------------------
# Stored for the lifetime of the charm container or machine


class MyCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored_value = LocalState(self, 'expensive', Expensive)
        framework.observe(self.on.start, self._on_start)
        framework.observe(self.on.install, self._on_install)

    def _on_start(self, event: ops.StartEvent) -> None:
        with self._stored_value.edit() as stored:
            if stored.expensive_value is None:
                stored.expensive_value = calculate_expensive_value()

    def _on_install(self, event: ops.InstallEvent) -> None:
        # The value set in the start event of an earlier life of this machine.
        logger.info('Current value: %s', self._stored_value.get().expensive_value)


def test_charm_sets_stored_state():
    ctx = testing.Context(MyCharm, meta={'name': 'mycharm'})
    state_out = ctx.run(ctx.on.start(), testing.State())
    assert decode_local(state_out, 'expensive', Expensive).expensive_value == 42


def test_charm_keeps_a_stored_value():
    ctx = testing.Context(MyCharm, meta={'name': 'mycharm'})
    state_in = testing.State(stored_states={encode_local('expensive', Expensive(7))})
    state_out = ctx.run(ctx.on.start(), state_in)
    assert decode_local(state_out, 'expensive', Expensive).expensive_value == 7


def test_charm_logs_stored_state():
    ctx = testing.Context(MyCharm, meta={'name': 'mycharm'})
    state_in = testing.State(stored_states={encode_local('expensive', Expensive(42))})
    ctx.run(ctx.on.install(), state_in)
    assert 'Current value: 42' in [line.message for line in ctx.juju_log]


# ---------------------------------------------------------------------------------------
# Stored for the lifetime of the application

PEER_META = {'name': 'mycharm', 'peers': {'charm-peer': {'interface': 'my_charm_peers'}}}


class MyPeerCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._peer_value = PeerState(self, 'charm-peer', Expensive)
        framework.observe(self.on.start, self._on_start)
        framework.observe(self.on.stop, self._on_stop)

    def _on_start(self, event: ops.StartEvent) -> None:
        # Only the leader writes the application databag; the peer relation may not be
        # there yet, early in the life of the unit.
        if not self.unit.is_leader() or not self._peer_value.ready:
            return
        self._peer_value.set(Expensive(calculate_expensive_value()))

    def _on_stop(self, event: ops.StopEvent) -> None:
        logger.info('Value at stop is: %s', self._peer_value.get().expensive_value)


def test_peer_charm_sets_stored_state():
    ctx = testing.Context(MyPeerCharm, meta=PEER_META)
    peer = testing.PeerRelation('charm-peer')
    state_in = testing.State(leader=True, relations={peer})
    state_out = ctx.run(ctx.on.start(), state_in)

    rel = state_out.get_relation(peer.id)
    assert rel.local_app_data['expensive_value'] == '42'
    assert decode(Expensive, rel.local_app_data).expensive_value == 42


def test_peer_charm_follower_writes_nothing():
    ctx = testing.Context(MyPeerCharm, meta=PEER_META)
    peer = testing.PeerRelation('charm-peer')
    state_out = ctx.run(ctx.on.start(), testing.State(leader=False, relations={peer}))
    assert state_out.get_relation(peer.id).local_app_data == {}


def test_peer_charm_without_the_relation_writes_nothing():
    ctx = testing.Context(MyPeerCharm, meta=PEER_META)
    state_out = ctx.run(ctx.on.start(), testing.State(leader=True))
    assert list(state_out.relations) == []


def test_peer_charm_logs_at_stop():
    ctx = testing.Context(MyPeerCharm, meta=PEER_META)
    peer = testing.PeerRelation('charm-peer', local_app_data=encode(Expensive(42)))
    ctx.run(ctx.on.stop(), testing.State(relations={peer}))
    assert 'Value at stop is: 42' in [line.message for line in ctx.juju_log]
