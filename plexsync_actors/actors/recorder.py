"""OutageRecorderActor: one record per outage in `outages.json`, the last 30 (VISB-03).

It counts the distinct scenes held back or failed inside the outage window, and announces the
recovery in one sentence (RECV-03).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import trio

from plexsync_actors.actors.announce import Announcer, counted, human_duration
from plexsync_actors.core import outages as core
from plexsync_actors.core.bucket import RampPolicy
from plexsync_actors.core.never import assert_never
from plexsync_actors.messages.outages import (
    OutageEnded,
    OutageStarted,
    ProbeSent,
    RecorderMessage,
    SceneFailed,
)
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.persistence.state_files import StateFile

RECENT_FAILURES = 2000


class OutageRecorderActor:
    def __init__(
        self,
        *,
        log: core.OutageLog,
        store: StateFile[core.OutageLog],
        queue: JobQueue,
        announce: Announcer,
        wall_now: Callable[[], float],
        ramp: RampPolicy,
    ) -> None:
        self.log = log
        self._store = store
        self._queue = queue
        self._announce = announce
        self._now = wall_now
        self._ramp = ramp
        # Failures before the circuit opened may lie inside the window that opening defines.
        self._recent: deque[tuple[int, float]] = deque(maxlen=RECENT_FAILURES)

    def _save(self, log: core.OutageLog) -> None:
        if log != self.log:
            self.log = log
            self._store.save(log)

    def _held_back(self, log: core.OutageLog) -> core.OutageLog:
        """Every scene waiting now is held back by the current outage."""
        current = log.current
        if current is None:
            return log
        return core.scenes_affected(log, self._queue.mark_waiting_affected(current.id))

    def _failed(self, log: core.OutageLog, scene_ids: set[int]) -> core.OutageLog:
        current = log.current
        if current is None or not scene_ids:
            return log
        return core.scenes_affected(log, self._queue.mark_affected(current.id, scene_ids))

    async def run(self, inbox: trio.MemoryReceiveChannel[RecorderMessage]) -> None:
        with inbox:
            async for message in inbox:
                self.handle(message)

    def handle(self, message: RecorderMessage) -> None:
        match message:
            case OutageStarted():
                log = core.opened(
                    self.log,
                    first_failure_at=message.first_failure_at,
                    started_at=message.started_at,
                    first_error=message.first_error,
                )
                failed = {s for s, at in self._recent if at >= message.first_failure_at}
                self._save(self._held_back(self._failed(log, failed)))
                self._queue.forget_outages_but(r.id for r in self.log.records)
            case ProbeSent():
                self._save(self._held_back(core.probe_sent(self.log)))
            case SceneFailed():
                if self.log.current is None:
                    self._recent.append((message.scene_id, message.at))
                else:
                    self._save(self._failed(self.log, {message.scene_id}))
            case OutageEnded():
                current = self.log.current
                log = self._held_back(self.log)
                self._save(core.closed(log, ended_at=message.ended_at))
                self._recent.clear()
                if current is not None:
                    self._announce_recovery(message.ended_at)
            case _:
                assert_never(message)

    def _announce_recovery(self, ended_at: float) -> None:
        record = self.log.records[0]
        waiting = self._queue.pending_count()
        self._announce.info(
            f"Circuit CLOSED: Plex recovered after {human_duration(record.duration(ended_at))} "
            f"(outage {record.id}, {counted(waiting, 'scene')} waiting); draining at "
            f"{self._ramp.initial_rate:g} jobs/s, rising to {self._ramp.max_rate:g} over "
            f"{human_duration(self._ramp.ramp_seconds)}."
        )
