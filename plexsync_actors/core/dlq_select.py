"""Which dead letters to move back to the queue (DLQM-01/02). Pure.

An outage window is `[first_failure_at, ended_at]` of a finished outage; an entry matches when
its last failure lies in a chosen window and its error type is selected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from plexsync_actors.core.outages import OutageRecord
from plexsync_actors.core.values import shown
from plexsync_actors.errors import ERROR_TYPES, OUTAGE_ERROR_TYPES


@attrs.frozen(kw_only=True)
class Window:
    start: float
    end: float

    def contains(self, at: float) -> bool:
        return self.start <= at <= self.end


class SelectionError(ValueError):
    """An argument names nothing that exists; the message says what is valid."""


def error_types(arg: str | None, present: Iterable[str]) -> frozenset[str]:
    """`transient` (default): the outage types present in the DLQ; `all`; or a comma list."""
    text = (arg or "transient").strip()
    if text.lower() == "all":
        return frozenset(ERROR_TYPES) | frozenset(present)
    if text.lower() == "transient":
        return frozenset(t for t in present if t in OUTAGE_ERROR_TYPES)
    names = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(names - set(ERROR_TYPES))
    if unknown or not names:
        raise SelectionError(
            f"error_types {shown(text)} names unknown types "
            f"({', '.join(unknown)[:200] or 'none given'}): "
            f"use transient, all, or a comma list of {', '.join(ERROR_TYPES)}."
        )
    return frozenset(names)


def windows(arg: str | None, records: Sequence[OutageRecord]) -> list[Window]:
    """`last` (default): the newest finished outage; `all`; or one outage id."""
    finished = [r for r in records if r.ended_at is not None]
    text = str(arg or "last").strip().lower()
    if text == "all":
        chosen = finished
    elif text == "last":
        chosen = finished[:1]
    else:
        chosen = [r for r in finished if str(r.id) == text]
        if not chosen:
            ids = ", ".join(str(r.id) for r in finished) or "none yet"
            raise SelectionError(
                f"outage {shown(arg)} is not a finished outage: use last, all, or one of: {ids}."
            )
    return [Window(start=r.first_failure_at, end=r.ended_at or r.first_failure_at) for r in chosen]
