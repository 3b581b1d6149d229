"""A long-lived drainer's settings watch: a fix in Stash ends the run so it restarts with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from plexsync_actors.errors import StashUnavailable
from plexsync_actors.runtime.settings_watch import CHANGED, SWITCHED_OFF, SettingsWatch
from plexsync_actors.settings import parse_settings

RAW: dict[str, Any] = {"plex_url": "http://plex:32400", "plex_token": "old", "data_dir": "/d"}


class Stash:
    def __init__(self) -> None:
        self.raw: dict[str, Any] = dict(RAW)
        self.down = False
        self.reads: list[float] = []

    async def read(self) -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        self.reads.append(trio.current_time())
        if self.down:
            raise StashUnavailable("Stash is restarting")
        return dict(self.raw)


def watch_for(stash: Stash) -> SettingsWatch:
    current = parse_settings(RAW, stash_dir="/s")
    return SettingsWatch(current=current, read=stash.read, stash_dir="/s")


async def test_a_fixed_token_ends_the_run_at_the_next_read_with_the_new_settings(
    autojump_clock: MockClock,
) -> None:
    stash = Stash()
    watch = watch_for(stash)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_fix_token_later, stash)
        assert await watch.run() == CHANGED
    assert stash.reads == [60.0, 120.0]  # once a minute while nothing pokes it
    assert watch.changed is not None and watch.changed.plex_token.reveal() == "new"
    assert watch.changed.data_dir == Path("/d")


async def _fix_token_later(stash: Stash) -> None:
    await trio.sleep(90)
    stash.raw["plex_token"] = "new"


async def test_a_probe_makes_it_read_at_once(autojump_clock: MockClock) -> None:
    stash = Stash()
    watch = watch_for(stash)
    stash.raw["plex_token"] = "new"
    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch.run)
            await trio.testing.wait_all_tasks_blocked()
            watch.poke()  # the health actor probes while the circuit is open
            await trio.sleep(0.5)
            assert watch.changed is not None
            nursery.cancel_scope.cancel()


async def test_switching_it_off_ends_the_run_for_good(autojump_clock: MockClock) -> None:
    stash = Stash()
    stash.raw["enabled"] = False
    assert await watch_for(stash).run() == SWITCHED_OFF


async def test_a_failed_or_invalid_read_keeps_the_settings_and_tries_again(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    stash = Stash()
    watch = watch_for(stash)
    stash.down = True
    with trio.move_on_after(185):
        await watch.run()
    assert len(stash.reads) == 3 and watch.changed is None
    stash.down = False
    stash.raw["max_retries"] = "lots"
    with trio.move_on_after(185):
        await watch.run()
    assert watch.changed is None
    assert sum("not valid" in r.getMessage() for r in caplog.records) == 1  # said once
