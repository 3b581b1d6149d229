"""Runs the plugin exactly as Stash does: the manifest's exec, stdin JSON, stdout JSON, stderr logs.

Shared by the end-to-end tests, `bench/` and the demo's checks. The project tree is copied into
`<plugins>/PlexSync/` so nothing relies on the checkout's location.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

# The project tree: the folder that holds PlexSync.yml, plexsync.py and the package.
ROOT = Path(__file__).resolve().parents[2]


def install_plugin(plugins_root: Path) -> Path:
    """Copy the plugin into `<plugins_root>/PlexSync` as a user would; returns the plugin dir."""
    target = plugins_root / "PlexSync"
    target.mkdir(parents=True)
    shutil.copy2(ROOT / "PlexSync.yml", target / "PlexSync.yml")
    shutil.copy2(ROOT / "plexsync.py", target / "plexsync.py")
    shutil.copytree(
        ROOT / "plexsync_actors",
        target / "plexsync_actors",
        ignore=shutil.ignore_patterns("__pycache__", "stash_schemas"),
    )
    shutil.copytree(ROOT / "ui", target / "ui")
    return target


def exec_command(plugin_dir: Path, python: str = sys.executable) -> list[str]:
    """The manifest's `exec`, with `{pluginDir}` and a leading python replaced as Stash does
    (by its configured Python path: here `python`)."""
    manifest = yaml.safe_load((plugin_dir / "PlexSync.yml").read_text(encoding="utf-8"))
    command = [str(part).replace("{pluginDir}", str(plugin_dir)) for part in manifest["exec"]]
    if command[0] in ("python", "python3"):
        command[0] = python
    return command


def plugin_env(plugin_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(plugin_dir.parent)  # Stash adds the plugins root
    return env


def go_json(value: Any) -> bytes:
    """`value` as Stash writes JSON to a plugin's stdin (Go's `encoding/json`): raw UTF-8, with
    `<`, `>`, `&` and the line and paragraph separators escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text.encode("utf-8")


class PluginRun:
    def __init__(self, completed: subprocess.CompletedProcess[bytes]) -> None:
        self.returncode = completed.returncode
        # Stash reads both as UTF-8: anything else fails the test here.
        self.stdout = completed.stdout.decode("utf-8")
        self.stderr = completed.stderr.decode("utf-8")

    @property
    def answer(self) -> dict[str, Any]:
        """The single JSON object on stdout (fails the test if there is anything else)."""
        value = json.loads(self.stdout)
        assert isinstance(value, dict), self.stdout
        assert set(value) in ({"output"}, {"error"}), value
        return value

    @property
    def output(self) -> Any:
        answer = self.answer
        assert "output" in answer, f"plugin failed: {answer} / {self.stderr}"
        return answer["output"]

    def log_messages(self) -> list[tuple[str, str]]:
        """(level char, message) of each Stash-encoded stderr line."""
        lines = []
        for line in self.stderr.splitlines():
            if line.startswith("\x01") and len(line) > 2 and line[2] == "\x02":
                lines.append((line[1], line[3:]))
        return lines


class Plugin:
    """An installed plugin and the Stash connection it is started with."""

    def __init__(
        self,
        plugin_dir: Path,
        server_connection: dict[str, Any],
        cwd: Path,
        python: str = sys.executable,
    ) -> None:
        self.dir = plugin_dir
        self.server_connection = server_connection
        self.cwd = cwd
        self.command = exec_command(plugin_dir, python)
        self.env = plugin_env(plugin_dir)

    def input_for(self, args: dict[str, Any]) -> bytes:
        return go_json({"server_connection": self.server_connection, "args": args})

    def run_raw(self, stdin: str | bytes, timeout: float = 60) -> PluginRun:
        completed = subprocess.run(
            self.command,
            input=stdin.encode("utf-8") if isinstance(stdin, str) else stdin,
            capture_output=True,
            cwd=self.cwd,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        return PluginRun(completed)

    def task(self, mode: str, timeout: float = 60, **args: Any) -> PluginRun:
        return self.run_raw(self.input_for({"mode": mode, **args}), timeout=timeout)

    def hook(
        self,
        scene_id: int,
        hook_type: str = "Scene.Update.Post",
        fields: dict[str, Any] | None = None,
    ) -> PluginRun:
        """A hook as Stash runs it; `fields` go into its `input` (a SceneUpdateInput)."""
        update = {"id": str(scene_id), **(fields or {})}
        context = {"id": scene_id, "type": hook_type, "input": update}
        if hook_type == "Scene.Update.Post":
            context["inputFields"] = ["id", "title"]
        return self.run_raw(self.input_for({"hookContext": context}))

    def hook_context(self, context: dict[str, Any]) -> PluginRun:
        """A hook with the `hookContext` Stash sends (FakeStash's entity changes give them)."""
        return self.run_raw(self.input_for({"hookContext": context}))

    def start_hook(self, scene_id: int) -> subprocess.Popen[str]:
        context = {"id": scene_id, "type": "Scene.Update.Post", "input": None}
        proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            cwd=self.cwd,
            env=self.env,
        )
        assert proc.stdin is not None
        proc.stdin.write(self.input_for({"hookContext": context}).decode("utf-8"))
        proc.stdin.close()
        proc.stdin = None  # closed, as Stash does after writing; communicate() must not flush it
        return proc


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def drainer_pid(data_dir: Path) -> int | None:
    """The pid in the drainer's heartbeat file (stale or not: it may be hung), or None."""
    try:
        pid = json.loads((data_dir / "drainer.heartbeat").read_text())["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if isinstance(pid, int) else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as dead.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return True
    return status != "Z"


def kill_drainer(data_dir: Path) -> None:
    pid = drainer_pid(data_dir)
    if pid is not None and process_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not process_alive(pid), 5)
