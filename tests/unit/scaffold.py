"""What the unit tests share: a host charm built per test, schemas, a hook-command spy."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import ops
import pydantic
from charms.state_helpers.v0.state import LocalState, PeerState
from ops import testing

META: dict[str, Any] = {
    'name': 'host',
    'peers': {'peers': {'interface': 'host_peers'}, 'other': {'interface': 'host_other'}},
}
JUJU_UNIT_KEYS = ('egress-subnets', 'ingress-address', 'private-address')
JUJU_UNIT_DATA = dict.fromkeys(JUJU_UNIT_KEYS, '192.0.2.0')
SECRET = 'hunter2-s3cr3t-Pa55w0rd'


# ---------------------------------------------------------------------------------------
# Schemas: one behaviour is run over a dataclass, a pydantic model and no schema at all.


@dataclasses.dataclass
class Settings:
    name: str = ''
    replicas: int = 1
    tags: list[str] = dataclasses.field(default_factory=list)


class SettingsModel(pydantic.BaseModel):
    name: str = ''
    replicas: int = 1
    tags: list[str] = []


@dataclasses.dataclass(frozen=True)
class Flavour:
    """One way of giving a helper its schema, with how to build values of it."""

    id: str
    schema: type[Any] | None

    def make(self, **fields: Any) -> Any:
        return dict(fields) if self.schema is None else self.schema(**fields)

    def empty(self) -> Any:
        return self.make()

    def fields(self, value: Any) -> dict[str, Any]:
        """The value's fields as a plain dict, whatever the schema."""
        if self.schema is None:
            return copy.deepcopy(dict(value))
        if dataclasses.is_dataclass(value):
            return dataclasses.asdict(value)  # type: ignore
        return value.model_dump()

    @property
    def typed(self) -> bool:
        return self.schema is not None


DATACLASS = Flavour('dataclass', Settings)
PYDANTIC = Flavour('pydantic', SettingsModel)
UNTYPED = Flavour('untyped', None)
FLAVOURS = [DATACLASS, PYDANTIC, UNTYPED]
TYPED = [DATACLASS, PYDANTIC]

# Where a helper keeps its state.
WHERES = ['local', 'app', 'unit']
PEER_WHERES = ['app', 'unit']


def helper(charm: ops.CharmBase, where: str, schema: type[Any] | None) -> Any:
    """The helper that stores state in `where`, over the 'peers' relation or key 'state'."""
    if where == 'local':
        return LocalState(charm, 'state', schema)
    return PeerState(charm, 'peers', schema, scope=where)  # type: ignore


# ---------------------------------------------------------------------------------------
# Seeding and reading back the raw stored data, JSON values keyed by databag key.


def peer_relation(
    where: str = 'app', data: Mapping[str, Any] | None = None, **kwargs: Any
) -> testing.PeerRelation:
    """A peer relation whose `where` databag holds `data` (JSON values, stored as text)."""
    texts = {key: json.dumps(value) for key, value in (data or {}).items()}
    if where == 'app':
        kwargs['local_app_data'] = {**kwargs.get('local_app_data', {}), **texts}
    elif where == 'unit':
        kwargs['local_unit_data'] = {
            **JUJU_UNIT_DATA,
            **kwargs.get('local_unit_data', {}),
            **texts,
        }
    return testing.PeerRelation('peers', **kwargs)


def seeded(where: str, data: Mapping[str, Any] | None = None, **state: Any) -> testing.State:
    """A State in which the helper at `where` finds `data` (JSON values) stored."""
    state.setdefault('leader', True)
    if where == 'local':
        stored = testing.StoredState(
            '_stored', owner_path='LocalState[state]', content=dict(data or {})
        )
        return testing.State(stored_states={stored}, relations={peer_relation()}, **state)
    return testing.State(relations={peer_relation(where, data)}, **state)


def raw(out: testing.State, where: str) -> dict[str, Any]:
    """The data stored at `where` in an output state: JSON values; Juju's keys left out."""
    if where == 'local':
        for stored in out.stored_states:
            if stored.owner_path == 'LocalState[state]':
                return dict(stored.content)
        return {}
    texts = databag(out, where)
    return {k: json.loads(v) for k, v in texts.items() if k not in JUJU_UNIT_KEYS}


def databag(out: testing.State, where: str) -> dict[str, str]:
    """The peer databag at `where` in an output state, as text, Juju's keys included."""
    (relation,) = [r for r in out.relations if r.endpoint == 'peers']
    return dict(relation.local_app_data if where == 'app' else relation.local_unit_data)


# ---------------------------------------------------------------------------------------
# The hook-command spy: counts what reaches Juju, at the boundary between ops and Juju.


@dataclasses.dataclass
class Call:
    command: str  # 'relation-get', 'relation-set', 'is-leader', or the method's name
    data: dict[str, str] | None = None  # what a relation-set sent


# relation-set is reached through update_relation_data (ops 2 and 3 alike), which calls
# relation_set; both are one hook command. Other methods map to their own command.
_COMMANDS = {
    'relation_get': 'relation-get',
    'relation_set': 'relation-set',
    'update_relation_data': 'relation-set',
    'is_leader': 'is-leader',
}


class Spy:
    """Records the backend calls made while `recording()` is active.

    ops.testing replaces some _ModelBackend methods in a subclass of its own, imported
    only when a test runs; the spy wraps every public method of the backend instance the
    charm was given, and records the outermost call only, so that
    update_relation_data -> relation_set counts as one relation-set on ops 2 and 3 alike.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.refuse_relation_get = False
        self.refuse_relation_set = False
        self._active = False
        self._depth: dict[str, int] = {}

    def attach(self, backend: ops.model._ModelBackend) -> None:
        for name in dir(type(backend)):
            method = getattr(backend, name)
            if not name.startswith('_') and callable(method):
                setattr(backend, name, self._wrap(name, method))

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        command = _COMMANDS.get(name, name.replace('_', '-'))
        spy = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            outermost = not spy._depth.get(command)
            if command == 'is-leader' and outermost:
                # ops keeps the answer of is-leader for a lease of 30 seconds, longer than a
                # hook; ops.testing's backend does not, so count the first one as Juju would.
                backend = method.__self__  # type: ignore
                outermost = not getattr(backend, '_spy_leadership_known', False)
                backend._spy_leadership_known = True
            if spy._active and outermost:
                data = kwargs.get('data', args[1] if len(args) > 1 else None)
                sent = dict(data) if command == 'relation-set' and data is not None else None
                spy.calls.append(Call(command, sent))
                if command == 'relation-get' and spy.refuse_relation_get:
                    raise ops.ModelError('ERROR permission denied')
                if command == 'relation-set' and spy.refuse_relation_set:
                    raise ops.ModelError('ERROR permission denied')
            spy._depth[command] = spy._depth.get(command, 0) + 1
            try:
                return method(*args, **kwargs)
            finally:
                spy._depth[command] -= 1

        return wrapper

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        self._active = True
        try:
            yield
        finally:
            self._active = False

    def commands(self, command: str | None = None) -> list[str]:
        return [c.command for c in self.calls if command is None or c.command == command]

    def sent(self) -> list[dict[str, str]]:
        """The data of every relation-set, in order."""
        return [c.data or {} for c in self.calls if c.command == 'relation-set']


# ---------------------------------------------------------------------------------------
# Running charm code inside a hook


@dataclasses.dataclass
class Outcome:
    value: Any
    error: BaseException | None
    out: testing.State

    def raised(self, cls: type[BaseException]) -> BaseException:
        assert isinstance(self.error, cls), f'expected {cls.__name__}, got {self.error!r}'
        return self.error


class Hook:
    """Runs a function inside a hook of a host charm that `build` sets its helpers on.

    The function's result and any exception it raised are returned with the output
    state, so that a test sees both what went wrong and what was stored anyway.
    """

    def __init__(self, spy: Spy):
        self.spy = spy

    def __call__(
        self,
        build: Callable[[ops.CharmBase], Any],
        fn: Callable[[Any], Any],
        state: testing.State | None = None,
        *,
        event: str = 'update_status',
        charm_name: str = 'HostCharm',
    ) -> Outcome:
        spy = self.spy
        box: dict[str, Any] = {'error': None, 'value': None}

        def init(charm: ops.CharmBase, framework: ops.Framework) -> None:
            ops.CharmBase.__init__(charm, framework)
            spy.attach(framework.model._backend)
            with spy.recording():
                try:
                    charm.helper = build(charm)  # type: ignore
                except Exception as e:
                    box['error'] = e
                    return
            framework.observe(getattr(charm.on, event), charm._on_event)  # type: ignore

        # ops calls an observer back by its __name__.
        def _on_event(charm: ops.CharmBase, _: ops.EventBase) -> None:
            if box['error'] is not None:
                return
            with spy.recording():
                try:
                    box['value'] = fn(charm.helper)  # type: ignore
                except Exception as e:
                    box['error'] = e

        charm_type = type(charm_name, (ops.CharmBase,), {'__init__': init, '_on_event': _on_event})
        ctx = testing.Context(charm_type, meta=META)

        # ops.testing 2.23 adds a juju-log handler to the root logger on every run and never
        # removes it; each keeps its charm alive, and every later run gets slower.
        root = logging.getLogger()
        handlers = list(root.handlers)
        try:
            out = ctx.run(getattr(ctx.on, event)(), state or testing.State())
        finally:
            root.handlers[:] = handlers
        return Outcome(box['value'], box['error'], out)
