"""Start the detached background drainer and tell whether one runs. Standard library only.

The drainer gets Stash's connection (cookie included) through a pipe on its stdin, never argv,
environment or a file. It runs in its own session with no inherited stdio, so Stash, which reads
the hook's stdout/stderr until EOF, is not kept waiting.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from plexsync_actors.persistence.lock import ProcessLock

LOCK_NAME = "drainer.lock"
PID_NAME = "drainer.pid"


def drainer_lock(data_dir: Path) -> ProcessLock:
    return ProcessLock(data_dir / LOCK_NAME)


def drainer_running(data_dir: Path) -> tuple[bool, int | None]:
    """(running, pid) of the process holding the drainer lock for this data dir."""
    if not drainer_lock(data_dir).is_held_elsewhere():
        return False, None
    try:
        return True, int((data_dir / PID_NAME).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return True, None


def write_pid(data_dir: Path) -> None:
    (data_dir / PID_NAME).write_text(str(os.getpid()), encoding="ascii")


def import_paths(plugin_dir: str) -> list[str]:
    """Where the plugin's code is found, first first: the bundled dependencies of a release zip
    (`vendor/`, and on Windows the compiled `cffi` for this Python), then the plugin itself."""
    vendor = os.path.join(plugin_dir, "vendor")
    paths = [plugin_dir]
    if os.path.isdir(vendor):
        paths.insert(0, vendor)
        if os.name == "nt":
            tag = "cp{}{}-win_amd64".format(*sys.version_info[:2])
            compiled = os.path.join(vendor, tag)
            if os.path.isdir(compiled):
                paths.insert(0, compiled)
    return paths


def spawn_drainer(server_connection: dict[str, Any], data_dir: Path) -> int:
    """Start a detached drainer process; returns its pid. Does not wait for it."""
    import subprocess

    # os.path, not pathlib: this runs on the hook path, where every import counts.
    plugin_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    inherited = [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []
    env["PYTHONPATH"] = os.pathsep.join([*import_paths(plugin_dir), *inherited])
    kwargs: dict[str, Any] = {}
    if os.name == "nt":
        flags = 0x00000008 | 0x00000200 | 0x08000000  # DETACHED, NEW_PROCESS_GROUP, NO_WINDOW
        kwargs["creationflags"] = flags
    else:
        kwargs["start_new_session"] = True
    proc = subprocess.Popen(
        [sys.executable, "-m", "plexsync_actors", "drainer"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        cwd=str(data_dir),
        env=env,
        **kwargs,
    )
    assert proc.stdin is not None
    payload = json.dumps({"server_connection": server_connection, "data_dir": str(data_dir)})
    try:
        proc.stdin.write(payload.encode("utf-8"))
        proc.stdin.close()
    except OSError:
        pass  # the drainer died at once; the next hook or task starts another
    # We never wait for it: mark it reaped so Popen does not warn about a running child.
    proc.returncode = 0
    return proc.pid


def ensure_drainer(server_connection: dict[str, Any], data_dir: Path) -> bool:
    """Start a drainer unless one already holds the lock. Returns True when one was started."""
    if drainer_lock(data_dir).is_held_elsewhere():
        return False
    spawn_drainer(server_connection, data_dir)
    return True
