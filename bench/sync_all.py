"""Sync All of 100,000 scenes through the installed plugin: scenes queued per second.

The task runs exactly as Stash starts it (`python plexsync.py`, stdin JSON, a data dir of its
own) against a loopback Stash that answers every `findScenes` page from bytes rendered before
timing, so the fake does not set the pace. Figures, each the wall time of the whole task process
(start-up, settings read, walk, enqueue) over the scenes it queued:

1. Sync All into an empty queue.
2. Sync All again while every scene is still pending: each job coalesces (version bumped, no
   second row), as a repeated Sync All does before the drainer caught up.

The task reads pages of scene ids (`findScenes { count scenes { id } }`, ID_PAGE_SIZE a page).
Before that it read full scene data, 100 a page, plus a count: this script at commit 06ceea5
serves those pages and measures it. Target: >= 10,000 scenes queued per second.

The bench stands in for a running drainer (it keeps a fresh heartbeat), so the task queues and
leaves the draining to it: a real drainer would take CPU from the task being measured. A script,
not a test: it prints figures, never asserts timings, and exits non-zero only when the set-up
itself fails (a wrong count is a set-up failure).
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import TOKEN, SetupError, run_script
from _setup import Figure as Row

from plexsync_actors.drainer.control import HEARTBEAT_SECONDS, start_beating
from plexsync_actors.stash.client import ID_PAGE_SIZE
from plexsync_actors.testing.harness import Plugin, install_plugin
from plexsync_actors.testing.loopback import TrackingHTTPServer

SCENES = 100_000
TARGET = 10_000.0  # scenes queued per second
VERSION = "v0.30.1"
_OPERATION = re.compile(rb"query\s+(\w+)")




def answer(data: dict[str, Any]) -> bytes:
    return json.dumps({"data": data}, separators=(",", ":")).encode()


def rendered_answers(settings: dict[str, object]) -> dict[tuple[bytes, int, int], bytes]:
    """Every answer the task needs, keyed by (operation, page, per_page); built before timing."""
    plugins = {"PlexSync": settings}
    answers = {
        (b"PlexSyncPluginSettings", 0, 0): answer(
            {"version": {"version": VERSION}, "configuration": {"plugins": plugins}}
        ),
    }
    for page in range(1, -(-SCENES // ID_PAGE_SIZE) + 1):
        ids = range((page - 1) * ID_PAGE_SIZE + 1, min(page * ID_PAGE_SIZE, SCENES) + 1)
        found = {"count": SCENES, "scenes": [{"id": str(n)} for n in ids]}
        answers[(b"PlexSyncSceneIds", page, ID_PAGE_SIZE)] = answer({"findScenes": found})
    return answers


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx and Stash do
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        assert isinstance(self.server, RenderedStash)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        reply = self.server.reply(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        return


class RenderedStash(TrackingHTTPServer):
    """A loopback Stash that answers from pre-rendered bytes; anything else gets a GraphQL
    error (the task then fails, and the bench says so)."""

    def __init__(self, answers: dict[tuple[bytes, int, int], bytes]) -> None:
        self.answers = answers
        self.unknown: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    def reply(self, body: bytes) -> bytes:
        match = _OPERATION.search(body)
        find = (json.loads(body).get("variables") or {}).get("filter") or {}
        operation = match.group(1) if match else b""
        key = (operation, int(find.get("page") or 0), int(find.get("per_page") or 0))
        found = self.answers.get(key)
        if found is None:
            self.unknown.append(f"{operation.decode()} page {key[1]} per_page {key[2]}")
            return json.dumps({"errors": [{"message": "not rendered"}], "data": None}).encode()
        return found

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def serving(server: RenderedStash) -> Iterator[RenderedStash]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def standing_in_for_a_drainer(data_dir: Path) -> Iterator[None]:
    """Keep the drainer heartbeat fresh with this process's pid, so the task starts none."""
    data_dir.mkdir(parents=True, exist_ok=True)
    again = start_beating(data_dir)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            again()

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def timed_sync_all(plugin: Plugin, data_dir: Path, stash: RenderedStash) -> float:
    """One Sync All task; its wall time in seconds, after checking what it queued."""
    start = time.perf_counter()
    run = plugin.task("all", timeout=300)
    elapsed = time.perf_counter() - start
    if run.returncode != 0 or run.answer.get("output", {}).get("queued") != SCENES:
        raise SetupError(f"'all' answered {run.stdout.strip()} ({stash.unknown[:3]})")
    with contextlib.closing(sqlite3.connect(data_dir / "queue.sqlite3")) as db:
        counted = "SELECT COUNT(*), COUNT(DISTINCT scene_id) FROM jobs"
        rows, distinct = db.execute(counted).fetchone()
    if rows != SCENES or distinct != SCENES:
        raise SetupError(f"the queue holds {rows} jobs for {distinct} scenes, not {SCENES}")
    return elapsed


def measure() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="plexsync-bench-") as tmp:
        root = Path(tmp)
        stash_dir = root / "stash"
        data_dir = stash_dir / "plugin_data" / "PlexSync"
        # Nothing listens there: no drain is measured, and a stray drainer could not sync.
        settings: dict[str, object] = {"plex_url": "http://127.0.0.1:9", "plex_token": TOKEN}
        start = time.perf_counter()
        answers = rendered_answers(settings)
        took, size = time.perf_counter() - start, sum(len(b) for b in answers.values()) / 1e6
        print(f"rendered {len(answers)} answers ({size:.1f} MB) in {took:.1f} s, before timing")
        with serving(RenderedStash(answers)) as stash, standing_in_for_a_drainer(data_dir):
            connection = {
                "Scheme": "http",
                "Host": "127.0.0.1",
                "Port": stash.server_address[1],
                "SessionCookie": None,
                "Dir": str(stash_dir),
                "PluginDir": "",
            }
            plugin = Plugin(install_plugin(root / "plugins"), connection, root)
            fresh = timed_sync_all(plugin, data_dir, stash)
            again = timed_sync_all(plugin, data_dir, stash)
    target = f">= {TARGET:,.0f}"
    return [
        Row("Sync All, empty queue: scenes queued/s", SCENES / fresh, target),
        Row("Sync All, every scene pending (coalesce): scenes queued/s", SCENES / again, target),
    ]


def main() -> list[Row]:
    """The figures as rows (figure, measured, target), printed too; another script may import
    this and build a table."""
    print(f"scenes: {SCENES:,}; findScenes pages pre-rendered; task run as Stash starts it")
    rows = measure()
    for row in rows:
        print(f"{row.figure}: {row.measured:9,.0f}  (target {row.target})")
    return rows


if __name__ == "__main__":
    run_script(main)
