"""Messages about jobs: what the drain actor reports after each attempt."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class JobSucceeded:
    scene_id: int
    at: float
    detail: str
    reached_plex: bool = True  # False: nothing was asked of Plex (the scene was deleted …)


@attrs.frozen(kw_only=True)
class JobFailed:
    scene_id: int
    at: float
    error_type: str
    message: str
    http_status: int | None
    retry_at: float | None
    reached_plex: bool = True  # False: the failure came before any answer from Plex


@attrs.frozen(kw_only=True)
class JobHeldBack:
    """A job was given back untouched (Stash unavailable, or the pipeline is stopping)."""

    scene_id: int
    at: float
    reason: str


JobOutcome = JobSucceeded | JobFailed | JobHeldBack


@attrs.frozen(kw_only=True)
class SyncResult:
    """What one sync of a scene did: a short description, and whether its poster is still to
    come (Stash served its placeholder: the scene had no cover yet)."""

    detail: str
    poster_pending: bool = False
