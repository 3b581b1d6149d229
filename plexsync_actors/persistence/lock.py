"""A non-blocking, per-data-dir process lock that works on POSIX and Windows.

The OS drops the lock when the holder dies, even by SIGKILL, so a killed drainer never blocks the
next one. POSIX-only modules are imported lazily: Stash users run Windows too.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and pathlib cost the hook milliseconds at run time
    from typing import IO

    from plexsync_actors.core.values import StrPath


class ProcessLock:
    """An exclusive advisory lock on a file; `try_acquire` never waits."""

    def __init__(self, path: StrPath) -> None:
        self.path = os.fspath(path)
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        handle = open(self.path, "a+b")  # noqa: SIM115 - kept open while the lock is held
        try:
            if not _lock(handle):
                handle.close()
                return False
        except OSError:
            handle.close()
            raise
        self._file = handle
        return True

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is None:
            return
        try:
            _unlock(handle)
        finally:
            handle.close()

    def is_held_elsewhere(self) -> bool:
        """True when another process holds the lock right now."""
        if self._file is not None:
            return False
        if not self.try_acquire():
            return True
        self.release()
        return False

    def __enter__(self) -> ProcessLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock(handle: IO[bytes]) -> bool:
    if os.name == "nt":
        import msvcrt

        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(handle: IO[bytes]) -> None:
    if os.name == "nt":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
