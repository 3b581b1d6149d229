"""Fixtures shared by the fakes' own tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from clock_rig import SteppingClock


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client
