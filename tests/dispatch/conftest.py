"""Fixtures for the end-to-end tests: local models of the fixture charm and the host charm."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import ops
import pytest

# The local model lives in tests/localmodel, importable as `localmodel`.
sys.path.insert(0, str(Path(__file__).parent.parent))

from localmodel import LocalModel

ROOT = Path(__file__).parent.parent.parent
FIXTURE_CHARM = Path(__file__).parent / 'fixture_charm'
OPS_MAJOR = int(ops.__version__.split('.')[0])

ModelFactory = Callable[..., LocalModel]


@pytest.fixture
def fixture_model(tmp_path: Path) -> ModelFactory:
    """Make a local model of the fixture charm; keyword arguments go to LocalModel."""

    def make(**kwargs: object) -> LocalModel:
        return LocalModel(tmp_path / 'model', FIXTURE_CHARM, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def host_model(tmp_path: Path) -> ModelFactory:
    """Make a local model of the host charm, from this repository's own files."""

    def make(charm: Path = ROOT, **kwargs: object) -> LocalModel:
        return LocalModel(tmp_path / 'model', charm, **kwargs)  # type: ignore[arg-type]

    return make
