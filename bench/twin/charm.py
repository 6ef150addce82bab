#!/usr/bin/env python3
"""The host charm written by hand: the same behaviour as ``src/charm.py``, no library.

It is what the ops guide "How to manage stored state" teaches: JSON text per databag key,
``relation.data[...][key] = value`` per key, plain ``StoredState`` attributes. The benchmarks
dispatch it beside the host charm, so that the cost of importing and using the library shows.
Its databag keys, values and unit database content match the host charm's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from typing import Any

import ops

logger = logging.getLogger(__name__)

PEER = 'cluster'
APP_FIELDS = {'token': '', 'created_by': ''}
UNIT_FIELDS = {'address': '', 'joined_at': 0.0}
LOCAL_FIELDS = {'handled': 0, 'last': ''}


class StateHelpersTwinCharm(ops.CharmBase):
    """Keeps a cluster token, a record per unit and an event counter, by hand."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(**LOCAL_FIELDS)

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

    # -- the peer relation, by hand

    def _peer(self) -> ops.Relation | None:
        """The peer relation, if Juju serves its data in this hook (not in install)."""
        relation = self.model.get_relation(PEER)
        if relation is None or not relation.active:
            return None
        try:
            relation.data[self.unit].get('address')
        except ops.ModelError:
            return None
        return relation

    @staticmethod
    def _read(data: ops.RelationDataContent, fields: dict[str, Any]) -> dict[str, Any]:
        values = dict(fields)
        for key in fields:
            text = data.get(key)
            if text is not None:
                values[key] = json.loads(text)
        return values

    # -- hooks

    def _on_hook(self, event: ops.EventBase) -> None:
        """Every hook does the same: count it, then bring the peer data and status up to date."""
        self._stored.handled += 1
        self._stored.last = event.handle.kind

        relation = self._peer()
        if relation is not None:
            self._ensure_token(relation)
            self._publish_record(relation)

        self.unit.status = self._status()

    def _ensure_token(self, relation: ops.Relation) -> None:
        if not self.unit.is_leader():
            return
        data = relation.data[self.app]
        if not self._read(data, APP_FIELDS)['token']:
            data['token'] = json.dumps(secrets.token_hex(16))
            data['created_by'] = json.dumps(self.unit.name)
            logger.info('created the cluster token')

    def _publish_record(self, relation: ops.Relation) -> None:
        data = relation.data[self.unit]
        record = self._read(data, UNIT_FIELDS)
        address = self._address()
        # An absent key reads as the default, so an unchanged address sends nothing.
        if address != record['address']:
            data['address'] = json.dumps(address)
        if not record['joined_at']:
            data['joined_at'] = json.dumps(time.time())

    def _address(self) -> str:
        binding = self.model.get_binding(PEER)
        if binding is None:
            return ''
        try:
            address = binding.network.bind_address
        except ops.ModelError:
            return ''
        return '' if address is None else str(address)

    def _status(self) -> ops.StatusBase:
        relation = self._peer()
        if relation is None:
            return ops.WaitingStatus(f'waiting for the {PEER} peer relation')

        units = _plural(len(relation.units) + 1, 'unit')
        events = _plural(self._stored.handled, 'event')
        if self._read(relation.data[self.app], APP_FIELDS)['token']:
            return ops.ActiveStatus(f'{units}; cluster token shared; {events} here')
        return ops.WaitingStatus(f'{units}; waiting for the cluster token; {events} here')

    # -- actions

    def _on_get_state(self, event: ops.ActionEvent) -> None:
        relation = self._peer()
        cluster = dict(APP_FIELDS)
        units = {self.unit.name: dict(UNIT_FIELDS)}
        try:
            if relation is not None:
                cluster = self._read(relation.data[self.app], APP_FIELDS)
                for unit in [self.unit, *relation.units]:
                    units[unit.name] = self._read(relation.data[unit], UNIT_FIELDS)
        except ValueError as e:
            event.fail(f'stored data does not decode: {type(e).__name__}')
            return

        token = cluster.pop('token')
        cluster['token_fingerprint'] = fingerprint(token) if token else ''
        state = {
            'unit': self.unit.name,
            'leader': self.unit.is_leader(),
            'ready': relation is not None,
            'app': cluster,
            'units': units,
            'local': {key: getattr(self._stored, key) for key in LOCAL_FIELDS},
        }
        event.set_results({'state': json.dumps(state)})

    def _on_set_state(self, event: ops.ActionEvent) -> None:
        scope: str = event.params['scope']
        field: str = event.params['field']
        fields = {'app': APP_FIELDS, 'unit': UNIT_FIELDS, 'local': LOCAL_FIELDS}[scope]
        if field not in fields:
            event.fail(
                f'unknown field {field!r} for scope {scope!r}; known fields: {", ".join(fields)}'
            )
            return

        value = _parse_value(event.params['value'])
        default = fields[field]
        if type(value) is not type(default) and not (
            isinstance(default, float) and type(value) is int
        ):
            event.fail(f'{scope}.{field} must be a {type(default).__name__}; nothing was stored')
            return

        if scope == 'local':
            setattr(self._stored, field, value)
        else:
            relation = self._peer()
            if relation is None:
                event.fail(f'the {PEER} peer relation is not there yet; nothing was stored')
                return
            if scope == 'app' and not self.unit.is_leader():
                event.fail(f'{self.unit.name} is not the leader; nothing was stored')
                return
            entity = self.app if scope == 'app' else self.unit
            relation.data[entity][field] = json.dumps(value)

        logger.info('set-state wrote %s.%s', scope, field)
        event.set_results({'written': f'{scope}.{field}'})


def fingerprint(token: str) -> str:
    """Identify a token without showing it: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _plural(count: int, noun: str) -> str:
    return f'{count} {noun}' if count == 1 else f'{count} {noun}s'


if __name__ == '__main__':  # pragma: nocover
    ops.main(StateHelpersTwinCharm)
