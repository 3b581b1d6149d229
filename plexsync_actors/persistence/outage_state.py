"""The shapes of breaker.json, recovery.json and outages.json, and how to open each file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn

from plexsync_actors.core.breaker import BreakerState, Closed, HalfOpen, Open
from plexsync_actors.core.health import ProbeSchedule
from plexsync_actors.core.outages import OutageLog
from plexsync_actors.persistence.state_files import StateFile, make_converter

BREAKER_FILE = "breaker.json"
RECOVERY_FILE = "recovery.json"
OUTAGES_FILE = "outages.json"
SCHEMA = 1
OUTAGES_SCHEMA = 2  # 2: a count of the scenes affected, not their ids


def _outages_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    records = []
    for record in data.get("records", []):
        record = dict(record)
        record["jobs_affected"] = len(record.pop("affected_scenes", []) or [])
        records.append(record)
    return {**data, "records": records}

_STATES: dict[str, type[Closed] | type[Open] | type[HalfOpen]] = {
    "closed": Closed,
    "open": Open,
    "half_open": HalfOpen,
}


def state_converter() -> cattrs.Converter:
    """The state-file converter, taught the breaker union (tagged by each state's `name`)."""
    converter = make_converter()
    unstructure = {cls: make_dict_unstructure_fn(cls, converter) for cls in _STATES.values()}
    structure = {name: make_dict_structure_fn(cls, converter) for name, cls in _STATES.items()}

    def unstructure_state(state: BreakerState) -> dict[str, Any]:
        data: dict[str, Any] = unstructure[type(state)](state)
        data["name"] = state.name
        return data

    def structure_state(data: Any, _: Any) -> BreakerState:
        if not isinstance(data, dict) or data.get("name") not in _STATES:
            raise ValueError("unknown breaker state")
        fields = {k: v for k, v in data.items() if k != "name"}
        state: BreakerState = structure[data["name"]](fields, _STATES[data["name"]])
        return state

    for cls in _STATES.values():
        converter.register_unstructure_hook(cls, unstructure_state)
    converter.register_structure_hook(BreakerState, structure_state)
    return converter


class OutageFiles:
    """The three state files of one data dir, sharing one converter."""

    def __init__(self, data_dir: Path, on_warning: Callable[[str], None]) -> None:
        converter = state_converter()
        self.breaker: StateFile[BreakerState] = StateFile(
            data_dir / BREAKER_FILE,
            BreakerState,
            schema=SCHEMA,
            converter=converter,
            on_warning=on_warning,
        )
        self.recovery: StateFile[ProbeSchedule] = StateFile(
            data_dir / RECOVERY_FILE,
            ProbeSchedule,
            schema=SCHEMA,
            converter=converter,
            on_warning=on_warning,
        )
        self.outages: StateFile[OutageLog] = StateFile(
            data_dir / OUTAGES_FILE,
            OutageLog,
            schema=OUTAGES_SCHEMA,
            converter=converter,
            migrations={1: _outages_1_to_2},
            on_warning=on_warning,
        )
