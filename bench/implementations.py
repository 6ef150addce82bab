"""One piece of charm logic, three ways: by hand, with ops save/load, with the library.

Each implementation builds what a charm builds in ``__init__`` (a StoredState, a helper)
inside the measured call, since a charm builds it again in every hook.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, TypeVar

import ops
from charms.state_helpers.v0.state import LocalState, PeerState

from bench.boundary import RELATION
from bench.schemas import CHANGED, AppState20, Blob, UnitRecord

_T = TypeVar('_T')


def _keep(charm: ops.CharmBase, obj: _T) -> _T:
    """Hold ``obj`` for the rest of the hook, as a charm attribute does.

    ops holds objects by weak reference; one that is collected before the end of the hook
    loses what it stored.
    """
    charm.__dict__.setdefault('_bench_objects', []).append(obj)
    return obj


def _names(schema: type[Any]) -> list[str]:
    return [field.name for field in dataclasses.fields(schema)]


class _HandStored(ops.Object):
    """Plain StoredState attributes, one per field, as the ops guide shows."""

    _stored = ops.StoredState()

    def __init__(self, charm: ops.CharmBase, defaults: dict[str, Any]):
        super().__init__(charm, 'hand')
        self._stored.set_default(**defaults)


class _JsonStored(ops.Object):
    """The whole state as JSON text in one StoredState attribute."""

    _stored = ops.StoredState()

    def __init__(self, charm: ops.CharmBase):
        super().__init__(charm, 'json')
        self._stored.set_default(state='{}')


class HandWritten:
    """What the ops guide teaches: json.dumps and one databag key per field."""

    label = 'hand-written'

    def read_app(self, charm: ops.CharmBase, schema: type[Any]) -> Any:
        """The application state, built from one ``json.loads`` per key."""
        relation = charm.model.get_relation(RELATION)
        assert relation is not None
        data = relation.data[charm.app]
        values: dict[str, Any] = {}
        for name in _names(schema):
            text = data.get(name)
            if text is not None:
                values[name] = json.loads(text)
        return schema(**values)

    def write_app(self, charm: ops.CharmBase, state: Any) -> None:
        """Write every field back, one key at a time."""
        relation = charm.model.get_relation(RELATION)
        assert relation is not None
        data = relation.data[charm.app]
        for name in _names(type(state)):
            data[name] = json.dumps(getattr(state, name))

    def change_app(self, charm: ops.CharmBase, schema: type[Any], change: bool) -> None:
        """Read the state, change one field (or none), write it back."""
        state = self.read_app(charm, schema)
        if change:
            setattr(state, CHANGED, getattr(state, CHANGED) + 1)
        self.write_app(charm, state)

    def read_units(self, charm: ops.CharmBase) -> dict[ops.Unit, UnitRecord]:
        """Every unit's record, this unit's included."""
        relation = charm.model.get_relation(RELATION)
        assert relation is not None
        records: dict[ops.Unit, UnitRecord] = {}
        for unit in [charm.unit, *relation.units]:
            data = relation.data[unit]
            values: dict[str, Any] = {}
            for name in _names(UnitRecord):
                text = data.get(name)
                if text is not None:
                    values[name] = json.loads(text)
            records[unit] = UnitRecord(**values)
        return records

    def seed_local(self, charm: ops.CharmBase, values: dict[str, Any]) -> None:
        """Store a state in the unit database, as an earlier hook did."""
        stored = _keep(charm, _HandStored(charm, values))
        for name, value in values.items():
            setattr(stored._stored, name, value)

    def change_local(self, charm: ops.CharmBase, values: dict[str, Any]) -> None:
        """Change one stored field."""
        stored = _keep(charm, _HandStored(charm, values))
        setattr(stored._stored, CHANGED, getattr(stored._stored, CHANGED) + 1)

    def store_blob(self, charm: ops.CharmBase, blob: Blob) -> None:
        """Keep a large value in the unit database."""
        stored = _keep(charm, _HandStored(charm, {'name': '', 'data': ''}))
        stored._stored.name = blob.name
        stored._stored.data = blob.data

    def load_blob(self, charm: ops.CharmBase) -> Blob:
        """Read the large value back."""
        stored = _keep(charm, _HandStored(charm, {'name': '', 'data': ''}))
        return Blob(name=stored._stored.name, data=stored._stored.data)


class OpsSaveLoad:
    """ops ``Relation.save`` and ``Relation.load``, and a dataclass in a StoredState.

    In the unit database the dataclass is JSON text in one StoredState attribute
    (``asdict`` and ``json.dumps``, as ``Relation.save`` does per field).
    """

    label = 'ops save/load'

    def read_app(self, charm: ops.CharmBase, schema: type[Any]) -> Any:
        """The application state, through ``Relation.load``."""
        relation = charm.model.get_relation(RELATION)
        assert relation is not None
        return relation.load(schema, charm.app)

    def change_app(self, charm: ops.CharmBase, schema: type[Any], change: bool) -> None:
        """Load, change one field (or none), save."""
        relation = charm.model.get_relation(RELATION)
        assert relation is not None
        state = relation.load(schema, charm.app)
        if change:
            setattr(state, CHANGED, getattr(state, CHANGED) + 1)
        relation.save(state, charm.app)

    def read_units(self, charm: ops.CharmBase) -> dict[ops.Unit, UnitRecord]:
        """Every unit's record, through ``Relation.load``."""
        relation = charm.model.get_relation(RELATION)
        assert relation is not None
        return {unit: relation.load(UnitRecord, unit) for unit in [charm.unit, *relation.units]}

    def seed_local(self, charm: ops.CharmBase, values: dict[str, Any]) -> None:
        """Store a state in the unit database, as an earlier hook did."""
        _keep(charm, _JsonStored(charm))._stored.state = json.dumps(values)

    def change_local(self, charm: ops.CharmBase, values: dict[str, Any]) -> None:
        """Load the typed state from its JSON text, change one field, store the text."""
        stored = _keep(charm, _JsonStored(charm))
        state = AppState20(**json.loads(stored._stored.state))
        setattr(state, CHANGED, getattr(state, CHANGED) + 1)
        stored._stored.state = json.dumps(dataclasses.asdict(state))

    def store_blob(self, charm: ops.CharmBase, blob: Blob) -> None:
        """Keep a large value in the unit database, as JSON text."""
        _keep(charm, _JsonStored(charm))._stored.state = json.dumps(dataclasses.asdict(blob))

    def load_blob(self, charm: ops.CharmBase) -> Blob:
        """Read the large value back."""
        return Blob(**json.loads(_keep(charm, _JsonStored(charm))._stored.state))


class Library:
    """``charms.state_helpers.v0.state``."""

    label = 'library'

    def read_app(self, charm: ops.CharmBase, schema: type[Any]) -> Any:
        """The application state, through ``PeerState.get``."""
        return _keep(charm, PeerState(charm, RELATION, schema)).get()

    def change_app(self, charm: ops.CharmBase, schema: type[Any], change: bool) -> None:
        """Change one field (or none) in ``PeerState.edit``."""
        with _keep(charm, PeerState(charm, RELATION, schema)).edit() as state:
            if change:
                setattr(state, CHANGED, getattr(state, CHANGED) + 1)

    def read_units(self, charm: ops.CharmBase) -> dict[ops.Unit, UnitRecord]:
        """Every unit's record, through ``PeerState.units``."""
        return _keep(charm, PeerState(charm, RELATION, UnitRecord, scope='unit')).units()

    def seed_local(self, charm: ops.CharmBase, values: dict[str, Any]) -> None:
        """Store a state in the unit database, as an earlier hook did."""
        _keep(charm, LocalState(charm, 'state', None)).set(values)

    def change_local(self, charm: ops.CharmBase, values: dict[str, Any]) -> None:
        """Change one field in ``LocalState.edit``."""
        with _keep(charm, LocalState(charm, 'state', AppState20)).edit() as state:
            setattr(state, CHANGED, getattr(state, CHANGED) + 1)

    def store_blob(self, charm: ops.CharmBase, blob: Blob) -> None:
        """Keep a large value in a ``LocalState``."""
        _keep(charm, LocalState(charm, 'blob', Blob)).set(blob)

    def load_blob(self, charm: ops.CharmBase) -> Blob:
        """Read the large value back."""
        return _keep(charm, LocalState(charm, 'blob', Blob)).get()


IMPLEMENTATIONS = (HandWritten(), OpsSaveLoad(), Library())
