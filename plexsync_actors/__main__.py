"""`python -m plexsync_actors`: Stash's protocol on stdin/stdout (as `plexsync.py`), or a command.

Commands: `drainer` (the detached drainer, started by the plugin itself), `run` (the long-run
mode for a service or a terminal) and `check-setup` (Check Setup from a terminal).
"""

import sys


def main(argv: list[str]) -> int:
    command, rest = argv[:1], argv[1:]
    if command == ["drainer"]:
        from plexsync_actors.drainer.main import main as drainer_main

        return drainer_main()
    if command == ["run"]:
        from plexsync_actors.drainer.longrun import main as run_main

        return run_main(rest)
    if command == ["check-setup"]:
        from plexsync_actors.plugin.check_setup import main as check_setup_main

        return check_setup_main(rest)
    from plexsync_actors.plugin.entry import main as stash_main

    return stash_main()


raise SystemExit(main(sys.argv[1:]))
