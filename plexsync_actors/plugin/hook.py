"""The hook fast path: queue the scene durably, make sure a drainer runs, exit.

Imports neither trio nor httpx (nor attrs): Stash waits for this process before it answers the
user's save. Per contract §8 the hook trusts only `hookContext.id` and `type`, and queues whenever
the data dir is usable, even if Plex settings are wrong (they are checked at drain time).
"""

from __future__ import annotations

import re
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

_DIGITS = re.compile(r"[0-9]{1,19}")
SYNC_HOOKS = {"Scene.Update.Post", "Scene.Create.Post"}
DROP_HOOKS = {"Scene.Destroy.Post"}


MAX_SCENE_ID = 2**63 - 1  # SQLite's INTEGER


def scene_id_of(hook_context: Any) -> tuple[int, str]:
    """The hook's scene id and type: the only fields the hook trusts (contract §8)."""
    if not isinstance(hook_context, dict):
        raise InputError("args.hookContext is not an object: Stash sends {'id': …, 'type': …}.")
    hook_type = hook_context.get("type")
    if not isinstance(hook_type, str) or hook_type not in SYNC_HOOKS | DROP_HOOKS:
        raise InputError(
            f"hookContext.type {values.shown(hook_type)} is not a hook PlexSync handles: it "
            "listens to Scene.Update.Post, Scene.Create.Post and Scene.Destroy.Post."
        )
    raw_id = hook_context.get("id")
    scene_id = -1
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        scene_id = raw_id
    elif isinstance(raw_id, str) and _DIGITS.fullmatch(raw_id.strip()):
        scene_id = int(raw_id.strip())  # at most 19 ASCII digits: no giant int conversion
    if not 0 < scene_id <= MAX_SCENE_ID:
        raise InputError(
            f"hookContext.id of {hook_type} is {values.shown(raw_id)}, not a scene id "
            "(a whole number from 1)."
        )
    return scene_id, hook_type


def data_dir_from(raw: dict[str, Any], conn: dict[str, Any]) -> Path:
    configured = raw.get("data_dir")
    if isinstance(configured, str) and configured.strip():
        if "\x00" in configured:
            raise DataDirError(
                f"Setting data_dir {values.shown(configured)} holds a NUL byte: set it to a "
                "folder PlexSync may write to, then save the scene again."
            )
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
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DataDirError(
            f"Could not queue scene {scene_id} in {values.shown(str(data_dir))} "
            f"({values.shown(reason)[1:-1]}): set data_dir to a folder PlexSync may write to, "
            "then save the scene again."
        ) from exc
    if start_drainer:
        ensure_drainer(conn, data_dir)
    return {"queued": scene_id}
