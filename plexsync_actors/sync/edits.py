"""What to write to a Plex item for a scene: a pure diff of Stash's values against Plex's.

Field rules of contract §7: every written field is locked; tag lists are sent whole together with
the explicit removal of what Plex holds beyond them (so removals reach Plex whether PMS replaces
or appends indexed tags); an empty Stash title never blanks Plex's; a partial date sets only the
year; the studio collection is the only collection PlexSync manages; and `preserve_plex_edits`
leaves alone fields whose Plex value differs from what PlexSync last wrote.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from plexsync_actors.plex.models import PlexItem
from plexsync_actors.settings import Settings
from plexsync_actors.stash.models import Scene

_FULL_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


@attrs.frozen(kw_only=True)
class EditPlan:
    """The query parameters of one PUT, and the values PlexSync will have written after it."""

    params: tuple[tuple[str, str], ...]
    written: dict[str, Any]
    changed_fields: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.params


def plan_edit(
    scene: Scene, item: PlexItem, settings: Settings, last_written: dict[str, Any]
) -> EditPlan:
    params: list[tuple[str, str]] = []
    written = dict(last_written)
    changed: list[str] = []

    def edited_in_plex(field: str, plex_value: Any) -> bool:
        return (
            settings.preserve_plex_edits
            and field in last_written
            and _comparable(last_written[field]) != _comparable(plex_value)
        )

    def scalar(field: str, wanted: str, current: str, *, blank_ok: bool) -> None:
        if not wanted and not (blank_ok and last_written.get(field)):
            return  # never blank a field PlexSync did not fill itself
        # A Plex value that already equals Stash's is in sync, not an edit made in Plex (it may be
        # our own write whose answer was lost): it is remembered as written.
        if wanted != current and edited_in_plex(field, current):
            return
        written[field] = wanted
        if wanted != current:
            params.extend([(f"{field}.value", wanted), (f"{field}.locked", "1")])
            changed.append(field)

    title = (scene.title or "").strip()
    scalar("title", title, item.title, blank_ok=False)
    if settings.sync_summary:
        scalar("summary", scene.details or "", item.summary, blank_ok=True)
    if settings.sync_studio:
        scalar("studio", scene.studio or "", item.studio, blank_ok=True)
    if settings.sync_date:
        # A partial date sets only the year; a date PlexSync wrote earlier is cleared when the
        # scene's date becomes partial or empty (it would contradict the year otherwise).
        date = (scene.date or "").strip()
        full, partial = _FULL_DATE.match(date), _PARTIAL_DATE.match(date)
        year = full.group(1) if full else partial.group(1) if partial else ""
        current_date = item.originally_available_at
        scalar("originallyAvailableAt", date if full else "", current_date, blank_ok=True)
        current_year = str(item.year) if item.year is not None else ""
        scalar("year", year, current_year, blank_ok=True)
    if settings.sync_tags:
        genres = _dedupe(scene.tags)[: settings.max_tags]
        _plan_tags("genre", genres, item.genres, params, written, changed, edited_in_plex)
    if settings.sync_performers:
        actors = _dedupe(scene.performers)
        _plan_tags("actor", actors, item.actors, params, written, changed, edited_in_plex)
    if settings.sync_collection:
        _plan_collection(scene.studio or "", item, last_written, params, written, changed)
    return EditPlan(params=tuple(params), written=written, changed_fields=tuple(changed))


def _plan_tags(
    field: str,
    wanted: list[str],
    current: tuple[str, ...],
    params: list[tuple[str, str]],
    written: dict[str, Any],
    changed: list[str],
    edited_in_plex: Any,
) -> None:
    in_sync = _fold(wanted) == _fold(current)
    if not in_sync and edited_in_plex(field, current):
        return
    written[field] = sorted(wanted)
    if in_sync:
        return
    _send_list(field, wanted, current, params)
    changed.append(field)


def _plan_collection(
    studio: str,
    item: PlexItem,
    last_written: dict[str, Any],
    params: list[tuple[str, str]],
    written: dict[str, Any],
    changed: list[str],
) -> None:
    managed_before = last_written.get("collection")
    keep = [c for c in item.collections if managed_before is None or c != managed_before]
    wanted = _dedupe([*keep, studio] if studio else keep)
    written["collection"] = studio or None
    if _fold(wanted) == _fold(item.collections):
        return
    _send_list("collection", wanted, item.collections, params)
    changed.append("collection")


def _send_list(
    field: str, wanted: list[str], current: tuple[str, ...], params: list[tuple[str, str]]
) -> None:
    """The wanted list and, in the same PUT, the removal of what Plex holds beyond it.

    Whether PMS replaces the list with indexed tags or adds them is uncertain (the sources
    disagree), so the edit is right under both: indexed tags for what is wanted, then the names
    to drop, which PMS decodes twice. An indexed list cannot be empty: then only the removal."""
    params.extend((f"{field}[{i}].tag.tag", name) for i, name in enumerate(wanted))
    keep = _fold(wanted)
    removed = [name for name in current if name.casefold() not in keep]
    if removed:
        params.append((f"{field}[].tag.tag-", ",".join(_encode_name(n) for n in removed)))
    params.append((f"{field}.locked", "1"))


def _encode_name(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _dedupe(names: Any) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for raw in names:
        name = str(raw).strip()
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out


def _fold(names: Any) -> set[str]:
    return {str(n).casefold() for n in names}


def _comparable(value: Any) -> Any:
    """Tag lists compare as Plex treats tags: without order or case."""
    return _fold(value) if isinstance(value, (list, tuple)) else value
