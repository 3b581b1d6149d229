"""The one module that reads real clocks. Everything else gets time injected."""

from __future__ import annotations

import datetime as dt
import time


def wall_now() -> float:
    """Seconds since the epoch (UTC); what stored timestamps use."""
    return time.time()


def iso_utc(ts: float | None) -> str | None:
    """ISO-8601 UTC text for a stored timestamp (None stays None)."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).isoformat(timespec="milliseconds")


def monotonic() -> float:
    return time.monotonic()


def sleep(seconds: float) -> None:
    """Blocking sleep for the few synchronous waits outside trio (following another drainer)."""
    time.sleep(seconds)
