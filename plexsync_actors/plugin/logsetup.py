"""Logging for task runs: every record becomes one Stash-encoded line on stderr."""

from __future__ import annotations

import logging
from typing import IO

from plexsync_actors.plugin.protocol import log_line


class StashLogHandler(logging.Handler):
    """Writes log records to a stream (stderr) in Stash's encoding, one line per record."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        log_line(self._stream, record.levelno, record.getMessage())


def configure_logging(stream: IO[str], *, debug: bool = False, quiet: bool = False) -> None:
    """`quiet` (a task run with `quiet: "true"`, as the PlexSync page polls): warnings only."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(StashLogHandler(stream))
    root.setLevel(logging.WARNING if quiet else logging.DEBUG if debug else logging.INFO)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
