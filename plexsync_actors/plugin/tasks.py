"""Task runs (contract §4): read the settings in force, relay the drainer's news, run the mode.

Each mode returns the `output` value of its one JSON answer; the table `TASKS` names them all.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import trio

from plexsync_actors.clock import iso_utc, wall_now
from plexsync_actors.core.values import shown
from plexsync_actors.drainer.control import ensure_drainer
from plexsync_actors.errors import InputError, PlexSyncError
from plexsync_actors.persistence.database import DB_NAME
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.persistence.last_runs import RECORDED_MODES, record_run
from plexsync_actors.persistence.repair import open_sound, pending_notice
from plexsync_actors.plugin import dlq_tasks, queue_tasks, status
from plexsync_actors.plugin.check_setup import check_setup, run_checks
from plexsync_actors.plugin.context import Handler, TaskContext
from plexsync_actors.plugin.logsetup import configure_logging
from plexsync_actors.plugin.protocol import Progress, lenient_bool, stderr_stream
from plexsync_actors.runtime.config import load_settings
from plexsync_actors.stash.connection import StashConnection, connection_from

log = logging.getLogger(__name__)

TASKS: dict[str, Handler] = {
    "queue_status": status.queue_status,
    "outage_summary": status.outage_summary,
    "health_check": status.health_check,
    "recover_outage_jobs": dlq_tasks.recover_outage_jobs,
    "requeue_dlq": dlq_tasks.requeue_dlq,
    "process_queue": queue_tasks.process_queue,
    "all": queue_tasks.sync_all,
    "recent": queue_tasks.sync_recent,
    "clear_queue": queue_tasks.clear_queue,
    "clear_dlq": queue_tasks.clear_dlq,
    "purge_dlq": queue_tasks.purge_dlq,
    "background_sync": queue_tasks.background_sync,
    "check_setup": check_setup,
}


def run_task(data: dict[str, Any]) -> Any:
    args = data["args"]
    mode = args.get("mode")
    if not isinstance(mode, str) or mode not in TASKS:
        known = ", ".join(sorted(TASKS))
        raise InputError(f"Unknown mode {shown(mode)}: PlexSync knows {known}.")
    server_connection = data.get("server_connection")
    conn = connection_from(server_connection)
    assert isinstance(server_connection, dict)
    if mode == "check_setup":
        # It reports an unreachable Stash and invalid settings as failed checks, so it reads the
        # settings itself instead of failing here in `load_settings`.
        return trio.run(run_checks, conn)
    return trio.run(_run_task, mode, args, conn, server_connection)


async def _run_task(
    mode: str, args: dict[str, Any], conn: StashConnection, server_connection: dict[str, Any]
) -> Any:
    handler = TASKS[mode]
    settings = await load_settings(conn)
    if settings is None:
        return "disabled"
    quiet = lenient_bool(args.get("quiet"), default=False)
    if settings.debug_logging and not quiet:
        configure_logging(stderr_stream(), debug=True)
    if not quiet:  # a quiet poll must not take the drainer's news from the Stash log
        status.relay_events(settings)
    _check_the_queue(settings.data_dir)
    ctx = TaskContext(
        settings=settings,
        conn=conn,
        server_connection=server_connection,
        args=args,
        progress=Progress(stderr_stream()),
    )
    try:
        output = await handler(ctx)
    except PlexSyncError as exc:
        _record(settings.data_dir, mode, None, str(exc))
        raise
    _record(settings.data_dir, mode, output, None)
    if handler not in (queue_tasks.background_sync, queue_tasks.process_queue):  # they drain
        _start_a_drainer_for_ready_work(ctx)
    notice = pending_notice(settings.data_dir, now=wall_now())
    if notice is not None:  # said by every task until the user queued again what was lost
        log.warning("%s", notice.sentence())
        if isinstance(output, dict):
            output = {**output, "notice": notice.sentence()}
    return output


def _record(data_dir: Path, mode: str, result: Any, error: str | None) -> None:
    """The long actions' results, which the PlexSync page reads (Stash's Job has none)."""
    if mode in RECORDED_MODES and not (isinstance(result, dict) and result.get("dry_run")):
        finished = iso_utc(wall_now()) or ""
        record_run(data_dir, mode, finished_at=finished, result=result, error=error)


def _check_the_queue(data_dir: Path) -> None:
    """SQLite's quick_check as every task starts; a damaged queue is moved aside and rebuilt
    from what can be read (the notice then follows every task's output)."""
    if not (data_dir / DB_NAME).exists():
        return
    queue, _ = open_sound(data_dir, thorough=True, now=wall_now())
    queue.close()


def _start_a_drainer_for_ready_work(ctx: TaskContext) -> None:
    """Any run that finds work ready and no drainer starts one: a drainer killed or crashed is
    then replaced by the next task, not only by the next save. Creates no queue."""
    data_dir = ctx.settings.data_dir
    if not (data_dir / DB_NAME).is_file():
        return
    now = wall_now()
    with JobQueue(data_dir) as queue:
        ready = queue.has_ready(now=now)
    if ready:
        ensure_drainer(ctx.server_connection, data_dir, now=now)
