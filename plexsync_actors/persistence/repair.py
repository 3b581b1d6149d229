"""A damaged queue file: moved aside, what can be read salvaged into a fresh one, and said so.

A truncated or overwritten `queue.sqlite3` (or one found empty after it existed) used to break
every hook and task until the user deleted it, or lost every job without a word. Now the file
and its `-wal`/`-shm` are moved aside as `queue.sqlite3.corrupt-<time>`, the rows that can still
be read go into a fresh queue, and a notice (`queue.damaged.json`) makes every task say so until
the user has queued again what may be lost. Standard library only: the hook repairs too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3

from plexsync_actors.persistence.database import DB_NAME, QueueDamaged, is_damage
from plexsync_actors.persistence.files import atomic_write_bytes, replace_file
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.persistence.lock import ProcessLock

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and pathlib cost the hook milliseconds at run time
    from typing import Any
    from typing import NamedTuple as Record

    from plexsync_actors.core.values import StrPath
else:
    from plexsync_actors.core.records import Record

NOTICE_NAME = "queue.damaged.json"
REPAIR_LOCK = "queue.repair.lock"
NOTICE_DAYS = 7.0  # a notice nobody acted on stops being repeated after this long
_TABLES = (
    "meta",
    "jobs",
    "dlq",
    "scene_state",
    "scene_match",
    "scene_synced",
    "scene_entities",
    "fan_outs",
)
_CHUNK = 200


class Notice(Record):
    at: float
    reason: str
    moved_to: str
    salvaged_jobs: int
    salvaged_dead_letters: int

    def sentence(self) -> str:
        return (
            f"The queue file was damaged ({self.reason}) and was moved aside as "
            f"{self.moved_to}; {self.salvaged_jobs} waiting scenes and "
            f"{self.salvaged_dead_letters} dead letters could be read back into a fresh queue. "
            "Run Sync Recent Scenes (or Sync All Scenes) to queue again what may have been lost."
        )


def open_sound(
    data_dir: StrPath, *, thorough: bool, now: float, durable: bool = True
) -> tuple[JobQueue, Notice | None]:
    """The queue, repaired first when it is damaged (`thorough`: SQLite's quick_check too, as
    a task or a drainer does at its start; the hook only reacts to errors, to stay cheap).
    `durable`: as for `Database` (the drainer's own bookkeeping passes False)."""
    try:
        queue = JobQueue(data_dir, durable=durable)
    except QueueDamaged as exc:
        return _repaired(data_dir, str(exc), now, durable)
    if thorough:
        problem = queue.check()
        if problem is not None:
            queue.close()
            return _repaired(data_dir, problem, now, durable)
    return queue, None


def repair(data_dir: StrPath, reason: str, *, now: float) -> Notice:
    """Move the damaged queue aside, salvage what reads, start a fresh one; the notice."""
    queue, notice = _repaired(data_dir, reason, now, durable=True)
    queue.close()
    assert notice is not None
    return notice


def pending_notice(data_dir: StrPath, *, now: float) -> Notice | None:
    """The damage notice tasks repeat, until the user re-queued (or it is a week old)."""
    try:
        with open(os.path.join(data_dir, NOTICE_NAME), encoding="utf-8") as file:
            raw = json.load(file)
        notice = Notice(
            at=float(raw["at"]),
            reason=str(raw["reason"]),
            moved_to=str(raw["moved_to"]),
            salvaged_jobs=int(raw["salvaged_jobs"]),
            salvaged_dead_letters=int(raw["salvaged_dead_letters"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return notice if now - notice.at < NOTICE_DAYS * 86400.0 else None


def clear_notice(data_dir: StrPath) -> None:
    """The user queued again what was lost (Sync All / Sync Recent): stop saying it."""
    try:  # noqa: SIM105 - contextlib would cost the hook an import
        os.unlink(os.path.join(data_dir, NOTICE_NAME))
    except FileNotFoundError:
        pass


def _repaired(
    data_dir: StrPath, reason: str, now: float, durable: bool
) -> tuple[JobQueue, Notice | None]:
    lock = ProcessLock(os.path.join(data_dir, REPAIR_LOCK))
    _take(lock)
    try:
        # Another process may have repaired it while we waited for the lock.
        try:
            queue = JobQueue(data_dir, durable=durable)
        except QueueDamaged:
            pass
        else:
            if queue.check() is None:
                return queue, pending_notice(data_dir, now=now)
            queue.close()
        moved = _move_aside(data_dir, now)
        fresh = JobQueue(data_dir, durable=durable)
        jobs, dead = _salvage(moved, fresh)
        notice = Notice(
            at=now,
            reason=reason[:300],
            moved_to=os.path.basename(moved),
            salvaged_jobs=jobs,
            salvaged_dead_letters=dead,
        )
        text = json.dumps(notice._asdict(), ensure_ascii=False)
        atomic_write_bytes(os.path.join(data_dir, NOTICE_NAME), text.encode("utf-8"))
        return fresh, notice
    finally:
        lock.release()


def _take(lock: ProcessLock) -> None:
    from plexsync_actors.clock import monotonic, sleep

    deadline = monotonic() + 10.0
    while not lock.try_acquire():
        if monotonic() > deadline:
            raise OSError("another process has been repairing the queue for 10 s")
        sleep(0.05)


def _move_aside(data_dir: StrPath, now: float) -> str:
    stamp = dt.datetime.fromtimestamp(now, tz=dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    target = os.path.join(data_dir, f"{DB_NAME}.corrupt-{stamp}")
    n = 0
    while os.path.exists(target):
        n += 1
        target = os.path.join(data_dir, f"{DB_NAME}.corrupt-{stamp}-{n}")
    # The write-ahead log goes with it, under the names SQLite looks for beside the copy.
    for suffix in ("-wal", "-shm", ""):
        source = os.path.join(data_dir, f"{DB_NAME}{suffix}")
        if os.path.exists(source):
            replace_file(source, target + suffix)
    return target


def _salvage(source: str, into: JobQueue) -> tuple[int, int]:
    """Copy every row that still reads from the damaged copy; (jobs, dead letters) saved."""
    from pathlib import Path  # only here, on the rare repair path: a file: URI, escaped

    counts: dict[str, int] = {}
    try:
        damaged = sqlite3.connect(f"{Path(source).absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return 0, 0
    try:
        for table in _TABLES:
            counts[table] = _copy_table(damaged, into, table)
    finally:
        damaged.close()
    into.clear_leases()  # whoever held them is gone with the old file
    return counts.get("jobs", 0), counts.get("dlq", 0)


def _copy_table(damaged: sqlite3.Connection, into: JobQueue, table: str) -> int:
    wanted = into.columns(table)
    try:
        present = {str(row[1]) for row in damaged.execute(f"PRAGMA table_info({table})")}
    except sqlite3.DatabaseError:
        return 0
    columns = [c for c in wanted if c in present]
    if not columns:
        return 0
    rows = _readable_rows(damaged, table, columns)
    return into.insert_salvaged(table, columns, rows)


def _readable_rows(
    damaged: sqlite3.Connection, table: str, columns: list[str]
) -> list[tuple[Any, ...]]:
    """Every row that reads; where a page is broken, the rows around it, chunk by chunk."""
    listed = ", ".join(columns)
    try:
        return list(damaged.execute(f"SELECT {listed} FROM {table}"))  # noqa: S608
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            return []
    try:
        (top,) = damaged.execute(f"SELECT max(rowid) FROM {table}").fetchone()  # noqa: S608
    except sqlite3.DatabaseError:
        return []
    rows: list[tuple[Any, ...]] = []
    for start in range(0, int(top or 0) + 1, _CHUNK):
        try:  # noqa: SIM105 - contextlib would cost the hook an import
            rows.extend(
                damaged.execute(
                    f"SELECT {listed} FROM {table} WHERE rowid BETWEEN ? AND ?",  # noqa: S608
                    (start, start + _CHUNK - 1),
                )
            )
        except sqlite3.DatabaseError:
            pass
    return rows
