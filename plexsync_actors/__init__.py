"""PlexSync: sync Stash scene metadata to Plex through a durable, outage-aware pipeline."""

__version__ = "0.1.0"
PLUGIN_ID = "PlexSync"
