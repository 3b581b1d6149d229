"""The queue database in `data_dir`: one SQLite file for jobs, dead letters and per-scene state.

Safe for many processes at once (WAL, busy timeout, `BEGIN IMMEDIATE` for every write). This
module owns the connection and the schema; `jobs`, `dead_letters` and `scene_state` hold the
operations on each table. Standard library only: the hook path imports it.
"""

from __future__ import annotations

import json
import os
import sqlite3

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing, contextlib and pathlib cost the hook milliseconds at run time
    from collections.abc import Iterable
    from typing import Any
    from typing import NamedTuple as Record

    from plexsync_actors.core.values import StrPath
else:
    from plexsync_actors.core.records import Record

DB_NAME = "queue.sqlite3"
# Written once the schema exists: a queue file found empty after that was damaged, not new.
CREATED_NAME = "queue.created"
SCHEMA_VERSION = 7
HISTORY_LIMIT = 50

# The reason of a poster-only retry (Stash had served its placeholder instead of a cover).
POSTER_RETRY = "poster"

# A newer change (a save, or a fanned-out rename) replaces a pending one: same row, version
# bumped. A poster retry waiting for its time is replaced outright: the change is synced now,
# poster included.
UPSERT_JOB = f"""
    INSERT INTO jobs (scene_id, reason, first_enqueued_at, enqueued_at, next_attempt_at)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (scene_id) DO UPDATE SET
        version = version + 1, reason = excluded.reason, enqueued_at = excluded.enqueued_at,
        next_attempt_at = CASE WHEN jobs.reason = '{POSTER_RETRY}'
                               THEN excluded.next_attempt_at ELSE jobs.next_attempt_at END,
        poster_retries = 0"""  # noqa: S608 - a constant

_LEASED_INDEX = (
    "CREATE INDEX IF NOT EXISTS jobs_leased ON jobs (lease_until) WHERE lease_until IS NOT NULL"
)
_SYNCED_TABLE = """CREATE TABLE IF NOT EXISTS scene_synced (
    scene_id INTEGER PRIMARY KEY, updated_at TEXT NOT NULL)"""
# Schema 7: what each scene showed at its last sync, and the entity changes to fan out. A new
# queue gets scene_synced with its `entities` column at once: every statement of `_SCHEMA` must
# be idempotent, since two processes may create the same new queue one after the other.
_SYNCED_ENTITIES = "ALTER TABLE scene_synced ADD COLUMN entities INTEGER NOT NULL DEFAULT 0"
_SYNCED_TABLE_7 = _SYNCED_TABLE.replace(
    "updated_at TEXT NOT NULL)", "updated_at TEXT NOT NULL, entities INTEGER NOT NULL DEFAULT 0)"
)
_ENTITY_SCHEMA = """
CREATE TABLE IF NOT EXISTS scene_entities (
    kind TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    scene_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (kind, entity_id, scene_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS scene_entities_scene ON scene_entities (scene_id);
CREATE TABLE IF NOT EXISTS fan_outs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL,
    name TEXT,
    label TEXT,
    total INTEGER,
    seen INTEGER NOT NULL DEFAULT 0,
    queued INTEGER NOT NULL DEFAULT 0,
    cursor INTEGER NOT NULL DEFAULT 0,
    UNIQUE (kind, entity_id, action)
)"""
# A new queue's schema; the migrations in `_migrate` reuse the statements named above.
_SCHEMA = f"""
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
    leased_version INTEGER,
    poster_retries INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (next_attempt_at);
{_LEASED_INDEX};
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
CREATE TABLE IF NOT EXISTS outage_scenes (
    outage INTEGER NOT NULL,
    scene_id INTEGER NOT NULL,
    PRIMARY KEY (outage, scene_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scene_state (
    scene_id INTEGER NOT NULL,
    rating_key TEXT NOT NULL,
    written TEXT NOT NULL DEFAULT '{{}}',
    poster_url TEXT,
    poster_sha256 TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (scene_id, rating_key)
);
{_SYNCED_TABLE_7};
CREATE TABLE IF NOT EXISTS scene_match (
    scene_id INTEGER PRIMARY KEY,
    items TEXT NOT NULL,
    sections TEXT NOT NULL,
    matched_at REAL NOT NULL
);
{_ENTITY_SCHEMA};
"""


class Job(Record):
    """A leased job: the scene to sync and the version of its latest change when leased."""

    scene_id: int
    version: int
    attempts: int
    notfound_attempts: int
    first_failure_at: float | None
    reason: str
    failures: int = 0  # every failed attempt, charged or not: drives the backoff exponent
    poster_retries: int = 0  # poster-only retries so far (Stash had served its placeholder)


class Failure(Record):
    """One failed attempt, as stored in a job's history and in the DLQ."""

    error_type: str
    message: str
    http_status: int | None
    at: float
    charged: bool


class QueueDamaged(Exception):
    """The queue file cannot be read as a queue (`persistence.repair` moves it aside)."""


def is_damage(exc: sqlite3.Error) -> bool:
    """A damaged file (not a lock held elsewhere, nor a folder PlexSync may not write to)."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "corrupt" in text


class Database:
    """One connection to the queue database; open one per process (or per thread).

    QueueDamaged when the file is not a sound queue (an empty file where one existed counts).

    `durable` (the default) fsyncs every commit (`synchronous = FULL`): a save the hook queued
    is on disk before Stash is answered. The drainer opens with `durable=False` (`NORMAL`): in
    WAL mode a power cut may then undo its last few commits, never damage the file, and what it
    commits is bookkeeping that is safe to redo (a lease is retaken when it runs out, a sync
    repeated sends the same idempotent edits, a dead letter not yet moved is retried once more).
    Every later FULL commit, the next save's included, makes those earlier ones durable too."""

    def __init__(self, data_dir: StrPath, *, durable: bool = True) -> None:
        os.makedirs(data_dir, exist_ok=True)
        self.path = os.path.join(data_dir, DB_NAME)
        created = os.path.join(data_dir, CREATED_NAME)
        known = os.path.exists(created)
        if known and _empty(self.path):
            raise QueueDamaged("the queue file is empty")
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            self._db.execute("PRAGMA busy_timeout = 30000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            self._ensure_schema()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if is_damage(exc):
                raise QueueDamaged(str(exc)) from exc
            raise
        if not known:
            open(created, "ab").close()

    def check(self) -> str | None:
        """SQLite's quick_check: None when the file is sound, else what is wrong."""
        try:
            rows = self._db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                return str(exc)
            raise
        found = [str(row[0]) for row in rows]
        return None if found == ["ok"] else "; ".join(found)[:300]

    def _ensure_schema(self) -> None:
        row = None
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is not None:
            if row[0] != str(SCHEMA_VERSION):
                self._migrate()
            return
        with self._write():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)",
                (str(SCHEMA_VERSION),),
            )

    def _migrate(self) -> None:
        """Bring a queue written by an older PlexSync to this schema, in one transaction."""
        with self._write() as db:
            (found,) = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if found == "1":  # 1 -> 2: poster retries after Stash served its placeholder
                db.execute("ALTER TABLE jobs ADD COLUMN poster_retries INTEGER NOT NULL DEFAULT 0")
                found = "2"
            if found == "2":  # 2 -> 3: the scenes each outage affected
                db.execute(
                    """CREATE TABLE IF NOT EXISTS outage_scenes (outage INTEGER NOT NULL,
                           scene_id INTEGER NOT NULL, PRIMARY KEY (outage, scene_id))
                       WITHOUT ROWID"""
                )
                found = "3"
            if found == "3":  # 3 -> 4: the items each scene's last full match found
                db.execute(
                    """CREATE TABLE IF NOT EXISTS scene_match (scene_id INTEGER PRIMARY KEY,
                           items TEXT NOT NULL, sections TEXT NOT NULL, matched_at REAL NOT NULL)"""
                )
                found = "4"
            if found == "4":  # 4 -> 5: Queue Status counts the leased jobs without a scan
                db.execute(_LEASED_INDEX)
                found = "5"
            if found == "5":  # 5 -> 6: Stash's updated_at of each scene's last sync (catch-up)
                db.execute(_SYNCED_TABLE)
                found = "6"
            if found == "6":  # 6 -> 7: entity renames, merges and deletes fan out to scenes
                if "entities" not in self.columns("scene_synced"):
                    db.execute(_SYNCED_ENTITIES)
                for statement in _ENTITY_SCHEMA.split(";"):
                    db.execute(statement)
                found = "7"
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (found,))

    def close(self) -> None:
        self._db.close()

    def _rows_for_scenes(
        self, query: str, scene_ids: Iterable[int], before: tuple[object, ...] = ()
    ) -> list[tuple[Any, ...]]:
        """The rows of `query` (its `IN ({marks})` filled in) for `scene_ids` (or other ids),
        asked 500 at a time: SQLite limits the parameters of one statement. `before` are the
        parameters of the query that come before its list."""
        wanted = list(scene_ids)
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows.extend(self._db.execute(query.format(marks=marks), (*before, *chunk)))
        return rows

    # -- salvage (persistence.repair) ---------------------------------------------------------
    def columns(self, table: str) -> list[str]:
        return [str(row[1]) for row in self._db.execute(f"PRAGMA table_info({table})")]

    def insert_salvaged(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> int:
        """Rows read back from a damaged queue; those that clash with one here are skipped."""
        if not rows:
            return 0
        listed, marks = ", ".join(columns), ", ".join("?" for _ in columns)
        with self._write() as db:
            cur = db.executemany(
                f"INSERT OR IGNORE INTO {table} ({listed}) VALUES ({marks})",  # noqa: S608
                rows,
            )
        return max(0, cur.rowcount)

    def _write(self) -> _Write:
        return _Write(self._db)

    # -- meta -------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def set_meta_if_absent(self, key: str, value: str) -> str:
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0])

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


class _Write:
    """`with db._write() as conn:` one write transaction (`BEGIN IMMEDIATE`), rolled back when
    the body raises (a class, not `contextlib.contextmanager`: the hook imports this module)."""

    __slots__ = ("_db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, kind: object, exc: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def _empty(path: str) -> bool:
    try:
        return os.stat(path).st_size == 0
    except FileNotFoundError:
        return False
