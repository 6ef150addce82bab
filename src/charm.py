#!/usr/bin/env python3
"""The state-helpers charm: a small real charm that uses every helper of the state library.

- ``PeerState(scope='app')``, ``ClusterState``: the leader creates a cluster token once, and
  every later leader keeps it.
- ``PeerState(scope='unit')``, ``UnitRecord``: each unit publishes its address and when it
  first published, for its peers to read.
- ``LocalState('events')``, ``EventCounter``: each unit counts the hooks it has handled.
  Actions are not counted: they only read state (``get-state``) or write the one field they
  are asked to (``set-state``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import secrets
import time
from typing import Any

import ops
from charms.state_helpers.v0.state import LocalState, PeerState, StateError

logger = logging.getLogger(__name__)

PEER = 'cluster'


@dataclasses.dataclass
class ClusterState:
    """Application-wide state, written by the leader."""

    token: str = ''
    created_by: str = ''


@dataclasses.dataclass
class UnitRecord:
    """What each unit tells its peers about itself."""

    address: str = ''
    joined_at: float = 0.0


@dataclasses.dataclass
class EventCounter:
    """How many hooks this unit has handled, and the last one."""

    handled: int = 0
    last: str = ''


class StateHelpersCharm(ops.CharmBase):
    """Keeps a cluster token, a record per unit and an event counter."""

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self.cluster = PeerState(self, PEER, ClusterState, scope='app')
        self.record = PeerState(self, PEER, UnitRecord, scope='unit')
        self.events = LocalState(self, 'events', EventCounter)

        hooks = (
            self.on.install,
            self.on.start,
            self.on.config_changed,
            self.on.upgrade_charm,
            self.on.leader_elected,
            self.on.update_status,
            self.on[PEER].relation_created,
            self.on[PEER].relation_joined,
            self.on[PEER].relation_changed,
            self.on[PEER].relation_departed,
        )
        for hook in hooks:
            framework.observe(hook, self._on_hook)
        framework.observe(self.on.get_state_action, self._on_get_state)
        framework.observe(self.on.set_state_action, self._on_set_state)

    def _on_hook(self, event: ops.EventBase) -> None:
        """Every hook does the same: count it, then bring the peer data and status up to date."""
        with self.events.edit() as counter:
            counter.handled += 1
            counter.last = event.handle.kind

        # Until relation-created (and in install, where Juju refuses the data), there is
        # nowhere to write peer state; a later hook catches up.
        if self.cluster.ready:
            self._ensure_token()
            self._publish_record()

        self.unit.status = self._status()

    def _ensure_token(self) -> None:
        """As leader, create the cluster token if no leader has created one yet."""
        if not self.unit.is_leader():
            return

        # A new leader finds the token of the one before and keeps it.
        with self.cluster.edit() as cluster:
            if not cluster.token:
                cluster.token = secrets.token_hex(16)
                cluster.created_by = self.unit.name
                logger.info('created the cluster token')

    def _publish_record(self) -> None:
        """Publish this unit's record; an unchanged record sends nothing."""
        with self.record.edit() as record:
            record.address = self._address()
            if not record.joined_at:
                record.joined_at = time.time()

    def _address(self) -> str:
        """This unit's address on the peer relation's network, or '' if Juju gives none."""
        binding = self.model.get_binding(PEER)
        if binding is None:
            return ''
        # network-get fails while the relation is going away; the record then keeps no address.
        try:
            address = binding.network.bind_address
        except ops.ModelError:
            return ''
        return '' if address is None else str(address)

    def _status(self) -> ops.StatusBase:
        """Sum up the state for `juju status`, never showing the token: it is a credential."""
        relation = self.model.get_relation(PEER)
        if relation is None or not self.cluster.ready:
            return ops.WaitingStatus(f'waiting for the {PEER} peer relation')

        units = _plural(len(relation.units) + 1, 'unit')  # relation.units lists the peers
        events = _plural(self.events.get().handled, 'event')
        if self.cluster.get().token:
            return ops.ActiveStatus(f'{units}; cluster token shared; {events} here')
        return ops.WaitingStatus(f'{units}; waiting for the cluster token; {events} here')

    def _on_get_state(self, event: ops.ActionEvent) -> None:
        """Report everything this unit can see, with the token replaced by a fingerprint."""
        try:
            cluster = self.cluster.get()
            units = {unit.name: dataclasses.asdict(r) for unit, r in self.record.units().items()}
            counter = dataclasses.asdict(self.events.get())
        except StateError as e:
            event.fail(str(e))
            return

        app = {
            'token_fingerprint': fingerprint(cluster.token) if cluster.token else '',
            'created_by': cluster.created_by,
        }
        state = {
            'unit': self.unit.name,
            'leader': self.unit.is_leader(),
            'ready': self.cluster.ready,
            'app': app,
            'units': units,
            'local': counter,
        }
        event.set_results({'state': json.dumps(state)})

    def _on_set_state(self, event: ops.ActionEvent) -> None:
        """Write one field of one scope through the helper that owns it."""
        scope: str = event.params['scope']
        field: str = event.params['field']
        helpers: dict[str, tuple[LocalState[Any] | PeerState[Any], type[Any]]] = {
            'app': (self.cluster, ClusterState),
            'unit': (self.record, UnitRecord),
            'local': (self.events, EventCounter),
        }
        helper, schema = helpers[scope]

        known = [f.name for f in dataclasses.fields(schema)]
        if field not in known:
            event.fail(
                f'unknown field {field!r} for scope {scope!r}; known fields: {", ".join(known)}'
            )
            return

        # The helper checks the value's type when it stores it, and stores nothing if the
        # write cannot succeed (no relation yet, not the leader, a wrongly typed value).
        value = _parse_value(event.params['value'])
        try:
            with helper.edit() as state:
                setattr(state, field, value)
        except StateError as e:
            event.fail(str(e))
            return

        # Name what was written, never the value: state holds credentials.
        logger.info('set-state wrote %s.%s', scope, field)
        event.set_results({'written': f'{scope}.{field}'})


def fingerprint(token: str) -> str:
    """Identify a token without showing it: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def _parse_value(text: str) -> Any:
    """The JSON value of an action parameter; text that is not JSON is taken as a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _plural(count: int, noun: str) -> str:
    return f'{count} {noun}' if count == 1 else f'{count} {noun}s'


if __name__ == '__main__':  # pragma: nocover
    ops.main(StateHelpersCharm)
