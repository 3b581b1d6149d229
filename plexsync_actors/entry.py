"""Process entry: Stash's stdin JSON in, exactly one JSON object out on stdout.

Stdout is reserved for the result: while a mode runs, `sys.stdout` points at stderr, so no other
code path can break Stash's parsing. Heavy imports (trio, httpx) happen only on the task paths.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

from plexsync_actors.errors import PlexSyncError
from plexsync_actors.protocol import StashLogHandler, parse_input, write_result


def configure_logging(stream: IO[str], *, debug: bool = False) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(StashLogHandler(stream))
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["drainer"]:
        from plexsync_actors.drainer import main as drainer_main

        return drainer_main()
    if args[:1] == ["run"]:
        from plexsync_actors.longrun import main as run_main

        return run_main(args[1:])
    return run_from_stash(sys.stdin, sys.stdout, sys.stderr)


def run_from_stash(stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    """One Stash invocation (hook or task)."""
    configure_logging(stderr)
    saved_stdout = sys.stdout
    sys.stdout = stderr  # nothing but the result may reach the real stdout
    try:
        output = _dispatch(stdin.read())
    except PlexSyncError as exc:
        logging.getLogger("plexsync_actors").error("%s", exc)
        write_result(stdout, error=str(exc))
        return 1
    except KeyboardInterrupt:
        write_result(stdout, error="PlexSync was interrupted; nothing stored was lost.")
        return 130
    except Exception as exc:  # a bug: still answer Stash with one JSON object
        logging.getLogger("plexsync_actors").exception("PlexSync failed unexpectedly")
        write_result(stdout, error=f"PlexSync failed unexpectedly ({type(exc).__name__}: {exc}).")
        return 2
    finally:
        sys.stdout = saved_stdout
    write_result(stdout, output=output)
    return 0


def _dispatch(raw: str) -> Any:
    data = parse_input(raw)
    args = data["args"]
    if "hookContext" in args:
        from plexsync_actors.clock import wall_now
        from plexsync_actors.hook import run_hook

        return run_hook(data, now=wall_now())
    from plexsync_actors.tasks import run_task

    return run_task(data)
