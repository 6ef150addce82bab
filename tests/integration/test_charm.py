"""The host charm on a real controller, through its get-state and set-state actions.

Three units share one cluster token, it outlives its leader, the actions read and write
every scope, and a refresh keeps what it should.

The tests run in order on one model (the ``juju`` fixture is per module), each starting
from where the one before left the application.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import jubilant
import pytest

APP = 'state-helpers'


def get_state(juju: jubilant.Juju, unit: str) -> dict[str, Any]:
    """What the get-state action of a unit reports."""
    task = juju.run(unit, 'get-state')
    return json.loads(task.results['state'])


def set_state(juju: jubilant.Juju, unit: str, scope: str, field: str, value: Any) -> None:
    """Write one field of one scope through a unit's set-state action."""
    params = {'scope': scope, 'field': field, 'value': json.dumps(value)}
    juju.run(unit, 'set-state', params)


def units(status: jubilant.Status) -> list[str]:
    """The application's units, by name."""
    return sorted(status.apps[APP].units)


def leader(status: jubilant.Status) -> str:
    """The name of the application's leader."""
    (name,) = [name for name, unit in status.apps[APP].units.items() if unit.leader]
    return name


def settled(count: int) -> Any:
    """A wait condition: *count* units, all active, all agents idle."""

    def ready(status: jubilant.Status) -> bool:
        return (
            len(status.apps[APP].units) == count
            and jubilant.all_active(status, APP)
            and jubilant.all_agents_idle(status, APP)
        )

    return ready


def is_kubernetes(juju: jubilant.Juju) -> bool:
    """Whether the model is on Kubernetes, where a refresh recreates each unit's container."""
    return juju.show_model().model_type == 'caas'


def test_deploy_three_units(juju: jubilant.Juju, charm: pathlib.Path) -> None:
    juju.deploy(charm, APP, num_units=3)

    status = juju.wait(settled(3), error=jubilant.any_error)

    assert len(units(status)) == 3


def test_cluster_token_is_shared(juju: jubilant.Juju) -> None:
    status = juju.status()
    states = {unit: get_state(juju, unit) for unit in units(status)}

    fingerprints = {state['app']['token_fingerprint'] for state in states.values()}
    assert len(fingerprints) == 1
    assert len(fingerprints.pop()) == 12
    for unit, state in states.items():
        assert state['unit'] == unit
        assert state['ready'] is True
        assert state['leader'] is (unit == leader(status))
        assert state['app']['created_by'] == leader(status)
        # Every unit reads every unit's record from the peer relation.
        assert sorted(state['units']) == units(status)


def test_set_state_writes_every_scope(juju: jubilant.Juju) -> None:
    status = juju.status()
    first, *others = units(status)

    set_state(juju, first, 'unit', 'joined_at', 1.5)
    set_state(juju, first, 'local', 'handled', 1000)
    set_state(juju, leader(status), 'app', 'created_by', 'operator')

    for unit in units(status):
        state = get_state(juju, unit)
        assert state['units'][first]['joined_at'] == 1.5
        assert state['app']['created_by'] == 'operator'
    # Local state is the unit's own; a hook may have run since the write.
    assert 1000 <= get_state(juju, first)['local']['handled'] < 1100
    for unit in others:
        assert get_state(juju, unit)['local']['handled'] < 1000


def test_follower_cannot_write_app_state(juju: jubilant.Juju) -> None:
    status = juju.status()
    follower = next(unit for unit in units(status) if unit != leader(status))

    with pytest.raises(jubilant.TaskError) as caught:
        set_state(juju, follower, 'app', 'created_by', 'follower')

    assert (
        f'unit {follower} is not the leader and cannot write the application databag'
        in caught.value.task.message
    )
    assert get_state(juju, follower)['app']['created_by'] == 'operator'


def test_unknown_field_is_refused(juju: jubilant.Juju) -> None:
    unit = units(juju.status())[0]

    with pytest.raises(jubilant.TaskError) as caught:
        set_state(juju, unit, 'local', 'colour', 'blue')

    assert caught.value.task.message == (
        "unknown field 'colour' for scope 'local'; known fields: handled, last"
    )


def test_token_survives_removing_the_leader(juju: jubilant.Juju) -> None:
    if is_kubernetes(juju):
        pytest.skip('a Kubernetes model removes the newest unit, not a chosen one')
    status = juju.status()
    old_leader = leader(status)
    fingerprint = get_state(juju, old_leader)['app']['token_fingerprint']

    juju.remove_unit(old_leader)
    status = juju.wait(settled(2), error=jubilant.any_error)

    assert old_leader not in units(status)
    assert leader(status) != old_leader
    for unit in units(status):
        state = get_state(juju, unit)
        assert state['app']['token_fingerprint'] == fingerprint
        assert state['app']['created_by'] == 'operator'
        assert sorted(state['units']) == units(status)

    # A unit that joins later gets the same token.
    juju.add_unit(APP)
    status = juju.wait(settled(3), error=jubilant.any_error)
    for unit in units(status):
        assert get_state(juju, unit)['app']['token_fingerprint'] == fingerprint


def test_refresh_keeps_peer_state(juju: jubilant.Juju, charm: pathlib.Path) -> None:
    status = juju.status()
    revision = status.apps[APP].charm_rev
    before = get_state(juju, leader(status))
    for unit in units(status):
        set_state(juju, unit, 'local', 'handled', 1000)

    juju.refresh(APP, path=charm)
    status = juju.wait(
        lambda s: s.apps[APP].charm_rev > revision and settled(3)(s), error=jubilant.any_error
    )

    for unit in units(status):
        state = get_state(juju, unit)
        # The peer relation's databags live in the controller, so both scopes survive.
        assert state['app'] == before['app']
        assert {name: record['joined_at'] for name, record in state['units'].items()} == {
            name: record['joined_at'] for name, record in before['units'].items()
        }
        # On Kubernetes the refresh recreates the container and the unit database with it;
        # on a machine the unit database stays, and the counter went on from 1000.
        if is_kubernetes(juju):
            assert state['local']['handled'] < 1000
        else:
            assert state['local']['handled'] > 1000
