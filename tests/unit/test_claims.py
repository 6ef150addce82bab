"""Several helpers on one databag: distinct keys work, a shared key is refused."""

from __future__ import annotations

import dataclasses
from typing import Any

import ops
import pydantic
import pytest
from charms.state_helpers.v0.state import PeerState
from ops import testing
from scaffold import PEER_WHERES, Hook, Settings, helper, raw, seeded

peer_wheres = pytest.mark.parametrize('where', PEER_WHERES)


@dataclasses.dataclass
class LibraryState:
    """What a charm library keeps in the same databag as the charm."""

    lib_token: str = dataclasses.field(default='', metadata={'alias': 'lib-token'})
    lib_count: int = 0


class LibraryModel(pydantic.BaseModel):
    lib_token: str = pydantic.Field(default='', alias='lib-token')
    lib_count: int = 0


@dataclasses.dataclass
class Overlapping:
    replicas: int = 0  # also a key of Settings


@dataclasses.dataclass
class OverlappingByAlias:
    count: int = dataclasses.field(default=0, metadata={'alias': 'replicas'})


@pytest.mark.parametrize('library', [LibraryState, LibraryModel])
@peer_wheres
def test_two_helpers_with_distinct_keys_share_a_databag(hook: Hook, where: str, library: Any):
    def build(charm: ops.CharmBase) -> tuple[Any, Any]:
        return helper(charm, where, Settings), helper(charm, where, library)

    def write(helpers: tuple[Any, Any]) -> None:
        mine, theirs = helpers
        mine.set(Settings(name='db', replicas=2))
        theirs.set(
            library.model_validate({'lib-token': 't', 'lib_count': 1})
            if library is LibraryModel
            else library(lib_token='t', lib_count=1)
        )
        mine.set(Settings(name='db2', replicas=2))
        mine.clear()

    result = hook(build, write, seeded(where))
    assert result.error is None
    assert raw(result.out, where) == {'lib-token': 't', 'lib_count': 1}


@pytest.mark.parametrize(
    ('other', 'key'), [(Overlapping, 'replicas'), (OverlappingByAlias, 'replicas')]
)
@peer_wheres
def test_a_key_claimed_twice_is_a_type_error_naming_it(
    hook: Hook, where: str, other: Any, key: str
):
    def build(charm: ops.CharmBase) -> None:
        helper(charm, where, Settings)
        helper(charm, where, other)

    result = hook(build, lambda h: None, seeded(where))
    message = str(result.raised(TypeError))
    assert repr(key) in message
    assert "'peers'" in message


@pytest.mark.parametrize('first_untyped', [True, False])
@pytest.mark.parametrize('other', [Settings, LibraryState, None])
@peer_wheres
def test_untyped_and_any_other_is_a_type_error(
    hook: Hook, where: str, other: Any, first_untyped: bool
):
    def build(charm: ops.CharmBase) -> None:
        schemas = [None, other] if first_untyped else [other, None]
        for schema in schemas:
            helper(charm, where, schema)

    result = hook(build, lambda h: None, seeded(where))
    message = str(result.raised(TypeError))
    assert 'untyped' in message
    assert "'peers'" in message


def test_app_and_unit_scope_do_not_share_a_databag(hook: Hook):
    def build(charm: ops.CharmBase) -> tuple[Any, Any]:
        return helper(charm, 'app', None), helper(charm, 'unit', None)

    result = hook(build, lambda h: None, seeded('app'))
    assert result.error is None


def test_two_relations_do_not_share_a_databag(hook: Hook):
    def build(charm: ops.CharmBase) -> tuple[Any, Any]:
        return PeerState(charm, 'peers'), PeerState(charm, 'other')

    result = hook(build, lambda h: None, seeded('app'))
    assert result.error is None


def test_claims_belong_to_one_charm_instance(hook: Hook):
    # Each hook builds a new charm; its helpers claim the keys afresh.
    for _ in range(2):
        assert hook(lambda c: helper(c, 'app', Settings), lambda h: None).error is None


def test_a_helper_built_twice_is_told_to_build_once():
    built: list[str] = []

    class Twice(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            framework.observe(self.on.start, self._on_start)

        @property
        def state(self) -> PeerState[Any]:
            return PeerState(self, 'peers', TwiceState)

        def _on_start(self, event: ops.StartEvent) -> None:
            self.state.get()
            try:
                self.state.get()
            except TypeError as e:
                built.append(str(e))

    ctx = testing.Context(Twice, meta={'name': 'twice', 'peers': {'peers': {'interface': 'x'}}})
    ctx.run(ctx.on.start(), testing.State())

    assert built == [
        'a helper with the same keys already stores state in the app databag of peer relation '
        "'peers'; create each helper once, in the charm's __init__, and keep it as an attribute"
    ]


@dataclasses.dataclass
class TwiceState:
    token: str = ''
