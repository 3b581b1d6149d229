"""Every GraphQL document PlexSync sends to Stash; `ALL_QUERIES` is validated by a test against
each supported Stash schema. Standard library only (the hook sends the settings query)."""

PLUGIN_SETTINGS_QUERY = """\
query PlexSyncPluginSettings($include: [ID!]) {
  configuration {
    plugins(include: $include)
  }
}
"""

_SCENE_FRAGMENT = """
fragment PlexSyncScene on Scene {
  id
  title
  details
  date
  updated_at
  studio { name }
  performers { name }
  tags { name }
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

# per_page 1, not 0: some Stash releases read per_page 0 as "all scenes".
COUNT_SCENES_QUERY = """\
query PlexSyncCountScenes($scene_filter: SceneFilterType) {
  findScenes(scene_filter: $scene_filter, filter: {per_page: 1}) {
    count
  }
}
"""

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
    COUNT_SCENES_QUERY,
    PLUGIN_SETTINGS_QUERY,
    API_KEY_QUERY,
)
