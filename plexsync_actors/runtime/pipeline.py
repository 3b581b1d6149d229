"""Builds the pipeline for one run and supervises its actors in one nursery."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import attrs
import httpx
import trio

from plexsync_actors.actors.announce import Announcer
from plexsync_actors.actors.breaker import BreakerActor, BreakerInput
from plexsync_actors.actors.drain import DrainActor, DrainPolicy
from plexsync_actors.actors.gate import BreakerGate
from plexsync_actors.actors.health import HealthActor
from plexsync_actors.actors.recorder import OutageRecorderActor
from plexsync_actors.clock import wall_now
from plexsync_actors.core import breaker as core_breaker
from plexsync_actors.core import bucket as core_bucket
from plexsync_actors.core import health as core_health
from plexsync_actors.core import outages as core_outages
from plexsync_actors.core.retry import RetryPolicy
from plexsync_actors.errors import OUTAGE_ERROR_TYPES
from plexsync_actors.messages.jobs import JobFailed, JobHeldBack, JobOutcome, JobSucceeded
from plexsync_actors.messages.outages import RecorderMessage, SceneFailed
from plexsync_actors.persistence.events import EventLog
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.persistence.outage_state import OutageFiles
from plexsync_actors.plex.client import PlexClient
from plexsync_actors.settings import Settings
from plexsync_actors.stash.client import StashClient
from plexsync_actors.stash.models import StashConnection
from plexsync_actors.sync.syncer import SceneSyncer

log = logging.getLogger(__name__)

Mode = Literal["drainer", "foreground", "background"]


@attrs.define
class RunTally:
    synced: int = 0
    failed: int = 0
    held_back: int = 0
    stop_reason: str = ""


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
    return DrainPolicy(
        retry=retry_policy(settings),
        idle_exit_seconds=settings.drainer_idle_exit_seconds if mode == "drainer" else None,
        stop_when_nothing_ready=mode == "foreground",
        max_lifetime_seconds=settings.drainer_max_hours * 3600.0 if mode == "drainer" else None,
    )


def client_id(queue: JobQueue) -> str:
    """A stable X-Plex-Client-Identifier, so Plex does not announce a new device every run."""
    return queue.set_meta_if_absent("client_id", f"plexsync-{uuid.uuid4()}")


def plex_http_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """One connection: writes go one at a time and keep-alive spares Plex new handshakes."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.AsyncClient(
        limits=limits, follow_redirects=False, trust_env=False, transport=transport
    )


def stash_http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0), trust_env=False)


class PlexProber:
    """The health actor's view of Plex: the light probe and the authenticated trial read."""

    def __init__(self, plex: PlexClient) -> None:
        self._plex = plex

    async def probe(self) -> float:
        return (await self._plex.identity()).latency_ms

    async def authenticated_read(self) -> None:
        await self._plex.sections()


@attrs.frozen(kw_only=True)
class OutageStores:
    """The persisted outage state of one data dir, loaded once per run."""

    files: OutageFiles
    breaker: core_breaker.BreakerState
    schedule: core_health.ProbeSchedule
    outages: core_outages.OutageLog


def load_outage_state(data_dir: Path, on_warning: Callable[[str], None]) -> OutageStores:
    files = OutageFiles(data_dir, on_warning)
    breaker = files.breaker.load() or core_breaker.Closed()
    if isinstance(breaker, core_breaker.HalfOpen) and breaker.trial_started:
        breaker = attrs.evolve(breaker, trial_started=False)  # its trial died with the process
    return OutageStores(
        files=files,
        breaker=breaker,
        schedule=files.recovery.load() or core_health.ProbeSchedule(interval=0.0),
        outages=files.outages.load() or core_outages.OutageLog(),
    )


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


async def run_pipeline(
    settings: Settings,
    conn: StashConnection,
    *,
    mode: Mode,
    on_outcome: Callable[[JobOutcome, RunTally], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    now: Callable[[], float] = wall_now,
) -> RunTally:
    """Run the actors of this release until the mode's stop condition."""
    tally = RunTally()
    queue = JobQueue(settings.data_dir)
    announce = Announcer(EventLog(settings.data_dir), now)
    stores = load_outage_state(settings.data_dir, announce.warning)
    try:
        async with plex_http_client(transport) as plex_http, stash_http_client() as stash_http:
            plex = PlexClient(
                plex_http,
                base_url=settings.plex_url,
                token=settings.plex_token,
                client_id=client_id(queue),
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
            )
            syncer = SceneSyncer(
                settings=settings,
                plex=plex,
                stash=StashClient(stash_http, conn),
                queue=queue,
                wall_now=now,
            )
            await _supervise(
                settings, mode, queue, announce, stores, plex, syncer, tally, on_outcome, now
            )
    finally:
        queue.close()
    return tally


async def _supervise(
    settings: Settings,
    mode: Mode,
    queue: JobQueue,
    announce: Announcer,
    stores: OutageStores,
    plex: PlexClient,
    syncer: SceneSyncer,
    tally: RunTally,
    on_outcome: Callable[[JobOutcome, RunTally], None] | None,
    now: Callable[[], float],
) -> None:
    """Wire the actors with channels and run them in one nursery until the drain stops."""
    probes = probe_policy(settings)
    schedule = stores.schedule
    if schedule.interval <= 0:
        schedule = core_health.initial(probes)
    recorder_send, recorder_recv = trio.open_memory_channel[RecorderMessage](64)
    breaker_send, breaker_recv = trio.open_memory_channel[BreakerInput](64)
    outcome_send, outcome_recv = trio.open_memory_channel[JobOutcome](16)
    breaker = BreakerActor(
        state=stores.breaker,
        policy=core_breaker.BreakerPolicy(failure_threshold=settings.breaker_failure_threshold),
        store=stores.files.breaker,
        queue=queue,
        announce=announce,
        wall_now=now,
        recorder=recorder_send.clone(),
        first_probe_seconds=settings.health_interval_min,
    )
    recorder = OutageRecorderActor(
        log=stores.outages,
        store=stores.files.outages,
        queue=queue,
        announce=announce,
        wall_now=now,
        ramp=ramp_policy(settings),
    )
    health = HealthActor(
        breaker=breaker,
        prober=PlexProber(plex),
        schedule=schedule,
        policy=probes,
        store=stores.files.recovery,
        queue=queue,
        wall_now=now,
        reports=breaker_send.clone(),
        recorder=recorder_send.clone(),
    )
    gate = BreakerGate(
        breaker=breaker,
        policy=ramp_policy(settings),
        wall_now=now,
        announce=announce,
        ramp_start=schedule.ramp_start,
        stop_when_open=mode == "foreground",
    )
    drain = DrainActor(
        queue=queue,
        syncer=syncer,
        policy=drain_policy(settings, mode),
        wall_now=now,
        outcomes=outcome_send,
        gate=gate,
        owner=f"{mode}-{uuid.uuid4().hex[:8]}",
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(breaker.run, breaker_recv)
        nursery.start_soon(recorder.run, recorder_recv)
        # The dispatcher ends by itself once the drain closes its outcome channel.
        nursery.start_soon(
            _dispatch_outcomes,
            outcome_recv,
            breaker_send.clone(),
            recorder_send.clone(),
            tally,
            on_outcome,
        )
        async with trio.open_nursery() as probing:
            probing.start_soon(health.run)
            tally.stop_reason = await drain.run()
            probing.cancel_scope.cancel()
        # Closing the last senders lets the breaker and recorder finish their inboxes and exit.
        breaker_send.close()
        recorder_send.close()


async def _dispatch_outcomes(
    receive: trio.MemoryReceiveChannel[JobOutcome],
    breaker: trio.MemorySendChannel[BreakerInput],
    recorder: trio.MemorySendChannel[RecorderMessage],
    tally: RunTally,
    on_outcome: Callable[[JobOutcome, RunTally], None] | None,
) -> None:
    """Fan each job outcome out: breaker (passive health signal), recorder, and the run tally."""
    with receive, breaker, recorder:
        async for outcome in receive:
            await breaker.send(outcome)
            if isinstance(outcome, JobFailed) and outcome.error_type in OUTAGE_ERROR_TYPES:
                await recorder.send(SceneFailed(scene_id=outcome.scene_id, at=outcome.at))
            _count(outcome, tally)
            if on_outcome is not None:
                on_outcome(outcome, tally)


def _count(outcome: JobOutcome, tally: RunTally) -> None:
    match outcome:
        case JobSucceeded():
            tally.synced += 1
        case JobFailed():
            tally.failed += 1
        case JobHeldBack():
            tally.held_back += 1
