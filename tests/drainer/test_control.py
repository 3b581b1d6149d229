"""Starting the detached drainer: the way to detach and the import paths, chosen by platform."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from plexsync_actors.drainer import control

DETACHED_PROCESS, CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW = 0x8, 0x200, 0x08000000


class FakePopen:
    """Records how the drainer would be started; its stdin collects what was piped."""

    started: ClassVar[list[FakePopen]] = []

    def __init__(self, args: list[str], **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs
        self.pid = 4242
        self.returncode: int | None = None
        self.stdin = self.Pipe()
        FakePopen.started.append(self)

    class Pipe:
        def __init__(self) -> None:
            self.data = b""

        def write(self, data: bytes) -> int:
            self.data += data
            return len(data)

        def close(self) -> None:
            pass


@pytest.fixture
def popen(monkeypatch: pytest.MonkeyPatch) -> type[FakePopen]:
    FakePopen.started = []
    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    return FakePopen


def spawn(tmp_path: Path) -> FakePopen:
    conn = {"Scheme": "http", "Port": 9999, "SessionCookie": {"Name": "s", "Value": "secret"}}
    assert control.spawn_drainer(conn, tmp_path) == 4242
    [started] = FakePopen.started
    return started


def test_on_windows_the_drainer_is_detached_without_a_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, popen: type[FakePopen]
) -> None:
    monkeypatch.setattr(os, "name", "nt")
    started = spawn(tmp_path)
    flags = started.kwargs["creationflags"]
    assert flags == DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW
    assert "start_new_session" not in started.kwargs


def test_on_posix_the_drainer_gets_its_own_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, popen: type[FakePopen]
) -> None:
    monkeypatch.setattr(os, "name", "posix")
    started = spawn(tmp_path)
    assert started.kwargs["start_new_session"] is True and "creationflags" not in started.kwargs


def test_the_connection_goes_through_stdin_and_never_argv_or_the_environment(
    tmp_path: Path, popen: type[FakePopen]
) -> None:
    started = spawn(tmp_path)
    assert started.args == [sys.executable, "-m", "plexsync_actors", "drainer"]
    assert started.kwargs["stdout"] == started.kwargs["stderr"] == subprocess.DEVNULL
    assert "secret" not in " ".join(started.args) + json.dumps(started.kwargs["env"])
    assert json.loads(started.stdin.data)["server_connection"]["SessionCookie"]["Value"] == "secret"


def test_import_paths_put_the_bundle_first_and_on_windows_the_cffi_of_this_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = tmp_path / "PlexSync"
    assert control.import_paths(str(plugin)) == [str(plugin)]  # a git checkout: no bundle
    tag = "cp{}{}-win_amd64".format(*sys.version_info[:2])
    (plugin / "vendor" / tag).mkdir(parents=True)
    vendor = str(plugin / "vendor")
    assert control.import_paths(str(plugin)) == [vendor, str(plugin)]
    monkeypatch.setattr(os, "name", "nt")
    assert control.import_paths(str(plugin)) == [os.path.join(vendor, tag), vendor, str(plugin)]


def test_the_spawned_drainer_finds_the_bundle_through_its_pythonpath(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, popen: type[FakePopen]
) -> None:
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.setattr(control, "import_paths", lambda root: ["/bundle/vendor", root])
    started = spawn(tmp_path)
    paths = started.kwargs["env"]["PYTHONPATH"].split(os.pathsep)
    assert paths[0] == "/bundle/vendor" and paths[-1] == "/elsewhere"


def test_whether_a_drainer_runs_is_its_fresh_heartbeat_and_never_takes_the_lock(
    tmp_path: Path,
) -> None:
    assert control.drainer_running(tmp_path, now=1000.0) == (False, None, None, None)
    control.beat(tmp_path, since=990.0, now=1000.0, wake=4321)
    assert control.drainer_running(tmp_path, now=1005.0) == (True, os.getpid(), 990.0, 4321)
    assert not control.drainer_running(tmp_path, now=1000.0 + control.STALE_SECONDS).running
    assert not (tmp_path / control.LOCK_NAME).exists()  # nobody probed the lock
    held = control.drainer_lock(tmp_path)
    assert held.try_acquire()  # a lock holder that does not beat is no drainer
    assert not control.drainer_running(tmp_path, now=1000.0 + control.STALE_SECONDS).running
    held.release()


def test_a_killed_drainers_heartbeat_does_not_count_even_while_fresh(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / control.HEARTBEAT_NAME).write_text(
        json.dumps({"pid": gone.pid, "since": 1.0, "at": 2.0}), encoding="ascii"
    )
    assert not control.drainer_running(tmp_path, now=3.0).running


def test_a_clean_exit_removes_only_its_own_heartbeat(tmp_path: Path) -> None:
    control.beat(tmp_path, since=1.0, now=2.0)
    control.stop_beating(tmp_path)
    assert not (tmp_path / control.HEARTBEAT_NAME).exists()
    (tmp_path / control.HEARTBEAT_NAME).write_text('{"pid": 1, "since": 1, "at": 2}')
    control.stop_beating(tmp_path)  # another process's: left alone
    assert (tmp_path / control.HEARTBEAT_NAME).exists()


def test_a_starting_drainer_waits_briefly_for_a_lock_held_a_moment(tmp_path: Path) -> None:
    import threading

    other = control.drainer_lock(tmp_path)
    assert other.try_acquire()
    threading.Timer(0.4, other.release).start()
    starting = control.drainer_lock(tmp_path)
    assert control.take_lock_briefly_waiting(starting, tmp_path)
    starting.release()


def test_a_starting_drainer_gives_up_at_once_when_another_one_beats(tmp_path: Path) -> None:
    import time

    other = control.drainer_lock(tmp_path)
    assert other.try_acquire()
    control.beat(tmp_path, since=time.time(), now=time.time())
    started = time.monotonic()
    assert not control.take_lock_briefly_waiting(control.drainer_lock(tmp_path), tmp_path)
    assert time.monotonic() - started < 1.0
    other.release()


def test_ensure_drainer_starts_none_while_one_beats(
    tmp_path: Path, popen: type[FakePopen]
) -> None:
    control.beat(tmp_path, since=1.0, now=2.0)
    assert control.ensure_drainer({"Port": 9999}, tmp_path, now=3.0) is False
    assert FakePopen.started == []
    assert control.ensure_drainer({"Port": 9999}, tmp_path, now=30.0) is True
