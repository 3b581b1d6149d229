"""The latest result of each long action, for the PlexSync page (contract §5 `last_runs`).

Stash's `Job` carries no output and marks a plugin task FINISHED even when the plugin answered
an error, so the page reads how Process Queue, Recover Outage Jobs, Requeue Dead Letters and
Check Setup last ended from here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plexsync_actors.persistence.files import atomic_write_bytes, read_file_bytes

LAST_RUNS_NAME = "last_runs.json"
RECORDED_MODES = frozenset({"process_queue", "recover_outage_jobs", "requeue_dlq", "check_setup"})


def record_run(
    data_dir: Path, mode: str, *, finished_at: str, result: Any, error: str | None
) -> None:
    """Keep `mode`'s latest result (or error), replacing the one before."""
    runs = last_runs(data_dir)
    runs[mode] = {"finished_at": finished_at, "result": result, "error": error}
    text = json.dumps(runs, ensure_ascii=False, default=str)
    atomic_write_bytes(data_dir / LAST_RUNS_NAME, text.encode("utf-8"))


def last_runs(data_dir: Path) -> dict[str, Any]:
    try:
        runs = json.loads(read_file_bytes(data_dir / LAST_RUNS_NAME))
    except (OSError, ValueError, RecursionError):
        return {}
    return runs if isinstance(runs, dict) else {}
