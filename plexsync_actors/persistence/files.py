"""File primitives the persistence modules share: atomic replace, and Windows' sharing retries.

Standard library only, and cheap to import (the hook's queue repair uses them): `os.path`, not
`pathlib`; `tempfile` only when a file is written.
"""

from __future__ import annotations

import os

from plexsync_actors.clock import sleep as _real_sleep

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the hook milliseconds at run time
    from collections.abc import Callable
    from typing import TypeVar

    from plexsync_actors.core.values import StrPath

    R = TypeVar("R")

# Windows refuses to replace or open a file while another process briefly holds it without
# delete sharing (a reader, an antivirus scan); such sharing violations clear within moments.
_IS_WINDOWS = os.name == "nt"
_SHARING_RETRY_DELAYS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.4)


def _retry_sharing(op: Callable[[], R], *, windows: bool, sleep: Callable[[float], None]) -> R:
    for delay in (*_SHARING_RETRY_DELAYS, None):
        try:
            return op()
        except PermissionError:
            if not windows or delay is None:
                raise
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def replace_file(
    src: StrPath,
    dst: StrPath,
    *,
    windows: bool = _IS_WINDOWS,
    sleep: Callable[[float], None] = _real_sleep,
) -> None:
    """`os.replace`, retried briefly on Windows sharing violations (under a second in all)."""
    _retry_sharing(lambda: os.replace(src, dst), windows=windows, sleep=sleep)


def read_file_bytes(
    path: StrPath,
    *,
    windows: bool = _IS_WINDOWS,
    sleep: Callable[[float], None] = _real_sleep,
) -> bytes:
    """The file's bytes (FileNotFoundError when missing), retried like `replace_file`."""
    def read() -> bytes:
        with open(path, "rb") as file:
            return file.read()

    return _retry_sharing(read, windows=windows, sleep=sleep)


def atomic_write_bytes(path: StrPath, data: bytes) -> None:
    """Replace `path` with `data` so readers and crashes see the old or the new file, never a mix.

    Temp file in the same folder, write, fsync, rename over the target, fsync the folder. The temp
    file is removed on any failure.
    """
    import tempfile

    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        replace_file(tmp, path)
    except BaseException:
        try:  # noqa: SIM105 - contextlib would cost the hook an import
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    """Make the rename durable. Windows cannot open a folder this way; NTFS journals renames."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename itself already happened
    finally:
        os.close(fd)
