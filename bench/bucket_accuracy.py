"""Token-bucket accuracy on the real trio clock: achieved rate against the cap at 20, 200 and 1,000
jobs/s. Target: within 1 % of the cap at each rate.

The real `BreakerGate` is driven as the drain drives it (admit: take a token, or sleep the wait the
bucket returns and take again) over a circuit that stays closed, so every late wake-up is trio's
own: epoll's whole-millisecond timeouts plus the scheduler on a shared machine. No job is sent,
so the rate is the bucket's alone. 10,000 acquisitions at 200 and 1,000 jobs/s; at 20 jobs/s
10,000 would take 500 s, so 500 (25 s) keep the whole script under 90 s.

Beside each figure: the stalls, gaps between admissions longer than one interval plus the carry.
No bucket that caps can make up for those (it would have to burst), so on a busy machine they show
how much of a shortfall is the machine's rather than the bucket's.

`main()` returns the figures as rows (figure, measured, target) for another script's table; the
rows are printed as one JSON line too. A script, not a test: it prints, it never asserts on timing.
"""

from __future__ import annotations

import functools
import itertools
import json
import sys
from pathlib import Path
from typing import NamedTuple

import trio

# Measure the bucket of the checkout this script is in, even when the virtualenv has another one
# installed (a git worktree sharing a virtualenv).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plexsync_actors.actors.announce import Announcer
from plexsync_actors.actors.gate import BreakerGate
from plexsync_actors.actors.watch import Watch
from plexsync_actors.clock import wall_now
from plexsync_actors.core.breaker import Closed
from plexsync_actors.core.bucket import CARRY_SECONDS, RampPolicy

RUNS = ((20.0, 500), (200.0, 10_000), (1000.0, 10_000))  # (cap in jobs/s, acquisitions)
TARGET_PERCENT = 1.0


class Row(NamedTuple):
    figure: str
    measured: float  # rate error, % of the cap
    target: str


class ClosedBreaker:
    """What the gate reads of a `BreakerActor` whose circuit stays closed: no recovery, no ramp."""

    def __init__(self) -> None:
        self.watch = Watch(Closed())
        self.closed_at: float | None = None
        self.outcomes_seen = 0

    @property
    def state(self) -> Closed:
        return self.watch.value


async def admitted_at(rate: float, count: int) -> list[float]:
    """The trio times at which the gate admitted `count` jobs under a cap of `rate` jobs/s."""
    gate = BreakerGate(
        breaker=ClosedBreaker(),  # type: ignore[arg-type]  # duck-typed: the gate only reads it
        policy=RampPolicy(initial_rate=rate, max_rate=rate, ramp_seconds=1.0),
        wall_now=wall_now,
        announce=Announcer(None, wall_now),
    )
    times = []
    for _ in range(count):
        await gate.admit()
        times.append(trio.current_time())
    return times


def stalls(times: list[float], rate: float) -> tuple[int, float]:
    """Gaps the carry cannot absorb, and the time they went beyond it."""
    allowed = 1.0 / rate + CARRY_SECONDS
    beyond = [b - a - allowed for a, b in itertools.pairwise(times) if b - a > allowed]
    return len(beyond), sum(beyond)


def measure(rate: float, count: int) -> Row:
    times = trio.run(functools.partial(admitted_at, rate, count))
    # A fresh bucket admits the first job at once: count - 1 intervals are paced by the cap.
    elapsed = times[-1] - times[0]
    achieved = (count - 1) / elapsed
    error = (achieved / rate - 1.0) * 100.0
    stalled, lost = stalls(times, rate)
    print(
        f"{rate:6.0f} jobs/s cap, {count:,} acquisitions in {elapsed:5.1f} s: "
        f"achieved {achieved:8.2f} jobs/s, error {error:+6.2f} % "
        f"(target within {TARGET_PERCENT:.0f} %); {stalled} stalls past the "
        f"{CARRY_SECONDS * 1000:.0f} ms carry, {lost / elapsed * 100:.2f} % of the run"
    )
    return Row(
        f"bucket rate error at {rate:.0f} jobs/s ({count:,} acquisitions), % of the cap",
        round(error, 3),
        f"within {TARGET_PERCENT:.0f} %",
    )


def main() -> list[Row]:
    rows = [measure(rate, count) for rate, count in RUNS]
    print(json.dumps([row._asdict() for row in rows]))
    return rows


if __name__ == "__main__":
    main()
