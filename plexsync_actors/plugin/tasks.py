"""Task runs (contract §4): read the settings in force, relay the drainer's news, run the mode.

Each mode returns the `output` value of its one JSON answer; the table `TASKS` names them all.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from plexsync_actors.core.values import shown
from plexsync_actors.errors import InputError, PlexSyncError
from plexsync_actors.plugin import dlq_tasks, health_task, queue_tasks, status, task_frame
from plexsync_actors.plugin.check_setup import check_setup, run_checks
from plexsync_actors.plugin.context import Handler, TaskContext
from plexsync_actors.plugin.protocol import Progress, stderr_stream
from plexsync_actors.runtime.config import load_settings
from plexsync_actors.stash.connection import StashConnection, connection_from

log = logging.getLogger(__name__)

TASKS: dict[str, Handler] = {
    "queue_status": status.queue_status,
    "outage_summary": status.outage_summary,
    "health_check": health_task.health_check,
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
    task_frame.begin(settings, args)
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
        task_frame.failed(settings, mode, str(exc))
        raise
    drains = handler in (queue_tasks.background_sync, queue_tasks.process_queue)
    return task_frame.finish(
        settings, server_connection, mode, output, may_start_drainer=not drains
    )
