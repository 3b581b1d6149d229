"""Every GraphQL document PlexSync sends to Stash; `ALL_QUERIES` is validated by a test against
each supported Stash schema. Standard library only (the hook sends the settings query)."""

from __future__ import annotations

import json

from plexsync_actors import PLUGIN_ID


def plugin_settings_query(plugin_id: str) -> str:
    """Stash's version and the plugin's settings, in one request.

    The plugin id is written inline: `plugins(include:)` takes `[String!]` in v0.24 and `[ID!]`
    from v0.25 on, so a declared variable would be invalid on one or the other."""
    return (
        "query PlexSyncPluginSettings {\n"
        "  version {\n    version\n  }\n"
        "  configuration {\n"
        f"    plugins(include: [{json.dumps(plugin_id)}])\n"
        "  }\n"
        "}\n"
    )


PLUGIN_SETTINGS_QUERY = plugin_settings_query(PLUGIN_ID)

_SCENE_FRAGMENT = """
fragment PlexSyncScene on Scene {
  id
  title
  details
  date
  updated_at
  studio { id name }
  performers { id name }
  tags { id name }
  files { path }
  paths { screenshot }
}
"""

FIND_SCENE_QUERY = (
    """\
query PlexSyncFindScene($id: ID!) {
  findScene(id: $id) {
    ...PlexSyncScene
  }
}
"""
    + _SCENE_FRAGMENT
)

FIND_SCENES_QUERY = (
    """\
query PlexSyncFindScenes($filter: FindFilterType, $scene_filter: SceneFilterType) {
  findScenes(filter: $filter, scene_filter: $scene_filter) {
    count
    scenes {
      ...PlexSyncScene
    }
  }
}
"""
    + _SCENE_FRAGMENT
)

# Sync All and Sync Recent only choose which scenes to queue (the drainer reads each one in full
# when it syncs it), so they page through ids: a fraction of the bytes, and no studio,
# performers, tags or files for Stash to load. Each page carries the count, for progress.
SCENE_IDS_QUERY = """\
query PlexSyncSceneIds($filter: FindFilterType, $scene_filter: SceneFilterType) {
  findScenes(filter: $filter, scene_filter: $scene_filter) {
    count
    scenes {
      id
    }
  }
}
"""

# The catch-up (`sync.catch_up`): which scenes changed, and Stash's own time of each change.
SCENE_CHANGES_QUERY = """\
query PlexSyncSceneChanges($filter: FindFilterType, $scene_filter: SceneFilterType) {
  findScenes(filter: $filter, scene_filter: $scene_filter) {
    count
    scenes {
      id
      updated_at
    }
  }
}
"""

# A fan-out (`sync.fan_out`) names the renamed or merged entity in its status line.
ENTITY_NAME_QUERIES = {
    kind: f"""\
query PlexSync{kind.title()}Name($id: ID!) {{
  find{kind.title()}(id: $id) {{
    id
    name
  }}
}}
"""
    for kind in ("tag", "performer", "studio")
}

API_KEY_QUERY = """\
query PlexSyncApiKey {
  configuration {
    general {
      apiKey
    }
  }
}
"""

ALL_QUERIES: tuple[str, ...] = (
    FIND_SCENE_QUERY,
    FIND_SCENES_QUERY,
    SCENE_IDS_QUERY,
    SCENE_CHANGES_QUERY,
    PLUGIN_SETTINGS_QUERY,
    API_KEY_QUERY,
    *ENTITY_NAME_QUERIES.values(),
)
