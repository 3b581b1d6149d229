"""End to end: Stash's streams are UTF-8 whatever the locale the plugin's Python runs under."""

from __future__ import annotations

import pytest

from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, go_json, wait_for

pytestmark = pytest.mark.slow

TITLE = "Рассвет — 夜明け"


@pytest.fixture
def cp1252_plugin(plugin: Plugin) -> Plugin:
    """Python on Windows decodes and encodes pipes with the ANSI code page: play that."""
    plugin.env["PYTHONIOENCODING"] = "cp1252"
    return plugin


def test_go_json_writes_raw_utf8_and_escapes_html_characters() -> None:
    assert go_json({"t": f"{TITLE} <a&b>"}) == (
        '{"t":"' + TITLE + ' \\u003ca\\u0026b\\u003e"}'
    ).encode("utf-8")


def test_a_hook_whose_input_holds_non_latin_text_queues_and_syncs_under_cp1252(
    cp1252_plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> None:
    plex, _ = fake_plex
    key = plex.add_movie(plex.add_section("Movies", ["/media"]), "/media/dawn.mp4")
    scene = fake_stash.add_scene(title=TITLE, files=("/stash/media/dawn.mp4",))
    run = cp1252_plugin.hook(scene, fields={"title": TITLE})
    assert run.returncode == 0, run.stderr
    assert run.output == {"queued": scene}
    assert wait_for(lambda: plex.item(key).title == TITLE, 30)


def test_a_task_under_cp1252_writes_that_text_as_utf8_and_drops_no_log_line(
    cp1252_plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> None:
    plex, _ = fake_plex
    plex.add_movie(plex.add_section("Movies", ["/media"]), "/media/dawn.mp4", title=TITLE)
    fake_stash.add_scene(title=TITLE, files=("/stash/media/dawn.mp4",))
    run = cp1252_plugin.task("check_setup")  # its write check names the item by its title
    assert run.returncode == 0, run.stderr
    write = next(c for c in run.output["checks"] if c["name"] == "write")
    assert write["status"] == "ok" and TITLE in write["detail"]
    logged = [m for _, m in run.log_messages() if m.startswith("Check Setup OK write")]
    assert len(logged) == 1 and TITLE in logged[0]
