"""What to do with a job after a failed attempt: retry when, or dead-letter. Pure.

Full-jitter exponential backoff: delay = U(0, min(cap, base * 2**(n-1))). `jitter` is the uniform
draw in [0, 1), passed in so the decision is a pure function.
"""

from __future__ import annotations

import attrs

from plexsync_actors.errors import OUTAGE_ERROR_TYPES

# Not outages, but worth trying again: charged, with backoff, up to `max_retries`.
RETRIED_TYPES = frozenset({"StashSceneError"})


@attrs.frozen(kw_only=True)
class RetryPolicy:
    max_retries: int
    base_seconds: float
    cap_seconds: float
    notfound_max_retries: int
    notfound_base_seconds: float
    notfound_cap_seconds: float
    skip_not_found: bool
    # After Stash served its placeholder instead of a cover (a scan generates covers later and
    # fires no hook), the poster alone is tried again this long after, this many times.
    poster_retry_seconds: float = 600.0
    poster_retry_limit: int = 3


@attrs.frozen(kw_only=True)
class Retry:
    at: float
    charged: bool
    notfound: bool = False


@attrs.frozen(kw_only=True)
class GiveUp:
    """Retrying will not help: the job goes to the dead-letter queue."""

    reason: str


@attrs.frozen(kw_only=True)
class Drop:
    reason: str


Decision = Retry | GiveUp | Drop


def backoff_delay(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Full-jitter delay before retry number `attempt` (1-based)."""
    exponent = min(max(attempt - 1, 0), 62)
    return jitter * min(cap, base * (2.0**exponent))


def reached_plex(error_type: str) -> bool:
    """Whether a failure of this type charges an attempt (contract §8)."""
    return error_type not in {"PlexServerDown", "PlexUnauthorized"}


def decide(
    *,
    error_type: str,
    attempts: int,
    notfound_attempts: int,
    policy: RetryPolicy,
    failures: int = 0,
    now: float,
    jitter: float,
) -> Decision:
    """`attempts`/`notfound_attempts`/`failures` are the counts before this failure.

    `failures` counts every failed attempt, charged or not, so the delay keeps growing while
    Plex is down even though a down Plex charges no attempts."""
    if error_type == "PlexNotFound":
        if policy.skip_not_found:
            return Drop(reason="scene not in Plex and skip_not_found is on")
        done = notfound_attempts + 1
        if done >= policy.notfound_max_retries:
            return GiveUp(reason=f"not found in Plex after {done} attempts")
        delay = backoff_delay(
            done, base=policy.notfound_base_seconds, cap=policy.notfound_cap_seconds, jitter=1.0
        )
        # Not-found keeps a floor of half its step: Plex needs time to scan the file.
        delay = delay / 2 + delay / 2 * jitter
        return Retry(at=now + delay, charged=True, notfound=True)
    if error_type in OUTAGE_ERROR_TYPES:
        charged = reached_plex(error_type)
        done = attempts + (1 if charged else 0)
        if charged and done >= policy.max_retries:
            return GiveUp(reason=f"still failing after {done} attempts")
        step = max(done, failures + 1)
        delay = backoff_delay(step, base=policy.base_seconds, cap=policy.cap_seconds, jitter=jitter)
        return Retry(at=now + delay, charged=charged)
    if error_type in RETRIED_TYPES:
        done = attempts + 1
        if done >= policy.max_retries:
            return GiveUp(reason=f"still failing after {done} attempts")
        step = max(done, failures + 1)
        delay = backoff_delay(step, base=policy.base_seconds, cap=policy.cap_seconds, jitter=jitter)
        return Retry(at=now + delay, charged=True)
    return GiveUp(reason="permanent error")


def poster_retry_at(
    *, pending: bool, retries_so_far: int, policy: RetryPolicy, now: float
) -> float | None:
    """When to try a scene's poster again (None: not again): Stash had no cover for it yet."""
    if not pending or retries_so_far >= policy.poster_retry_limit:
        return None
    return now + policy.poster_retry_seconds
