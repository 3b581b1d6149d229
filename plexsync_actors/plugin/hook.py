"""The hook fast path: queue the scene durably, make sure a drainer runs, exit.

Imports neither trio nor httpx (nor attrs): Stash waits for this process before it answers the
user's save. Per contract §8 the hook trusts only `hookContext.id` and `type`, and queues whenever
the data dir is usable, even if Plex settings are wrong (they are checked at drain time).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import IO, Any

from plexsync_actors import PLUGIN_ID
from plexsync_actors.core import values
from plexsync_actors.drainer.control import ensure_drainer
from plexsync_actors.errors import DataDirError, InputError, StashUnavailable
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.plugin.protocol import WARNING, log_line
from plexsync_actors.stash import server_connection
from plexsync_actors.stash.settings_fetch import fetch_plugin_settings_sync

SYNC_HOOKS = {"Scene.Update.Post", "Scene.Create.Post"}
DROP_HOOKS = {"Scene.Destroy.Post"}


def scene_id_of(hook_context: Any) -> tuple[int, str]:
    if not isinstance(hook_context, dict):
        raise InputError("args.hookContext is not an object: Stash sends {'id': …, 'type': …}.")
    hook_type = hook_context.get("type")
    if hook_type not in SYNC_HOOKS | DROP_HOOKS:
        raise InputError(
            f"Hook type {hook_type!r} is not handled: PlexSync listens to Scene.Update.Post, "
            "Scene.Create.Post and Scene.Destroy.Post."
        )
    raw_id = hook_context.get("id")
    scene_id = -1
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        scene_id = raw_id
    elif isinstance(raw_id, str) and raw_id.strip().isdigit():
        scene_id = int(raw_id)
    if scene_id <= 0:
        raise InputError(f"Hook {hook_type} came without a valid scene id (got {raw_id!r}).")
    return scene_id, str(hook_type)


def data_dir_from(raw: dict[str, Any], conn: dict[str, Any]) -> Path:
    configured = raw.get("data_dir")
    if isinstance(configured, str) and configured.strip():
        return Path(configured.strip())
    default = values.default_data_dir(server_connection.stash_dir(conn))
    if default is None:
        raise InputError(
            "Stash sent no config Dir and the data_dir setting is empty: set data_dir in "
            "Settings > Plugins > PlexSync."
        )
    return default


def run_hook(
    data: dict[str, Any], *, now: float, stderr: IO[str], start_drainer: bool = True
) -> Any:
    """Handle one hook invocation; returns the `output` value."""
    scene_id, hook_type = scene_id_of(data["args"].get("hookContext"))
    conn = data.get("server_connection")
    url = server_connection.base_url(conn)
    assert isinstance(conn, dict)
    try:
        raw = fetch_plugin_settings_sync(url, server_connection.auth_headers(conn), PLUGIN_ID)
    except StashUnavailable as exc:
        log_line(
            stderr, WARNING, f"Could not read PlexSync settings ({exc}); queued with defaults."
        )
        raw = {}
    if values.enabled(raw) is False:  # a malformed switch (None) must not lose saves
        return "disabled"
    data_dir = data_dir_from(raw, conn)
    try:
        with JobQueue(data_dir) as queue:
            if hook_type in DROP_HOOKS:
                dropped = queue.drop(scene_id)
                return {"dropped": scene_id if dropped else None}
            queue.enqueue(scene_id, reason=hook_type, now=now)
    except (OSError, sqlite3.Error) as exc:
        raise DataDirError(
            f"Could not queue scene {scene_id} in {data_dir} ({exc}): set data_dir to a folder "
            "PlexSync may write to, then save the scene again."
        ) from exc
    if start_drainer:
        ensure_drainer(conn, data_dir)
    return {"queued": scene_id}
