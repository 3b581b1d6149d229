"""The doorbell: a hook's save wakes a running drainer at once (the poll stays the fallback)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import trio

from plexsync_actors.actors.doorbell import Doorbell, listen
from plexsync_actors.drainer.control import ensure_drainer, open_doorbell, ring


async def test_a_datagram_to_the_drainers_port_rings_its_doorbell() -> None:
    bell = Doorbell()
    with open_doorbell() as door:
        assert door.sock is not None and door.port is not None
        port = door.port
        with trio.socket.from_stdlib_socket(door.sock.dup()) as listening:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(listen, listening, bell)
                await trio.sleep(0.05)
                started = trio.current_time()
                ring(port)
                with trio.fail_after(10):
                    await bell.wait(60.0)
                nursery.cancel_scope.cancel()
    assert trio.current_time() - started < 10


def test_a_save_rings_the_doorbell_its_running_drainer_names(tmp_path: Path) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(10)
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        heartbeat = {"pid": stand_in.pid, "since": time.time(), "at": time.time()}
        heartbeat["wake"] = listener.getsockname()[1]
        (tmp_path / "drainer.heartbeat").write_text(json.dumps(heartbeat), encoding="ascii")
        started = ensure_drainer({"Port": 1}, tmp_path, now=time.time())
        assert started is False  # it runs: none is started...
        assert listener.recv(16)  # ...and it is told to look at the queue now
    finally:
        stand_in.kill()
        stand_in.wait()
        listener.close()
