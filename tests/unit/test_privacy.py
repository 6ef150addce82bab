"""Read errors never show stored text, dict keys included."""

from __future__ import annotations

from charms.state_helpers.v0.state import InvalidStateError
from scaffold import SECRET, Hook, helper, seeded
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
