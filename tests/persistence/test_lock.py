"""The process lock: POSIX flock, and on Windows msvcrt.locking (played here by a fake)."""

from __future__ import annotations

import errno
import os
import sys
import types
from pathlib import Path

import pytest

from plexsync_actors.persistence.lock import ProcessLock


class FakeMsvcrt(types.ModuleType):
    """msvcrt.locking as Windows does it: a byte range locked by one handle at a time."""

    LK_UNLCK, LK_NBLCK = 0, 2

    def __init__(self) -> None:
        super().__init__("msvcrt")
        self.held: dict[int, int] = {}  # inode -> fd holding it
        self.calls: list[tuple[int, int]] = []

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        assert nbytes == 1 and os.lseek(fd, 0, os.SEEK_CUR) == 0  # the first byte
        self.calls.append((fd, mode))
        inode = os.fstat(fd).st_ino
        if mode == self.LK_NBLCK:
            if inode in self.held:
                raise OSError(errno.EACCES, "Permission denied")
            self.held[inode] = fd
        elif mode == self.LK_UNLCK:
            if self.held.get(inode) != fd:
                raise OSError(errno.EACCES, "Permission denied")
            del self.held[inode]


def test_on_windows_the_lock_is_msvcrt_locking_of_the_first_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = ProcessLock(tmp_path / "drainer.lock"), ProcessLock(tmp_path / "drainer.lock")
    fake = FakeMsvcrt()
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    monkeypatch.setattr(os, "name", "nt")
    assert first.try_acquire() and first.held
    assert not second.try_acquire() and not second.held  # never waits
    assert second.is_held_elsewhere()
    first.release()
    assert second.try_acquire()
    second.release()
    modes = [mode for _, mode in fake.calls]
    assert modes == [2, 2, 2, 0, 2, 0]  # lock, refused, probe refused, unlock, lock, unlock
    assert fake.held == {}


def test_on_posix_a_second_lock_is_refused_until_the_first_is_released(tmp_path: Path) -> None:
    if os.name == "nt":
        pytest.skip("POSIX only")
    first, second = ProcessLock(tmp_path / "drainer.lock"), ProcessLock(tmp_path / "drainer.lock")
    assert first.try_acquire()
    assert not second.try_acquire() and second.is_held_elsewhere()
    first.release()
    assert not second.is_held_elsewhere() and second.try_acquire()
    second.release()
