"""Messages to the outage recorder: the life of one outage."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class OutageStarted:
    first_failure_at: float
    started_at: float
    first_error: str


@attrs.frozen(kw_only=True)
class ProbeSent:
    at: float


@attrs.frozen(kw_only=True)
class SceneFailed:
    """A job failed with an outage-type error (the recorder decides if it is in a window)."""

    scene_id: int
    at: float


@attrs.frozen(kw_only=True)
class OutageEnded:
    ended_at: float


RecorderMessage = OutageStarted | ProbeSent | SceneFailed | OutageEnded
