"""What every task mode is handed: the settings in force, Stash's connection and the task args."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from plexsync_actors.plugin.protocol import Progress
from plexsync_actors.settings import Settings
from plexsync_actors.stash.connection import StashConnection


@attrs.frozen(kw_only=True)
class TaskContext:
    settings: Settings
    conn: StashConnection
    server_connection: dict[str, Any]
    args: dict[str, Any]
    progress: Progress


Handler = Callable[[TaskContext], Awaitable[Any]]
