"""The log of breaker/recovery sentences, shared between the drainer and task runs (contract §8).

The detached drainer appends one JSON line per event to `events.jsonl`; every task run relays to
Stash's log the events written since the last relay (cursor in `events.relay`), and
`queue_status` shows the newest ones. Only one process writes the log; readers in other processes
may catch a line half written, so any line that does not parse is skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from plexsync_actors.persistence.files import atomic_write_bytes, read_file_bytes

__all__ = ["CURSOR_FILE", "EVENTS_FILE", "LEVELS", "MAX_MESSAGE_CHARS", "Event", "EventLog"]

EVENTS_FILE = "events.jsonl"
CURSOR_FILE = "events.relay"
LEVELS = frozenset({"info", "warning", "error"})
MAX_MESSAGE_CHARS = 2000


@attrs.frozen(kw_only=True)
class Event:
    seq: int
    at: float
    level: str
    message: str


class EventLog:
    """Append-only event log trimmed to the newest `keep` events once it holds twice as many."""

    def __init__(self, data_dir: Path, *, keep: int = 200) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self._path = data_dir / EVENTS_FILE
        self._cursor_path = data_dir / CURSOR_FILE
        self._keep = keep
        # Writer state, read from the file at the first append (None until then).
        self._last_seq: int | None = None
        self._lines = 0
        self._torn_tail = False

    @property
    def path(self) -> Path:
        return self._path

    def append(self, *, at: float, level: str, message: str) -> Event:
        """Add one event (message cut to MAX_MESSAGE_CHARS) with the next sequence number."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {sorted(LEVELS)}, got {level!r}")
        if self._last_seq is None:
            self._last_seq = self._scan()
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 1] + "…"
        event = Event(seq=self._last_seq + 1, at=float(at), level=level, message=message)
        line = _encode(event)
        if self._torn_tail:  # end the half line a crash left, so this event stays readable
            line = b"\n" + line
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._torn_tail = True  # until the write below is known to be complete
        with open(self._path, "ab", buffering=0) as f:
            view = memoryview(line)
            while view:  # one write() in practice; loop only on a short write
                view = view[f.write(view) :]
        self._torn_tail = False
        self._last_seq = event.seq
        self._lines += 1
        if self._lines > 2 * self._keep:
            self._trim()
        return event

    def recent(self, n: int = 20) -> list[Event]:
        """The newest `n` events, newest last."""
        if n <= 0:
            return []
        return self._read_all()[-n:]

    def take_unrelayed(self) -> list[Event]:
        """Events not yet relayed, oldest first; marks them relayed.

        When the cursor is ahead of every event present (the log was deleted or reset), the
        cursor restarts and everything present is returned.
        """
        events = self._read_all()
        if not events:
            return []
        cursor = self._read_cursor()
        newest = max(e.seq for e in events)
        fresh = events if newest < cursor else [e for e in events if e.seq > cursor]
        if newest != cursor:
            atomic_write_bytes(self._cursor_path, f"{newest}\n".encode("ascii"))
        return fresh

    def _scan(self) -> int:
        """Read the log once: last sequence number, line count and whether it ends mid-line."""
        data = self._read_bytes()
        self._lines = data.count(b"\n")
        self._torn_tail = bool(data) and not data.endswith(b"\n")
        seqs = [e.seq for e in _parse(data)]
        # Never reuse a sequence number already relayed, even if the log file was lost.
        return max([*seqs, self._read_cursor()])

    def _trim(self) -> None:
        kept = self._read_all()[-self._keep :]
        atomic_write_bytes(self._path, b"".join(_encode(e) for e in kept))
        self._lines = len(kept)

    def _read_all(self) -> list[Event]:
        return _parse(self._read_bytes())

    def _read_bytes(self) -> bytes:
        try:
            return read_file_bytes(self._path)
        except FileNotFoundError:
            return b""

    def _read_cursor(self) -> int:
        try:
            text = read_file_bytes(self._cursor_path).decode("ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return 0
        # An unreadable cursor only means some events are relayed twice.
        return int(text) if text.isdigit() else 0


def _encode(event: Event) -> bytes:
    obj = {"seq": event.seq, "at": event.at, "level": event.level, "message": event.message}
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")


def _parse(data: bytes) -> list[Event]:
    events = []
    for raw in data.split(b"\n"):
        event = _parse_line(raw) if raw.strip() else None
        if event is not None:
            events.append(event)
    return events


def _parse_line(raw: bytes) -> Event | None:
    try:
        obj: Any = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    seq, at, level, message = obj.get("seq"), obj.get("at"), obj.get("level"), obj.get("message")
    if not isinstance(seq, int) or isinstance(seq, bool):
        return None
    if not isinstance(at, (int, float)) or isinstance(at, bool):
        return None
    if not isinstance(level, str) or level not in LEVELS or not isinstance(message, str):
        return None
    return Event(seq=seq, at=float(at), level=level, message=message)
