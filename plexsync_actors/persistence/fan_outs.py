"""Fan-outs: a renamed, merged or deleted tag, performer or studio, waiting to become scene jobs.

An entity hook queues one durable row (kind, id, what happened); the drainer expands it into
scene jobs page by page (`sync.fan_out`), each page's jobs committed in the same transaction as
the row's progress, so a kill neither loses a page nor queues one twice. What each scene showed
at its last sync is kept with the rest of its sync memory (`scene_state`). Standard library
only: the hook path imports it.
"""

from __future__ import annotations

import json

from plexsync_actors.persistence.database import UPSERT_JOB, Database

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the hook milliseconds at run time
    from collections.abc import Sequence
    from typing import NamedTuple as Record
else:
    from plexsync_actors.core.records import Record

PAST = {"rename": "renamed", "merge": "merged", "destroy": "deleted"}  # the actions

# A second hook for the same entity and action while its fan-out waits starts that fan-out over
# (the scenes it already queued coalesce with their pending jobs).
_ADD_FAN_OUT = """
    INSERT INTO fan_outs (kind, entity_id, action, sources, created_at)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (kind, entity_id, action) DO UPDATE SET
        sources = excluded.sources, created_at = excluded.created_at, name = NULL,
        label = NULL, total = NULL, seen = 0, queued = 0, cursor = 0"""

_COLUMNS = (
    "id, kind, entity_id, action, sources, created_at, name, label, total, seen, queued, cursor"
)


class FanOut(Record):
    """One waiting fan-out and how far its expansion got."""

    id: int
    kind: str  # tag, performer or studio
    entity_id: int
    action: str  # rename, merge or destroy
    sources: tuple[int, ...]  # a merge's source tags (gone from Stash by now)
    created_at: float
    name: str | None  # the entity's name (new name), read when the expansion starts
    label: str | None  # what happened, for the status line: "Tag 'Outdoor' renamed"
    total: int | None  # scenes to look at, once Stash counted them
    seen: int  # scenes looked at so far
    queued: int  # scene jobs queued so far
    cursor: int  # the highest scene id looked at (Stash's pages are sorted by id)


class FanOuts(Database):
    """The fan-out operations of the queue database (mixed into `JobQueue`)."""

    def add_fan_out(
        self, kind: str, entity_id: int, action: str, *, sources: Sequence[int] = (), now: float
    ) -> None:
        """The hook's part: one durable row. A destroy ends what else waited for the entity:
        Stash has nothing left to walk for it."""
        with self._write() as db:
            if action == "destroy":
                db.execute(
                    "DELETE FROM fan_outs WHERE kind = ? AND entity_id = ? AND action != ?",
                    (kind, entity_id, action),
                )
            db.execute(_ADD_FAN_OUT, (kind, entity_id, action, json.dumps(list(sources)), now))

    def all_show(self, kind: str, entity_id: int, name: str) -> bool:
        """Whether scenes synced with the entity exist and each one's last sync showed `name`
        (and no fan-out for it still waits): an update that sent that name renamed nothing."""
        db = self._db
        found = db.execute(
            """SELECT MIN(name = ?), COUNT(*) FROM scene_entities
               WHERE kind = ? AND entity_id = ?""",
            (name, kind, entity_id),
        ).fetchone()
        waiting = db.execute(
            "SELECT 1 FROM fan_outs WHERE kind = ? AND entity_id = ? LIMIT 1", (kind, entity_id)
        ).fetchone()
        return bool(found[1]) and bool(found[0]) and waiting is None

    def has_fan_outs(self) -> bool:
        return self._db.execute("SELECT 1 FROM fan_outs LIMIT 1").fetchone() is not None

    def fan_outs(self) -> list[FanOut]:
        """Every waiting fan-out, oldest first."""
        query = f"SELECT {_COLUMNS} FROM fan_outs ORDER BY created_at, id"  # noqa: S608
        return [_fan_out(row) for row in self._db.execute(query).fetchall()]

    def start_fan_out(self, fan_out: FanOut, *, name: str | None, label: str) -> FanOut | None:
        """Keep the entity's name and the status label; None when a newer hook restarted it."""
        with self._write() as db:
            cur = db.execute(
                "UPDATE fan_outs SET name = ?, label = ? WHERE id = ? AND created_at = ?",
                (name, label, fan_out.id, fan_out.created_at),
            )
        return fan_out._replace(name=name, label=label) if cur.rowcount else None

    def advance_fan_out(
        self,
        fan_out: FanOut,
        *,
        seen: Sequence[int],
        queue: Sequence[int],
        reason: str,
        total: int,
        done: bool,
        now: float,
    ) -> FanOut | None:
        """Queue `queue` (among the scenes `seen`, lowest id first) and record the progress in
        one transaction: after a kill the expansion resumes after the last page committed.
        `done` removes the row. None, with nothing written, when the row changed meanwhile (a
        newer hook restarted it, or another drainer advanced it)."""
        cursor = max(seen, default=fan_out.cursor)
        after = fan_out._replace(
            total=total,
            seen=fan_out.seen + len(seen),
            queued=fan_out.queued + len(queue),
            cursor=cursor,
        )
        with self._write() as db:
            row = db.execute(
                "SELECT created_at, seen FROM fan_outs WHERE id = ?", (fan_out.id,)
            ).fetchone()
            if row is None or (row[0], row[1]) != (fan_out.created_at, fan_out.seen):
                return None
            db.executemany(UPSERT_JOB, [(sid, reason, now, now, now) for sid in queue])
            if done:
                db.execute("DELETE FROM fan_outs WHERE id = ?", (fan_out.id,))
            else:
                db.execute(
                    "UPDATE fan_outs SET total = ?, seen = ?, queued = ?, cursor = ? WHERE id = ?",
                    (after.total, after.seen, after.queued, after.cursor, fan_out.id),
                )
        return after


def _fan_out(row: tuple[object, ...]) -> FanOut:
    raw_id, kind, entity_id, action, sources, created_at, name, label, total, *counts = row
    try:
        source_ids = tuple(int(s) for s in json.loads(str(sources)))
    except (ValueError, TypeError):
        source_ids = ()
    seen, queued, cursor = (int(str(n)) for n in counts)
    return FanOut(
        id=int(str(raw_id)),
        kind=str(kind),
        entity_id=int(str(entity_id)),
        action=str(action),
        sources=source_ids,
        created_at=float(str(created_at)),
        name=None if name is None else str(name),
        label=None if label is None else str(label),
        total=None if total is None else int(str(total)),
        seen=seen,
        queued=queued,
        cursor=cursor,
    )


def status_line(fan_out: FanOut) -> str:
    """The fan-out's line in Queue Status, such as
    "Tag 'Outdoor' renamed: 1,240 of 3,000 scenes queued"."""
    if fan_out.label is None or fan_out.total is None:
        label = fan_out.label or (
            f"{fan_out.kind.title()} {fan_out.entity_id} {PAST.get(fan_out.action, '?')}"
        )
        return f"{label}: waiting for the drainer to find its scenes"
    return f"{fan_out.label}: {fan_out.seen:,} of {fan_out.total:,} scenes queued"
