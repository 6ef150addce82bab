"""Log lines and write errors name keys, never the values, which often are credentials."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pydantic
import pytest
from charms.state_helpers.v0.state import InvalidStateError
from scaffold import SECRET, WHERES, Hook, helper, seeded


@dataclasses.dataclass
class Secretive:
    user: str = ''
    password: str = ''
    count: int = 0


class SecretiveModel(pydantic.BaseModel):
    user: str = ''
    password: str = ''
    count: int = 0


def secretive(schema: Any, **fields: Any) -> Any:
    return {'user': SECRET, **fields} if schema is None else schema(user=SECRET, **fields)


def assert_no_secret(message: str) -> None:
    assert SECRET[:4] not in message
    assert SECRET[-4:] not in message


# ---------------------------------------------------------------------------------------
# Log lines


@pytest.mark.parametrize('where', WHERES)
@pytest.mark.parametrize('schema', [Secretive, SecretiveModel, None])
def test_debug_lines_name_keys_never_values(
    hook: Hook, caplog: pytest.LogCaptureFixture, where: str, schema: Any
):
    def write(h: Any) -> None:
        h.get()
        h.set(secretive(schema, password=SECRET))
        h.set(secretive(schema, password=SECRET))
        with h.edit():
            pass
        h.clear()

    with caplog.at_level(logging.DEBUG, logger='charms.state_helpers.v0.state'):
        result = hook(lambda c: helper(c, where, schema), write, seeded(where, {'user': SECRET}))
    assert result.error is None
    lines = [r.getMessage() for r in caplog.records if r.name == 'charms.state_helpers.v0.state']
    if where == 'local':
        # A log line is a juju-log hook command, and LocalState makes none.
        assert lines == []
    else:
        assert any("'password'" in line for line in lines)
    for line in lines:
        assert_no_secret(line)


@pytest.mark.parametrize('where', WHERES)
def test_refused_write_message_shows_no_value(hook: Hook, where: str):
    def write(h: Any) -> None:
        h.set(Secretive(password=SECRET, count=SECRET))  # type: ignore

    result = hook(lambda c: helper(c, where, Secretive), write, seeded(where))
    message = str(result.raised(InvalidStateError))
    assert "'count'" in message
    assert_no_secret(message)
