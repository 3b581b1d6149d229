"""What PlexSync reads from Plex: libraries (sections), movies (items) and the server's identity."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class Section:
    id: str
    title: str
    kind: str
    locations: tuple[str, ...]


@attrs.frozen(kw_only=True)
class PlexItem:
    """A movie as Plex holds it. From a listing the tag lists are truncated; use `metadata()`."""

    rating_key: str
    section_id: str
    title: str = ""
    summary: str = ""
    studio: str = ""
    originally_available_at: str = ""
    year: int | None = None
    genres: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    locked: frozenset[str] = frozenset()
    thumb: str = ""


@attrs.frozen(kw_only=True)
class Identity:
    version: str
    machine_id: str
    latency_ms: float


def _tags(meta: dict[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(t.get("tag", "")) for t in meta.get(key, []) or [] if t.get("tag"))


def item_from_json(meta: dict[str, Any], section_id: str) -> PlexItem:
    """One `Metadata` element of a Plex JSON answer."""
    files = tuple(
        str(part.get("file", ""))
        for media in meta.get("Media", []) or []
        for part in media.get("Part", []) or []
        if part.get("file")
    )
    year = meta.get("year")
    return PlexItem(
        rating_key=str(meta.get("ratingKey", "")),
        section_id=str(meta.get("librarySectionID", section_id)),
        title=str(meta.get("title", "") or ""),
        summary=str(meta.get("summary", "") or ""),
        studio=str(meta.get("studio", "") or ""),
        originally_available_at=str(meta.get("originallyAvailableAt", "") or ""),
        year=int(year) if isinstance(year, (int, str)) and str(year).isdigit() else None,
        genres=_tags(meta, "Genre"),
        actors=_tags(meta, "Role"),
        collections=_tags(meta, "Collection"),
        files=files,
        locked=frozenset(
            str(f.get("name")) for f in meta.get("Field", []) or [] if f.get("locked")
        ),
        thumb=str(meta.get("thumb", "") or ""),
    )
