"""Per-scene sync memory: what PlexSync last wrote to each Plex item, its poster, which items the
scene's last full match found, and the Stash data (time, tags, performers, studio) last synced."""

from __future__ import annotations

import json

from plexsync_actors.persistence.database import Database

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the hook milliseconds at run time
    from collections.abc import Iterable
    from typing import Any
    from typing import NamedTuple as Record
else:
    from plexsync_actors.core.records import Record


ENTITY_KINDS = ("tag", "performer", "studio")


class StoredMatch(Record):
    """The items (rating key, library id) a scene's last full match found, one per library, and
    the libraries that match searched."""

    items: tuple[tuple[str, str], ...]
    sections: frozenset[str]
    matched_at: float


class SceneStates(Database):
    """The per-scene state operations of the queue database (mixed into `JobQueue`)."""

    def scene_state(
        self, scene_id: int, rating_key: str
    ) -> tuple[dict[str, Any], str | None, str | None]:
        """What PlexSync last wrote to this item: (fields, poster_url, poster_sha256)."""
        row = self._db.execute(
            """SELECT written, poster_url, poster_sha256 FROM scene_state
               WHERE scene_id = ? AND rating_key = ?""",
            (scene_id, rating_key),
        ).fetchone()
        if row is None:
            return {}, None, None
        return json.loads(row[0]), row[1], row[2]

    def save_scene_state(
        self,
        scene_id: int,
        rating_key: str,
        *,
        written: dict[str, Any],
        poster_url: str | None,
        poster_sha256: str | None,
        now: float,
    ) -> None:
        with self._write() as db:
            db.execute(
                """INSERT INTO scene_state (scene_id, rating_key, written, poster_url,
                       poster_sha256, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (scene_id, rating_key) DO UPDATE SET written = excluded.written,
                       poster_url = excluded.poster_url, poster_sha256 = excluded.poster_sha256,
                       updated_at = excluded.updated_at""",
                (
                    scene_id,
                    rating_key,
                    json.dumps(written, sort_keys=True),
                    poster_url,
                    poster_sha256,
                    now,
                ),
            )

    def stored_match(self, scene_id: int) -> StoredMatch | None:
        """The scene's last full match, or None (never matched, or forgotten)."""
        row = self._db.execute(
            "SELECT items, sections, matched_at FROM scene_match WHERE scene_id = ?", (scene_id,)
        ).fetchone()
        if row is None:
            return None
        try:
            items = tuple((str(key), str(section)) for key, section in json.loads(row[0]))
            sections = frozenset(str(section) for section in json.loads(row[1]))
        except (ValueError, TypeError):
            return None  # only a shortcut: the next full match writes it again
        return StoredMatch(items=items, sections=sections, matched_at=float(row[2]))

    def save_match(
        self,
        scene_id: int,
        *,
        items: Iterable[tuple[str, str]],
        sections: Iterable[str],
        now: float,
    ) -> None:
        pairs = sorted({(str(key), str(section)) for key, section in items})
        with self._write() as db:
            db.execute(
                """INSERT INTO scene_match (scene_id, items, sections, matched_at)
                   VALUES (?, ?, ?, ?)
                   ON CONFLICT (scene_id) DO UPDATE SET items = excluded.items,
                       sections = excluded.sections, matched_at = excluded.matched_at""",
                (scene_id, json.dumps(pairs), json.dumps(sorted(set(sections))), now),
            )

    def save_synced(
        self, scene_id: int, updated_at: str, entities: Iterable[tuple[str, int, str]] = ()
    ) -> None:
        """Stash's `updated_at` of the scene data just synced (the catch-up skips the scene
        while Stash reports that same time), and the tags, performers and studio (kind, id,
        name) it showed: after a destroy, Stash no longer knows which scenes had the entity."""
        rows = sorted({(kind, int(eid), scene_id, name) for kind, eid, name in entities})
        with self._write() as db:
            db.execute(
                """INSERT OR REPLACE INTO scene_synced (scene_id, updated_at, entities)
                   VALUES (?, ?, 1)""",
                (scene_id, updated_at),
            )
            db.execute("DELETE FROM scene_entities WHERE scene_id = ?", (scene_id,))
            db.executemany(
                """INSERT OR REPLACE INTO scene_entities (kind, entity_id, scene_id, name)
                   VALUES (?, ?, ?, ?)""",
                rows,
            )

    def synced_times(self, scene_ids: Iterable[int]) -> dict[int, str]:
        """Stash's `updated_at` at each of these scenes' last sync (absent: never synced)."""
        query = "SELECT scene_id, updated_at FROM scene_synced WHERE scene_id IN ({marks})"
        return {int(sid): str(at) for sid, at in self._rows_for_scenes(query, scene_ids)}

    def scenes_showing(self, kind: str, entity_ids: Iterable[int]) -> list[int]:
        """The scenes whose last sync showed any of these entities, lowest id first."""
        query = "SELECT scene_id FROM scene_entities WHERE kind = ? AND entity_id IN ({marks})"
        rows = self._rows_for_scenes(query, sorted({int(e) for e in entity_ids}), (kind,))
        return sorted({int(row[0]) for row in rows})

    def entities_of(self, kind: str, scene_ids: Iterable[int]) -> dict[int, dict[int, str]]:
        """The entities of `kind` ({id: name}, maybe none) each of these scenes showed at its
        last sync; a scene absent is unknown (never synced, or synced by an older PlexSync)."""
        if kind not in ENTITY_KINDS:
            raise ValueError(f"not an entity kind: {kind!r}")
        wanted = list(scene_ids)
        known: dict[int, dict[int, str]] = {}
        synced = "SELECT scene_id FROM scene_synced WHERE entities = 1 AND scene_id IN ({marks})"
        for (scene_id,) in self._rows_for_scenes(synced, wanted):
            known[int(scene_id)] = {}
        shown = """SELECT scene_id, entity_id, name FROM scene_entities
                   WHERE kind = ? AND scene_id IN ({marks})"""
        for scene_id, entity_id, name in self._rows_for_scenes(shown, list(known), (kind,)):
            known[int(scene_id)][int(entity_id)] = str(name)
        return known

    def entity_name(self, kind: str, entity_id: int) -> str | None:
        """The name the entity had at the last sync of a scene that showed it."""
        row = self._db.execute(
            "SELECT name FROM scene_entities WHERE kind = ? AND entity_id = ? LIMIT 1",
            (kind, entity_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def forget_match(self, scene_id: int) -> None:
        with self._write() as db:
            db.execute("DELETE FROM scene_match WHERE scene_id = ?", (scene_id,))
