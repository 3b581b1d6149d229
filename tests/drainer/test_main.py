"""The detached drainer's own process: why it stopped reaches plexsync.log and the Stash log."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from plexsync_actors.drainer import main as drainer
from plexsync_actors.persistence.events import EventLog


class Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)

    def close(self) -> None:
        pass


def test_a_drainer_that_crashes_says_why_in_its_log_and_to_the_next_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(payload: dict[str, Any], lock: object) -> int:
        raise ValueError("something nobody expected")

    monkeypatch.setattr(drainer, "_run", crash)
    payload = json.dumps({"data_dir": str(tmp_path), "server_connection": {}}).encode()
    monkeypatch.setattr(sys, "stdin", Stdin(payload))
    assert drainer.main() == 2
    log = (tmp_path / "plexsync.log").read_text(encoding="utf-8")
    assert "stopped unexpectedly (ValueError: something nobody expected)" in log
    assert "Traceback" in log  # the details for a bug report
    [event] = EventLog(tmp_path).take_unrelayed()  # what the next task relays to Stash's log
    assert event.level == "error" and "something nobody expected" in event.message
    assert not drainer.drainer_lock(tmp_path).is_held_elsewhere()  # the lock was let go
