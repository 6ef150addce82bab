"""A local stand-in for a Juju model: one application, its units, one agent loop.

`LocalModel` lays out a packed charm directory per unit, runs its `./dispatch` as a child
process with the environment a Juju unit agent sets, and answers the hook commands the charm
runs (see `_hookcmds.py`) from one model state. It applies a hook's writes only when the
hook exits 0, queues the hooks that follow from them (relation-changed on the units that
can see a changed databag), and runs the queue until the model is quiet.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

JUJU_VERSION = '3.6.8'
HOOK_COMMANDS = (
    'relation-ids',
    'relation-list',
    'relation-get',
    'relation-set',
    'is-leader',
    'juju-log',
    'status-set',
    'status-get',
    'application-version-set',
    'config-get',
    'state-get',
    'state-set',
    'state-delete',
    'action-get',
    'action-set',
    'action-log',
    'action-fail',
    'goal-state',
    'network-get',
)
# Juju writes these into every unit's databag when the unit enters a relation's scope.
JUJU_UNIT_KEYS = ('egress-subnets', 'ingress-address', 'private-address')
SINCE = '2025-01-01 00:00:00Z'


class ModelError(Exception):
    """The local model was asked something a Juju model would refuse, or never settled."""


@dataclasses.dataclass(frozen=True)
class Call:
    """One hook command a charm ran: its name, arguments and, for relation-set, bytes sent."""

    cmd: str
    args: tuple[str, ...]
    exit: int
    sent: int = 0
    error: str = ''


@dataclasses.dataclass(frozen=True)
class Change:
    """One key a hook changed: where, which key, the value before and after (None: absent)."""

    where: str
    key: str
    old: Any
    new: Any


@dataclasses.dataclass
class HookRun:
    """What one dispatched hook or action did, as the model saw it."""

    unit: str
    name: str
    dispatch_path: str
    env: dict[str, str]
    exit_code: int
    stdout: str
    stderr: str
    calls: list[Call]
    changes: list[Change]
    logs: list[tuple[str, str]]
    action: ActionResult | None = None

    @property
    def ok(self) -> bool:
        """Whether the hook exited 0, so that its writes were applied."""
        return self.exit_code == 0

    def count(self, cmd: str) -> int:
        """How many times the hook ran the hook command `cmd`."""
        return sum(1 for call in self.calls if call.cmd == cmd)

    def counts(self) -> dict[str, int]:
        """Hook command calls by name, juju-log included."""
        result: dict[str, int] = {}
        for call in self.calls:
            result[call.cmd] = result.get(call.cmd, 0) + 1
        return result

    def sent_bytes(self) -> int:
        """Bytes the hook sent with relation-set."""
        return sum(call.sent for call in self.calls)


@dataclasses.dataclass(frozen=True)
class ActionResult:
    """The outcome of an action, as `juju run` reports it."""

    status: str
    results: dict[str, Any]
    message: str
    log: list[str]


@dataclasses.dataclass
class _Hook:
    unit: str
    hook: str
    relation_id: str = ''
    remote_unit: str = ''
    departing: str = ''
    action: str = ''
    params: dict[str, Any] = dataclasses.field(default_factory=dict[str, Any])

    def key(self) -> tuple[str, str, str, str, str]:
        return (self.unit, self.hook, self.relation_id, self.remote_unit, self.departing)


class LocalModel:
    """One application of a charm in a local model, its units dispatched like a Juju agent.

    Args:
        root: An empty directory the model owns: charm directories, hook commands, state.
        charm: The charm's source tree (with `src/`, `lib/`, `metadata.yaml`, and
            `charmcraft.yaml` or `actions.yaml`/`config.yaml`).
        config: Configuration values over the charm's defaults.
        install_denies_peer_data: Whether the install hook lists a peer relation but refuses
            its data, as Juju does; on by default.
        max_hooks: How many hooks one `settle` may run before it gives up on a loop.
    """

    def __init__(
        self,
        root: Path,
        charm: Path,
        *,
        config: dict[str, Any] | None = None,
        install_denies_peer_data: bool = True,
        max_hooks: int = 300,
    ) -> None:
        self.root = Path(root)
        self.charm_source = Path(charm)
        self.install_denies_peer_data = install_denies_peer_data
        self.max_hooks = max_hooks
        self.model_name = 'local'
        self.model_uuid = str(uuid.UUID(int=0x5ADE))
        self.runs: list[HookRun] = []
        self._queue: list[_Hook | Callable[[], None]] = []
        self._next_unit = 0
        self._next_action = 0

        self.metadata = self._read_yaml(self.charm_source / 'metadata.yaml')
        self.app = self.metadata['name']
        self.actions, options = self._charm_actions_and_config(self.charm_source)
        self.config = {k: v['default'] for k, v in options.items() if 'default' in v}
        self.config.update(config or {})
        self.leader = ''
        self.app_status = ['unknown', '']
        self.units: dict[str, dict[str, Any]] = {}
        self.relations: dict[str, dict[str, Any]] = {}

        self.root.mkdir(parents=True, exist_ok=True)
        self._bin = self._install_hook_commands()
        for rid, endpoint in enumerate(self.metadata.get('peers') or {}):
            self.relations[str(rid)] = {
                'endpoint': endpoint,
                'peer': True,
                'data': {self.app: {}},
            }

    # --- what a Juju user does -------------------------------------------------------------

    def deploy(self, units: int = 1) -> list[str]:
        """Add `units` units and run their start-up hooks until the model is quiet."""
        names = [self._add_unit() for _ in range(units)]
        self.settle()
        return names

    def add_unit(self, *, settle: bool = True) -> str:
        """Add one unit; the name of the new unit.

        With `settle=False` its start-up hooks stay queued, so that a test can run an action
        on the unit before its first hook, as `juju run` may.
        """
        name = self._add_unit()
        if settle:
            self.settle()
        return name

    def remove_unit(self, unit: str) -> None:
        """Remove a unit as Juju does, then elect a new leader if it led.

        The unit runs relation-departed for every peer and relation-broken; every peer runs
        relation-departed for it; then the unit runs stop and remove, and is gone. Leadership
        stays with a dying leader until it is gone, as Juju's lease does.
        """
        self._require_unit(unit)
        for rid, rel in self.relations.items():
            if rid not in self.units[unit]['relations']:
                continue
            for other in self._units_in(rid):
                if other == unit:
                    continue
                if other in self.units[unit]['relations'][rid]['seen']:
                    self._queue.append(
                        _Hook(unit, f'{rel["endpoint"]}-relation-departed', rid, other, unit)
                    )
                if unit in self.units[other]['relations'][rid]['seen']:
                    self._queue.append(
                        _Hook(other, f'{rel["endpoint"]}-relation-departed', rid, unit, unit)
                    )
            self._queue.append(_Hook(unit, f'{rel["endpoint"]}-relation-broken', rid))
        self._queue.append(_Hook(unit, 'stop'))
        self._queue.append(_Hook(unit, 'remove'))
        self._queue.append(lambda: self._drop_unit(unit))
        self.settle()

    def elect(self, unit: str) -> None:
        """Move leadership to `unit`, which then runs leader-elected."""
        self._require_unit(unit)
        self.leader = unit
        self._queue.append(_Hook(unit, 'leader-elected'))
        self.settle()

    def set_config(self, **values: Any) -> None:
        """Change configuration; every unit runs config-changed."""
        self.config.update(values)
        for unit in self.units:
            self._queue.append(_Hook(unit, 'config-changed'))
        self.settle()

    def upgrade_charm(self, charm: Path | None = None) -> None:
        """Replace every unit's charm files, keeping its unit database, as on a machine.

        Each unit runs upgrade-charm, config-changed and start, the machine sequence
        (leader-settings-changed, which ops treats as a plain hook, is left out).
        """
        if charm is not None:
            self.charm_source = Path(charm)
        for unit in self.units:
            self._queue.append(lambda unit=unit: self._lay_charm(unit, keep_state=True))
            for hook in ('upgrade-charm', 'config-changed', 'start'):
                self._queue.append(_Hook(unit, hook))
        self.settle()

    def recreate_container(self, unit: str) -> None:
        """Replace a unit's container, as Kubernetes does on an upgrade or a pod churn.

        The old container runs stop; the new one has fresh charm files and no unit database
        (`.unit-state.db`), while its relation data and server-side state, which the
        controller holds, stay. The new container then runs the Kubernetes upgrade sequence:
        upgrade-charm, config-changed, start. The unit's address is kept.
        """
        self._require_unit(unit)
        self._queue.append(_Hook(unit, 'stop'))
        self._queue.append(lambda: self._lay_charm(unit, keep_state=False))
        for hook in ('upgrade-charm', 'config-changed', 'start'):
            self._queue.append(_Hook(unit, hook))
        self.settle()

    def run_action(
        self, unit: str, action: str, params: dict[str, Any] | None = None, *, settle: bool = True
    ) -> HookRun:
        """Run an action on a unit, then settle (unless told not to); its run, with `.action`.

        Raises:
            ModelError: if the charm has no such action or a parameter is unknown.
        """
        self._require_unit(unit)
        spec = self.actions.get(action)
        if spec is None:
            raise ModelError(f'no action "{action}" in the charm')
        schema = spec.get('params') or {}
        unknown = sorted(set(params or {}) - set(schema))
        if unknown and spec.get('additionalProperties', True) is False:
            raise ModelError(f'action "{action}": unknown params {unknown}')
        full = {k: v['default'] for k, v in schema.items() if 'default' in v}
        full.update(params or {})

        run = self._dispatch(_Hook(unit, '', action=action, params=full))
        if settle:
            self.settle()
        return run

    def dispatch(
        self, unit: str, hook: str, *, relation_id: str = '', remote_unit: str = ''
    ) -> HookRun:
        """Dispatch one hook now, then settle; its run. For tests of single hooks."""
        self._require_unit(unit)
        run = self._dispatch(_Hook(unit, hook, relation_id, remote_unit))
        self.settle()
        return run

    def settle(self) -> None:
        """Run queued hooks until none is left.

        Raises:
            ModelError: when more than `max_hooks` hooks ran, which means a loop.
        """
        ran = 0
        while self._queue:
            item = self._queue.pop(0)
            if not isinstance(item, _Hook):
                item()
                continue
            if item.unit not in self.units:
                continue
            ran += 1
            if ran > self.max_hooks:
                raise ModelError(f'the model did not settle after {self.max_hooks} hooks')
            self._dispatch(item)

    # --- what tests read -------------------------------------------------------------------

    def databag(self, owner: str, endpoint: str | None = None) -> dict[str, str]:
        """A committed databag of the (first) peer relation: of the app, or of a unit."""
        rid = self.relation_id(endpoint)
        return dict(self.relations[rid]['data'].get(owner, {}))

    def relation_id(self, endpoint: str | None = None) -> str:
        """The id of the relation on `endpoint` (the first peer relation by default)."""
        for rid, rel in self.relations.items():
            if endpoint is None or rel['endpoint'] == endpoint:
                return rid
        raise ModelError(f'no relation on endpoint "{endpoint}"')

    def charm_dir(self, unit: str) -> Path:
        """The unit's charm directory, `JUJU_CHARM_DIR`."""
        return self.root / 'units' / unit.replace('/', '-') / 'charm'

    def local_state(self, unit: str) -> dict[str, dict[str, Any]]:
        """The unit's `StoredState` data by handle, read from its `.unit-state.db`."""
        return _read_stored_state(self.charm_dir(unit) / '.unit-state.db')

    def server_state(self, unit: str) -> dict[str, str]:
        """The unit's server-side state (state-get/state-set)."""
        return dict(self.units[unit]['server_state'])

    def status(self, unit: str) -> tuple[str, str]:
        """The unit's workload status and message."""
        status, message = self.units[unit]['status']
        return status, message

    def runs_of(self, unit: str | None = None, name: str | None = None) -> list[HookRun]:
        """The runs so far, filtered by unit and hook or action name."""
        return [
            r
            for r in self.runs
            if (unit is None or r.unit == unit) and (name is None or r.name == name)
        ]

    # --- units, relations, hooks -----------------------------------------------------------

    def _require_unit(self, unit: str) -> None:
        if unit not in self.units:
            raise ModelError(f'unit "{unit}" not found')

    def _add_unit(self) -> str:
        number = self._next_unit
        self._next_unit += 1
        name = f'{self.app}/{number}'
        self.units[name] = {
            'number': number,
            'address': f'10.1.0.{10 + number}',
            'status': ['unknown', ''],
            'version': '',
            'server_state': {},
            'relations': {},
            'started': False,
        }
        self._lay_charm(name, keep_state=False)

        self._queue.append(_Hook(name, 'install'))
        for rid, rel in self.relations.items():
            self._queue.append(_Hook(name, f'{rel["endpoint"]}-relation-created', rid))
        if not self.leader:
            self.leader = name
            self._queue.append(_Hook(name, 'leader-elected'))
        self._queue.append(_Hook(name, 'config-changed'))
        self._queue.append(_Hook(name, 'start'))
        return name

    def _drop_unit(self, unit: str) -> None:
        for rel in self.relations.values():
            rel['data'].pop(unit, None)
        del self.units[unit]
        self._save()

        if self.leader == unit:
            self.leader = ''
            if self.units:
                new = min(self.units, key=lambda u: self.units[u]['number'])
                self.leader = new
                self._queue.insert(0, _Hook(new, 'leader-elected'))

    def _units_in(self, rid: str) -> list[str]:
        return [u for u, s in self.units.items() if rid in s['relations']]

    def _enter_scope(self, unit: str, rid: str) -> None:
        """The unit joins the relation: Juju writes its address keys into its databag."""
        address = self.units[unit]['address']
        self.units[unit]['relations'][rid] = {'seen': []}
        self.relations[rid]['data'][unit] = {
            'egress-subnets': f'{address}/32',
            'ingress-address': address,
            'private-address': address,
        }

    def _started(self, unit: str) -> None:
        """Once a unit has started, it and its peers meet: relation-joined, then -changed."""
        if self.units[unit]['started']:
            return
        self.units[unit]['started'] = True
        for rid, rel in self.relations.items():
            if rid not in self.units[unit]['relations']:
                continue
            for other in self._units_in(rid):
                if other == unit or not self.units[other]['started']:
                    continue
                for a, b in ((other, unit), (unit, other)):
                    self._queue.append(_Hook(a, f'{rel["endpoint"]}-relation-joined', rid, b))
                    self._queue.append(_Hook(a, f'{rel["endpoint"]}-relation-changed', rid, b))

    def _queue_changed(self, writer: str, rid: str, bag: str) -> None:
        """Queue relation-changed on every unit that can see the changed databag."""
        endpoint = self.relations[rid]['endpoint']
        for unit in self._units_in(rid):
            if unit == writer:
                continue
            if bag == self.app:
                hook = _Hook(unit, f'{endpoint}-relation-changed', rid)
            elif bag in self.units[unit]['relations'][rid]['seen']:
                hook = _Hook(unit, f'{endpoint}-relation-changed', rid, bag)
            else:
                continue
            pending = {h.key() for h in self._queue if isinstance(h, _Hook)}
            if hook.key() not in pending:
                self._queue.append(hook)

    # --- the charm directory ---------------------------------------------------------------

    @staticmethod
    def _read_yaml(path: Path) -> dict[str, Any]:
        if not path.exists():
            return {}
        return yaml.safe_load(path.read_text()) or {}

    def _charm_actions_and_config(self, source: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        charmcraft = self._read_yaml(source / 'charmcraft.yaml')
        actions = charmcraft.get('actions') or self._read_yaml(source / 'actions.yaml')
        config = charmcraft.get('config') or self._read_yaml(source / 'config.yaml')
        return actions, (config.get('options') or {})

    def _lay_charm(self, unit: str, *, keep_state: bool) -> None:
        """Lay out the unit's charm directory as `charmcraft pack` would."""
        charm_dir = self.charm_dir(unit)
        state_db = charm_dir / '.unit-state.db'
        kept = state_db.read_bytes() if keep_state and state_db.exists() else None
        if charm_dir.exists():
            shutil.rmtree(charm_dir)
        charm_dir.mkdir(parents=True)

        ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
        for sub in ('src', 'lib'):
            if (self.charm_source / sub).is_dir():
                shutil.copytree(self.charm_source / sub, charm_dir / sub, ignore=ignore)
        shutil.copy(self.charm_source / 'metadata.yaml', charm_dir / 'metadata.yaml')
        actions, options = self._charm_actions_and_config(self.charm_source)
        self.actions = actions
        if actions:
            (charm_dir / 'actions.yaml').write_text(yaml.safe_dump(actions))
        if options:
            (charm_dir / 'config.yaml').write_text(yaml.safe_dump({'options': options}))

        # The dispatch script charmcraft writes, but for the interpreter: `python3` on the
        # hook PATH is the one running the model, so the charm gets this environment's ops.
        dispatch = charm_dir / 'dispatch'
        dispatch.write_text(
            '#!/bin/sh\n'
            'JUJU_DISPATCH_PATH="${JUJU_DISPATCH_PATH:-$0}" PYTHONPATH=lib:venv '
            'exec python3 ./src/charm.py\n'
        )
        dispatch.chmod(0o755)
        if kept is not None:
            state_db.write_bytes(kept)

    def _install_hook_commands(self) -> Path:
        """Write the hook commands, and a `python3` that is this interpreter, into bin/."""
        bin_dir = self.root / 'bin'
        bin_dir.mkdir(exist_ok=True)
        script = (Path(__file__).parent / '_hookcmds.py').read_text()
        site = sysconfig.get_paths()['purelib']
        script = script.replace("SITE_PACKAGES = ''", f'SITE_PACKAGES = {site!r}', 1)
        target = bin_dir / 'hookcmd'
        target.write_text(f'#!{sys.executable} -SE\n{script}')
        target.chmod(0o755)
        for name in HOOK_COMMANDS:
            link = bin_dir / name
            if not link.exists():
                link.symlink_to('hookcmd')

        python = bin_dir / 'python3'
        python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        python.chmod(0o755)
        return bin_dir

    # --- one hook ---------------------------------------------------------------------------

    def _context(self, hook: _Hook, env: dict[str, str]) -> dict[str, Any]:
        """Everything the hook commands need to answer this unit during this hook."""
        unit = self.units[hook.unit]
        relations: dict[str, Any] = {}
        for rid, rel in self.relations.items():
            joined = unit['relations'].get(rid)
            if joined is not None:
                access = 'ok'
                members = list(joined['seen'])
            elif hook.hook == 'install' and rel['peer'] and self.install_denies_peer_data:
                access, members = 'denied', []
            else:
                continue
            if hook.hook.endswith('-relation-broken') and rid == hook.relation_id:
                members = []
            relations[rid] = {
                'endpoint': rel['endpoint'],
                'key': f'{self.app}:{rel["endpoint"]}',
                'peer': rel['peer'],
                'remote_app': self.app,
                'members': members,
                'access': access,
                'data': rel['data'],
            }

        endpoints = [*(self.metadata.get('peers') or {}), *(self.metadata.get('requires') or {})]
        endpoints += [*(self.metadata.get('provides') or {}), 'juju-info']
        endpoints += list(self.metadata.get('extra-bindings') or {})
        goal_units = {u: {'status': 'active', 'since': SINCE} for u in self.units}
        return {
            'unit': hook.unit,
            'app': self.app,
            'leader': self.leader == hook.unit,
            'env': env,
            'relations': relations,
            'config': self.config,
            'status': {'unit': unit['status'], 'app': self.app_status},
            'server_state': unit['server_state'],
            'address': unit['address'],
            'cidr': '10.1.0.0/24',
            'bindings': endpoints,
            'goal_state': {
                'units': goal_units,
                'relations': {
                    rel['endpoint']: {
                        u: {'status': 'joined', 'since': SINCE} for u in self._units_in(rid)
                    }
                    for rid, rel in self.relations.items()
                },
            },
            'action': {'params': hook.params},
            'staged': {
                'relations': {},
                'server_state': {},
                'status': {},
                'log': [],
                'version': None,
                'action': {'results': {}, 'log': [], 'failed': None},
            },
            'calls': [],
        }

    def _environment(self, hook: _Hook) -> dict[str, str]:
        """The environment a Juju unit agent gives a hook or action."""
        unit = self.units[hook.unit]
        env = {
            'JUJU_UNIT_NAME': hook.unit,
            'JUJU_MODEL_NAME': self.model_name,
            'JUJU_MODEL_UUID': self.model_uuid,
            'JUJU_VERSION': JUJU_VERSION,
            'JUJU_CHARM_DIR': str(self.charm_dir(hook.unit)),
            'JUJU_MACHINE_ID': str(unit['number']),
            'JUJU_AVAILABILITY_ZONE': 'zone1',
            'JUJU_CONTEXT_ID': f'{hook.unit}-{hook.hook or hook.action}-{len(self.runs)}',
        }
        if hook.action:
            self._next_action += 1
            env['JUJU_DISPATCH_PATH'] = f'actions/{hook.action}'
            env['JUJU_HOOK_NAME'] = ''
            env['JUJU_ACTION_NAME'] = hook.action
            env['JUJU_ACTION_UUID'] = str(self._next_action)
        else:
            env['JUJU_DISPATCH_PATH'] = f'hooks/{hook.hook}'
            env['JUJU_HOOK_NAME'] = hook.hook
        if hook.relation_id:
            env['JUJU_RELATION'] = self.relations[hook.relation_id]['endpoint']
            env['JUJU_RELATION_ID'] = f'{env["JUJU_RELATION"]}:{hook.relation_id}'
            env['JUJU_REMOTE_APP'] = self.app
        if hook.remote_unit:
            env['JUJU_REMOTE_UNIT'] = hook.remote_unit
        if hook.departing:
            env['JUJU_DEPARTING_UNIT'] = hook.departing
        return env

    def _dispatch(self, hook: _Hook) -> HookRun:
        """Run one hook or action in the unit's charm directory and apply what it did."""
        unit = self.units[hook.unit]

        # What the agent knows before the hook runs: scope entered, members seen or gone.
        if hook.hook.endswith('-relation-created'):
            self._enter_scope(hook.unit, hook.relation_id)
        elif hook.hook.endswith('-relation-joined'):
            unit['relations'][hook.relation_id]['seen'].append(hook.remote_unit)
        elif hook.hook.endswith('-relation-departed'):
            seen = unit['relations'][hook.relation_id]['seen']
            if hook.remote_unit in seen:
                seen.remove(hook.remote_unit)

        env = self._environment(hook)
        context = self._context(hook, env)
        context_path = self.root / 'context.json'
        context_path.write_text(json.dumps(context))
        state_db = self.charm_dir(hook.unit) / '.unit-state.db'
        local_before = _read_stored_state(state_db)

        proc = subprocess.run(
            ['./dispatch'],
            cwd=self.charm_dir(hook.unit),
            env={
                **env,
                'PATH': f'{self._bin}:/usr/local/bin:/usr/bin:/bin',
                'LOCALMODEL_CONTEXT': str(context_path),
                'LANG': 'C.UTF-8',
                'HOME': str(self.charm_dir(hook.unit).parent),
            },
            capture_output=True,
            text=True,
            check=False,
        )
        context = json.loads(context_path.read_text())

        changes: list[Change] = []
        if proc.returncode == 0:
            changes = self._commit(hook, context['staged'])
        changes += _diff_local(local_before, _read_stored_state(state_db))
        run = HookRun(
            unit=hook.unit,
            name=hook.action or hook.hook,
            dispatch_path=env['JUJU_DISPATCH_PATH'],
            env={
                k: v
                for k, v in env.items()
                if k.startswith(('JUJU_RELATION', 'JUJU_RE', 'JUJU_DE'))
            },
            exit_code=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
            calls=[
                Call(
                    c['cmd'],
                    tuple(c['args']),
                    c.get('exit', -1),
                    c.get('bytes', 0),
                    c.get('error', ''),
                )
                for c in context['calls']
            ],
            changes=changes,
            logs=[(level, message) for level, message in context['staged']['log']],
        )
        if hook.action:
            staged = context['staged']['action']
            if proc.returncode != 0:
                status, message = 'failed', f'exit status {proc.returncode}'
            elif staged['failed'] is not None:
                status, message = 'failed', staged['failed']
            else:
                status, message = 'completed', ''
            run.action = ActionResult(status, staged['results'], message, staged['log'])
        self.runs.append(run)

        if hook.hook == 'start':
            self._started(hook.unit)
        elif hook.hook.endswith('-relation-broken'):
            unit['relations'].pop(hook.relation_id, None)
        self._save()
        return run

    def _commit(self, hook: _Hook, staged: dict[str, Any]) -> list[Change]:
        """Apply a successful hook's staged writes; queue relation-changed where data changed."""
        changes = self._commit_relations(hook, staged['relations'])

        unit = self.units[hook.unit]
        for key, value in staged['server_state'].items():
            old = unit['server_state'].get(key)
            if value is None:
                unit['server_state'].pop(key, None)
            else:
                unit['server_state'][key] = value
            if old != value:
                changes.append(Change('server state', key, old, value))
        unit['status'] = staged['status'].get('unit', unit['status'])
        self.app_status = staged['status'].get('app', self.app_status)
        if staged['version'] is not None:
            unit['version'] = staged['version']
        return changes

    def _commit_relations(self, hook: _Hook, staged: dict[str, Any]) -> list[Change]:
        changes: list[Change] = []
        for rid, bags in staged.items():
            for bag, settings in bags.items():
                data = self.relations[rid]['data'].setdefault(bag, {})
                before = dict(data)
                for key, value in settings.items():
                    if value == '':
                        data.pop(key, None)
                    else:
                        data[key] = value

                where = f'{self.relations[rid]["endpoint"]}:{rid} {bag}'
                for key in sorted(set(before) | set(data)):
                    if before.get(key) != data.get(key):
                        changes.append(Change(where, key, before.get(key), data.get(key)))
                if data != before:
                    self._queue_changed(hook.unit, rid, bag)
        return changes

    def _save(self) -> None:
        """Write the committed model to model.json, for a reader who wants to look."""
        snapshot = {
            'model': {'name': self.model_name, 'uuid': self.model_uuid},
            'app': self.app,
            'leader': self.leader,
            'config': self.config,
            'app_status': self.app_status,
            'units': self.units,
            'relations': self.relations,
        }
        (self.root / 'model.json').write_text(json.dumps(snapshot, indent=1))


def _read_stored_state(path: Path) -> dict[str, dict[str, Any]]:
    """StoredState snapshots by handle from an ops unit database (our own file)."""
    if not path.exists():
        return {}
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute('SELECT handle, data FROM snapshot').fetchall()
    except sqlite3.Error:
        return {}
    finally:
        conn.close()
    # ops pickles each snapshot; the file was written by a charm this model ran.
    return {h: pickle.loads(d) for h, d in rows if '/StoredStateData[' in h}


def _diff_local(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> list[Change]:
    changes: list[Change] = []
    for handle in sorted(set(before) | set(after)):
        old, new = before.get(handle, {}), after.get(handle, {})
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                changes.append(Change(f'local {handle}', key, old.get(key), new.get(key)))
    return changes


def iter_changes(runs: list[HookRun]) -> Iterator[Change]:
    """Every change of every run, in order."""
    for run in runs:
        yield from run.changes
