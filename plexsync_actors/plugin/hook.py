"""The hook fast path: queue the scene durably, make sure a drainer runs, exit.

Imports neither trio nor httpx (nor attrs): Stash waits for this process before it answers the
user's save. Per contract §8 the hook trusts only `hookContext.id` and `type`, and queues whenever
the data dir is usable, even if Plex settings are wrong (they are checked at drain time).
"""

from __future__ import annotations

import os
import re
import sqlite3

from plexsync_actors import PLUGIN_ID
from plexsync_actors.core import values
from plexsync_actors.drainer.control import ensure_drainer
from plexsync_actors.errors import DataDirError, InputError, StashUnavailable
from plexsync_actors.persistence.database import DB_NAME, is_damage
from plexsync_actors.persistence.repair import open_sound, repair
from plexsync_actors.plugin.protocol import WARNING, log_line
from plexsync_actors.stash import server_connection
from plexsync_actors.stash.settings_fetch import fetch_plugin_settings_sync

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the hook milliseconds at run time
    from typing import IO, Any

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


def data_dir_from(raw: dict[str, Any], conn: dict[str, Any]) -> str:
    configured = raw.get("data_dir")
    if isinstance(configured, str) and configured.strip():
        if "\x00" in configured:
            raise DataDirError(
                f"Setting data_dir {values.shown(configured)} holds a NUL byte: set it to a "
                "folder PlexSync may write to, then save the scene again."
            )
        return configured.strip()
    default = values.default_data_dir(server_connection.stash_dir(conn))
    if default is None:
        raise InputError(
            "Stash sent no config Dir and the data_dir setting is empty: set data_dir in "
            "Settings > Plugins > PlexSync."
        )
    return default


POINTER_NAME = "PlexSync.data_dir"  # in {Dir}/plugin_data: the data dir last in force


def remember_data_dir(conn: dict[str, Any], data_dir: str) -> None:
    """Keep, beside the default data dir, where the settings last put the queue: a hook that
    cannot read the settings (Stash restarting) must still queue there, not elsewhere."""
    pointer = _pointer(conn)
    if pointer is None:
        return
    text = os.path.abspath(data_dir)
    try:
        if _read_text(pointer) == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    try:
        os.makedirs(os.path.dirname(pointer), exist_ok=True)
        partial = f"{pointer}.partial"
        with open(partial, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(partial, pointer)
    except OSError:
        pass  # only a later hook without settings is affected, and it says so


def recalled_data_dir(conn: dict[str, Any]) -> str | None:
    """The data dir last in force, or the default one when it holds a queue; else None."""
    pointer = _pointer(conn)
    if pointer is not None:
        try:
            text = _read_text(pointer).strip()
        except (OSError, UnicodeDecodeError):
            text = ""
        if text and "\x00" not in text:
            return text
    default = values.default_data_dir(server_connection.stash_dir(conn))
    try:
        if default is not None and os.path.isfile(os.path.join(default, DB_NAME)):
            return default
    except OSError:  # a name no file system takes: there is no queue there
        pass
    return None


def _pointer(conn: dict[str, Any]) -> str | None:
    stash_dir = server_connection.stash_dir(conn)
    return os.path.join(stash_dir, "plugin_data", POINTER_NAME) if stash_dir else None


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read()


def _queue_it(
    data_dir: str, scene_id: int, hook_type: str, now: float, stderr: IO[str]
) -> tuple[dict[str, Any], bool]:
    """Queue (or drop) the scene; a damaged queue is repaired first and the save still kept.
    Returns the output and whether ready work waits."""
    for attempt in (1, 2):
        try:
            queue, notice = open_sound(data_dir, thorough=False, now=now)
            if notice is not None:
                log_line(stderr, WARNING, notice.sentence())
            with queue:
                if hook_type in DROP_HOOKS:
                    output = {"dropped": scene_id if queue.drop(scene_id) else None}
                else:
                    queue.enqueue(scene_id, reason=hook_type, now=now)
                    output = {"queued": scene_id}
                return output, queue.has_ready(now=now)
        except sqlite3.DatabaseError as exc:
            if attempt == 2 or not is_damage(exc):
                raise
            log_line(stderr, WARNING, repair(data_dir, str(exc), now=now).sentence())
    raise AssertionError("unreachable")


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
        data_dir = recalled_data_dir(conn)
        if data_dir is None:
            raise DataDirError(
                f"Scene {scene_id} was not queued: PlexSync could not read its settings from "
                f"Stash ({exc}), so it does not know its data_dir yet. Save the scene again "
                "once Stash answers."
            ) from exc
        log_line(
            stderr,
            WARNING,
            f"Could not read PlexSync settings ({exc}); queued in the data folder last in "
            f"force ({values.shown(data_dir)[1:-1]}).",
        )
    else:
        if values.enabled(raw) is False:  # a malformed switch (None) must not lose saves
            return "disabled"
        data_dir = data_dir_from(raw, conn)
        remember_data_dir(conn, data_dir)
    try:
        output, ready = _queue_it(data_dir, scene_id, hook_type, now, stderr)
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DataDirError(
            f"Could not queue scene {scene_id} in {values.shown(data_dir)} "
            f"({values.shown(reason)[1:-1]}): set data_dir to a folder PlexSync may write to, "
            "then save the scene again."
        ) from exc
    if start_drainer and ready:  # any run that finds ready work and no drainer starts one
        ensure_drainer(conn, data_dir, now=now)
    return output
