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
    from typing import NamedTuple as Record
else:
    from plexsync_actors.core.records import Record

_DIGITS = re.compile(r"[0-9]{1,19}")
SYNC_HOOKS = {"Scene.Update.Post", "Scene.Create.Post"}
DROP_HOOKS = {"Scene.Destroy.Post"}
# Changes that reach scenes with no scene hook: the kind of entity, and what happened to it.
ENTITY_HOOKS = {
    "Performer.Update.Post": ("performer", "rename"),
    "Performer.Destroy.Post": ("performer", "destroy"),
    "Studio.Update.Post": ("studio", "rename"),
    "Studio.Destroy.Post": ("studio", "destroy"),
    "Tag.Update.Post": ("tag", "rename"),
    "Tag.Merge.Post": ("tag", "merge"),
    "Tag.Destroy.Post": ("tag", "destroy"),
}
_HANDLED = SYNC_HOOKS | DROP_HOOKS | set(ENTITY_HOOKS)
# What Plex shows of an entity: its name. A changed description, image or alias shows nowhere.
SHOWN_FIELDS = frozenset({"name"})

MAX_SCENE_ID = 2**63 - 1  # SQLite's INTEGER


def _hook_type(hook_context: Any) -> str:
    if not isinstance(hook_context, dict):
        raise InputError("args.hookContext is not an object: Stash sends {'id': …, 'type': …}.")
    hook_type = hook_context.get("type")
    if not isinstance(hook_type, str) or hook_type not in _HANDLED:
        raise InputError(
            f"hookContext.type {values.shown(hook_type)} is not a hook PlexSync handles: it "
            "listens to Scene.Update.Post, Scene.Create.Post, Scene.Destroy.Post and the "
            "Update, Merge and Destroy hooks of tags, performers and studios."
        )
    return hook_type


def _id_or_none(raw: Any) -> int | None:
    found = -1
    if isinstance(raw, int) and not isinstance(raw, bool):
        found = raw
    elif isinstance(raw, str) and _DIGITS.fullmatch(raw.strip()):
        found = int(raw.strip())  # at most 19 ASCII digits: no giant int conversion
    return found if 0 < found <= MAX_SCENE_ID else None


def _hook_id(hook_context: dict[str, Any], hook_type: str, what: str) -> int:
    found = _id_or_none(hook_context.get("id"))
    if found is None:
        raise InputError(
            f"hookContext.id of {hook_type} is {values.shown(hook_context.get('id'))}, not a "
            f"{what} id (a whole number from 1)."
        )
    return found


def scene_id_of(hook_context: Any) -> tuple[int, str]:
    """The hook's scene id and type: the only fields the hook trusts (contract §8)."""
    hook_type = _hook_type(hook_context)
    if hook_type in ENTITY_HOOKS:
        raise InputError(f"{hook_type} is not a scene hook.")
    return _hook_id(hook_context, hook_type, "scene"), hook_type


class EntityChange(Record):
    """What an entity hook announced: which entity, what happened, and a merge's sources."""

    kind: str
    entity_id: int
    action: str
    sources: tuple[int, ...]
    shown: bool  # whether it can change what Plex shows (an update that left the name: no)
    name: str | None  # an update's `input.name`, when it sent one


def entity_change_of(hook_context: Any) -> EntityChange:
    """Read an entity hook: its id and type, a merge's `input.source` ids (Stash sends
    `{source: [ids], destination: id}`) and an update's `inputFields` (absent: assume a name
    change, as nothing says otherwise)."""
    hook_type = _hook_type(hook_context)
    if hook_type not in ENTITY_HOOKS:
        raise InputError(f"{hook_type} is not a tag, performer or studio hook.")
    kind, action = ENTITY_HOOKS[hook_type]
    entity_id = _hook_id(hook_context, hook_type, kind)
    given = hook_context.get("input")
    given = given if isinstance(given, dict) else {}
    sources: tuple[int, ...] = ()
    if action == "merge":
        raw = given.get("source")
        found = (_id_or_none(s) for s in (raw if isinstance(raw, list) else ()))
        sources = tuple(sorted({s for s in found if s is not None and s != entity_id}))
    fields = hook_context.get("inputFields")
    shown = True
    if action == "rename" and isinstance(fields, list):
        shown = any(isinstance(f, str) and f in SHOWN_FIELDS for f in fields)
    name = given.get("name") if action == "rename" else None
    return EntityChange(
        kind=kind,
        entity_id=entity_id,
        action=action,
        sources=sources,
        shown=shown,
        name=name if isinstance(name, str) and name.strip() else None,
    )


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
    data_dir: str,
    item_id: int,
    hook_type: str,
    change: EntityChange | None,
    now: float,
    stderr: IO[str],
) -> tuple[dict[str, Any], bool]:
    """Queue (or drop) the scene `item_id`, or queue the entity change (`item_id` is then the
    entity's); a damaged queue is repaired first and the change still kept. Returns the output
    and whether work waits for a drainer."""
    output: dict[str, Any]
    for attempt in (1, 2):
        try:
            queue, notice = open_sound(data_dir, thorough=False, now=now)
            if notice is not None:
                log_line(stderr, WARNING, notice.sentence())
            with queue:
                if (
                    change is not None
                    and change.name is not None
                    and queue.all_show(change.kind, change.entity_id, change.name)
                ):
                    # Stash's edit forms send the name with every save: the name every synced
                    # scene already shows is no rename.
                    output = {"fan_out": None}
                elif change is not None:
                    queue.add_fan_out(
                        change.kind,
                        change.entity_id,
                        change.action,
                        sources=change.sources,
                        now=now,
                    )
                    output = {"fan_out": _fan_out_output(change)}
                elif hook_type in DROP_HOOKS:
                    output = {"dropped": item_id if queue.drop(item_id) else None}
                else:
                    queue.enqueue(item_id, reason=hook_type, now=now)
                    output = {"queued": item_id}
                return output, queue.has_work(now=now)
        except sqlite3.DatabaseError as exc:
            if attempt == 2 or not is_damage(exc):
                raise
            log_line(stderr, WARNING, repair(data_dir, str(exc), now=now).sentence())
    raise AssertionError("unreachable")


def _fan_out_output(change: EntityChange) -> dict[str, Any]:
    return {"kind": change.kind, "id": change.entity_id, "action": change.action}


def run_hook(
    data: dict[str, Any], *, now: float, stderr: IO[str], start_drainer: bool = True
) -> Any:
    """Handle one hook invocation; returns the `output` value."""
    context = data["args"].get("hookContext")
    change = None
    if _hook_type(context) in ENTITY_HOOKS:
        change = entity_change_of(context)
        if not change.shown:  # a description or an image: nothing Plex shows, nothing to do
            return {"fan_out": None}
        item_id, hook_type = change.entity_id, context["type"]
        subject = f"The {change.action} of {change.kind} {item_id}"
        again = f"make the change to the {change.kind} again"
    else:
        item_id, hook_type = scene_id_of(context)
        subject, again = f"Scene {item_id}", "save the scene again"
    conn = data.get("server_connection")
    url = server_connection.base_url(conn)
    assert isinstance(conn, dict)
    try:
        raw = fetch_plugin_settings_sync(url, server_connection.auth_headers(conn), PLUGIN_ID)
    except StashUnavailable as exc:
        data_dir = recalled_data_dir(conn)
        if data_dir is None:
            raise DataDirError(
                f"{subject} was not queued: PlexSync could not read its settings from "
                f"Stash ({exc}), so it does not know its data_dir yet. "
                f"{again[0].upper()}{again[1:]} once Stash answers."
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
        output, ready = _queue_it(data_dir, item_id, hook_type, change, now, stderr)
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DataDirError(
            f"Could not queue {subject[0].lower()}{subject[1:]} in {values.shown(data_dir)} "
            f"({values.shown(reason)[1:-1]}): set data_dir to a folder PlexSync may write to, "
            f"then {again}."
        ) from exc
    if start_drainer and ready:  # any run that finds work waiting and no drainer starts one
        ensure_drainer(conn, data_dir, now=now)
    return output
