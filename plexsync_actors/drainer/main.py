"""The detached background drainer: started by hooks and tasks, one per data dir at a time.

It reads Stash's connection and the data dir from its stdin pipe and takes the drainer lock
before importing anything heavy, so when many hooks start drainers at once the extra ones exit
in milliseconds. It drains until idle and logs to a rotating `plexsync.log` in the data dir (it
has no stderr). Before exiting it releases the lock and looks at the queue once more, so a hook
that queued a job just as the drainer went idle, and saw the lock still held, is never stranded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from plexsync_actors.drainer.control import (
    HEARTBEAT_SECONDS,
    drainer_lock,
    open_doorbell,
    start_beating,
    stop_beating,
    take_lock_briefly_waiting,
)
from plexsync_actors.errors import RuntimeProblem
from plexsync_actors.persistence.lock import ProcessLock


def main() -> int:
    try:
        payload = json.loads(sys.stdin.buffer.read().decode("utf-8") or "{}")
    except (ValueError, OSError):
        return 2
    finally:
        sys.stdin.close()
    data_dir = payload.get("data_dir") if isinstance(payload, dict) else None
    if not isinstance(data_dir, str) or not data_dir:
        return 2
    lock = drainer_lock(Path(data_dir))
    if not take_lock_briefly_waiting(lock, Path(data_dir)):
        return 0  # another drainer runs for this data dir
    try:
        start_beating(Path(data_dir))  # before the heavy imports: others see us at once
        return _run(payload, lock)
    except BaseException as exc:
        # It has no stderr: plexsync.log (and the event log the next task relays) say why.
        _record_crash(Path(data_dir), exc)
        if isinstance(exc, Exception):
            return 2
        raise
    finally:
        stop_beating(Path(data_dir))
        lock.release()


def _run(payload: dict[str, Any], lock: ProcessLock) -> int:
    from plexsync_actors.runtime import requirements

    unfit = requirements.problem(check_versions=True)
    if unfit is not None:
        raise RuntimeProblem(unfit)
    import trio

    result: int = trio.run(_drain, payload, lock)
    return result


def _record_crash(data_dir: Path, exc: BaseException) -> None:
    """Write why the drainer stopped to plexsync.log, and to the event log when it can."""
    import logging
    import traceback

    from plexsync_actors.drainer.logs import log_to_file

    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return
    log_to_file(data_dir, debug=False)
    log = logging.getLogger("plexsync_actors.drainer.main")
    if isinstance(exc, RuntimeProblem):
        sentence = str(exc)
        log.error("%s", sentence)
    else:
        sentence = f"The background drainer stopped unexpectedly ({type(exc).__name__}: {exc})."
        log.error("%s", sentence)
        log.error("%s", "".join(traceback.format_exception(exc)).rstrip())
    try:  # attrs may be what is missing: then plexsync.log alone says it
        from plexsync_actors.clock import wall_now
        from plexsync_actors.persistence.events import EventLog

        message = f"{sentence} The next save or task starts a new one; plexsync.log has details."
        EventLog(data_dir).append(at=wall_now(), level="error", message=message)
    except (ImportError, OSError):
        pass


async def _drain(payload: dict[str, Any], lock: ProcessLock) -> int:
    import logging

    import attrs

    from plexsync_actors import PLUGIN_ID
    from plexsync_actors.clock import wall_now
    from plexsync_actors.drainer.logs import log_to_file
    from plexsync_actors.errors import PlexSyncError, StashUnavailable
    from plexsync_actors.persistence.jobs import JobQueue
    from plexsync_actors.persistence.repair import open_sound
    from plexsync_actors.runtime.clients import stash_http_client
    from plexsync_actors.runtime.pipeline import run_watched
    from plexsync_actors.runtime.settings_watch import SWITCHED_OFF
    from plexsync_actors.settings import enabled_in, parse_settings
    from plexsync_actors.stash.answers import require_supported_stash
    from plexsync_actors.stash.client import StashClient
    from plexsync_actors.stash.connection import connection_from

    log = logging.getLogger("plexsync_actors.drainer.main")
    data_dir = Path(payload["data_dir"])
    log_to_file(data_dir, debug=False)
    try:
        conn = connection_from(payload.get("server_connection"))
        async with stash_http_client() as http:
            stash = StashClient(http, conn)
            config = await stash.plugin_config(PLUGIN_ID)
            require_supported_stash(config.stash_version)
            api_key = await stash.fetch_api_key()
        conn = attrs.evolve(conn, api_key=api_key)
        if not enabled_in(config.settings):
            log.info("PlexSync is switched off in its settings; the drainer stops.")
            return 0
        # The hook queued into this data dir: drain exactly that one.
        parsed = parse_settings(config.settings, stash_dir=conn.stash_dir)
        settings = attrs.evolve(parsed, data_dir=data_dir)
    except StashUnavailable as exc:
        log.warning("Stash unavailable (%s); the drainer stops, the next save restarts it.", exc)
        lock.release()
        return 1
    except PlexSyncError as exc:
        log.error("Queued scenes wait until this is fixed: %s", exc)
        lock.release()
        return 1
    with open_doorbell() as doorbell:  # hooks ring it after queueing (actors/doorbell.py)
        while True:
            log_to_file(data_dir, debug=settings.debug_logging)
            try:
                beats = start_beating(data_dir, wake=doorbell.port)
                queue, notice = open_sound(data_dir, thorough=True, now=wall_now())
                with queue:
                    queue.clear_leases()
                if notice is not None:  # the next task relays it to the Stash log, and repeats it
                    log.warning("%s", notice.sentence())
                log.info("Drainer started; draining the queue.")
                tally, changed = await run_watched(
                    settings,
                    conn,
                    mode="drainer",
                    heartbeat=(beats, HEARTBEAT_SECONDS),
                    doorbell=doorbell.sock,
                )
                log.info(
                    "Drainer stopping: %s (%d synced, %d failed).",
                    tally.stop_reason,
                    tally.synced,
                    tally.failed,
                )
            finally:
                stop_beating(data_dir)
                lock.release()
            if tally.stop_reason == SWITCHED_OFF:
                return 0
            if changed is not None:  # a fixed token or address: go on with it at once
                settings = changed
                if not lock.try_acquire():
                    return 0
                continue
            if tally.held_back or tally.stop_reason.startswith("reached"):
                return 1 if tally.held_back else 0
            with JobQueue(data_dir) as queue:
                if queue.pending_count() == 0 or not lock.try_acquire():
                    return 0
