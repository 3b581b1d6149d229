"""Stash's raw plugin protocol: one JSON object in on stdin, one out on stdout, log lines on stderr.

Standard library only: the hook path imports this and must start fast.
"""

from __future__ import annotations

import json
import sys

from plexsync_actors.core.values import parse_bool, shown
from plexsync_actors.errors import InputError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the hook milliseconds at run time
    from typing import IO, Any

# Stash reads stderr line by line with a 64 KiB limit; stay far below it.
MAX_LOG_LINE = 8000
# logging's numeric levels (not imported here: the hook path skips `logging` to start fast).
DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
_LEVEL_CHARS = {DEBUG: "d", INFO: "i", WARNING: "w", ERROR: "e", 50: "e"}


def encode_log_line(level: int, message: str) -> str:
    """One log line in Stash's plugin log encoding (SOH, level char, STX, message)."""
    char = _LEVEL_CHARS.get(level, "i")
    flat = " ".join(message.splitlines()) if "\n" in message or "\r" in message else message
    if len(flat) > MAX_LOG_LINE:
        flat = flat[: MAX_LOG_LINE - 3] + "..."
    return f"\x01{char}\x02{flat}\n"


def log_line(stream: IO[str], level: int, message: str) -> None:
    """Write one Stash log line directly (for code paths that do not set up `logging`)."""
    try:
        stream.write(encode_log_line(level, message))
        stream.flush()
    except (OSError, ValueError):
        pass  # Stash closed the pipe; the log is best effort


def encode_progress(fraction: float) -> str:
    clamped = min(1.0, max(0.0, fraction))
    return f"\x01p\x02{clamped:.3f}\n"


class Progress:
    """Reports a long task's progress as a fraction 0..1 on stderr."""

    def __init__(self, stream: IO[str] | None) -> None:
        self._stream = stream

    def report(self, fraction: float) -> None:
        if self._stream is None:
            return
        try:
            self._stream.write(encode_progress(fraction))
            self._stream.flush()
        except (OSError, ValueError):
            pass


def utf8_text(stream: IO[str]) -> IO[str]:
    """`stream` writing UTF-8 whatever the locale; what cannot be encoded (a lone surrogate)
    is escaped, never dropped."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(encoding="utf-8", errors="backslashreplace")
    return stream


def read_utf8(stream: IO[bytes] | IO[str]) -> str:
    """All of stdin as text: bytes are decoded as UTF-8, as Stash writes them."""
    data = stream.read()
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"Input on stdin is not UTF-8 text (byte {exc.start}): Stash writes UTF-8."
        ) from exc


def parse_input(raw: str) -> dict[str, Any]:
    """Parse Stash's stdin; raise InputError with one clear sentence for anything unusable."""
    if not raw.strip():
        raise InputError(
            "No input on stdin: PlexSync must be started by Stash (or given its JSON)."
        )
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"Input on stdin is not valid JSON ({exc.msg} at position {exc.pos})."
        ) from exc
    except RecursionError as exc:
        raise InputError("Input on stdin is nested too deeply to be Stash's plugin input.") from exc
    if not isinstance(data, dict):
        raise InputError(
            "Input on stdin must be a JSON object with 'server_connection' and 'args'."
        )
    args = data.get("args")
    if not isinstance(args, dict):
        raise InputError(
            "Input has no 'args' object: Stash sends {'args': {'mode': ...}} to plugins."
        )
    return data


def write_result(stream: IO[str], *, output: Any = None, error: str | None = None) -> None:
    """Write the single JSON object Stash parses from stdout."""
    payload = {"error": error} if error is not None else {"output": output}
    stream.write(json.dumps(payload, sort_keys=True, default=str))
    stream.write("\n")
    stream.flush()


def lenient_bool(value: Any, *, default: bool) -> bool:
    """Parse a boolean arg as Stash passes it (defaultArgs arrive as strings)."""
    if value is None or value == "":
        return default
    parsed = parse_bool(value)
    if parsed is None:
        raise InputError(f"Argument value {shown(value)} is not a boolean: use true or false.")
    return parsed


def stderr_stream() -> IO[str]:
    return sys.stderr
