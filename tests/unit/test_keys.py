"""Keys that Juju cannot carry are refused at write time, like values JSON cannot carry."""

from __future__ import annotations

import pytest
from charms.state_helpers.v0.state import InvalidStateError
from scaffold import PEER_WHERES, Hook, Spy, helper, raw, seeded


@pytest.mark.parametrize('where', PEER_WHERES)
def test_an_empty_key_is_refused_at_write_time(hook: Hook, spy: Spy, where: str):
    result = hook(lambda c: helper(c, where, None), lambda h: h.set({'': 1}), seeded(where))
    assert "key '' cannot be stored" in str(result.raised(InvalidStateError))
    assert spy.sent() == []
    assert raw(result.out, where) == {}
