"""Fixtures for the integration tests: a Juju controller, a temporary model, the packed charm.

Every test here is skipped, with one line saying why, where there is no ``juju`` binary
or no controller to talk to; ``tox -e integration`` is not part of plain ``tox``.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
from collections.abc import Generator

import jubilant
import pytest

CHARM_ENV = 'CHARM_PATH'


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the options of the integration tests."""
    parser.addoption(
        '--charm-path',
        default=os.environ.get(CHARM_ENV),
        help=f'the packed state-helpers charm (default: ${CHARM_ENV})',
    )
    parser.addoption(
        '--keep-models',
        action='store_true',
        help='keep the temporary model after the tests, to look at it',
    )


def no_controller() -> str | None:
    """Why no test can run here, or None when a Juju controller is reachable."""
    if shutil.which('juju') is None:
        return 'no juju binary on PATH'

    try:
        result = subprocess.run(
            ['juju', 'controllers', '--format', 'json'],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return '`juju controllers` did not answer within 60 seconds'
    if result.returncode != 0:
        return f'`juju controllers` failed: {result.stderr.strip().splitlines()[-1:]}'

    # With no controller registered, juju prints nothing or an empty mapping.
    try:
        current = json.loads(result.stdout or '{}').get('current-controller')
    except ValueError:
        return '`juju controllers` did not print JSON'
    if not current:
        return 'no current Juju controller (bootstrap one, or `juju switch` to one)'
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every test, with the reason, when there is no controller to run them on."""
    reason = no_controller()
    if reason is None:
        return
    for item in items:
        item.add_marker(pytest.mark.skip(reason=f'integration tests need Juju: {reason}'))


@pytest.fixture(scope='session')
def charm(request: pytest.FixtureRequest) -> pathlib.Path:
    """The packed charm, from --charm-path or $CHARM_PATH."""
    value = request.config.getoption('--charm-path')
    if not value:
        pytest.fail(
            f'no charm to deploy: pack it with `charmcraft pack`, then pass its path with '
            f'--charm-path or ${CHARM_ENV}'
        )
    path = pathlib.Path(value).resolve()
    if not path.is_file():
        pytest.fail(f'--charm-path {path} is not a file')
    return path


@pytest.fixture(scope='module')
def juju(request: pytest.FixtureRequest) -> Generator[jubilant.Juju]:
    """A new model on the current controller, destroyed afterwards unless --keep-models."""
    keep = bool(request.config.getoption('--keep-models'))
    with jubilant.temp_model(keep=keep) as juju:
        # Three units on fresh machines take a while on a busy controller.
        juju.wait_timeout = 20 * 60
        yield juju
