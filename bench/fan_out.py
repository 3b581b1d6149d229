"""Changes no scene hook announces, at scale: a tag rename fanned out over 10,000 scenes, and the
catch-up's look with 100,000 scenes in Stash.

Both run the plugin's own code in this process (`sync.fan_out.FanOutExpander`,
`sync.catch_up.catch_up`, the real `StashClient` over loopback) against the fake Stash, which
validates every query against Stash's schema and filters in Python, so its own time is measured
apart ("of which the fake Stash") and a real Stash, filtering in SQL, answers faster. Figures:

1. Tag rename over 10,000 scenes (another 10,000 scenes without the tag): the time from the
   fan-out row to 10,000 scene jobs committed, the queries sent (one name lookup and the id
   pages), and the scene jobs queued per second of the plugin's own time.
2. Catch-up with 100,000 scenes: one look when nothing changed since the watermark, and one
   after 1,000 scenes changed with no hook: the time, the queries and the bytes Stash sent.

A script, not a test: it prints figures, never asserts timings, and exits non-zero only when the
set-up fails (a wrong count is a set-up failure).
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import TOKEN, SetupError, run_script
from _setup import Figure as Row

from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.secret import Secret
from plexsync_actors.settings import Settings
from plexsync_actors.stash.client import StashClient
from plexsync_actors.stash.connection import StashConnection
from plexsync_actors.sync.catch_up import catch_up
from plexsync_actors.sync.fan_out import PAGE_SIZE, FanOutExpander
from plexsync_actors.testing.fake_stash import FakeStash

TAGGED = 10_000
UNTAGGED = 10_000
CATCH_UP_SCENES = 100_000
CHANGED = 1_000




class SteppingClock:
    """Stash's clock for the fake: one second a scene, so times spread as in a real library."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


class Served:
    """How long the fake Stash spent answering GraphQL, and how many bytes it sent."""

    def __init__(self, fake: FakeStash) -> None:
        self.seconds = 0.0
        self.bytes = 0
        self._lock = threading.Lock()
        answer: Callable[[bytes], Any] = fake._graphql

        def timed(body: bytes) -> Any:
            start = time.perf_counter()
            reply = answer(body)
            with self._lock:
                self.seconds += time.perf_counter() - start
                self.bytes += len(reply.body)
            return reply

        fake._graphql = timed  # type: ignore[method-assign]

    def reset(self) -> None:
        with self._lock:
            self.seconds, self.bytes = 0.0, 0


def settings(data_dir: Path) -> Settings:
    return Settings(plex_url="http://127.0.0.1:9", plex_token=Secret(TOKEN), data_dir=data_dir)


def queries(fake: FakeStash) -> int:
    with fake.lock:
        return sum(fake.graphql_calls.values())


def tag_rename(root: Path) -> list[Row]:
    with FakeStash() as fake:
        for n in range(TAGGED + UNTAGGED):
            fake.add_scene(tags=["Outdoor", "HD"] if n % 2 == 0 else ["HD"])
        fake.rename_entity("tag", "Outdoor", "Outdoors")
        served = Served(fake)
        with JobQueue(root / "rename") as queue:
            queue.add_fan_out("tag", fake.entity_id("tag", "Outdoors"), "rename", now=0.0)
            asked_before = queries(fake)

            async def expand() -> None:
                async with httpx.AsyncClient(timeout=60.0) as http:
                    stash = StashClient(http, StashConnection(base_url=fake.url))
                    await FanOutExpander(
                        stash=stash, queue=queue, settings=settings(root), wall_now=time.time
                    ).expand_all()

            start = time.perf_counter()
            trio.run(expand)
            took = time.perf_counter() - start
            queued = queue.pending_count()
            left = queue.has_fan_outs()
        asked = queries(fake) - asked_before
        if queued != TAGGED or left or fake.invalid_queries:
            raise SetupError(f"the fan-out queued {queued} scenes, not {TAGGED} ({left=})")
    own = took - served.seconds
    return [
        Row("tag rename over 10,000 scenes: fan-out expansion (s)", took, "—"),
        Row("… of which the fake Stash answering (s)", served.seconds, "—"),
        Row(f"… queries sent (a name, then id pages of {PAGE_SIZE})", asked, "—"),
        Row("… scene jobs queued per second of the plugin's own time", TAGGED / own, "—"),
    ]


def catch_up_look(root: Path) -> list[Row]:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    clock = SteppingClock(start)
    with FakeStash(clock=clock) as fake:
        for _ in range(CATCH_UP_SCENES):
            fake.add_scene()
            clock.now += dt.timedelta(seconds=1)
        served = Served(fake)
        rows = []
        with JobQueue(root / "catch-up") as queue:

            async def look() -> int:
                async with httpx.AsyncClient(timeout=60.0) as http:
                    stash = StashClient(http, StashConnection(base_url=fake.url))
                    return (await catch_up(stash, queue, now=time.time())).queued

            trio.run(look)  # a new install: the watermark starts at Stash's newest change
            trio.run(look)  # fills the fake's text copy of every `updated_at` (not timed)
            for label, changed in (("nothing changed", 0), (f"{CHANGED:,} changed", CHANGED)):
                clock.now += dt.timedelta(seconds=30)
                for scene_id in range(1, changed + 1):
                    fake.update_scene(scene_id, title="changed with no hook")
                    clock.now += dt.timedelta(milliseconds=1)
                clock.now += dt.timedelta(seconds=30)
                served.reset()
                asked_before = queries(fake)
                begin = time.perf_counter()
                queued = trio.run(look)
                took = time.perf_counter() - begin
                if queued != changed:
                    raise SetupError(f"the catch-up queued {queued} scenes, not {changed}")
                prefix = f"catch-up, 100,000 scenes, {label}"
                rows += [
                    Row(f"{prefix}: one look (ms)", took * 1000, "—"),
                    Row(f"{prefix}: of which the fake Stash (ms)", served.seconds * 1000, "—"),
                    Row(f"{prefix}: queries sent", queries(fake) - asked_before, "—"),
                    Row(f"{prefix}: KB from Stash", served.bytes / 1000, "—"),
                ]
        if fake.invalid_queries:
            raise SetupError(f"invalid queries: {fake.invalid_queries[:1]}")
    return rows


def main() -> list[Row]:
    """The figures as rows (figure, measured, target), printed too."""
    with tempfile.TemporaryDirectory(prefix="plexsync-bench-") as tmp:
        rows = tag_rename(Path(tmp)) + catch_up_look(Path(tmp))
    for row in rows:
        print(f"{row.figure}: {row.measured:,.1f}  (target {row.target})")
    return rows


if __name__ == "__main__":
    run_script(main)
