"""PlexSync.yml: what Stash parses strictly must match what the code reads."""

from pathlib import Path

import attrs
import yaml

from plexsync_actors.plugin.hook import ENTITY_HOOKS
from plexsync_actors.plugin.tasks import TASKS
from plexsync_actors.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "PlexSync.yml").read_text(encoding="utf-8"))
# Keys Stash's plugin config accepts at the top level; any other key stops the plugin loading.
STASH_TOP_LEVEL = {
    "name",
    "description",
    "version",
    "url",
    "ui",
    "exec",
    "interface",
    "errLog",
    "hooks",
    "tasks",
    "settings",
}


def test_manifest_uses_only_keys_stash_knows() -> None:
    assert set(MANIFEST) <= STASH_TOP_LEVEL
    assert MANIFEST["interface"] == "raw"
    assert MANIFEST["exec"][0] == "python" and "{pluginDir}" in MANIFEST["exec"][1]
    for hook in MANIFEST["hooks"]:
        assert set(hook) <= {"name", "description", "triggeredBy", "defaultArgs"}
    for task in MANIFEST["tasks"]:
        assert set(task) <= {"name", "description", "defaultArgs", "execArgs"}
        assert all(isinstance(v, str) for v in task["defaultArgs"].values())


def test_hooks_cover_scene_changes_and_the_entity_changes_no_scene_hook_announces() -> None:
    triggers = {t for hook in MANIFEST["hooks"] for t in hook["triggeredBy"]}
    assert triggers == {
        "Scene.Update.Post",
        "Scene.Create.Post",
        "Scene.Destroy.Post",
        *ENTITY_HOOKS,
    }
    assert set(ENTITY_HOOKS) == {
        "Performer.Update.Post",
        "Performer.Destroy.Post",
        "Studio.Update.Post",
        "Studio.Destroy.Post",
        "Tag.Update.Post",
        "Tag.Merge.Post",
        "Tag.Destroy.Post",
    }


def test_every_task_names_a_known_mode_and_has_a_description() -> None:
    modes = {task["defaultArgs"]["mode"] for task in MANIFEST["tasks"]}
    assert modes <= set(TASKS)
    assert all(task["description"].strip() for task in MANIFEST["tasks"])


def test_settings_match_the_settings_object() -> None:
    declared = MANIFEST["settings"]
    # `enabled` is read by `enabled_in` before any Settings is built (a disabled plugin has none).
    fields = {f.name for f in attrs.fields(Settings)} | {"enabled"}
    assert set(declared) == fields
    for name, spec in declared.items():
        assert set(spec) == {"displayName", "description", "type"}, name
        assert spec["type"] in {"STRING", "NUMBER", "BOOLEAN"}


def test_manifest_is_the_only_yml_file_in_the_tree() -> None:
    """Stash loads every `.yml` under its plugins folder as a plugin (only that extension:
    pkg/plugin/plugins.go), build outputs included; `make dist`'s index is `dist/index.yaml`."""
    ignored = {".venv", ".git", "node_modules", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
    found = [
        p.relative_to(ROOT)
        for p in ROOT.rglob("*")
        if p.suffix == ".yml" and not ignored & set(p.relative_to(ROOT).parts)
    ]
    assert found == [Path("PlexSync.yml")]


def test_each_description_states_its_default_as_stashs_settings_page_shows_it() -> None:
    """The page shows an unset BOOLEAN as off and an unset NUMBER as 0, and reads numbers with
    parseInt: every default is a whole number, and each description says what is in force."""
    defaults = {f.name: f.default for f in attrs.fields(Settings)} | {"enabled": True}
    for name, spec in MANIFEST["settings"].items():
        text, default = spec["description"], defaults[name]
        if spec["type"] == "BOOLEAN":
            said = "On unless you switch it off" if default else "Off unless you switch it on"
            assert said in text, name
        elif spec["type"] == "NUMBER":
            assert default == int(default), name
            assert f"Default {int(default)}:" in text and "shows 0" in text, name


def test_the_page_files_the_manifest_names_exist_and_are_plugin_relative() -> None:
    """Stash resolves `ui` paths against the plugin folder; a missing file is a silent 404."""
    ui = MANIFEST["ui"]
    assert set(ui) <= {"requires", "javascript", "css", "csp", "assets"}
    assert ui["javascript"] == ["ui/plexsync.js"] and ui["css"] == ["ui/plexsync.css"]
    for name in ui["javascript"] + ui["css"]:
        assert (ROOT / name).is_file(), name
