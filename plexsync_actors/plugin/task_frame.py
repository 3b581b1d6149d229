"""What every task run does around its mode, with no trio or httpx: so the read-only tasks
(`read_tasks`) and the others (`tasks`) frame their runs alike.

Before the mode: debug logging, the drainer's news relayed to the Stash log (not for a quiet
poll), SQLite's quick_check of the queue. After it: the long actions' results recorded for the
PlexSync page, a drainer started for ready work, and a damage notice repeated in the output.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from plexsync_actors.clock import iso_utc, wall_now
from plexsync_actors.drainer.control import ensure_drainer
from plexsync_actors.persistence.database import DB_NAME, QueueDamaged, is_damage
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.persistence.last_runs import RECORDED_MODES, record_run
from plexsync_actors.persistence.repair import open_sound, pending_notice
from plexsync_actors.plugin.logsetup import configure_logging
from plexsync_actors.plugin.protocol import lenient_bool, stderr_stream
from plexsync_actors.plugin.status import relay_events
from plexsync_actors.runtime.settings_from_stash import settings_in_force
from plexsync_actors.settings import Settings
from plexsync_actors.stash.connection import StashConnection
from plexsync_actors.stash.settings_fetch import fetch_plugin_config_sync

log = logging.getLogger("plexsync_actors.plugin.tasks")
R = TypeVar("R")


def load_settings_now(conn: StashConnection) -> Settings | None:
    """As `runtime.config.load_settings`, with the hook's standard-library request."""
    from plexsync_actors import PLUGIN_ID

    raw, version = fetch_plugin_config_sync(conn.base_url, conn.auth_headers(), PLUGIN_ID)
    return settings_in_force(raw, version, conn.stash_dir)


def begin(settings: Settings, args: dict[str, Any], *, thorough: bool = True) -> None:
    """Before the mode. `thorough`: SQLite's quick_check of the queue first (a read-only poll
    skips it: it reads the whole file, 50 ms for 100,000 jobs; `repair_and_retry` then repairs
    any damage the poll meets)."""
    quiet = lenient_bool(args.get("quiet"), default=False)
    if settings.debug_logging and not quiet:
        configure_logging(stderr_stream(), debug=True)
    if not quiet:  # a quiet poll must not take the drainer's news from the Stash log
        relay_events(settings)
    if thorough:
        check_the_queue(settings)


def repair_and_retry(settings: Settings, run: Callable[[], R]) -> R:
    """`run()`; when it meets a damaged queue, the queue is repaired as a task's start would,
    and `run()` goes once more (the notice then follows the output)."""
    try:
        return run()
    except QueueDamaged:
        pass
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
    check_the_queue(settings)
    return run()


def failed(settings: Settings, mode: str, error: str) -> None:
    _record(settings, mode, None, error)


def finish(
    settings: Settings,
    server_connection: dict[str, Any],
    mode: str,
    output: Any,
    *,
    may_start_drainer: bool = True,
) -> Any:
    _record(settings, mode, output, None)
    if may_start_drainer:
        _start_a_drainer_for_ready_work(settings, server_connection)
    notice = pending_notice(settings.data_dir, now=wall_now())
    if notice is not None:  # said by every task until the user queued again what was lost
        log.warning("%s", notice.sentence())
        if isinstance(output, dict):
            output = {**output, "notice": notice.sentence()}
    return output


def _record(settings: Settings, mode: str, result: Any, error: str | None) -> None:
    """The long actions' results, which the PlexSync page reads (Stash's Job has none)."""
    if mode in RECORDED_MODES and not (isinstance(result, dict) and result.get("dry_run")):
        finished = iso_utc(wall_now()) or ""
        record_run(settings.data_dir, mode, finished_at=finished, result=result, error=error)


def check_the_queue(settings: Settings) -> None:
    """SQLite's quick_check as every task starts; a damaged queue is moved aside and rebuilt
    from what can be read (the notice then follows every task's output)."""
    if not (settings.data_dir / DB_NAME).exists():
        return
    queue, _ = open_sound(settings.data_dir, thorough=True, now=wall_now())
    queue.close()


def _start_a_drainer_for_ready_work(settings: Settings, server_connection: dict[str, Any]) -> None:
    """Any run that finds work ready and no drainer starts one: a drainer killed or crashed is
    then replaced by the next task, not only by the next save. Creates no queue."""
    data_dir = settings.data_dir
    if not (data_dir / DB_NAME).is_file():
        return
    now = wall_now()
    with JobQueue(data_dir) as queue:
        ready = queue.has_work(now=now)
    if ready:
        ensure_drainer(server_connection, data_dir, now=now)
