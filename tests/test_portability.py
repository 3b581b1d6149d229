"""Stash users run Windows too: no module of the package imports a POSIX-only one at import."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import importlib, pkgutil, sys

POSIX_ONLY = {"fcntl", "termios", "pwd", "grp", "resource", "pty", "tty", "syslog", "posixpath_"}


class Refuse:
    "Refuses a POSIX-only module to the package's own modules (not to its dependencies)."

    def find_spec(self, name, path=None, target=None):
        if name not in POSIX_ONLY:
            return None
        frame = sys._getframe(1)
        while frame is not None and frame.f_globals.get("__name__", "").startswith(
            ("importlib", "_frozen_importlib")
        ):
            frame = frame.f_back
        importer = frame.f_globals.get("__name__", "") if frame else ""
        if importer.startswith("plexsync_actors"):
            raise ImportError(f"{importer} imports {name}, which Windows does not have")
        return None


sys.meta_path.insert(0, Refuse())
import plexsync_actors

names = [
    info.name
    for info in pkgutil.walk_packages(plexsync_actors.__path__, "plexsync_actors.")
    if not info.name.startswith(("plexsync_actors.testing", "plexsync_actors.__main__"))
]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_every_module_imports_without_posix_only_modules() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 60  # every module was imported


def test_the_guard_catches_an_import_at_module_level(tmp_path: object) -> None:
    """Guards the guard: a package module importing fcntl at the top is refused."""
    probe = SCRIPT.replace(
        "sys.meta_path.insert(0, Refuse())",
        "sys.meta_path.insert(0, Refuse())\n"
        "import types\n"
        "bad = types.ModuleType('plexsync_actors.bad')\n"
        "exec('import fcntl', bad.__dict__)",
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode != 0 and "Windows does not have" in done.stderr
