"""Task modes (contract §4): each returns the `output` value of its one JSON answer."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from plexsync_actors import PLUGIN_ID
from plexsync_actors.actors.announce import human_duration
from plexsync_actors.clock import wall_now
from plexsync_actors.drainer.control import (
    drainer_lock,
    drainer_running,
    ensure_drainer,
    write_pid,
)
from plexsync_actors.errors import InputError, SettingsError
from plexsync_actors.messages.jobs import JobFailed, JobOutcome, JobSucceeded
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.plugin.check_setup import check_setup, run_checks
from plexsync_actors.plugin.dlq_tasks import recover_outage_jobs, requeue_dlq
from plexsync_actors.plugin.logsetup import configure_logging
from plexsync_actors.plugin.protocol import Progress, lenient_bool, stderr_stream
from plexsync_actors.plugin.status import (
    circuit_state,
    outage_report,
    relay_events,
    status,
    status_sentence,
)
from plexsync_actors.runtime.pipeline import RunTally, client_id, run_pipeline, stash_http_client
from plexsync_actors.settings import Settings, parse_settings
from plexsync_actors.stash import server_connection as stashconn
from plexsync_actors.stash.client import StashClient
from plexsync_actors.stash.models import StashConnection

log = logging.getLogger(__name__)
FOLLOW_POLL_SECONDS = 0.5


@attrs.frozen(kw_only=True)
class TaskContext:
    settings: Settings
    conn: StashConnection
    server_connection: dict[str, Any]
    args: dict[str, Any]
    progress: Progress


Handler = Callable[[TaskContext], Awaitable[Any]]


def connection_from(server_connection: Any) -> StashConnection:
    url = stashconn.base_url(server_connection)  # raises InputError unless it is an object
    found = stashconn.cookie(server_connection)
    return StashConnection(
        base_url=url,
        cookie_name=found[0] if found else None,
        cookie_value=found[1] if found else None,
        stash_dir=stashconn.stash_dir(server_connection),
    )


def run_task(data: dict[str, Any]) -> Any:
    args = data["args"]
    mode = args.get("mode")
    if not isinstance(mode, str) or mode not in TASKS:
        known = ", ".join(sorted(TASKS))
        raise InputError(f"Unknown mode {mode!r}: PlexSync knows {known}.")
    server_connection = data.get("server_connection")
    conn = connection_from(server_connection)
    assert isinstance(server_connection, dict)
    if mode == "check_setup":
        # It reports an unreachable Stash and invalid settings as failed checks, so it reads the
        # settings itself instead of failing here in `load_settings`.
        return trio.run(run_checks, conn)
    return trio.run(_run_task, TASKS[mode], args, conn, server_connection)


async def load_settings(conn: StashConnection) -> Settings | None:
    """Read and validate the plugin settings from Stash; None when PlexSync is disabled."""
    async with stash_http_client() as http:
        raw = await StashClient(http, conn).plugin_settings(PLUGIN_ID)
    try:
        enabled = lenient_bool(raw.get("enabled"), default=True)
    except InputError:
        raise SettingsError(
            f"Setting enabled is {raw.get('enabled')!r}, not a boolean: switch it on or off."
        ) from None
    if not enabled:
        return None
    return parse_settings(raw, stash_dir=conn.stash_dir)


async def _run_task(
    handler: Handler, args: dict[str, Any], conn: StashConnection, server_connection: dict[str, Any]
) -> Any:
    settings = await load_settings(conn)
    if settings is None:
        return "disabled"
    if settings.debug_logging:
        configure_logging(stderr_stream(), debug=True)
    relay_events(settings)
    ctx = TaskContext(
        settings=settings,
        conn=conn,
        server_connection=server_connection,
        args=args,
        progress=Progress(stderr_stream()),
    )
    return await handler(ctx)


async def queue_status(ctx: TaskContext) -> dict[str, Any]:
    data = status(ctx.settings)
    now = wall_now()

    def seconds_since(iso: str | None) -> float | None:
        return now - dt.datetime.fromisoformat(iso).timestamp() if iso else None

    opened_for = seconds_since(data["breaker"]["opened_at"])
    next_probe = seconds_since(data["breaker"]["next_probe_at"])
    log.info("%s", status_sentence(data, opened_for, None if next_probe is None else -next_probe))
    return data


async def outage_summary(ctx: TaskContext) -> dict[str, Any]:
    report = outage_report(ctx.settings)
    m = report["metrics"]
    log.info(
        "Outage report: %d outages tracked, total downtime %s, MTTR %s, MTBF %s, availability %s.",
        m["count"],
        human_duration(m["total_downtime_seconds"]),
        "n/a" if m["mttr_seconds"] is None else human_duration(m["mttr_seconds"]),
        "n/a" if m["mtbf_seconds"] is None else human_duration(m["mtbf_seconds"]),
        "n/a" if m["availability_percent"] is None else f"{m['availability_percent']:.2f} %",
    )
    for outage in report["outages"][:10]:
        log.info(
            "Outage %s: started %s, %s%s, %d scenes affected, first error %s.",
            outage["id"],
            outage["started_at"],
            "ongoing for " if outage["ongoing"] else "lasted ",
            human_duration(outage["duration_seconds"]),
            outage["jobs_affected"],
            outage["first_error"],
        )
    return report


async def health_check(ctx: TaskContext) -> dict[str, Any]:
    """One active probe now; reports only, never changes the breaker (contract §8)."""
    from plexsync_actors.errors import PlexError
    from plexsync_actors.plex.client import PlexClient
    from plexsync_actors.runtime.pipeline import plex_http_client

    breaker = circuit_state(ctx.settings)
    with JobQueue(ctx.settings.data_dir) as queue:
        identifier = client_id(queue)
    async with plex_http_client() as http:
        plex = PlexClient(
            http,
            base_url=ctx.settings.plex_url,
            token=ctx.settings.plex_token,
            client_id=identifier,
            connect_timeout=ctx.settings.connect_timeout,
            read_timeout=ctx.settings.read_timeout,
        )
        try:
            latency = (await plex.identity()).latency_ms
        except PlexError as exc:
            log.warning("Plex is not healthy: %s (%s).", exc.error_type, exc)
            return {"healthy": False, "latency_ms": None, "breaker": breaker, "error": str(exc)}
    log.info("Plex answered /identity in %.0f ms; circuit %s.", latency, breaker)
    return {"healthy": True, "latency_ms": round(latency, 1), "breaker": breaker}


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
        write_pid(data_dir)
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

        tally = await run_pipeline(ctx.settings, ctx.conn, mode="foreground", on_outcome=on_outcome)
    finally:
        lock.release()
    with JobQueue(data_dir) as queue:
        remaining = queue.pending_count()
    if remaining:
        # Jobs waiting for a retry are continued by a background drainer.
        ensure_drainer(ctx.server_connection, data_dir)
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
            running, _ = drainer_running(data_dir)
            # Stop like the foreground drain does: nothing left ready to send, or circuit open.
            circuit = circuit_state(ctx.settings)
            if counts.pending == counts.waiting_retry or not running or circuit == "open":
                break
            await trio.sleep(FOLLOW_POLL_SECONDS)
    failed = max(0, counts.dlq_total - start.dlq_total)
    synced = max(0, total - counts.pending - failed)
    return {"synced": synced, "failed": failed, "remaining": counts.pending}


async def _queue_scenes(ctx: TaskContext, since: dt.datetime | None, label: str) -> dict[str, Any]:
    ids: list[int] = []
    async with stash_http_client() as http:
        stash = StashClient(http, ctx.conn)
        total = await stash.count_scenes(updated_since=since)
        async for scene in stash.find_scenes(updated_since=since):
            ids.append(scene.id)
            if len(ids) % 100 == 0:
                # Reading from Stash is most of the work; queueing them is one transaction.
                ctx.progress.report(0.95 * len(ids) / max(total, len(ids)))
            if len(ids) % 500 == 0:
                log.info("Found %d of %d scenes so far.", len(ids), total)
    with JobQueue(ctx.settings.data_dir) as queue:
        queue.enqueue_many(ids, reason=label, now=wall_now())
    if ids:
        ensure_drainer(ctx.server_connection, ctx.settings.data_dir)
    ctx.progress.report(1.0)
    log.info("Queued %d scenes (%s); the background drainer syncs them.", len(ids), label)
    return {"queued": len(ids)}


async def sync_all(ctx: TaskContext) -> dict[str, Any]:
    return await _queue_scenes(ctx, None, "all")


async def sync_recent(ctx: TaskContext) -> dict[str, Any]:
    since = dt.datetime.fromtimestamp(wall_now(), tz=dt.timezone.utc) - dt.timedelta(hours=24)
    return await _queue_scenes(ctx, since, "recent")


async def clear_queue(ctx: TaskContext) -> dict[str, Any]:
    with JobQueue(ctx.settings.data_dir) as queue:
        removed = queue.clear_queue()
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
            f"Argument days is {raw_days!r}: give a number of days, e.g. 30."
        ) from None
    if days < 0:
        raise InputError(f"Argument days is {raw_days!r}: give 0 or more days.")
    with JobQueue(ctx.settings.data_dir) as queue:
        removed = queue.purge_dlq(older_than=wall_now() - days * 86400.0)
    log.info("Removed %d dead-letter entries older than %g days.", removed, days)
    return {"removed": removed}


async def background_sync(ctx: TaskContext) -> dict[str, Any]:
    """Long-run mode: hold the drainer lock (waiting for another drainer) and drain until killed."""
    from plexsync_actors.drainer.longrun import run_forever

    await run_forever(ctx.settings, ctx.conn)
    return {"stopped": True}


TASKS: dict[str, Handler] = {
    "queue_status": queue_status,
    "outage_summary": outage_summary,
    "health_check": health_check,
    "recover_outage_jobs": recover_outage_jobs,
    "requeue_dlq": requeue_dlq,
    "process_queue": process_queue,
    "all": sync_all,
    "recent": sync_recent,
    "clear_queue": clear_queue,
    "clear_dlq": clear_dlq,
    "purge_dlq": purge_dlq,
    "background_sync": background_sync,
    "check_setup": check_setup,
}
