"""Read errors never show stored text, dict keys included."""

from __future__ import annotations

import pydantic
import pytest
from charms.state_helpers.v0.state import InvalidStateError
from scaffold import SECRET, WHERES, Hook, helper, seeded
from test_schema import Everything


def assert_no_secret(message: str) -> None:
    assert SECRET[:4] not in message
    assert SECRET[-4:] not in message


def test_a_secret_dict_key_is_not_shown(hook: Hook):
    # Keys of a dict field are stored text as much as its values are.
    state = seeded('app', {'weights': {SECRET: 'heavy'}})
    result = hook(lambda c: helper(c, 'app', Everything), lambda h: h.get(), state)
    message = str(result.raised(InvalidStateError))
    assert "'weights'" in message
    assert_no_secret(message)


class Validated(pydantic.BaseModel):
    token: str = 'tok-0'

    @pydantic.field_validator('token')
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        # Validators often quote what they refuse, as this one does.
        if not value.startswith('tok-'):
            raise ValueError(f'token {value!r} must start with tok-')
        return value


@pytest.mark.parametrize('where', WHERES)
def test_a_validator_message_quoting_the_value_is_not_shown(hook: Hook, where: str):
    result = hook(
        lambda c: helper(c, where, Validated), lambda h: h.get(), seeded(where, {'token': SECRET})
    )
    message = str(result.raised(InvalidStateError))
    assert "'token'" in message
    assert_no_secret(message)


@pytest.mark.parametrize('where', WHERES)
def test_a_nested_pydantic_dict_key_is_not_shown(hook: Hook, where: str):
    state = seeded(where, {'limits': {SECRET: 'high'}})
    result = hook(lambda c: helper(c, where, WithLimits), lambda h: h.get(), state)
    message = str(result.raised(InvalidStateError))
    assert "'limits'" in message
    assert_no_secret(message)


class WithLimits(pydantic.BaseModel):
    limits: dict[str, int] = {}


class Consistent(pydantic.BaseModel):
    low: int = 0
    high: int = 0

    @pydantic.model_validator(mode='after')
    def _ordered(self) -> Consistent:
        if self.low > self.high:
            raise ValueError(f'low {self.low} above high {self.high}')
        return self


@pytest.mark.parametrize('where', WHERES)
def test_a_model_validator_refusal_quotes_nothing(hook: Hook, where: str):
    state = seeded(where, {'low': 987654, 'high': 1})
    result = hook(lambda c: helper(c, where, Consistent), lambda h: h.get(), state)
    message = str(result.raised(InvalidStateError))
    assert 'a validator refused' in message
    assert '987654' not in message
