"""Long-run mode for a service or a terminal: `python -m plexsync_actors run`.

Holds the drainer lock for as long as it runs (waiting while another drainer has it) and drains
until killed. Stash's connection comes from `--stash-url`; an API key, when Stash needs one, from
the environment variable STASH_API_KEY (never from argv, which other users can read).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import attrs
import trio

from plexsync_actors.drainer.control import (
    HEARTBEAT_SECONDS,
    DoorbellSocket,
    drainer_lock,
    open_doorbell,
    start_beating,
    stop_beating,
)
from plexsync_actors.errors import PlexSyncError
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.runtime.config import load_settings
from plexsync_actors.runtime.pipeline import run_watched
from plexsync_actors.runtime.settings_watch import EVERY_SECONDS, SWITCHED_OFF
from plexsync_actors.settings import Settings
from plexsync_actors.stash.connection import StashConnection

log = logging.getLogger(__name__)
LOCK_RETRY_SECONDS = 5.0


async def run_forever(settings: Settings, conn: StashConnection) -> None:
    lock = drainer_lock(settings.data_dir)
    while not lock.try_acquire():
        log.info("Another drainer runs for this data dir; waiting for it to finish.")
        await trio.sleep(LOCK_RETRY_SECONDS)
    try:
        with open_doorbell() as doorbell:
            await _forever(settings, conn, doorbell)
    finally:
        stop_beating(settings.data_dir)
        lock.release()


async def _forever(settings: Settings, conn: StashConnection, doorbell: DoorbellSocket) -> None:
    beats = start_beating(settings.data_dir, wake=doorbell.port)
    with JobQueue(settings.data_dir) as queue:
        queue.clear_leases()
    log.info("Background sync running until stopped.")
    while True:
        tally, changed = await run_watched(
            settings,
            conn,
            mode="background",
            heartbeat=(beats, HEARTBEAT_SECONDS),
            doorbell=doorbell.sock,
        )
        log.info("Background sync paused: %s; resuming.", tally.stop_reason)
        if changed is not None:
            settings = changed
            continue
        if tally.stop_reason == SWITCHED_OFF:
            settings = await _until_switched_on(settings, conn)
            continue
        await trio.sleep(LOCK_RETRY_SECONDS)


async def _until_switched_on(settings: Settings, conn: StashConnection) -> Settings:
    """Switched off: idle, looking again every minute, as a service should."""
    while True:
        await trio.sleep(EVERY_SECONDS)
        try:
            found = await load_settings(conn)
        except PlexSyncError as exc:
            log.debug("Could not re-read the settings (%s).", exc)
            continue
        if found is not None:
            log.info("PlexSync was switched on again; background sync resumes.")
            return attrs.evolve(found, data_dir=settings.data_dir)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m plexsync_actors run")
    parser.add_argument("--stash-url", default="http://127.0.0.1:9999", help="Stash base URL")
    options = parser.parse_args(argv)
    from plexsync_actors.drainer.logs import log_to_terminal

    log_to_terminal(sys.stderr)
    conn = StashConnection(
        base_url=options.stash_url.rstrip("/"), api_key=os.environ.get("STASH_API_KEY") or None
    )
    try:
        settings = trio.run(load_settings, conn)
        if settings is None:
            log.error("PlexSync is disabled in its Stash settings; nothing to run.")
            return 1
        trio.run(run_forever, settings, conn)
    except PlexSyncError as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
