"""Which scenes each outage affected: one row per outage and scene, so each counts once."""

from __future__ import annotations

from plexsync_actors.persistence.database import Database

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


class OutageScenes(Database):
    """The outage-scene operations of the queue database (mixed into `JobQueue`)."""

    def mark_affected(self, outage: int, scene_ids: Iterable[int]) -> int:
        """Note scenes held back or failed in `outage`; how many distinct ones it has now."""
        with self._write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO outage_scenes (outage, scene_id) VALUES (?, ?)",
                ((outage, scene_id) for scene_id in scene_ids),
            )
        return self.affected_count(outage)

    def mark_waiting_affected(self, outage: int) -> int:
        """Every scene waiting in the queue is held back by `outage`; the count it has now."""
        with self._write() as db:
            db.execute(
                """INSERT OR IGNORE INTO outage_scenes (outage, scene_id)
                   SELECT ?, scene_id FROM jobs""",
                (outage,),
            )
        return self.affected_count(outage)

    def affected_count(self, outage: int) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM outage_scenes WHERE outage = ?", (outage,)
        ).fetchone()
        return int(row[0])

    def affected_scene_ids(self, outage: int) -> set[int]:
        rows = self._db.execute("SELECT scene_id FROM outage_scenes WHERE outage = ?", (outage,))
        return {int(row[0]) for row in rows}

    def forget_outages_but(self, kept: Iterable[int]) -> None:
        """Drop the scenes of outages no longer in the history (it keeps the last 30)."""
        keep = sorted(set(kept))
        marks = ", ".join("?" for _ in keep) or "NULL"
        with self._write() as db:
            db.execute(
                f"DELETE FROM outage_scenes WHERE outage NOT IN ({marks})",  # noqa: S608
                keep,
            )
