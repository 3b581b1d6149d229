"""The detached background drainer: started by hooks and tasks, one per data dir at a time.

It reads Stash's connection from its stdin pipe, takes the drainer lock (or exits when another
drainer has it), drains until idle, and logs to a rotating `plexsync.log` in the data dir (it has
no stderr). Before exiting it releases the lock and looks at the queue once more, so a hook that
queued a job just as the drainer went idle, and saw the lock still held, is never stranded.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from pathlib import Path

import trio

from plexsync_actors import PLUGIN_ID
from plexsync_actors.actors.supervisor import run_pipeline, stash_http_client
from plexsync_actors.drainer_control import drainer_lock, write_pid
from plexsync_actors.errors import PlexSyncError, StashUnavailable
from plexsync_actors.models import StashConnection
from plexsync_actors.persistence.queue import JobQueue
from plexsync_actors.settings import parse_settings
from plexsync_actors.stash_client import StashClient

log = logging.getLogger(__name__)
LOG_NAME = "plexsync.log"
LOG_BYTES = 1_000_000
LOG_BACKUPS = 3


def setup_file_logging(data_dir: Path, *, debug: bool) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        data_dir / LOG_NAME, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main() -> int:
    try:
        payload = json.loads(sys.stdin.read() or "{}")
    except json.JSONDecodeError:
        return 2
    finally:
        sys.stdin.close()
    if not isinstance(payload, dict):
        return 2
    from plexsync_actors.tasks import connection_from

    try:
        conn = connection_from(payload.get("server_connection"))
    except PlexSyncError:
        return 2
    fallback_dir = payload.get("data_dir")
    return trio.run(_drain, conn, Path(fallback_dir) if isinstance(fallback_dir, str) else None)


async def _drain(conn: StashConnection, fallback_dir: Path | None) -> int:
    try:
        async with stash_http_client() as http:
            stash = StashClient(http, conn)
            raw = await stash.plugin_settings(PLUGIN_ID)
            api_key = await stash.fetch_api_key()
    except StashUnavailable as exc:
        if fallback_dir is not None:
            setup_file_logging(fallback_dir, debug=False)
        log.warning("Stash unavailable (%s); the drainer stops, the next save restarts it.", exc)
        return 1
    conn = StashConnection(
        base_url=conn.base_url,
        cookie_name=conn.cookie_name,
        cookie_value=conn.cookie_value,
        api_key=api_key,
        stash_dir=conn.stash_dir,
    )
    try:
        settings = parse_settings(raw, stash_dir=conn.stash_dir)
    except PlexSyncError as exc:
        if fallback_dir is not None:
            setup_file_logging(fallback_dir, debug=False)
        log.error("Queued scenes wait: %s", exc)
        return 1
    setup_file_logging(settings.data_dir, debug=settings.debug_logging)
    lock = drainer_lock(settings.data_dir)
    while lock.try_acquire():
        try:
            write_pid(settings.data_dir)
            with JobQueue(settings.data_dir) as queue:
                queue.clear_leases()
            log.info("Drainer started (pid file written); draining the queue.")
            tally = await run_pipeline(settings, conn, mode="drainer")
            log.info(
                "Drainer stopping: %s (%d synced, %d failed).",
                tally.stop_reason,
                tally.synced,
                tally.failed,
            )
            if tally.held_back:
                return 1
        finally:
            lock.release()
        with JobQueue(settings.data_dir) as queue:
            if queue.pending_count() == 0:
                return 0
        if tally.stop_reason.startswith("reached"):
            return 0
    return 0
