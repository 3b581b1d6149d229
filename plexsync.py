"""Stash starts PlexSync through this file (see PlexSync.yml `exec`).

Stash's working directory is not the plugin folder, so the package is found next to this file.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from plexsync_actors.plugin.entry import main

raise SystemExit(main())
