"""Keys that Juju cannot carry are refused at write time, like values JSON cannot carry."""

from __future__ import annotations

import dataclasses

import pytest
from charms.state_helpers.v0.state import JUJU_UNIT_KEYS, InvalidStateError, encode
from scaffold import PEER_WHERES, Hook, Spy, helper, raw, seeded


@pytest.mark.parametrize('where', PEER_WHERES)
def test_an_empty_key_is_refused_at_write_time(hook: Hook, spy: Spy, where: str):
    result = hook(lambda c: helper(c, where, None), lambda h: h.set({'': 1}), seeded(where))
    assert "key '' cannot be stored" in str(result.raised(InvalidStateError))
    assert spy.sent() == []
    assert raw(result.out, where) == {}


@pytest.mark.parametrize('where', PEER_WHERES)
@pytest.mark.parametrize('key', sorted(JUJU_UNIT_KEYS))
def test_a_juju_unit_key_is_refused_as_untyped_state_in_any_databag(
    hook: Hook, spy: Spy, where: str, key: str
):
    result = hook(lambda c: helper(c, where, None), lambda h: h.set({key: 'x'}), seeded(where))

    assert f'key {key!r} is written by Juju' in str(result.raised(InvalidStateError))
    assert spy.sent() == []


@pytest.mark.parametrize('key', sorted(JUJU_UNIT_KEYS))
def test_a_schema_using_a_juju_unit_key_is_refused_at_construction(key: str):
    @dataclasses.dataclass
    class Aliased:
        address: str = dataclasses.field(default='', metadata={'alias': key})

    with pytest.raises(TypeError, match=f'schema Aliased uses the key {key!r}'):
        encode(Aliased())


def test_encode_refuses_a_juju_unit_key_in_untyped_state():
    with pytest.raises(InvalidStateError, match="key 'private-address' of dict cannot be stored"):
        encode({'private-address': '10.0.0.1'})
