"""The local model itself, driven by a plain ops fixture charm."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest
from conftest import OPS_MAJOR, ModelFactory
from localmodel import HookRun, LocalModel, ModelError

JUJU_KEYS = {'egress-subnets', 'ingress-address', 'private-address'}


def seen(run: HookRun) -> dict[str, object]:
    """What the fixture charm printed about the peer relation in a hook."""
    return json.loads(run.stdout.splitlines()[-1])


def test_lifecycle_order(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(2)

    assert [(r.unit, r.name) for r in model.runs] == [
        ('fixture/0', 'install'),
        ('fixture/0', 'peers-relation-created'),
        ('fixture/0', 'leader-elected'),
        ('fixture/0', 'config-changed'),
        ('fixture/0', 'start'),
        ('fixture/1', 'install'),
        ('fixture/1', 'peers-relation-created'),
        ('fixture/1', 'config-changed'),
        ('fixture/1', 'start'),
        ('fixture/0', 'peers-relation-joined'),
        ('fixture/0', 'peers-relation-changed'),
        ('fixture/1', 'peers-relation-joined'),
        ('fixture/1', 'peers-relation-changed'),
    ]
    assert all(r.ok for r in model.runs)
    assert seen(model.runs[-1])['units'] == ['fixture/0']


def test_relation_exists_from_relation_created(fixture_model: ModelFactory):
    model = fixture_model(install_denies_peer_data=False)
    model.deploy(1)

    install, created = model.runs[0], model.runs[1]
    assert seen(install) == {'event': 'install', 'relation': False}
    assert seen(created) == {
        'event': 'peers_relation_created',
        'relation': True,
        'units': [],
        'app_data': {},
    }
    assert install.count('relation-ids') == 1
    assert install.count('relation-get') == 0


def test_install_lists_the_peer_relation_but_refuses_its_data(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(1)

    install = model.runs[0]
    refused = [(c.cmd, c.exit, c.error) for c in install.calls if c.cmd == 'relation-get']
    assert refused == [('relation-get', 1, 'permission denied')]
    assert seen(install)['relation'] is True
    # ops 3 reads a refused databag as an empty one; ops 2 raises ModelError.
    if OPS_MAJOR >= 3:
        assert seen(install)['app_data'] == {}
    else:
        assert seen(install)['app_data'] == 'error: ERROR permission denied'


def test_juju_writes_address_keys_on_joining(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(2)

    assert model.databag('fixture/1') == {
        'egress-subnets': '10.1.0.11/32',
        'ingress-address': '10.1.0.11',
        'private-address': '10.1.0.11',
    }
    assert model.databag('fixture') == {}


def test_a_hook_that_raises_leaves_nothing_behind(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(2)
    before = len(model.runs)

    model.set_config(**{'fail-hook': 'config_changed'})

    runs = model.runs[before:]
    assert [(r.unit, r.name, r.exit_code) for r in runs] == [
        ('fixture/0', 'config-changed', 1),
        ('fixture/1', 'config-changed', 1),
    ]
    # The writes reached the model, which discarded them with the hook.
    assert [(c.cmd, c.exit) for c in runs[0].calls if c.cmd.endswith('-set')] == [
        ('relation-set', 0),
        ('state-set', 0),
    ]
    assert runs[0].changes == []
    assert set(model.databag('fixture/0')) == JUJU_KEYS
    assert model.server_state('fixture/0') == {}


def test_an_action_that_raises_leaves_nothing_behind(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(2)

    params = {'target': 'unit', 'key': 'k', 'value': 'v', 'raise': True}
    run = model.run_action('fixture/0', 'write', params)

    assert run.action is not None
    assert (run.action.status, run.action.message) == ('failed', 'exit status 1')
    assert run.count('relation-set') == 1
    assert set(model.databag('fixture/0')) == JUJU_KEYS
    assert model.runs[-1] is run


def test_a_committed_write_reaches_the_peers(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(2)

    run = model.run_action('fixture/0', 'write', {'target': 'unit', 'key': 'k', 'value': 'v'})

    assert run.action is not None
    assert run.action.status == 'completed'
    assert model.databag('fixture/0')['k'] == 'v'
    after = model.runs[model.runs.index(run) + 1 :]
    assert [(r.unit, r.name, r.env.get('JUJU_REMOTE_UNIT')) for r in after] == [
        ('fixture/1', 'peers-relation-changed', 'fixture/0'),
    ]


def test_relation_set_bytes_are_counted(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(1)

    run = model.run_action('fixture/0', 'write', {'target': 'unit', 'key': 'key', 'value': 'v'})

    # ops 3 sends JSON on stdin, ops 2 sends YAML.
    sent = b'{"key": "v"}' if OPS_MAJOR >= 3 else b'key: v\n'
    assert [c.sent for c in run.calls if c.cmd == 'relation-set'] == [len(sent)]
    assert run.sent_bytes() == len(sent)


def test_the_leader_writes_the_app_databag(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(2)

    run = model.run_action('fixture/0', 'write', {'target': 'app', 'key': 'k', 'value': 'v'})

    assert run.action is not None
    assert run.action.status == 'completed'
    assert model.databag('fixture') == {'k': 'v'}
    after = model.runs[model.runs.index(run) + 1 :]
    assert [(r.unit, r.name, r.env.get('JUJU_REMOTE_UNIT')) for r in after] == [
        ('fixture/1', 'peers-relation-changed', None),
    ]


def test_juju_refuses_an_app_write_from_a_non_leader(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(2)

    run = model.run_action('fixture/1', 'write', {'target': 'raw-app', 'key': 'k', 'value': 'v'})

    assert run.action is not None
    assert (run.action.status, run.action.message) == ('failed', 'ERROR permission denied')
    assert [(c.cmd, c.exit, c.error) for c in run.calls if c.cmd == 'relation-set'] == [
        ('relation-set', 1, 'permission denied'),
    ]
    assert model.databag('fixture') == {}


def test_ops_refuses_writing_another_units_databag(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(2)

    params = {'target': 'other-unit', 'key': 'k', 'value': 'v'}
    run = model.run_action('fixture/1', 'write', params)

    assert run.action is not None
    assert run.action.status == 'failed'
    assert run.action.message.startswith('RelationDataAccessError: ')
    assert run.count('relation-set') == 0
    assert set(model.databag('fixture/0')) == JUJU_KEYS


def test_removing_the_leader(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(2)
    before = len(model.runs)

    model.remove_unit('fixture/0')

    assert [(r.unit, r.name) for r in model.runs[before:]] == [
        ('fixture/0', 'peers-relation-departed'),
        ('fixture/1', 'peers-relation-departed'),
        ('fixture/0', 'peers-relation-broken'),
        ('fixture/0', 'stop'),
        ('fixture/0', 'remove'),
        ('fixture/1', 'leader-elected'),
    ]
    departed = model.runs[before + 1]
    assert departed.env['JUJU_DEPARTING_UNIT'] == 'fixture/0'
    assert seen(departed)['units'] == []
    assert model.leader == 'fixture/1'
    assert model.databag('fixture/0') == {}


def test_recreating_a_container_replaces_the_unit_database(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(1)
    model.run_action('fixture/0', 'write', {'target': 'server', 'key': 'k', 'value': 'v'})
    state_db = model.charm_dir('fixture/0') / '.unit-state.db'
    with sqlite3.connect(state_db) as db:
        db.execute('CREATE TABLE marker (x)')
    before = len(model.runs)

    model.recreate_container('fixture/0')

    assert [r.name for r in model.runs[before:]] == [
        'stop',
        'upgrade-charm',
        'config-changed',
        'start',
    ]
    with sqlite3.connect(state_db) as db:
        tables = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert 'marker' not in tables
    assert 'snapshot' in tables
    assert model.server_state('fixture/0') == {'k': 'v'}
    assert model.databag('fixture/0')['private-address'] == '10.1.0.10'


def test_a_loop_is_stopped(fixture_model: ModelFactory):
    model = fixture_model(max_hooks=3)

    with pytest.raises(ModelError, match='did not settle after 3 hooks'):
        model.deploy(1)


def test_unknown_actions_are_refused(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(1)

    with pytest.raises(ModelError, match='no action "nope" in the charm'):
        model.run_action('fixture/0', 'nope')
    with pytest.raises(ModelError, match=r"unknown params \['extra'\]"):
        model.run_action(
            'fixture/0', 'write', {'target': 'unit', 'key': 'k', 'value': 'v', 'extra': 1}
        )


def hook_command(model: LocalModel, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run a hook command in the context of the model's last hook."""
    return subprocess.run(
        [str(model.root / 'bin' / argv[0]), *argv[1:]],
        env={'LOCALMODEL_CONTEXT': str(model.root / 'context.json')},
        capture_output=True,
        text=True,
        check=False,
    )


def test_unknown_flags_and_commands_fail_loudly(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(1)
    (model.root / 'bin' / 'leader-get').symlink_to('hookcmd')

    flag = hook_command(model, 'relation-get', '--bogus')
    command = hook_command(model, 'leader-get')
    outside = hook_command(model, 'action-get')

    assert (flag.returncode, flag.stderr) == (
        2,
        'ERROR option provided but not defined: --bogus\n',
    )
    assert (command.returncode, command.stderr) == (2, 'ERROR unknown hook command: leader-get\n')
    assert (outside.returncode, outside.stderr) == (
        1,
        'ERROR "action-get" is only available in actions\n',
    )


def test_hook_command_formats(fixture_model: ModelFactory):
    model = fixture_model()
    model.deploy(2)

    ids = hook_command(model, 'relation-ids', 'peers', '--format=json')
    members = hook_command(model, 'relation-list', '-r', 'peers:0', '--format=json')
    app = hook_command(model, 'relation-list', '-r', 'peers:0', '--app', '--format=json')
    leader = hook_command(model, 'is-leader', '--format=json')
    network = hook_command(model, 'network-get', 'peers', '--format=json')
    wrong = hook_command(model, 'relation-get', '-r', 'other:0', '-', 'fixture/0')

    assert json.loads(ids.stdout) == ['peers:0']
    assert json.loads(members.stdout) == ['fixture/0']
    assert json.loads(app.stdout) == 'fixture'
    assert json.loads(leader.stdout) is False
    assert json.loads(network.stdout)['ingress-addresses'] == ['10.1.0.11']
    assert (wrong.returncode, wrong.stderr) == (
        2,
        'ERROR invalid value "other:0" for option -r: relation not found\n',
    )
