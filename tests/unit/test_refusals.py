"""A pydantic schema refuses what JSON cannot carry, as the other schemas do."""

from __future__ import annotations

from typing import Any

import pytest
from scaffold import WHERES, Hook, Spy
from test_wire import UNSTORABLE, LooseModel, assert_refused


@pytest.mark.parametrize(('field', 'bad'), UNSTORABLE)
@pytest.mark.parametrize('where', WHERES)
def test_pydantic_values_json_cannot_carry_are_refused(
    hook: Hook, spy: Spy, where: str, field: str, bad: Any
):
    assert_refused(hook, spy, where, LooseModel, field, bad)
