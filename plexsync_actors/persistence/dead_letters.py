"""The dead-letter queue: jobs that will not succeed by retrying, kept with their history.

A job moves here and back in one transaction each way, so it is always in exactly one place.
"""

from __future__ import annotations

from plexsync_actors.persistence.database import Database, Failure, Job

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the hook milliseconds at run time
    from typing import NamedTuple as Record
else:
    from plexsync_actors.core.records import Record


class DeadLetter(Record):
    id: int
    scene_id: int
    error_type: str
    message: str
    http_status: int | None
    attempts: int
    first_failure_at: float
    last_failure_at: float


class DeadLetters(Database):
    """The DLQ operations of the queue database (mixed into `JobQueue`)."""

    def dead_letter(self, job: Job, failure: Failure) -> None:
        """Move the job to the DLQ in one transaction (a newer change stays queued)."""
        with self._write() as db:
            history = self._history_with(db, job.scene_id, failure)
            row = db.execute(
                "SELECT attempts, first_failure_at FROM jobs WHERE scene_id = ?", (job.scene_id,)
            ).fetchone()
            attempts = (int(row[0]) if row else job.attempts) + (1 if failure.charged else 0)
            first = row[1] if row and row[1] is not None else failure.at
            db.execute(
                """INSERT INTO dlq (scene_id, error_type, message, http_status, attempts,
                       first_failure_at, last_failure_at, dead_at, history)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    job.scene_id,
                    failure.error_type,
                    failure.message,
                    failure.http_status,
                    attempts,
                    first,
                    failure.at,
                    failure.at,
                    history,
                ),
            )
            cur = db.execute(
                "DELETE FROM jobs WHERE scene_id = ? AND version = ?", (job.scene_id, job.version)
            )
            if not cur.rowcount:
                db.execute(
                    """UPDATE jobs SET lease_owner = NULL, lease_until = NULL,
                           leased_version = NULL, attempts = 0, notfound_attempts = 0, failures = 0,
                           first_failure_at = NULL, history = '[]'
                       WHERE scene_id = ?""",
                    (job.scene_id,),
                )

    def dead_letter_waiting(self, job: Job) -> bool:
        """Move a job whose last failure is already recorded (it waited for the breaker's word)
        to the DLQ as it stands, in one transaction. A newer change stays queued, with a clean
        slate. False when the job is gone (dropped, or synced by then)."""
        with self._write() as db:
            row = db.execute(
                """SELECT last_error_type, last_error, last_http_status, attempts,
                          first_failure_at, last_failure_at, history, version
                   FROM jobs WHERE scene_id = ? AND last_error_type IS NOT NULL""",
                (job.scene_id,),
            ).fetchone()
            if row is None:
                return False
            kind, message, status, attempts, first, last, history, version = row
            db.execute(
                """INSERT INTO dlq (scene_id, error_type, message, http_status, attempts,
                       first_failure_at, last_failure_at, dead_at, history)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (job.scene_id, kind, message, status, attempts, first, last, last, history),
            )
            if version == job.version:
                db.execute("DELETE FROM jobs WHERE scene_id = ?", (job.scene_id,))
            else:
                db.execute(
                    """UPDATE jobs SET attempts = 0, notfound_attempts = 0, failures = 0,
                           first_failure_at = NULL, history = '[]', next_attempt_at = ?
                       WHERE scene_id = ?""",
                    (last, job.scene_id),
                )
        return True

    def newest_dead_letters(self, n: int) -> list[DeadLetter]:
        """The `n` entries that failed last, newest first."""
        rows = self._db.execute(
            """SELECT id, scene_id, error_type, message, http_status, attempts,
                      first_failure_at, last_failure_at FROM dlq
               ORDER BY last_failure_at DESC, id DESC LIMIT ?""",
            (n,),
        ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def dead_letters(self) -> list[DeadLetter]:
        rows = self._db.execute(
            """SELECT id, scene_id, error_type, message, http_status, attempts,
                      first_failure_at, last_failure_at FROM dlq ORDER BY id"""
        ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def requeue_dead_letters(self, ids: list[int], *, now: float) -> tuple[int, int]:
        """Move DLQ entries back to the queue atomically, each with a fresh attempt count and
        its failure history kept. An entry whose scene is already queued stays in the DLQ
        (the queued change supersedes it and clears it once synced). Returns
        (recovered, already_queued)."""
        recovered = already = 0
        with self._write() as db:
            for entry_id in ids:
                row = db.execute(
                    "SELECT scene_id, history FROM dlq WHERE id = ?", (entry_id,)
                ).fetchone()
                if row is None:
                    continue  # gone since it was listed (another run recovered it)
                scene_id, history = int(row[0]), str(row[1])
                queued = db.execute("SELECT 1 FROM jobs WHERE scene_id = ?", (scene_id,))
                if queued.fetchone() is not None:
                    already += 1
                    continue
                db.execute(
                    """INSERT INTO jobs (scene_id, reason, first_enqueued_at, enqueued_at,
                           next_attempt_at, history) VALUES (?, 'dlq', ?, ?, ?, ?)""",
                    (scene_id, now, now, now, history),
                )
                db.execute("DELETE FROM dlq WHERE id = ?", (entry_id,))
                recovered += 1
        return recovered, already

    def clear_dlq(self) -> int:
        with self._write() as db:
            return db.execute("DELETE FROM dlq").rowcount

    def purge_dlq(self, *, older_than: float) -> int:
        with self._write() as db:
            return db.execute("DELETE FROM dlq WHERE dead_at < ?", (older_than,)).rowcount
