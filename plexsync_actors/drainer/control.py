"""Start the detached background drainer and tell whether one runs. Standard library only.

Whether one runs is its heartbeat file, refreshed every few seconds by the lock holder: reading
it takes no lock, so status polls never make a starting drainer give up.

The drainer gets Stash's connection (cookie included) through a pipe on its stdin, never argv,
environment or a file. It runs in its own session with no inherited stdio, so Stash, which reads
the hook's stdout/stderr until EOF, is not kept waiting.
"""

from __future__ import annotations

import json
import os
import sys

from plexsync_actors.persistence.lock import ProcessLock

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and pathlib cost the hook milliseconds at run time
    import subprocess
    from collections.abc import Callable, Mapping
    from typing import Any
    from typing import NamedTuple as Record

    from plexsync_actors.core.values import StrPath
else:
    from plexsync_actors.core.records import Record

LOCK_NAME = "drainer.lock"
HEARTBEAT_NAME = "drainer.heartbeat"
HEARTBEAT_SECONDS = 2.0  # how often the lock holder says it is alive
STALE_SECONDS = 10.0  # a heartbeat older than this belongs to a drainer that is gone
LOCK_RETRY_SECONDS = 3.0  # a starting drainer waits this long for the lock to come free


class DrainerInfo(Record):
    running: bool
    pid: int | None
    since: float | None  # when it started (wall clock), None when not running
    wake: int | None = None  # the loopback UDP port of its doorbell (actors/doorbell.py)


def drainer_lock(data_dir: StrPath) -> ProcessLock:
    return ProcessLock(os.path.join(data_dir, LOCK_NAME))


def beat(data_dir: StrPath, *, since: float, now: float, wake: int | None = None) -> None:
    """The lock holder's heartbeat: who it is, since when, and that it is alive now.

    Other processes read it to tell whether a drainer runs, instead of probing the lock (a probe
    holds the lock for a moment, and a drainer starting at that moment would give up)."""
    path = os.path.join(data_dir, HEARTBEAT_NAME)
    partial = f"{path}.{os.getpid()}"
    with open(partial, "w", encoding="ascii") as file:
        file.write(json.dumps({"pid": os.getpid(), "since": since, "at": now, "wake": wake}))
    os.replace(partial, path)


def start_beating(data_dir: StrPath, wake: int | None = None) -> Callable[[], None]:
    """Beat once now (just after taking the lock); returns the beat to repeat while draining.
    `wake`: the port of the drainer's doorbell, which hooks ring after queueing a save."""
    from plexsync_actors.clock import wall_now

    since = wall_now()

    def again() -> None:
        try:  # noqa: SIM105 - contextlib would cost the hook an import
            beat(data_dir, since=since, now=wall_now(), wake=wake)
        except OSError:
            pass  # a missed beat only makes others start a drainer

    again()
    return again


def stop_beating(data_dir: StrPath) -> None:
    """A drainer that exits cleanly says so at once (a killed one goes stale by itself)."""
    try:
        heartbeat = _heartbeat(data_dir)
        if heartbeat.get("pid") == os.getpid():
            os.unlink(os.path.join(data_dir, HEARTBEAT_NAME))
    except (OSError, ValueError, AttributeError):
        pass


def drainer_running(data_dir: StrPath, *, now: float) -> DrainerInfo:
    """Whether a drainer (or a foreground drain) works this data dir: a fresh heartbeat."""
    try:
        heartbeat = _heartbeat(data_dir)
        pid, since, at = heartbeat["pid"], float(heartbeat["since"]), float(heartbeat["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return DrainerInfo(running=False, pid=None, since=None)
    if not (isinstance(pid, int) and 0 <= now - at < STALE_SECONDS and _alive(pid)):
        return DrainerInfo(running=False, pid=None, since=None)
    wake = heartbeat.get("wake")
    port = wake if isinstance(wake, int) and 0 < wake < 65536 else None
    return DrainerInfo(running=True, pid=pid, since=since, wake=port)


def _heartbeat(data_dir: StrPath) -> Any:
    with open(os.path.join(data_dir, HEARTBEAT_NAME), encoding="ascii") as file:
        return json.load(file)


def _alive(pid: int) -> bool:
    """Whether process `pid` exists (a killed drainer leaves a heartbeat still fresh)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":
        return _alive_on_windows(pid)
    try:
        os.kill(pid, 0)  # signal 0: existence only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed process nobody reaped yet still answers signal 0 (Linux shows it as Z)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def _alive_on_windows(pid: int) -> bool:
    """OpenProcess + GetExitCodeProcess (os.kill would terminate it on Windows)."""
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return False
        return bool(code.value == 259)  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def take_lock_briefly_waiting(lock: ProcessLock, data_dir: StrPath) -> bool:
    """Take the drainer lock, waiting up to LOCK_RETRY_SECONDS while no other drainer beats
    (the holder may be one just stopping); False when another drainer runs."""
    from plexsync_actors.clock import monotonic, sleep, wall_now

    deadline = monotonic() + LOCK_RETRY_SECONDS
    while not lock.try_acquire():
        if drainer_running(data_dir, now=wall_now()).running or monotonic() >= deadline:
            return False
        sleep(0.1)
    return True


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


def drainer_env(plugin_dir: str, env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the plugin's bundled dependencies and the plugin first on the import path,
    as every drainer is started."""
    started = dict(env)
    inherited = [started["PYTHONPATH"]] if started.get("PYTHONPATH") else []
    started["PYTHONPATH"] = os.pathsep.join([*import_paths(plugin_dir), *inherited])
    return started


def launch_drainer(
    python: str,
    plugin_dir: str,
    env: Mapping[str, str],
    server_connection: dict[str, Any],
    data_dir: StrPath,
) -> subprocess.Popen[bytes]:
    """Start `python -m plexsync_actors drainer` in its own session (detached, no window, on
    Windows) with no inherited stdio, and pipe it the connection and data dir on stdin."""
    import subprocess

    kwargs: dict[str, Any] = {}
    if os.name == "nt":
        flags = 0x00000008 | 0x00000200 | 0x08000000  # DETACHED, NEW_PROCESS_GROUP, NO_WINDOW
        kwargs["creationflags"] = flags
    else:
        kwargs["start_new_session"] = True
    proc = subprocess.Popen(
        [python, "-m", "plexsync_actors", "drainer"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        cwd=str(data_dir),
        env=drainer_env(plugin_dir, env),
        **kwargs,
    )
    assert proc.stdin is not None
    payload = json.dumps({"server_connection": server_connection, "data_dir": str(data_dir)})
    try:
        proc.stdin.write(payload.encode("utf-8"))
        proc.stdin.close()
    except OSError:
        pass  # the drainer died at once; the next hook or task starts another
    return proc


def spawn_drainer(server_connection: dict[str, Any], data_dir: StrPath) -> int:
    """Start a detached drainer process; returns its pid. Does not wait for it."""
    # os.path, not pathlib: this runs on the hook path, where every import counts.
    plugin_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = launch_drainer(sys.executable, plugin_dir, os.environ, server_connection, data_dir)
    # We never wait for it: mark it reaped so Popen does not warn about a running child.
    proc.returncode = 0
    return proc.pid


class DoorbellSocket:
    """The drainer's doorbell: a UDP socket on a free loopback port (`sock`, with its `port`),
    or none where no loopback socket can be had (then the queue poll alone wakes the drainer)."""

    def __init__(self) -> None:
        import socket

        self.sock: socket.socket | None = None
        self.port: int | None = None
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        except OSError:
            return
        try:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        except OSError:
            sock.close()
            return
        self.sock = sock

    def __enter__(self) -> DoorbellSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sock is not None:
            self.sock.close()


def open_doorbell() -> DoorbellSocket:
    """The drainer's end of the doorbell (`actors.doorbell.Doorbell` is what it rings)."""
    return DoorbellSocket()


def ring(port: int) -> None:
    """Wake the drainer listening on loopback `port`; a lost ring only waits for its poll."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"\x01", ("127.0.0.1", port))
    except OSError:
        pass


def ensure_drainer(server_connection: dict[str, Any], data_dir: StrPath, *, now: float) -> bool:
    """Start a drainer unless one runs (its heartbeat is fresh), else ring its doorbell so it
    looks at the queue now. True when one was started."""
    found = drainer_running(data_dir, now=now)
    if found.running:
        if found.wake is not None:
            ring(found.wake)
        return False
    spawn_drainer(server_connection, data_dir)
    return True
