"""Stash starts PlexSync through this file (see PlexSync.yml `exec`).

Stash's working directory is not the plugin folder, so the package is found next to this file,
and a release zip's bundled dependencies (`vendor/`) come first: a bare Python runs it.
"""

import os
import sys

# Stash may run plugins with PYTHONDONTWRITEBYTECODE set: every save would then compile the
# hook's modules again. The first run caches them beside the code (where the folder is writable).
sys.dont_write_bytecode = False

_here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _here)

from plexsync_actors.drainer.control import import_paths  # noqa: E402 - needs the path above

sys.path[:0] = [path for path in import_paths(_here) if path != _here]

from plexsync_actors.plugin.entry import main  # noqa: E402

raise SystemExit(main())
