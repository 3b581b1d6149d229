"""Task modes that work the queue: process it now, fill it from Stash, empty it, or run forever."""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import aclosing
from typing import Any

import attrs
import trio

from plexsync_actors.actors.announce import counted
from plexsync_actors.clock import wall_now
from plexsync_actors.core.values import shown
from plexsync_actors.drainer.control import (
    HEARTBEAT_SECONDS,
    drainer_lock,
    drainer_running,
    ensure_drainer,
    start_beating,
    stop_beating,
)
from plexsync_actors.errors import InputError
from plexsync_actors.messages.jobs import JobFailed, JobOutcome, JobSucceeded
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.persistence.repair import clear_notice
from plexsync_actors.plugin.context import TaskContext
from plexsync_actors.plugin.status import circuit_state
from plexsync_actors.runtime.clients import stash_http_client
from plexsync_actors.runtime.pipeline import RunTally, run_pipeline
from plexsync_actors.stash.client import StashClient
from plexsync_actors.sync.catch_up import move_watermark_to_now

log = logging.getLogger(__name__)
FOLLOW_POLL_SECONDS = 0.5


@attrs.define
class _SceneTally:
    synced: set[int] = attrs.Factory(set)
    failed: set[int] = attrs.Factory(set)


async def process_queue(ctx: TaskContext) -> dict[str, Any]:
    data_dir = ctx.settings.data_dir
    lock = drainer_lock(data_dir)
    if not lock.try_acquire():
        return await _follow_drainer(ctx)
    scenes = _SceneTally()
    try:
        beats = start_beating(data_dir)
        with JobQueue(data_dir) as queue:
            queue.clear_leases()
            total = queue.pending_count()
        log.info("Processing %d queued scenes in the foreground.", total)

        def on_outcome(outcome: JobOutcome, _tally: RunTally) -> None:
            if isinstance(outcome, JobSucceeded):
                scenes.synced.add(outcome.scene_id)
                scenes.failed.discard(outcome.scene_id)
            elif isinstance(outcome, JobFailed):
                scenes.failed.add(outcome.scene_id)
            done = len(scenes.synced | scenes.failed)
            ctx.progress.report(done / total if total else 1.0)

        tally = await run_pipeline(
            ctx.settings,
            ctx.conn,
            mode="foreground",
            on_outcome=on_outcome,
            heartbeat=(beats, HEARTBEAT_SECONDS),
        )
    finally:
        stop_beating(data_dir)
        lock.release()
    with JobQueue(data_dir) as queue:
        remaining = queue.pending_count()
    if remaining:
        # Jobs waiting for a retry are continued by a background drainer.
        ensure_drainer(ctx.server_connection, data_dir, now=wall_now())
    ctx.progress.report(1.0)
    log.info(
        "Processed the queue: %d synced, %d failed, %d remaining (%s).",
        len(scenes.synced),
        len(scenes.failed),
        remaining,
        tally.stop_reason,
    )
    return {"synced": len(scenes.synced), "failed": len(scenes.failed), "remaining": remaining}


async def _follow_drainer(ctx: TaskContext) -> dict[str, Any]:
    """Another process drains: report its progress until the queue is empty or it stops."""
    data_dir = ctx.settings.data_dir
    log.info("A background drainer is already syncing; following its progress.")
    with JobQueue(data_dir) as queue:
        start = queue.counts(now=wall_now())
        total = start.pending
        while True:
            counts = queue.counts(now=wall_now())
            done = max(0, total - counts.pending)
            ctx.progress.report(done / total if total else 1.0)
            running = drainer_running(data_dir, now=wall_now()).running
            # Stop like the foreground drain does: nothing left ready to send, or circuit open.
            circuit = circuit_state(ctx.settings)
            if counts.pending == counts.waiting_retry or not running or circuit == "open":
                break
            await trio.sleep(FOLLOW_POLL_SECONDS)
    failed = max(0, counts.dlq_total - start.dlq_total)
    synced = max(0, total - counts.pending - failed)
    return {"synced": synced, "failed": failed, "remaining": counts.pending}


async def _queue_scenes(ctx: TaskContext, since: dt.datetime | None, label: str) -> dict[str, Any]:
    """Queue every scene (or those updated since `since`) from pages of ids, each page in one
    transaction as it arrives: a running drainer can start on them at once, and a task killed
    midway keeps every page it read (running it again queues the rest; pending jobs coalesce)."""
    data_dir = ctx.settings.data_dir
    queued = 0
    async with (
        stash_http_client() as http,
        aclosing(StashClient(http, ctx.conn).scene_id_pages(updated_since=since)) as pages,
    ):
        with JobQueue(data_dir) as queue:
            async for page in pages:
                queued += queue.enqueue_batch(page.ids, reason=label, now=wall_now())
                total = max(page.count, queued)
                ctx.progress.report(queued / total if total else 1.0)
                if queued < total:
                    log.info("Queued %d of %d scenes so far.", queued, total)
    clear_notice(data_dir)  # what a damaged queue lost is queued again
    if queued:
        ensure_drainer(ctx.server_connection, data_dir, now=wall_now())
    ctx.progress.report(1.0)
    with JobQueue(data_dir) as queue:
        waiting = queue.pending_count()
    # The task ends here: following the drain would hold Stash's one job slot for its length.
    log.info(
        "Queued %s (%s); %s now waiting for Plex: the background drainer syncs them, and "
        "Queue Status (or the PlexSync page) shows how far it is.",
        counted(queued, "scene"),
        label,
        counted(waiting, "scene"),
    )
    return {"queued": queued}


async def sync_all(ctx: TaskContext) -> dict[str, Any]:
    return await _queue_scenes(ctx, None, "all")


async def sync_recent(ctx: TaskContext) -> dict[str, Any]:
    since = dt.datetime.fromtimestamp(wall_now(), tz=dt.timezone.utc) - dt.timedelta(hours=24)
    return await _queue_scenes(ctx, since, "recent")


async def clear_queue(ctx: TaskContext) -> dict[str, Any]:
    with JobQueue(ctx.settings.data_dir) as queue:
        removed = queue.clear_queue()
        # What changed with no hook until now is dropped too: the catch-up starts from here.
        async with stash_http_client() as http:
            await move_watermark_to_now(StashClient(http, ctx.conn), queue)
    clear_notice(ctx.settings.data_dir)  # the user chose what the queue holds
    log.info("Removed %d queued scenes.", removed)
    return {"removed": removed}


async def clear_dlq(ctx: TaskContext) -> dict[str, Any]:
    with JobQueue(ctx.settings.data_dir) as queue:
        removed = queue.clear_dlq()
    log.info("Removed %d dead-letter entries.", removed)
    return {"removed": removed}


async def purge_dlq(ctx: TaskContext) -> dict[str, Any]:
    raw_days = ctx.args.get("days", 30)
    try:
        days = float(raw_days if raw_days not in (None, "") else 30)
    except (TypeError, ValueError):
        raise InputError(
            f"Argument days is {shown(raw_days)}: give a number of days, e.g. 30."
        ) from None
    if days < 0:
        raise InputError(f"Argument days is {shown(raw_days)}: give 0 or more days.")
    with JobQueue(ctx.settings.data_dir) as queue:
        removed = queue.purge_dlq(older_than=wall_now() - days * 86400.0)
    log.info("Removed %d dead-letter entries older than %g days.", removed, days)
    return {"removed": removed}


async def background_sync(ctx: TaskContext) -> dict[str, Any]:
    """Long-run mode: hold the drainer lock (waiting for another drainer) and drain until killed."""
    from plexsync_actors.drainer.longrun import run_forever

    await run_forever(ctx.settings, ctx.conn)
    return {"stopped": True}
