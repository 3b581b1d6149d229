"""The read-only task modes, Queue Status and Outage Summary, run without trio or httpx.

They only read the queue and the state files: the PlexSync page polls Queue Status every few
seconds, and Stash waits for each run, so they skip the task loop and the HTTP client (an
`httpx.AsyncClient` builds an SSL context even for a plain-http Stash). The settings come with
the hook's standard-library request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plexsync_actors.errors import PlexSyncError
from plexsync_actors.plugin import task_frame
from plexsync_actors.plugin.protocol import lenient_bool
from plexsync_actors.plugin.status import outage_summary_now, queue_status_now
from plexsync_actors.settings import Settings
from plexsync_actors.stash.connection import connection_from

READ_TASKS: dict[str, Callable[[Settings], dict[str, Any]]] = {
    "queue_status": queue_status_now,
    "outage_summary": outage_summary_now,
}


def run_read_task(data: dict[str, Any]) -> Any:
    args = data["args"]
    mode = args["mode"]
    server_connection = data.get("server_connection")
    conn = connection_from(server_connection)
    assert isinstance(server_connection, dict)
    settings = task_frame.load_settings_now(conn)
    if settings is None:
        return "disabled"
    quiet = lenient_bool(args.get("quiet"), default=False)
    task_frame.begin(settings, args, thorough=not quiet)
    try:
        output = task_frame.repair_and_retry(settings, lambda: READ_TASKS[mode](settings))
    except PlexSyncError as exc:
        task_frame.failed(settings, mode, str(exc))
        raise
    return task_frame.finish(settings, server_connection, mode, output)
