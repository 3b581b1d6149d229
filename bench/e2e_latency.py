"""Save -> Plex: hook start -> PUT received at the fake Plex, p50 and p99 over 40 saves to a warm
drainer. Target: p50 <= 60 ms.

The plugin is the release zip run by a Python with no packages (bench/_setup.py), as a user runs
it, against zero-latency loopback fakes. The first save also starts the background drainer, so it
is shown apart; the 40 measured saves find it running (drainer_idle_exit_seconds is raised so it
stays). Each save is a different scene, so each one has something to send. The PUT's time is the
one the fake recorded on receiving it; the bench polls the item's put_count every POLL seconds to
know it arrived. The hook's own run (start -> exit, a blocking wait in a thread) is shown beside
it: the rest is the drainer noticing the job and syncing it. Each save starts a random 0 to GAP
seconds after the previous one reached Plex: saves started right away would keep the same phase
against the idle drainer's look at the queue every 0.2 s, and measure one point of it only.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import Row, SetupError, drain_world, load_average, median, pct

from plexsync_actors.testing import fake_plex_wire as wire
from plexsync_actors.testing.fake_plex import FakePlex
from plexsync_actors.testing.harness import Plugin

RUNS = 40
POLL = 0.002
TIMEOUT = 30.0
GAP = 0.25



def put_received(plex: FakePlex, rating_key: int) -> float:
    """When the fake received the item's first PUT edit (time.monotonic())."""
    with plex.lock:
        requests = list(plex.requests)
    for request in requests:
        if request.method == "PUT" and wire.first(request.params(), "id") == str(rating_key):
            return request.time
    raise SetupError(f"item {rating_key} has a put_count but no PUT was recorded")


def save(plugin: Plugin, plex: FakePlex, scene_id: int, rating_key: int) -> tuple[float, float]:
    """One save: (hook start -> PUT received, hook start -> hook exit), in ms."""
    exited: list[float] = []
    start = time.monotonic()
    proc = plugin.start_hook(scene_id)

    def wait_for_exit() -> None:
        proc.communicate()
        exited.append(time.monotonic())

    waiter = threading.Thread(target=wait_for_exit)
    waiter.start()
    while plex.item(rating_key).put_count == 0:
        if time.monotonic() - start > TIMEOUT:
            break
        time.sleep(POLL)
    waiter.join(TIMEOUT)
    if proc.returncode != 0 or not exited:
        raise SetupError(f"the hook for scene {scene_id} failed (exit {proc.returncode})")
    if plex.item(rating_key).put_count == 0:
        raise SetupError(f"scene {scene_id} did not reach Plex within {TIMEOUT:.0f} s")
    return (put_received(plex, rating_key) - start) * 1000, (exited[0] - start) * 1000


def main() -> list[Row]:
    print(f"load average at start: {load_average()}")
    with drain_world(RUNS + 1, released=True, drainer_idle_exit_seconds=120) as world:
        pairs = list(world.pairs.items())
        first, first_hook = save(world.plugin, world.plex, *pairs[0])
        latencies, hooks = [], []
        gaps = random.Random(1)
        for scene_id, rating_key in pairs[1:]:
            time.sleep(gaps.uniform(0.0, GAP))
            latency, hook = save(world.plugin, world.plex, scene_id, rating_key)
            latencies.append(latency)
            hooks.append(hook)
    p50, p99 = median(latencies), pct(latencies, 0.99)
    print(f"first save (starts the drainer): {first:6.1f} ms to the PUT (hook {first_hook:.1f} ms)")
    print(
        f"warm drainer, {RUNS} saves: hook start -> Plex PUT p50 {p50:6.1f} ms, p99 {p99:6.1f} ms "
        f"(min {min(latencies):.1f}, max {max(latencies):.1f}; target p50 <= 60 ms)"
    )
    print(
        f"  of which the hook itself (start -> exit): p50 {median(hooks):.1f} ms, "
        f"p99 {pct(hooks, 0.99):.1f} ms"
    )
    print(f"load average at the end: {load_average()}")
    return [
        ("save -> Plex PUT, warm drainer, p50", f"{p50:.0f} ms", "<= 60 ms"),
        ("save -> Plex PUT, warm drainer, p99", f"{p99:.0f} ms", "—"),
        ("first save (starts the drainer) -> Plex PUT", f"{first:.0f} ms", "—"),
    ]


if __name__ == "__main__":
    main()
