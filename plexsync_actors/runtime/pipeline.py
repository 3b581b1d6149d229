"""Builds the pipeline for one run (`wire`) and runs its actors in one nursery (`Pipeline.run`).

The wiring is the only place that knows which actor talks to which: the drain's outcomes go to a
dispatcher that fans them out to the breaker (passive health signal) and the outage recorder;
the health actor reports its probes to the breaker; the gate reads the breaker's state.
"""

from __future__ import annotations

import logging
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from functools import partial

import attrs
import httpx
import trio

from plexsync_actors.actors.announce import Announcer
from plexsync_actors.actors.breaker import BreakerActor, BreakerInput
from plexsync_actors.actors.doorbell import Doorbell, listen
from plexsync_actors.actors.drain import DrainActor, Syncer
from plexsync_actors.actors.gate import BreakerGate
from plexsync_actors.actors.health import HealthActor, Prober
from plexsync_actors.actors.recorder import OutageRecorderActor
from plexsync_actors.clock import wall_now
from plexsync_actors.core import health as core_health
from plexsync_actors.errors import OUTAGE_ERROR_TYPES, PlexSyncError
from plexsync_actors.messages.jobs import JobFailed, JobHeldBack, JobOutcome, JobSucceeded
from plexsync_actors.messages.outages import RecorderMessage, SceneFailed
from plexsync_actors.persistence.events import EventLog
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.plex.client import PlexClient
from plexsync_actors.runtime.clients import (
    client_id,
    plex_client,
    plex_http_client,
    stash_http_client,
)
from plexsync_actors.runtime.config import read_settings
from plexsync_actors.runtime.policies import (
    Mode,
    breaker_policy,
    drain_policy,
    probe_policy,
    ramp_policy,
)
from plexsync_actors.runtime.settings_watch import SettingsWatch
from plexsync_actors.runtime.state import OutageStores, load_outage_state
from plexsync_actors.settings import Settings
from plexsync_actors.stash.client import StashClient
from plexsync_actors.stash.connection import StashConnection
from plexsync_actors.sync.catch_up import EVERY_SECONDS as CATCH_UP_EVERY_SECONDS
from plexsync_actors.sync.catch_up import catch_up
from plexsync_actors.sync.fan_out import FanOutExpander
from plexsync_actors.sync.syncer import SceneSyncer

log = logging.getLogger(__name__)
OnOutcome = Callable[[JobOutcome, "RunTally"], None]
Heartbeat = tuple[Callable[[], None], float]  # what to call, and every how many seconds


@attrs.define
class RunTally:
    synced: int = 0
    failed: int = 0
    held_back: int = 0
    stop_reason: str = ""


class PlexProber:
    """The health actor's view of Plex: the light probe and the authenticated trial read."""

    def __init__(self, plex: PlexClient) -> None:
        self._plex = plex

    async def probe(self) -> float:
        return (await self._plex.identity()).latency_ms

    async def authenticated_read(self) -> None:
        await self._plex.sections()


class Pipeline:
    """The actors of one run and the channels between them, built by `wire`."""

    def __init__(
        self,
        *,
        breaker: BreakerActor,
        recorder: OutageRecorderActor,
        health: HealthActor,
        gate: BreakerGate,
        drain: DrainActor,
        channels: _Channels,
    ) -> None:
        self.breaker, self.recorder, self.health = breaker, recorder, health
        self.gate, self.drain = gate, drain
        self._channels = channels

    def outcome_sender(self) -> trio.MemorySendChannel[JobOutcome]:
        """Another sender into the drain's outcome channel (a test playing the drain uses it)."""
        return self._channels.outcomes_send.clone()

    def start_listeners(
        self, nursery: trio.Nursery, tally: RunTally, on_outcome: OnOutcome | None = None
    ) -> None:
        """Start the actors that react to messages: breaker, recorder and the outcome dispatcher.

        They end by themselves once every sender of their inboxes is closed (see `run`)."""
        ch = self._channels
        nursery.start_soon(self.breaker.run, ch.breaker_recv)
        nursery.start_soon(self.recorder.run, ch.recorder_recv)
        nursery.start_soon(
            _dispatch_outcomes,
            ch.outcomes_recv,
            ch.breaker_send.clone(),
            ch.recorder_send.clone(),
            tally,
            on_outcome,
        )

    async def run(
        self,
        tally: RunTally,
        on_outcome: OnOutcome | None = None,
        heartbeat: Heartbeat | None = None,
        until: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        """Run every actor until the drain stops, then let the others finish their inboxes.

        `heartbeat` (a call and its interval) is repeated meanwhile: how other processes see
        that this data dir has its drainer. When `until` returns first (the settings changed),
        the drain stops there (a job in flight goes back to the queue) with its reason."""
        async with trio.open_nursery() as nursery:
            self.start_listeners(nursery, tally, on_outcome)
            async with trio.open_nursery() as probing:
                probing.start_soon(self.health.run)
                if heartbeat is not None:
                    probing.start_soon(_beat, heartbeat)
                if until is not None:
                    probing.start_soon(_stop_when, until, probing.cancel_scope, tally)
                tally.stop_reason = await self.drain.run()
                probing.cancel_scope.cancel()
            # Closing the last senders lets the breaker and recorder finish their inboxes and exit.
            self._channels.breaker_send.close()
            self._channels.recorder_send.close()


@attrs.frozen(kw_only=True)
class _Channels:
    breaker_send: trio.MemorySendChannel[BreakerInput]
    breaker_recv: trio.MemoryReceiveChannel[BreakerInput]
    recorder_send: trio.MemorySendChannel[RecorderMessage]
    recorder_recv: trio.MemoryReceiveChannel[RecorderMessage]
    outcomes_send: trio.MemorySendChannel[JobOutcome]
    outcomes_recv: trio.MemoryReceiveChannel[JobOutcome]


def wire(
    *,
    settings: Settings,
    mode: Mode,
    queue: JobQueue,
    announce: Announcer,
    stores: OutageStores,
    prober: Prober,
    syncer: Syncer,
    now: Callable[[], float] = wall_now,
    rng: random.Random | None = None,
    on_probe: Callable[[], None] | None = None,
    doorbell: Doorbell | None = None,
    more_work: Callable[[], bool] = lambda: False,
) -> Pipeline:
    """Build the actors of one run over the persisted state in `stores`."""
    probes = probe_policy(settings)
    schedule = stores.schedule
    if schedule.interval <= 0:
        schedule = core_health.initial(probes)
    recorder_send, recorder_recv = trio.open_memory_channel[RecorderMessage](64)
    breaker_send, breaker_recv = trio.open_memory_channel[BreakerInput](64)
    outcomes_send, outcomes_recv = trio.open_memory_channel[JobOutcome](16)
    breaker = BreakerActor(
        state=stores.breaker,
        policy=breaker_policy(settings),
        store=stores.files.breaker,
        queue=queue,
        announce=announce,
        wall_now=now,
        recorder=recorder_send.clone(),
        first_probe_seconds=settings.health_interval_min,
    )
    recorder = OutageRecorderActor(
        log=stores.outages,
        store=stores.files.outages,
        queue=queue,
        announce=announce,
        wall_now=now,
        ramp=ramp_policy(settings),
    )
    health = HealthActor(
        breaker=breaker,
        prober=prober,
        schedule=schedule,
        policy=probes,
        store=stores.files.recovery,
        queue=queue,
        wall_now=now,
        reports=breaker_send.clone(),
        recorder=recorder_send.clone(),
        rng=rng,
        on_probe=on_probe,
    )
    gate = BreakerGate(
        breaker=breaker,
        policy=ramp_policy(settings),
        wall_now=now,
        announce=announce,
        ramp_start=schedule.ramp_start,
        stop_when_open=mode == "foreground",
    )
    drain = DrainActor(
        queue=queue,
        syncer=syncer,
        policy=drain_policy(settings, mode),
        wall_now=now,
        outcomes=outcomes_send,
        gate=gate,
        owner=f"{mode}-{uuid.uuid4().hex[:8]}",
        doorbell=doorbell,
        more_work=more_work,
    )
    channels = _Channels(
        breaker_send=breaker_send,
        breaker_recv=breaker_recv,
        recorder_send=recorder_send,
        recorder_recv=recorder_recv,
        outcomes_send=outcomes_send,
        outcomes_recv=outcomes_recv,
    )
    return Pipeline(
        breaker=breaker, recorder=recorder, health=health, gate=gate, drain=drain, channels=channels
    )


async def run_pipeline(
    settings: Settings,
    conn: StashConnection,
    *,
    mode: Mode,
    on_outcome: OnOutcome | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    now: Callable[[], float] = wall_now,
    heartbeat: Heartbeat | None = None,
    watch: SettingsWatch | None = None,
    doorbell: socket.socket | None = None,
) -> RunTally:
    """Run the actors of this release until the mode's stop condition (or, with `watch`, until
    the settings change: `watch.changed` then holds the new ones). `doorbell`: the UDP socket
    (`drainer.control.open_doorbell`) whose datagrams wake an idle drain at once."""
    tally = RunTally()
    queue = JobQueue(settings.data_dir, durable=False)  # bookkeeping only: see Database
    announce = Announcer(EventLog(settings.data_dir), now)
    stores = load_outage_state(settings.data_dir, announce.warning)
    try:
        async with plex_http_client(transport) as plex_http, stash_http_client() as stash_http:
            plex = plex_client(plex_http, settings, client_id(queue))
            stash = StashClient(stash_http, conn)
            syncer = SceneSyncer(
                settings=settings,
                plex=plex,
                stash=stash,
                queue=queue,
                wall_now=now,
            )
            bell = Doorbell()
            expander = FanOutExpander(
                stash=stash, queue=queue, settings=settings, wall_now=now, on_queued=bell.ring
            )
            pipeline = wire(
                settings=settings,
                mode=mode,
                queue=queue,
                announce=announce,
                stores=stores,
                prober=PlexProber(plex),
                syncer=syncer,
                now=now,
                on_probe=None if watch is None else watch.poke,
                doorbell=bell,
                more_work=lambda: expander.has_work,
            )
            async with trio.open_nursery() as nursery:
                if doorbell is not None:  # a copy: the socket outlives this run
                    listening = trio.socket.from_stdlib_socket(doorbell.dup())
                    nursery.start_soon(_listen_then_close, listening, bell)
                # Changes no scene hook announced: one look before the drain, then now and
                # then while a drainer lives (sync.catch_up).
                await _catch_up(stash, queue, now, bell)
                if mode == "foreground":  # the scenes of a rename are in the queue it drains
                    await expander.expand_all()
                else:  # a rename's scenes drain while later pages are still being asked for
                    nursery.start_soon(expander.run)
                    nursery.start_soon(_catch_up_every, stash, queue, now, bell)
                until = None if watch is None else watch.run
                await pipeline.run(tally, on_outcome, heartbeat, until)
                nursery.cancel_scope.cancel()
    finally:
        queue.close()
    return tally


async def run_watched(
    settings: Settings,
    conn: StashConnection,
    *,
    mode: Mode,
    heartbeat: Heartbeat,
    doorbell: socket.socket | None,
) -> tuple[RunTally, Settings | None]:
    """A drainer's run: `run_pipeline` until its stop condition or until the settings in Stash
    change. Returns the tally and the new settings (None when they did not change)."""
    watch = SettingsWatch(
        current=settings, read=partial(read_settings, conn), stash_dir=conn.stash_dir
    )
    tally = await run_pipeline(
        settings, conn, mode=mode, heartbeat=heartbeat, watch=watch, doorbell=doorbell
    )
    return tally, watch.changed


async def _catch_up(
    stash: StashClient, queue: JobQueue, now: Callable[[], float], bell: Doorbell
) -> None:
    try:
        found = await catch_up(stash, queue, now=now())
    except PlexSyncError as exc:  # the drain meets Stash's trouble too, and says so
        log.warning("Could not look for changes made with no scene hook: %s", exc)
        return
    if found.queued:
        bell.ring()


async def _catch_up_every(
    stash: StashClient, queue: JobQueue, now: Callable[[], float], bell: Doorbell
) -> None:
    while True:
        await trio.sleep(CATCH_UP_EVERY_SECONDS)
        await _catch_up(stash, queue, now, bell)


async def _listen_then_close(sock: trio.socket.SocketType, bell: Doorbell) -> None:
    with sock:
        await listen(sock, bell)


async def _stop_when(
    until: Callable[[], Awaitable[str]], scope: trio.CancelScope, tally: RunTally
) -> None:
    tally.stop_reason = await until()
    scope.cancel()


async def _beat(heartbeat: Heartbeat) -> None:
    beat, every = heartbeat
    while True:
        beat()
        await trio.sleep(every)


async def _dispatch_outcomes(
    receive: trio.MemoryReceiveChannel[JobOutcome],
    breaker: trio.MemorySendChannel[BreakerInput],
    recorder: trio.MemorySendChannel[RecorderMessage],
    tally: RunTally,
    on_outcome: OnOutcome | None,
) -> None:
    """Fan each job outcome out: breaker (passive health signal), recorder, and the run tally."""
    with receive, breaker, recorder:
        async for outcome in receive:
            await breaker.send(outcome)
            if isinstance(outcome, JobFailed) and outcome.error_type in OUTAGE_ERROR_TYPES:
                await recorder.send(SceneFailed(scene_id=outcome.scene_id, at=outcome.at))
            _count(outcome, tally)
            if on_outcome is not None:
                on_outcome(outcome, tally)


def _count(outcome: JobOutcome, tally: RunTally) -> None:
    match outcome:
        case JobSucceeded():
            tally.synced += 1
        case JobFailed():
            tally.failed += 1
        case JobHeldBack():
            tally.held_back += 1
