"""The durable job queue and dead-letter queue, in SQLite inside `data_dir`.

Safe for many processes at once (WAL, busy timeout, `BEGIN IMMEDIATE` for every write). Jobs
coalesce per scene: a newer change bumps the job's `version`, so a change that arrives while the
scene is being synced survives the completion of the older one. Leases expire, so the job of a
killed worker is taken again. Standard library only: the hook path imports this module.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

DB_NAME = "queue.sqlite3"
OUTAGE_TYPES = ("PlexServerDown", "PlexTemporaryError", "PlexUnauthorized")
SCHEMA_VERSION = 1
HISTORY_LIMIT = 50

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    scene_id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1,
    reason TEXT NOT NULL,
    first_enqueued_at REAL NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    notfound_attempts INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error_type TEXT,
    last_error TEXT,
    last_http_status INTEGER,
    first_failure_at REAL,
    last_failure_at REAL,
    history TEXT NOT NULL DEFAULT '[]',
    lease_owner TEXT,
    lease_until REAL,
    leased_version INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (next_attempt_at);
CREATE TABLE IF NOT EXISTS dlq (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scene_id INTEGER NOT NULL,
    error_type TEXT NOT NULL,
    message TEXT NOT NULL,
    http_status INTEGER,
    attempts INTEGER NOT NULL,
    first_failure_at REAL NOT NULL,
    last_failure_at REAL NOT NULL,
    dead_at REAL NOT NULL,
    history TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS dlq_scene ON dlq (scene_id);
CREATE TABLE IF NOT EXISTS scene_state (
    scene_id INTEGER NOT NULL,
    rating_key TEXT NOT NULL,
    written TEXT NOT NULL DEFAULT '{}',
    poster_url TEXT,
    poster_sha256 TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (scene_id, rating_key)
);
"""


# A newer change replaces a pending one: same row, version bumped.
_UPSERT_JOB = """
    INSERT INTO jobs (scene_id, reason, first_enqueued_at, enqueued_at, next_attempt_at)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (scene_id) DO UPDATE SET
        version = version + 1, reason = excluded.reason, enqueued_at = excluded.enqueued_at"""


class Job(NamedTuple):
    """A leased job: the scene to sync and the version of its latest change when leased."""

    scene_id: int
    version: int
    attempts: int
    notfound_attempts: int
    first_failure_at: float | None
    reason: str
    failures: int = 0  # every failed attempt, charged or not: drives the backoff exponent


class Failure(NamedTuple):
    """One failed attempt, as stored in a job's history and in the DLQ."""

    error_type: str
    message: str
    http_status: int | None
    at: float
    charged: bool


class QueueCounts(NamedTuple):
    pending: int
    in_flight: int
    waiting_retry: int
    dlq_total: int
    dlq_by_error_type: dict[str, int]


class DeadLetter(NamedTuple):
    id: int
    scene_id: int
    error_type: str
    message: str
    http_status: int | None
    attempts: int
    first_failure_at: float
    last_failure_at: float


class JobQueue:
    """One connection to the queue database; open one per process (or per thread)."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_NAME
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout = 30000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._ensure_schema()

    def _ensure_schema(self) -> None:
        row = None
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is not None:
            return
        with self._write():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)",
                (str(SCHEMA_VERSION),),
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> JobQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- meta -------------------------------------------------------------------------------
    def set_meta_if_absent(self, key: str, value: str) -> str:
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    # -- producers ---------------------------------------------------------------------------
    def enqueue(self, scene_id: int, *, reason: str, now: float) -> None:
        """Queue the scene's latest change; a pending job for it is replaced, not duplicated."""
        with self._write() as db:
            db.execute(
                _UPSERT_JOB,
                (scene_id, reason, now, now, now),
            )

    def enqueue_many(self, scene_ids: list[int], *, reason: str, now: float) -> int:
        with self._write() as db:
            db.executemany(
                _UPSERT_JOB,
                [(sid, reason, now, now, now) for sid in scene_ids],
            )
        return len(scene_ids)

    def drop(self, scene_id: int) -> bool:
        """Forget pending work for a scene (it was deleted in Stash)."""
        with self._write() as db:
            cur = db.execute("DELETE FROM jobs WHERE scene_id = ?", (scene_id,))
            db.execute("DELETE FROM scene_state WHERE scene_id = ?", (scene_id,))
        return cur.rowcount > 0

    # -- consumer ----------------------------------------------------------------------------
    def lease_next(self, *, owner: str, now: float, lease_seconds: float) -> Job | None:
        """Take the next ready job (due, and not leased by a live worker)."""
        with self._write() as db:
            row = db.execute(
                """SELECT scene_id, version, attempts, notfound_attempts, first_failure_at, reason,
                          failures
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
        )

    def complete(self, job: Job, *, now: float) -> bool:
        """The job's change reached Plex. Returns False when a newer change is still pending."""
        with self._write() as db:
            cur = db.execute(
                "DELETE FROM jobs WHERE scene_id = ? AND version = ?", (job.scene_id, job.version)
            )
            if cur.rowcount:
                # The scene's latest change is in Plex: its older dead letters are settled.
                db.execute("DELETE FROM dlq WHERE scene_id = ?", (job.scene_id,))
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

    def _history_with(self, db: sqlite3.Connection, scene_id: int, failure: Failure) -> str:
        row = db.execute("SELECT history FROM jobs WHERE scene_id = ?", (scene_id,)).fetchone()
        history: list[dict[str, Any]] = json.loads(row[0]) if row else []
        history.append(
            {
                "at": failure.at,
                "error_type": failure.error_type,
                "message": failure.message,
                "http_status": failure.http_status,
                "charged": failure.charged,
            }
        )
        return json.dumps(history[-HISTORY_LIMIT:])

    def clear_leases(self) -> int:
        """Drop every lease: called by the lock holder at start, when no other worker can exist."""
        with self._write() as db:
            cur = db.execute(
                """UPDATE jobs SET lease_owner = NULL, lease_until = NULL, leased_version = NULL
                   WHERE lease_owner IS NOT NULL"""
            )
        return cur.rowcount

    # -- outages ----------------------------------------------------------------------------
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
        placeholders = ",".join("?" for _ in OUTAGE_TYPES)
        with self._write() as db:
            cur = db.execute(
                f"""UPDATE jobs SET next_attempt_at = ?, failures = 0
                    WHERE next_attempt_at > ? AND last_error_type IN ({placeholders})""",  # noqa: S608
                (now, now, *OUTAGE_TYPES),
            )
        return cur.rowcount

    # -- status and maintenance --------------------------------------------------------------
    def counts(self, *, now: float) -> QueueCounts:
        pending, in_flight, waiting = self._db.execute(
            """SELECT COUNT(*),
                      COALESCE(SUM(lease_until IS NOT NULL AND lease_until >= ?), 0),
                      COALESCE(SUM(last_failure_at IS NOT NULL AND next_attempt_at > ?
                                   AND (lease_until IS NULL OR lease_until < ?)), 0)
               FROM jobs""",
            (now, now, now),
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

    def pending_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])

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

    def clear_queue(self) -> int:
        with self._write() as db:
            return db.execute("DELETE FROM jobs").rowcount

    def clear_dlq(self) -> int:
        with self._write() as db:
            return db.execute("DELETE FROM dlq").rowcount

    def purge_dlq(self, *, older_than: float) -> int:
        with self._write() as db:
            return db.execute("DELETE FROM dlq WHERE dead_at < ?", (older_than,)).rowcount

    # -- per-scene sync memory ------------------------------------------------------------------
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
