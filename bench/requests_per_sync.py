"""Requests a warm drainer sends for a later edit of a scene it has synced before.

One scene is synced through the installed plugin (its hook starts the background drainer); then
the scene is edited in the fake Stash and queued again while that drainer still runs. The later
edit's requests are counted from the fakes' request logs, from the queueing to the job's end.
Target: Plex 2 (read the stored item, one PUT), Stash 1 (`findScene`).

The later edit is queued straight into the queue database, as the hook does once it has read
the plugin settings: that settings read is the hook's own request (every save pays it, synced
before or not), so leaving the hook out makes the counts the drainer's alone.

A script, not a test: it prints figures and exits non-zero only when the set-up itself fails.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

# This checkout's package first (the harness installs the plugin from the package imported),
# whatever another checkout an editable install points to.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import SetupError, bench_world_with_stash

from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.testing.harness import wait_for

TARGET_PLEX, TARGET_STASH = 2, 1
TIMEOUT = 30.0
_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+(\w+)")

Row = tuple[str, int, int]  # figure, measured, target



def _operation(body: bytes) -> str:
    """The GraphQL operation name of a Stash request (or its raw start)."""
    try:
        query = str(json.loads(body).get("query", ""))
    except (ValueError, AttributeError):
        return body[:40].decode("utf-8", "replace")
    match = _OPERATION.match(query)
    return match.group(1) if match else query[:40]


def _drained(data_dir: Path) -> bool:
    with JobQueue(data_dir) as queue:
        return queue.pending_count() == 0


def main() -> list[Row]:
    with bench_world_with_stash(1, drainer_idle_exit_seconds=30) as (plugin, plex, stash, pairs):
        ((scene_id, rating_key),) = pairs.items()
        data_dir = Path(stash.stash_dir) / "plugin_data" / "PlexSync"
        run = plugin.hook(scene_id)
        if run.returncode != 0:
            raise SetupError(f"the first hook failed: {run.stdout} {run.stderr}")
        if not wait_for(
            lambda: plex.item(rating_key).put_count == 1 and _drained(data_dir), TIMEOUT
        ):
            raise SetupError("the first sync did not reach Plex")
        plex_start, stash_start = len(plex.requests), len(stash.requests)
        stash.update_scene(scene_id, title="Edited later", tags=("a", "c"))
        with JobQueue(data_dir) as queue:
            queue.enqueue(scene_id, reason="Scene.Update.Post", now=time.time())
        if not wait_for(
            lambda: plex.item(rating_key).put_count == 2 and _drained(data_dir), TIMEOUT
        ):
            raise SetupError("the later edit did not reach Plex (is the drainer still running?)")
        plex_seen = [f"{r.method} {r.path}" for r in plex.requests[plex_start:]]
        stash_seen = [_operation(r.body) for r in stash.requests[stash_start:]]
    print("Plex requests of the later edit: " + ", ".join(plex_seen))
    print("Stash requests of the later edit: " + ", ".join(stash_seen))
    print(
        f"Plex / Stash requests for a later edit: {len(plex_seen)} / {len(stash_seen)} "
        f"(target {TARGET_PLEX} / {TARGET_STASH})"
    )
    rows: list[Row] = [
        ("Plex requests for a later edit", len(plex_seen), TARGET_PLEX),
        ("Stash requests for a later edit", len(stash_seen), TARGET_STASH),
    ]
    for figure, measured, target in rows:
        print(f"{figure:<34} measured {measured:>3}  target {target:>3}")
    return rows


if __name__ == "__main__":
    main()
