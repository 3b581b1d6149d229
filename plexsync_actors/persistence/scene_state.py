"""Per-scene sync memory: what PlexSync last wrote to each Plex item, and its poster."""

from __future__ import annotations

import json

from plexsync_actors.persistence.database import Database

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the hook milliseconds at run time
    from typing import Any


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
