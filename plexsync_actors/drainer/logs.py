"""Where a drainer's log goes: a rotating `plexsync.log` in the data dir (the detached drainer
has no stderr), or plain lines on a terminal for the long-run mode."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path
from typing import IO

LOG_NAME = "plexsync.log"
LOG_BYTES = 1_000_000
LOG_BACKUPS = 3
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_to_file(data_dir: Path, *, debug: bool) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        data_dir / LOG_NAME, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    _use(handler, debug=debug)


def log_to_terminal(stream: IO[str], *, debug: bool = False) -> None:
    _use(logging.StreamHandler(stream), debug=debug)


def _use(handler: logging.Handler, *, debug: bool) -> None:
    handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
