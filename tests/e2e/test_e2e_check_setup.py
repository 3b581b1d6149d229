"""End to end: Check Setup started exactly as Stash starts it, one test per failure it must name."""

from __future__ import annotations

import dataclasses
import json
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PLEX_TOKEN

from plexsync_actors.testing import fake_plex_wire as wire
from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_plex_wire import Answer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, PluginRun

pytestmark = pytest.mark.slow

CHECKS = [
    "runtime",
    "stash",
    "settings",
    "plex",
    "token",
    "libraries",
    "path_map",
    "matching",
    "write",
    "data_dir",
]
PLEX_SIDE = ["token", "libraries", "path_map", "matching", "write"]


class SetupPlex(FakePlex):
    """A FakePlex that can also play a PMS in start-up that answers reads but refuses writes."""

    refuse_writes = False
    agent_rewrites = False  # an agent that adds a genre to every item it sees edited

    def _respond(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Answer:
        if self.refuse_writes and method in ("PUT", "POST"):
            return Answer(400, wire.STARTING_UP_BODY, "text/plain")
        answer = super()._respond(method, path, query, headers, body)
        if self.agent_rewrites and method == "PUT" and answer.status == 200:
            for item in self._items.values():
                if item.put_count:
                    item.genres = [*item.genres, "Agent Genre"]
        return answer


@pytest.fixture
def fake_plex() -> Iterator[tuple[FakePlex, FakePlexServer]]:
    """Replaces conftest's fixture of the same name (the fake Stash's settings point at it)."""
    plex = SetupPlex(token=PLEX_TOKEN)
    server = FakePlexServer(plex)
    server.start()
    try:
        yield plex, server
    finally:
        server.stop()


@pytest.fixture
def world(
    plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> tuple[Plugin, SetupPlex, FakeStash]:
    """A correct install: six scenes under /stash/media, their movies under Plex's /media."""
    plex, _ = fake_plex
    assert isinstance(plex, SetupPlex)
    movies = plex.add_section("Movies", ["/media"])
    plex.add_section("Shows", ["/tv"], kind="show")
    for n in range(1, 7):
        fake_stash.add_scene(title=f"Scene {n}", tags=("t",), files=(f"/stash/media/s{n}.mp4",))
        plex.add_movie(movies, f"/media/s{n}.mp4", title=f"Film {n}", genres=["a", "b", "c"])
    plex.item(1005).locked.add("title")  # the newest scene's item: its lock must survive
    return plugin, plex, fake_stash


def check_setup(plugin: Plugin) -> tuple[dict[str, Any], PluginRun]:
    run = plugin.task("check_setup")
    assert run.returncode == 0, run.stderr
    for secret in (PLEX_TOKEN, "stash-api-key", "stash-session-cookie"):  # conftest's secrets
        assert secret not in run.stdout + run.stderr
    output = run.output
    assert [c["name"] for c in output["checks"]] == CHECKS
    for check in output["checks"]:
        assert set(check) == {"name", "status", "ok", "detail", "fix"}
        assert check["ok"] == {"ok": True, "fail": False, "skipped": None}[check["status"]]
    return output, run


def statuses(output: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in output["checks"]}


def only_failure(output: dict[str, Any], name: str) -> dict[str, Any]:
    """The one failed check, which must be `name`."""
    assert output["ok"] is False
    failed = [c for c in output["checks"] if c["ok"] is False]
    assert [c["name"] for c in failed] == [name], output
    assert failed[0]["fix"]
    return failed[0]


def expect(output: dict[str, Any], failed: str, skipped: list[str]) -> None:
    want = {name: "skipped" if name in skipped else "ok" for name in CHECKS}
    want[failed] = "fail"
    assert statuses(output) == want


def snapshot(plex: FakePlex) -> dict[int, dict[str, Any]]:
    items = {}
    for key in range(1000, 1006):
        state = dataclasses.asdict(plex.item(key))
        state.pop("put_count")
        state.pop("updated_at")  # Plex's own bookkeeping: every edit moves it (and the thumb URL)
        items[key] = state
    return items


@pytest.mark.parametrize("stash_schema", ["head", "v0.26.2", "v0.27.2"])
def test_a_correct_install_passes_every_check_and_changes_nothing_in_plex(
    world: tuple[Plugin, SetupPlex, FakeStash],
) -> None:
    plugin, plex, stash = world
    before = snapshot(plex)
    puts_before = sum(plex.item(key).put_count for key in before)
    output, run = check_setup(plugin)
    assert output["ok"] is True, output
    assert set(statuses(output).values()) == {"ok"}
    assert all(c["fix"] is None for c in output["checks"])
    assert snapshot(plex) == before
    assert "title" in plex.item(1005).locked and "title" not in plex.item(1004).locked
    assert sum(plex.item(key).put_count for key in before) <= puts_before + 1
    puts = [r for r in plex.requests if r.method == "PUT"]
    assert len(puts) == 1
    assert {key for key, _ in puts[0].params()} == {"type", "id", "title.value", "title.locked"}
    details = {c["name"]: c["detail"] for c in output["checks"]}
    assert plex.version in details["plex"]
    assert sys.executable in details["runtime"] and platform.python_version() in details["runtime"]
    assert "Movies" in details["libraries"] and "/media" in details["libraries"]
    assert "5 of 5" in details["matching"]
    assert "GiB free" in details["data_dir"]
    lines = [m for _, m in run.log_messages() if m.startswith("Check Setup ")]
    assert sum(m.startswith("Check Setup OK ") for m in lines) == len(CHECKS)
    assert not plex.token_seen_in_urls()
    assert stash.invalid_queries == []


def test_an_agent_that_rewrites_edited_items_fails_the_write_check_naming_the_field(
    world: tuple[Plugin, SetupPlex, FakeStash],
) -> None:
    plugin, plex, _ = world
    plex.agent_rewrites = True
    output, _ = check_setup(plugin)
    failure = only_failure(output, "write")
    assert "changed genres" in failure["detail"] and "thumb" not in failure["detail"]
    assert "agent" in failure["fix"]


def test_a_wrong_token_fails_the_token_check_and_names_plex_token(
    world: tuple[Plugin, SetupPlex, FakeStash],
) -> None:
    plugin, _, stash = world
    stash.plugin_settings["plex_token"] = "wrong-token-93kd"
    output, run = check_setup(plugin)
    assert "plex_token" in only_failure(output, "token")["fix"]
    expect(output, "token", PLEX_SIDE[1:])
    assert "wrong-token-93kd" not in run.stdout + run.stderr


def test_an_unknown_library_fails_the_libraries_check_and_names_plex_library(
    world: tuple[Plugin, SetupPlex, FakeStash],
) -> None:
    plugin, _, stash = world
    stash.plugin_settings["plex_library"] = "Movies, Nope"
    output, _ = check_setup(plugin)
    failure = only_failure(output, "libraries")
    assert "plex_library" in failure["fix"] and "Movies" in failure["fix"]
    assert "'Nope'" in failure["detail"]
    expect(output, "libraries", ["path_map", "matching", "write"])


def test_a_path_map_to_a_folder_plex_lacks_fails_the_path_map_check(
    world: tuple[Plugin, SetupPlex, FakeStash],
) -> None:
    plugin, _, stash = world
    stash.plugin_settings["path_map"] = "/stash/media=>/mnt/plex"
    output, _ = check_setup(plugin)
    failure = only_failure(output, "path_map")
    assert "path_map" in failure["fix"] and "/stash/media=>/mnt/plex" in failure["fix"]
    assert "/media" in failure["fix"]
    expect(output, "path_map", ["matching", "write"])


def test_a_missing_path_map_shows_the_nearest_plex_file_and_the_mapping_to_set(
    world: tuple[Plugin, SetupPlex, FakeStash],
) -> None:
    plugin, _, stash = world
    stash.plugin_settings["path_map"] = ""
    output, _ = check_setup(plugin)
    failure = only_failure(output, "matching")
    assert "/stash/media/s6.mp4" in failure["detail"] and "/media/s6.mp4" in failure["detail"]
    assert "path_map" in failure["fix"] and "/stash/media=>/media" in failure["fix"]
    expect(output, "matching", ["write"])


def test_plex_down_fails_the_plex_check_and_skips_what_needs_plex(
    world: tuple[Plugin, SetupPlex, FakeStash],
) -> None:
    plugin, plex, _ = world
    plex.set_down(True)
    output, _ = check_setup(plugin)
    assert "plex_url" in only_failure(output, "plex")["fix"]
    expect(output, "plex", PLEX_SIDE)


def test_plex_starting_up_and_refusing_writes_fails_the_write_check(
    world: tuple[Plugin, SetupPlex, FakeStash],
) -> None:
    plugin, plex, _ = world
    before = snapshot(plex)
    plex.refuse_writes = True
    output, _ = check_setup(plugin)
    assert "still starting up" in only_failure(output, "write")["fix"]
    expect(output, "write", [])
    assert snapshot(plex) == before


def test_plex_starting_up_and_refusing_reads_fails_the_token_check_with_wait_advice(
    world: tuple[Plugin, SetupPlex, FakeStash],
) -> None:
    plugin, plex, _ = world
    plex.set_starting_up(True)  # /identity answers, everything else is refused
    output, _ = check_setup(plugin)
    assert "still starting up" in only_failure(output, "token")["fix"]
    expect(output, "token", PLEX_SIDE[1:])


def test_stash_unreachable_fails_the_stash_check_and_still_answers_an_output(
    world: tuple[Plugin, SetupPlex, FakeStash],
) -> None:
    plugin, _, stash = world
    stash.stop()
    output, _ = check_setup(plugin)
    assert "Stash is running" in only_failure(output, "stash")["fix"]
    expect(output, "stash", CHECKS[1:])


def test_an_unwritable_data_dir_fails_the_data_dir_check_and_names_data_dir(
    world: tuple[Plugin, SetupPlex, FakeStash], tmp_path: Path
) -> None:
    # Tests run as root, who ignores permission bits: a folder under a *file* cannot be
    # created by anyone, which makes the data dir unwritable even for root.
    plugin, _, stash = world
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    stash.plugin_settings["data_dir"] = str(blocker / "plexsync")
    output, _ = check_setup(plugin)
    failure = only_failure(output, "data_dir")
    assert "data_dir" in failure["fix"] and str(blocker) in failure["detail"]
    expect(output, "data_dir", [])


def test_invalid_settings_fail_the_settings_check_and_skip_what_needs_them(
    world: tuple[Plugin, SetupPlex, FakeStash],
) -> None:
    plugin, _, stash = world
    stash.plugin_settings["plex_url"] = "plex:32400"
    output, _ = check_setup(plugin)
    assert "plex_url" in only_failure(output, "settings")["fix"]
    expect(output, "settings", CHECKS[2:])


def test_the_command_line_prints_the_same_json_using_the_api_key_from_the_environment(
    world: tuple[Plugin, SetupPlex, FakeStash], tmp_path: Path
) -> None:
    plugin, _, stash = world
    stash.plugin_settings["data_dir"] = str(tmp_path / "cli-data")  # no Stash Dir from a terminal
    env = {**plugin.env, "STASH_API_KEY": stash.api_key}
    command = [sys.executable, "-m", "plexsync_actors", "check-setup", "--stash-url", stash.url]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=plugin.dir, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)["output"]
    assert output["ok"] is True and statuses(output)["stash"] == "ok"
    assert "API key" in next(c["detail"] for c in output["checks"] if c["name"] == "stash")
    assert PLEX_TOKEN not in done.stdout + done.stderr and stash.api_key not in done.stdout
    env_without_key = {k: v for k, v in env.items() if k != "STASH_API_KEY"}
    refused = subprocess.run(
        command, capture_output=True, text=True, cwd=plugin.dir, env=env_without_key,
        timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "STASH_API_KEY" in only_failure(json.loads(refused.stdout)["output"], "stash")["fix"]


def test_a_file_whose_path_holds_a_percent_sign_is_found_as_the_drainer_finds_it(
    world: tuple[Plugin, SetupPlex, FakeStash],
) -> None:
    """Plex decodes `file=` twice, so such a file is found only through the drainer's title
    search: Check Setup uses the drainer's matcher, not a copy of its own."""
    plugin, plex, stash = world
    stash.add_scene(title="Half off", files=("/stash/media/50%41 off/film.mp4",))
    plex.add_movie(1, "/media/50%41 off/film.mp4", title="Half off")
    output, _ = check_setup(plugin)
    assert output["ok"] is True, output
    matching = next(c for c in output["checks"] if c["name"] == "matching")
    assert "5 of 5" in matching["detail"]
