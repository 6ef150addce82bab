"""The helpers' types flow to the caller: pyright (tox -e static) checks the assert_type calls.

At run time assert_type returns its argument, so the test also runs the charm as usual.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ops
from charms.state_helpers.v0.state import LocalState, PeerState, decode, decode_local
from ops import testing
from typing_extensions import assert_type


@dataclasses.dataclass
class AppData:
    token: str = ''


class TypedCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self.app_state = PeerState(self, 'cluster', AppData)
        self.records = PeerState(self, 'cluster', scope='unit')
        self.local = LocalState(self, 'local', AppData)
        framework.observe(self.on.start, self._on_start)

    def _on_start(self, event: ops.StartEvent) -> None:
        assert_type(self.app_state.get(), AppData)
        assert_type(self.local.get(), AppData)
        assert_type(self.records.get(), dict[str, Any])
        assert_type(self.records.units(), dict[ops.Unit, dict[str, Any]])
        with self.app_state.edit() as state:
            assert_type(state, AppData)
            state.token = 'typed'


def test_the_typed_charm_runs():
    ctx = testing.Context(
        TypedCharm, meta={'name': 'typed', 'peers': {'cluster': {'interface': 'x'}}}
    )
    peer = testing.PeerRelation('cluster')

    out = ctx.run(ctx.on.start(), testing.State(leader=True, relations={peer}))

    assert_type(decode(AppData, out.get_relation(peer.id).local_app_data), AppData)
    assert decode(AppData, out.get_relation(peer.id).local_app_data) == AppData('typed')
    assert_type(decode_local(out, 'local', AppData), AppData)
