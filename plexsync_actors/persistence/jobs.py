"""The durable job queue, in SQLite inside `data_dir` (see `database` for the file).

Jobs coalesce per scene: a newer change bumps the job's `version`, so a change that arrives while
the scene is being synced survives the completion of the older one. Leases expire, so the job of
a killed worker is taken again. Standard library only: the hook path imports this module.
"""

from __future__ import annotations

import json

from plexsync_actors.errors import OUTAGE_ERROR_TYPES
from plexsync_actors.persistence.database import POSTER_RETRY, UPSERT_JOB, Failure, Job
from plexsync_actors.persistence.dead_letters import DeadLetters
from plexsync_actors.persistence.fan_outs import FanOuts
from plexsync_actors.persistence.outage_scenes import OutageScenes
from plexsync_actors.persistence.scene_state import SceneStates

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the hook milliseconds at run time
    from collections.abc import Sequence
    from typing import NamedTuple as Record
else:
    from plexsync_actors.core.records import Record

_OUTAGE_TYPES = tuple(sorted(OUTAGE_ERROR_TYPES))

ENQUEUE_CHUNK = 500
# meta key: Stash's `updated_at` of the newest change the catch-up looked at (sync.catch_up)
WATERMARK_KEY = "catch_up_watermark"
FLOOR_KEY = "catch_up_floor"  # changes up to this one are not looked at (install, Clear Queue)
class QueueCounts(Record):
    pending: int
    in_flight: int
    waiting_retry: int
    dlq_total: int
    dlq_by_error_type: dict[str, int]


class JobQueue(DeadLetters, SceneStates, OutageScenes, FanOuts):
    """The queue database of one data dir: jobs here; dead letters, per-scene state, the
    scenes each outage affected and the entity changes to fan out mixed in."""

    def __enter__(self) -> JobQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- producers ---------------------------------------------------------------------------
    def enqueue(self, scene_id: int, *, reason: str, now: float) -> None:
        """Queue the scene's latest change; a pending job for it is replaced, not duplicated."""
        with self._write() as db:
            db.execute(
                UPSERT_JOB,
                (scene_id, reason, now, now, now),
            )

    def enqueue_many(self, scene_ids: Sequence[int], *, reason: str, now: float) -> int:
        """Queue many scenes, ENQUEUE_CHUNK to a transaction: a Sync All of 50,000 scenes must
        not hold the write lock so long that the drainer's actors wait on it (their timers
        would freeze)."""
        for start in range(0, len(scene_ids), ENQUEUE_CHUNK):
            self.enqueue_batch(scene_ids[start : start + ENQUEUE_CHUNK], reason=reason, now=now)
        return len(scene_ids)

    def enqueue_batch(self, scene_ids: Sequence[int], *, reason: str, now: float) -> int:
        """Queue `scene_ids` in one transaction, each as `enqueue` would: all or none, and one
        durable commit (one fsync) for the lot. The caller keeps batches to a few thousand
        scenes, so the write lock is held for tens of milliseconds at most."""
        with self._write() as db:
            db.executemany(UPSERT_JOB, [(sid, reason, now, now, now) for sid in scene_ids])
        return len(scene_ids)

    def drop(self, scene_id: int) -> bool:
        """Forget pending work for a scene (it was deleted in Stash)."""
        with self._write() as db:
            cur = db.execute("DELETE FROM jobs WHERE scene_id = ?", (scene_id,))
            db.execute("DELETE FROM scene_state WHERE scene_id = ?", (scene_id,))
            db.execute("DELETE FROM scene_match WHERE scene_id = ?", (scene_id,))
            db.execute("DELETE FROM scene_synced WHERE scene_id = ?", (scene_id,))
            db.execute("DELETE FROM scene_entities WHERE scene_id = ?", (scene_id,))
        return cur.rowcount > 0

    # -- consumer ----------------------------------------------------------------------------
    def lease_next(self, *, owner: str, now: float, lease_seconds: float) -> Job | None:
        """Take the next ready job (due, and not leased by a live worker)."""
        with self._write() as db:
            row = db.execute(
                """SELECT scene_id, version, attempts, notfound_attempts, first_failure_at, reason,
                          failures, poster_retries
                   FROM jobs
                   WHERE next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
                   ORDER BY next_attempt_at, scene_id LIMIT 1""",
                (now, now),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                """UPDATE jobs SET lease_owner = ?, lease_until = ?, leased_version = version
                   WHERE scene_id = ?""",
                (owner, now + lease_seconds, row[0]),
            )
        return Job(
            scene_id=int(row[0]),
            version=int(row[1]),
            attempts=int(row[2]),
            notfound_attempts=int(row[3]),
            first_failure_at=row[4],
            reason=str(row[5]),
            failures=int(row[6]),
            poster_retries=int(row[7]),
        )

    def complete(self, job: Job, *, now: float, poster_retry_at: float | None = None) -> bool:
        """The job's change reached Plex. Returns False when a newer change is still pending.

        With `poster_retry_at`, the scene's poster is still to come: a poster-only retry is
        queued for then (unless a newer change is pending, which brings the poster along)."""
        with self._write() as db:
            cur = db.execute(
                "DELETE FROM jobs WHERE scene_id = ? AND version = ?", (job.scene_id, job.version)
            )
            if cur.rowcount:
                # The scene's latest change is in Plex: its older dead letters are settled.
                db.execute("DELETE FROM dlq WHERE scene_id = ?", (job.scene_id,))
                if poster_retry_at is not None:
                    db.execute(
                        """INSERT INTO jobs (scene_id, reason, first_enqueued_at, enqueued_at,
                               next_attempt_at, poster_retries) VALUES (?, ?, ?, ?, ?, ?)""",
                        (
                            job.scene_id,
                            POSTER_RETRY,
                            now,
                            now,
                            poster_retry_at,
                            job.poster_retries + 1,
                        ),
                    )
                return True
            # A newer change arrived while we synced: keep it, ready at once, with a clean slate.
            db.execute(
                """UPDATE jobs SET lease_owner = NULL, lease_until = NULL, leased_version = NULL,
                       attempts = 0, notfound_attempts = 0, failures = 0, next_attempt_at = ?,
                       first_failure_at = NULL
                   WHERE scene_id = ?""",
                (now, job.scene_id),
            )
        return False

    def release(self, job: Job, *, retry_at: float) -> None:
        """Give a job back untouched (not the job's fault: Stash unavailable, shutdown)."""
        with self._write() as db:
            db.execute(
                """UPDATE jobs SET lease_owner = NULL, lease_until = NULL, leased_version = NULL,
                       next_attempt_at = ? WHERE scene_id = ?""",
                (retry_at, job.scene_id),
            )

    def retry(self, job: Job, failure: Failure, *, retry_at: float, notfound: bool = False) -> None:
        """Record a failed attempt and schedule the next one."""
        counter = "notfound_attempts" if notfound else "attempts"
        charge = 1 if failure.charged else 0
        with self._write() as db:
            history = self._history_with(db, job.scene_id, failure)
            db.execute(
                f"""UPDATE jobs SET {counter} = {counter} + ?, failures = failures + 1,
                       next_attempt_at = ?,
                       last_error_type = ?, last_error = ?, last_http_status = ?,
                       first_failure_at = COALESCE(first_failure_at, ?), last_failure_at = ?,
                       history = ?, lease_owner = NULL, lease_until = NULL, leased_version = NULL
                   WHERE scene_id = ?""",  # noqa: S608 - counter is one of two literals
                (
                    charge,
                    retry_at,
                    failure.error_type,
                    failure.message,
                    failure.http_status,
                    failure.at,
                    failure.at,
                    history,
                    job.scene_id,
                ),
            )

    def clear_leases(self) -> int:
        """Drop every lease: called by the lock holder at start, when no other worker can exist."""
        with self._write() as db:
            cur = db.execute(
                """UPDATE jobs SET lease_owner = NULL, lease_until = NULL, leased_version = NULL
                   WHERE lease_owner IS NOT NULL"""
            )
        return cur.rowcount

    # -- outages ----------------------------------------------------------------------------
    def has_work(self, *, now: float) -> bool:
        """Whether a drainer has something to do now: a ready job, or a fan-out to expand."""
        return self.has_ready(now=now) or self.has_fan_outs()

    def has_ready(self, *, now: float) -> bool:
        row = self._db.execute(
            """SELECT 1 FROM jobs WHERE next_attempt_at <= ?
               AND (lease_until IS NULL OR lease_until < ?) LIMIT 1""",
            (now, now),
        ).fetchone()
        return row is not None

    def pending_scene_ids(self) -> set[int]:
        return {int(row[0]) for row in self._db.execute("SELECT scene_id FROM jobs")}

    def refund_attempts(self, *, since: float) -> int:
        """Give back attempts charged at or after `since` (an outage window): a flapping Plex
        must never dead-letter a job. Returns how many jobs got attempts back."""
        refunded = 0
        with self._write() as db:
            rows = db.execute("SELECT scene_id, attempts, history FROM jobs WHERE attempts > 0")
            for scene_id, attempts, raw in rows.fetchall():
                history = json.loads(raw)
                charged = sum(
                    1
                    for h in history
                    if h.get("charged")
                    and h.get("at", 0) >= since
                    and h.get("error_type") != "PlexNotFound"
                )
                if charged:
                    for h in history:
                        if h.get("at", 0) >= since and h.get("error_type") != "PlexNotFound":
                            h["charged"] = False
                    db.execute(
                        "UPDATE jobs SET attempts = ?, history = ? WHERE scene_id = ?",
                        (max(0, attempts - charged), json.dumps(history), scene_id),
                    )
                    refunded += 1
        return refunded

    def wake_outage_jobs(self, *, now: float) -> int:
        """Plex is back: jobs waiting out the outage become ready at once (the ramp paces them)."""
        placeholders = ",".join("?" for _ in _OUTAGE_TYPES)
        with self._write() as db:
            cur = db.execute(
                f"""UPDATE jobs SET next_attempt_at = ?, failures = 0
                    WHERE next_attempt_at > ? AND last_error_type IN ({placeholders})""",  # noqa: S608
                (now, now, *_OUTAGE_TYPES),
            )
        return cur.rowcount

    # -- status and maintenance --------------------------------------------------------------
    def counts(self, *, now: float) -> QueueCounts:
        # Three indexed counts, not one pass over every row: Queue Status is polled, and the
        # queue may hold 100,000 scenes after a Sync All. Waiting rows are the few whose next
        # attempt lies ahead (a save is ready at once); leased rows have their own index.
        db = self._db
        (pending,) = db.execute("SELECT COUNT(*) FROM jobs").fetchone()
        (in_flight,) = db.execute(
            "SELECT COUNT(*) FROM jobs WHERE lease_until IS NOT NULL AND lease_until >= ?", (now,)
        ).fetchone()
        (waiting,) = db.execute(
            """SELECT COUNT(*) FROM jobs WHERE next_attempt_at > ?
                   AND (last_failure_at IS NOT NULL OR reason = ?)
                   AND (lease_until IS NULL OR lease_until < ?)""",
            (now, POSTER_RETRY, now),
        ).fetchone()
        by_type = {
            str(t): int(n)
            for t, n in self._db.execute(
                "SELECT error_type, COUNT(*) FROM dlq GROUP BY error_type ORDER BY error_type"
            )
        }
        return QueueCounts(
            pending=int(pending),
            in_flight=int(in_flight),
            waiting_retry=int(waiting),
            dlq_total=sum(by_type.values()),
            dlq_by_error_type=by_type,
        )

    def pending_among(self, scene_ids: Sequence[int]) -> set[int]:
        """Those of `scene_ids` with a job in the queue (waiting, leased or retrying)."""
        query = "SELECT scene_id FROM jobs WHERE scene_id IN ({marks})"
        return {int(row[0]) for row in self._rows_for_scenes(query, scene_ids)}

    def pending_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])

    def clear_queue(self) -> int:
        """Drop every waiting scene, and the entity changes not yet expanded into scenes."""
        with self._write() as db:
            db.execute("DELETE FROM fan_outs")
            return db.execute("DELETE FROM jobs").rowcount
