from __future__ import annotations

import pytest
from scaffold import Hook, Spy


@pytest.fixture
def spy() -> Spy:
    return Spy()


@pytest.fixture
def hook(spy: Spy) -> Hook:
    return Hook(spy)
