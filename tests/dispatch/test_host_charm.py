"""The host charm and the state library, dispatched hook by hook in a local model."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from conftest import ROOT, ModelFactory
from localmodel import HookRun, LocalModel

JUJU_KEYS = {'egress-subnets', 'ingress-address', 'private-address'}
COUNTER = 'LocalState[events]/StoredStateData[_stored]'


def get_state(model: LocalModel, unit: str, *, settle: bool = True) -> dict[str, object]:
    run = model.run_action(unit, 'get-state', settle=settle)
    assert run.action is not None
    assert run.action.status == 'completed', run.action.message
    return json.loads(run.action.results['state'])


def token_fingerprint(model: LocalModel) -> str:
    token = json.loads(model.databag(model.app)['token'])
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def test_every_hook_succeeds(host_model: ModelFactory):
    model = host_model()
    model.deploy(2)

    assert [(r.unit, r.name) for r in model.runs if not r.ok] == []


def test_the_token_is_created_once_and_outlives_its_leader(host_model: ModelFactory):
    model = host_model()
    model.deploy(3)
    fingerprint = token_fingerprint(model)

    model.remove_unit('state-helpers/0')

    writes = [(r.unit, r.name) for r in model.runs for c in r.changes if c.key == 'token']
    assert writes == [('state-helpers/0', 'cluster-relation-created')]
    assert model.leader == 'state-helpers/1'
    assert token_fingerprint(model) == fingerprint
    for unit in ('state-helpers/1', 'state-helpers/2'):
        state = get_state(model, unit)
        assert state['app'] == {'token_fingerprint': fingerprint, 'created_by': 'state-helpers/0'}
        assert state['leader'] is (unit == 'state-helpers/1')


def test_local_state_lives_as_long_as_the_container(host_model: ModelFactory):
    model = host_model()
    model.deploy(2)
    unit = 'state-helpers/1'
    handled = model.local_state(unit)[COUNTER]['handled']
    record = model.databag(unit)
    token = model.databag(model.app)['token']

    model.upgrade_charm()
    after_upgrade = model.local_state(unit)[COUNTER]
    model.recreate_container(unit)
    after_recreation = model.local_state(unit)[COUNTER]

    # upgrade-charm, config-changed and start are counted on top of what was there.
    assert after_upgrade == {'handled': handled + 3, 'last': 'start'}
    # A new container starts counting from nothing; the peer data is where it was.
    assert after_recreation == {'handled': 3, 'last': 'start'}
    assert model.databag(unit) == record
    assert model.databag(model.app)['token'] == token


def failing_charm(tmp: Path) -> Path:
    """A copy of the host charm whose every hook raises after doing its work."""
    copy = tmp / 'failing-charm'
    for name in ('src', 'lib'):
        shutil.copytree(ROOT / name, copy / name)
    for name in ('metadata.yaml', 'charmcraft.yaml'):
        shutil.copy(ROOT / name, copy / name)
    charm = copy / 'src' / 'charm.py'
    source = charm.read_text()
    patch = (
        '_handle = StateHelpersCharm._on_hook\n\n\n'
        # ops finds an observer by its method's name, so the wrapper keeps it.
        'def _on_hook(self, event):\n'
        '    _handle(self, event)\n'
        "    raise RuntimeError('failing on purpose')\n\n\n"
        'StateHelpersCharm._on_hook = _on_hook\n\n\n'
    )
    main = "if __name__ == '__main__':"
    charm.write_text(source.replace(main, patch + main))
    return copy


def test_a_hook_that_raises_leaves_no_state_behind(host_model: ModelFactory, tmp_path: Path):
    model = host_model(failing_charm(tmp_path))
    model.deploy(1)

    created = model.runs[1]
    assert created.name == 'cluster-relation-created'
    assert created.count('relation-set') == 2
    assert [r.exit_code for r in model.runs] == [1, 1, 1, 1, 1]
    assert model.databag(model.app) == {}
    assert set(model.databag('state-helpers/0')) == JUJU_KEYS
    assert model.local_state('state-helpers/0') == {}


def test_a_non_leader_cannot_write_app_state(host_model: ModelFactory):
    model = host_model()
    model.deploy(2)
    app = model.databag(model.app)

    params = {'scope': 'app', 'field': 'created_by', 'value': 'me'}
    run = model.run_action('state-helpers/1', 'set-state', params)

    assert run.action is not None
    assert run.action.status == 'failed'
    assert 'state-helpers/1 is not the leader and cannot write the application databag' in (
        run.action.message
    )
    assert run.count('relation-set') == 0
    assert model.databag(model.app) == app


def test_state_before_relation_created(host_model: ModelFactory):
    model = host_model()
    unit = model.add_unit(settle=False)

    state = get_state(model, unit, settle=False)
    params = {'scope': 'unit', 'field': 'address', 'value': '10.9.9.9'}
    run = model.run_action(unit, 'set-state', params, settle=False)
    model.settle()

    assert state['ready'] is False
    assert state['app'] == {'token_fingerprint': '', 'created_by': ''}
    assert state['units'] == {unit: {'address': '', 'joined_at': 0.0}}
    assert run.action is not None
    assert run.action.status == 'failed'
    assert 'the relation is not there yet' in run.action.message
    assert set(model.databag(unit)) == JUJU_KEYS | {'address', 'joined_at'}
    assert json.loads(model.databag(unit)['address']) == '10.1.0.10'


def counts(run: HookRun) -> tuple[str, str, int, int]:
    return (run.unit, run.name, run.count('relation-get'), run.count('relation-set'))


def test_relation_get_and_set_per_hook(host_model: ModelFactory):
    model = host_model()
    model.deploy(2)

    # One relation-get per databag the hook reads (the app's and its own), and a
    # relation-set only where something changed.
    assert [counts(r) for r in model.runs if r.name != 'install'] == [
        ('state-helpers/0', 'cluster-relation-created', 2, 2),
        ('state-helpers/0', 'leader-elected', 2, 0),
        ('state-helpers/0', 'config-changed', 2, 0),
        ('state-helpers/0', 'start', 2, 0),
        ('state-helpers/1', 'cluster-relation-created', 2, 1),
        ('state-helpers/1', 'config-changed', 2, 0),
        ('state-helpers/1', 'start', 2, 0),
        ('state-helpers/0', 'cluster-relation-joined', 2, 0),
        ('state-helpers/0', 'cluster-relation-changed', 2, 0),
        ('state-helpers/1', 'cluster-relation-joined', 2, 0),
        ('state-helpers/1', 'cluster-relation-changed', 2, 0),
    ]
    installs = [r for r in model.runs if r.name == 'install']
    assert [(r.count('relation-set'), r.sent_bytes()) for r in installs] == [(0, 0), (0, 0)]


def test_get_state_reads_each_databag_once(host_model: ModelFactory):
    model = host_model()
    model.deploy(2)

    run = model.run_action('state-helpers/0', 'get-state')
    unit = model.run_action(
        'state-helpers/1', 'set-state', {'scope': 'unit', 'field': 'address', 'value': 'x'}
    )

    # get-state reads the app databag and both unit databags.
    assert (run.count('relation-get'), run.count('relation-set')) == (3, 0)
    assert (unit.count('relation-get'), unit.count('relation-set')) == (1, 1)
    assert json.loads(model.databag('state-helpers/1')['address']) == 'x'
