"""The fake Plex library: items, sections, how edits change an item and how Plex shows one.

Kept apart from `fake_plex`, which adds the HTTP routes, the faults and the locking.
"""

from __future__ import annotations

import ntpath
import posixpath
from dataclasses import dataclass, field
from typing import Any, Literal

from plexsync_actors.testing import fake_plex_wire as wire


@dataclass
class FakeItem:
    """One movie in the fake library. `FakePlex.item` hands out the live object: assert on it, or
    change it to play a user editing in Plex (hold `FakePlex.lock` while a server is running)."""

    rating_key: int
    section_id: int
    title: str
    files: list[str]
    summary: str = ""
    studio: str = ""
    originally_available_at: str | None = None
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    locked: set[str] = field(default_factory=set)
    posters: list[bytes] = field(default_factory=list)
    put_count: int = 0
    updated_at: int = 1_700_000_000  # Plex's `updatedAt`: every edit moves it

    @property
    def thumb(self) -> str:
        """The poster URL Plex reports: it carries `updatedAt`, so every edit changes it."""
        return f"/library/metadata/{self.rating_key}/thumb/{self.updated_at}"

    @property
    def art(self) -> str:
        return f"/library/metadata/{self.rating_key}/art/{self.updated_at}"

    def touch(self) -> None:
        """Plex's bookkeeping after any change: a new `updatedAt` (and so new image URLs)."""
        self.updated_at += 1


# Whether indexed tags (`genre[0].tag.tag=…`) replace the item's list or are added to it: the
# sources disagree (python-plexapi re-sends old tags; Plexopedia and the community spec say
# added), so the fake can play either and PlexSync must be right under both.
TagMode = Literal["replace", "append"]


@dataclass(frozen=True)
class RecordedRequest:
    """A request as it reached the server: `path` without the query, `query` raw (undecoded),
    header names lower-cased, `time` from `time.monotonic()`."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    time: float

    def params(self) -> list[tuple[str, str]]:
        """(raw key, decoded value) pairs, read the way PMS reads them."""
        return wire.parse_query(self.query)


@dataclass
class Section:
    id: int
    title: str
    kind: str
    locations: list[tuple[int, str]]  # (location id, path)


def apply_edit(item: FakeItem, plan: wire.EditPlan, tag_mode: TagMode = "replace") -> None:
    """Change `item` as one successful PUT does."""
    for name, value in plan.scalars.items():
        setattr(item, name, value)
    for kind, names in plan.replaced.items():
        kept: list[str] = getattr(item, wire.TAG_FIELDS[kind]) if tag_mode == "append" else []
        known = {name.casefold() for name in kept}  # a tag is the same tag in any case
        added = [name for name in names if name.casefold() not in known]
        setattr(item, wire.TAG_FIELDS[kind], [*kept, *added])
    for kind, names in plan.removed.items():
        present: list[str] = getattr(item, wire.TAG_FIELDS[kind])
        setattr(item, wire.TAG_FIELDS[kind], [name for name in present if name not in names])
    for name, locked in plan.locks.items():
        if locked:
            item.locked.add(name)
        else:
            item.locked.discard(name)
    item.put_count += 1
    item.touch()


def metadata(item: FakeItem, *, full: bool) -> dict[str, Any]:
    """An item as `/library/metadata/{key}` (full) or a listing (truncated tags) shows it."""
    payload: dict[str, Any] = {
        "ratingKey": str(item.rating_key),
        "key": f"/library/metadata/{item.rating_key}",
        "guid": f"local://{item.rating_key}",
        "type": "movie",
        "title": item.title,
        "summary": item.summary,
        "studio": item.studio or None,
        "year": item.year,
        "originallyAvailableAt": item.originally_available_at,
        "librarySectionID": item.section_id,
        "updatedAt": item.updated_at,
        "thumb": item.thumb,
        "art": item.art,
        "Media": [_media(item.rating_key * 100 + n, path) for n, path in enumerate(item.files)],
    }
    for kind, element in wire.TAG_ELEMENTS.items():
        names: list[str] = getattr(item, wire.TAG_FIELDS[kind])
        payload[element] = wire.tags(names, None if full else wire.LISTING_TAG_LIMITS[kind])
    if full:
        payload["Field"] = [{"name": name, "locked": True} for name in sorted(item.locked)]
    return compact(payload)


def _media(media_id: int, path: str) -> dict[str, Any]:
    """One version of a movie: Plex makes a Media with one Part for each file."""
    return {"id": media_id, "Part": [{"id": media_id, "file": path}]}


def compact(payload: dict[str, Any]) -> dict[str, Any]:
    """Drop absent values and empty lists, as PMS leaves them out of its answers."""
    return {key: value for key, value in payload.items() if value is not None and value != []}


def file_matches(item: FakeItem, wanted: str) -> bool:
    """PMS's `file=` filter matches by folder, not by file: the client must confirm the file."""
    return any(path == wanted or _folder(path) == _folder(wanted) for path in item.files)


def stem(path: str) -> str:
    """A file's name without folder and extension: the title Plex's scanner would give it."""
    name = ntpath.basename(path) if "\\" in path else posixpath.basename(path)
    return name.rsplit(".", 1)[0] if "." in name else name


def _folder(path: str) -> str:
    return ntpath.dirname(path) if "\\" in path else posixpath.dirname(path)
