"""Process entry: Stash's stdin JSON in, exactly one JSON object out on stdout.

Stdout is reserved for the result: while a mode runs, `sys.stdout` points at stderr, so no other
code path can break Stash's parsing. Heavy imports (trio, httpx) happen only on the task paths.
All three streams are UTF-8 whatever the locale (Stash's Go side reads and writes UTF-8; Python
on Windows would use the ANSI code page for pipes): stdin is read as bytes and decoded here.
"""

from __future__ import annotations

import sys

from plexsync_actors.core.values import shown
from plexsync_actors.errors import PlexSyncError, RuntimeProblem
from plexsync_actors.plugin.protocol import (
    ERROR,
    lenient_bool,
    log_line,
    parse_input,
    read_utf8,
    utf8_text,
    write_result,
)
from plexsync_actors.runtime import requirements

READ_ONLY_MODES = ("queue_status", "outage_summary")  # plugin.read_tasks

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the hook milliseconds at run time
    from typing import IO, Any


def main() -> int:
    """Stash's `exec` (through `plexsync.py`): one hook or task run over stdin and stdout."""
    stdin: IO[bytes] | IO[str] = getattr(sys.stdin, "buffer", sys.stdin)
    return run_from_stash(stdin, utf8_text(sys.stdout), utf8_text(sys.stderr))


def run_from_stash(stdin: IO[bytes] | IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    """One Stash invocation (hook or task)."""
    saved_stdout = sys.stdout
    sys.stdout = stderr  # nothing but the result may reach the real stdout
    try:
        output = _dispatch(read_utf8(stdin), stderr)
    except PlexSyncError as exc:
        log_line(stderr, ERROR, str(exc))
        write_result(stdout, error=str(exc))
        return 1
    except KeyboardInterrupt:
        write_result(stdout, error="PlexSync was interrupted; nothing stored was lost.")
        return 130
    except Exception as exc:  # a bug: still answer Stash with one JSON object
        import traceback

        for line in traceback.format_exc().splitlines():
            log_line(stderr, ERROR, line)
        what = f"{type(exc).__name__}: {shown(str(exc))[1:-1]}"
        write_result(stdout, error=f"PlexSync failed unexpectedly ({what}).")
        return 2
    finally:
        sys.stdout = saved_stdout
    write_result(stdout, output=output)
    return 0


def _dispatch(raw: str, stderr: IO[str]) -> Any:
    data = parse_input(raw)
    args = data["args"]
    if "hookContext" in args:
        from plexsync_actors.clock import wall_now
        from plexsync_actors.plugin.hook import run_hook

        # A Python that cannot run the drainer still queues the save (nothing is lost), then
        # says what to fix; no drainer is started that would die at its first import.
        unfit = requirements.problem(check_versions=False)
        output = run_hook(data, now=wall_now(), stderr=stderr, start_drainer=unfit is None)
        if unfit is not None:
            raise RuntimeProblem(f"{unfit} The save was queued and syncs once that is fixed.")
        return output
    # Queue Status and Outage Summary only read files: no trio, no httpx, and no version check
    # (importlib.metadata alone costs them tens of milliseconds), as the page polls them.
    read_only = args.get("mode") in READ_ONLY_MODES
    unfit = requirements.problem(check_versions=not read_only)
    if unfit is not None:
        raise RuntimeProblem(unfit)
    from plexsync_actors.plugin.logsetup import configure_logging

    configure_logging(stderr, quiet=lenient_bool(args.get("quiet"), default=False))
    if read_only:
        from plexsync_actors.plugin.read_tasks import run_read_task

        return run_read_task(data)
    from plexsync_actors.plugin.tasks import run_task

    return run_task(data)
