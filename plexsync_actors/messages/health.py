"""Messages from the health actor to the breaker: what the active probes found."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class ProbeSucceeded:
    """Plex answered `GET /identity`."""

    at: float
    latency_ms: float


@attrs.frozen(kw_only=True)
class ProbeFailed:
    at: float
    error_type: str
    message: str


@attrs.frozen(kw_only=True)
class TrialReadSucceeded:
    """The half-open trial, with no job to send, was an authenticated read; it worked."""

    at: float


@attrs.frozen(kw_only=True)
class TrialReadFailed:
    at: float
    error_type: str
    message: str


HealthReport = ProbeSucceeded | ProbeFailed | TrialReadSucceeded | TrialReadFailed
