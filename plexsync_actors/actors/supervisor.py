"""Builds the pipeline for one run and supervises its actors in one nursery."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Literal

import attrs
import httpx
import trio

from plexsync_actors.actors.drain import DrainActor, DrainPolicy
from plexsync_actors.clock import wall_now
from plexsync_actors.core.retry import RetryPolicy
from plexsync_actors.messages.jobs import JobFailed, JobHeldBack, JobOutcome, JobSucceeded
from plexsync_actors.models import StashConnection
from plexsync_actors.persistence.queue import JobQueue
from plexsync_actors.plex_client import PlexClient
from plexsync_actors.settings import Settings
from plexsync_actors.stash_client import StashClient
from plexsync_actors.syncer import SceneSyncer

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


async def run_pipeline(
    settings: Settings,
    conn: StashConnection,
    *,
    mode: Mode,
    on_outcome: Callable[[JobOutcome, RunTally], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> RunTally:
    """Drain the queue with the actors of this release until the mode's stop condition."""
    tally = RunTally()
    queue = JobQueue(settings.data_dir)
    try:
        async with plex_http_client(transport) as plex_http, stash_http_client() as stash_http:
            stash = StashClient(stash_http, conn)
            plex = PlexClient(
                plex_http,
                base_url=settings.plex_url,
                token=settings.plex_token,
                client_id=client_id(queue),
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
            )
            syncer = SceneSyncer(
                settings=settings, plex=plex, stash=stash, queue=queue, wall_now=wall_now
            )
            send, receive = trio.open_memory_channel[JobOutcome](16)
            drain = DrainActor(
                queue=queue,
                syncer=syncer,
                policy=drain_policy(settings, mode),
                wall_now=wall_now,
                outcomes=send,
                owner=f"{mode}-{uuid.uuid4().hex[:8]}",
            )
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_tally_outcomes, receive, tally, on_outcome)
                tally.stop_reason = await drain.run()
    finally:
        queue.close()
    return tally


async def _tally_outcomes(
    receive: trio.MemoryReceiveChannel[JobOutcome],
    tally: RunTally,
    on_outcome: Callable[[JobOutcome, RunTally], None] | None,
) -> None:
    with receive:
        async for outcome in receive:
            match outcome:
                case JobSucceeded():
                    tally.synced += 1
                case JobFailed():
                    tally.failed += 1
                case JobHeldBack():
                    tally.held_back += 1
            if on_outcome is not None:
                on_outcome(outcome, tally)
