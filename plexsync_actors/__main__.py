"""`python -m plexsync_actors` — the same entry as Stash's `exec` (plus `run` and `drainer`)."""

from plexsync_actors.plugin.entry import main

raise SystemExit(main())
