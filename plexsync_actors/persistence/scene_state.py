"""Per-scene sync memory: what PlexSync last wrote to each Plex item, its poster, and which items
the scene's last full match found."""

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

    def save_synced(self, scene_id: int, updated_at: str) -> None:
        """Stash's `updated_at` of the scene data just synced: the catch-up skips the scene
        while Stash reports that same time."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO scene_synced (scene_id, updated_at) VALUES (?, ?)",
                (scene_id, updated_at),
            )

    def synced_times(self, scene_ids: Iterable[int]) -> dict[int, str]:
        """Stash's `updated_at` at each of these scenes' last sync (absent: never synced)."""
        query = "SELECT scene_id, updated_at FROM scene_synced WHERE scene_id IN ({marks})"
        return {int(sid): str(at) for sid, at in self._rows_for_scenes(query, scene_ids)}

    def forget_match(self, scene_id: int) -> None:
        with self._write() as db:
            db.execute("DELETE FROM scene_match WHERE scene_id = ?", (scene_id,))
