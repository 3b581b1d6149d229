"""Breaker and recovery sentences: to the process log and to the event log tasks relay to Stash."""

from __future__ import annotations

import logging
from collections.abc import Callable

from plexsync_actors.persistence.events import EventLog

log = logging.getLogger("plexsync_actors.outage")


class Announcer:
    def __init__(self, events: EventLog | None, wall_now: Callable[[], float]) -> None:
        self._events = events
        self._now = wall_now

    def info(self, message: str) -> None:
        log.info("%s", message)
        if self._events is not None:
            self._events.append(at=self._now(), level="info", message=message)

    def warning(self, message: str) -> None:
        log.warning("%s", message)
        if self._events is not None:
            self._events.append(at=self._now(), level="warning", message=message)


def human_duration(seconds: float) -> str:
    """'4m 12s', '1h 3m', '12s', '0.4s'."""
    if seconds < 10:
        return f"{seconds:.1f}s".replace(".0s", "s")
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def human_seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 and seconds != int(seconds) else f"{seconds:.0f} s"


def counted(n: int, noun: str) -> str:
    """'1 scene', '3 scenes', '1 outage': the noun in the number it has."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
