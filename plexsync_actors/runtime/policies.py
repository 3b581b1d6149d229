"""Settings -> the policies the pure cores and the actors run on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from plexsync_actors.core import breaker as core_breaker
from plexsync_actors.core import bucket as core_bucket
from plexsync_actors.core import health as core_health
from plexsync_actors.core.retry import RetryPolicy
from plexsync_actors.settings import Settings

if TYPE_CHECKING:  # the read-only tasks use these policies and must not import trio
    from plexsync_actors.actors.drain import DrainPolicy

# drainer: detached, exits when idle; foreground: process_queue; background: long-run mode.
Mode = Literal["drainer", "foreground", "background"]


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_retries=settings.max_retries,
        base_seconds=settings.retry_base_seconds,
        cap_seconds=settings.retry_cap_seconds,
        notfound_max_retries=settings.notfound_max_retries,
        notfound_base_seconds=settings.notfound_retry_base_seconds,
        notfound_cap_seconds=settings.notfound_retry_cap_seconds,
        skip_not_found=settings.skip_not_found,
    )


def drain_policy(settings: Settings, mode: Mode) -> DrainPolicy:
    from plexsync_actors.actors.drain import DrainPolicy

    return DrainPolicy(
        retry=retry_policy(settings),
        idle_exit_seconds=settings.drainer_idle_exit_seconds if mode == "drainer" else None,
        stop_when_nothing_ready=mode == "foreground",
        max_lifetime_seconds=settings.drainer_max_hours * 3600.0 if mode == "drainer" else None,
    )


def breaker_policy(settings: Settings) -> core_breaker.BreakerPolicy:
    return core_breaker.BreakerPolicy(failure_threshold=settings.breaker_failure_threshold)


def ramp_policy(settings: Settings) -> core_bucket.RampPolicy:
    return core_bucket.RampPolicy(
        initial_rate=settings.ramp_initial_rate,
        max_rate=settings.max_rate,
        ramp_seconds=settings.ramp_seconds,
    )


def probe_policy(settings: Settings) -> core_health.ProbePolicy:
    return core_health.ProbePolicy(
        min_interval=settings.health_interval_min, max_interval=settings.health_interval_max
    )
