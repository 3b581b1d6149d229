"""Test and demo helpers: fakes of the servers PlexSync talks to (not used by the plugin itself)."""
