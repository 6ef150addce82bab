"""Deploy the state-helpers charm in a local model and print what every hook did.

Run it with `tox -e demo`, or `python -m localmodel.demo [--keep DIR]` with `tests/` on
sys.path. It deploys three units of the charm in this repository, removes the leader,
upgrades the charm, recreates one unit's container and asks every unit for its state.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from ._model import Change, HookRun, LocalModel

ROOT = Path(__file__).resolve().parent.parent.parent
# Keys whose values are credentials: the demo shows a fingerprint, never the value.
SECRET_WORDS = ('token', 'secret', 'password', 'key')


def fingerprint(value: str) -> str:
    """A short, one-way name for a secret value: as the charm's get-state shows it."""
    try:
        # PeerState stores JSON text; the charm fingerprints the string inside it.
        decoded = json.loads(value)
    except ValueError:
        decoded = value
    text = decoded if isinstance(decoded, str) else value
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def shown(key: str, value: Any) -> str:
    """A value as the demo may show it: secrets only as a fingerprint."""
    if value is None:
        return '(removed)'
    if any(word in key for word in SECRET_WORDS) and value not in ('', '""'):
        return f'<secret, fingerprint {fingerprint(str(value))}>'
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + '...'


def describe(change: Change) -> str:
    """One line for one changed key, saying where it lives in words."""
    where = change.where
    if where.startswith('local '):
        place = 'local state (unit database)'
    elif where == 'server state':
        place = 'server-side state'
    else:
        _, owner = where.split(' ', 1)
        place = f'peer databag of {"the application" if "/" not in owner else owner}'
    return f'{place}: {change.key} = {shown(change.key, change.new)}'


def print_run(number: int, run: HookRun) -> None:
    """Print one hook or action: where it ran, what it changed, what it cost."""
    label = f'action {run.name}' if run.dispatch_path.startswith('actions/') else run.name
    about = run.env.get('JUJU_REMOTE_UNIT', '')
    outcome = 'ok' if run.ok else f'FAILED (exit {run.exit_code}: nothing it wrote was kept)'
    counts = ', '.join(f'{cmd} {n}' for cmd, n in sorted(run.counts().items()))
    print(f'{number:3}. {run.unit:16} {label}{f" (about {about})" if about else ""}: {outcome}')
    for change in run.changes:
        print(f'       changed {describe(change)}')
    print(f'       {len(run.calls)} hook commands: {counts}')


def print_unit(model: LocalModel, unit: str) -> None:
    """Print one unit's final state: status, its databag, its local state."""
    status, message = model.status(unit)
    leader = ' (leader)' if model.leader == unit else ''
    print(f'  {unit}{leader}: {status}: {message}')
    record = {k: shown(k, v) for k, v in model.databag(unit).items()}
    print(f'    its peer databag: {record}')
    for handle, data in model.local_state(unit).items():
        print(f'    local state {handle}: {data}')


def main() -> None:
    """Run the demo; print the timeline, each unit's final state and the wall time."""
    parser = argparse.ArgumentParser(description=(__doc__ or '').splitlines()[0])
    parser.add_argument('--keep', type=Path, help='where to keep the model (default: temporary)')
    options = parser.parse_args()
    started = time.monotonic()

    with tempfile.TemporaryDirectory() as tmp:
        model = LocalModel(options.keep or Path(tmp) / 'model', ROOT)
        steps = [
            'Deploy three units: each installs, joins the peer relation, starts',
            'Remove the leader: its peers say goodbye, another unit is elected',
            'Upgrade the charm: new code, same unit database',
            'Recreate the container of state-helpers/2, as Kubernetes does',
            'Ask every unit for its state (action get-state)',
        ]
        print(
            'A Juju charm runs once per event ("hook"), on each unit separately. It keeps\n'
            'state in its unit database (LocalState) and in peer databags that every unit\n'
            'of the application can read (PeerState). Below: every hook, what it changed\n'
            'and how many hook commands (calls to Juju) it made. Tokens show as fingerprints.'
        )

        shown_runs = 0
        for number, title in enumerate(steps):
            print(f'\n== {number + 1}. {title}')
            if number == 0:
                model.deploy(3)
            elif number == 1:
                model.remove_unit(model.leader)
            elif number == 2:
                model.upgrade_charm()
            elif number == 3:
                model.recreate_container('state-helpers/2')
            else:
                for unit in sorted(model.units):
                    model.run_action(unit, 'get-state')
            for run in model.runs[shown_runs:]:
                shown_runs += 1
                print_run(shown_runs, run)
                if run.action is not None and run.action.status == 'completed':
                    state = json.loads(run.action.results.get('state', '{}'))
                    print(f'       result: {json.dumps(state, sort_keys=True)}')

        print('\n== Final state of every unit')
        app = {k: shown(k, v) for k, v in model.databag(model.app).items()}
        print(f'  application databag: {app}')
        for unit in sorted(model.units):
            print_unit(model, unit)

        failed = [r for r in model.runs if not r.ok]
        calls = sum(len(r.calls) for r in model.runs)
        print(
            f'\n{len(model.runs)} hooks and actions, {len(failed)} failed, {calls} hook commands, '
            f'{time.monotonic() - started:.1f} s'
        )


if __name__ == '__main__':
    main()
