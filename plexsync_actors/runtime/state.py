"""Loading the persisted outage state of a data dir: breaker, probe schedule, outage history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs

from plexsync_actors.core import breaker as core_breaker
from plexsync_actors.core import health as core_health
from plexsync_actors.core import outages as core_outages
from plexsync_actors.persistence.outage_state import OutageFiles


@attrs.frozen(kw_only=True)
class OutageStores:
    """The persisted outage state of one data dir, loaded once per run."""

    files: OutageFiles
    breaker: core_breaker.BreakerState
    schedule: core_health.ProbeSchedule
    outages: core_outages.OutageLog


def load_outage_state(data_dir: Path, on_warning: Callable[[str], None]) -> OutageStores:
    files = OutageFiles(data_dir, on_warning)
    breaker = files.breaker.load() or core_breaker.Closed()
    if isinstance(breaker, core_breaker.HalfOpen) and breaker.trial_started:
        breaker = attrs.evolve(breaker, trial_started=False)  # its trial died with the process
    return OutageStores(
        files=files,
        breaker=breaker,
        schedule=files.recovery.load() or core_health.ProbeSchedule(interval=0.0),
        outages=files.outages.load() or core_outages.OutageLog(),
    )
