"""Stash's clock for the fake Stash's own tests: a time the test sets by hand. (A module, not
a `conftest.py`: one here would shadow tests/conftest.py, which test modules import from.)"""

from __future__ import annotations

import datetime

UTC = datetime.timezone.utc
T0 = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


class SteppingClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime.datetime:
        return self.now
