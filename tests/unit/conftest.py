"""Fixtures the service's unit tests share: an empty in-memory store and the in-memory vault."""

from __future__ import annotations

import pytest

from tests.fakes import InMemoryStore
from tests.unit.test_failed_vault_create import Box


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def box() -> Box:
    return Box()
