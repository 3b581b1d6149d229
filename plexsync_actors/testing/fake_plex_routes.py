"""The fake Plex's endpoints: what each route answers, given the library (lock held)."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from plexsync_actors.testing import fake_plex_library as library
from plexsync_actors.testing import fake_plex_wire as wire
from plexsync_actors.testing.fake_plex_library import FakeItem
from plexsync_actors.testing.fake_plex_wire import Answer

if TYPE_CHECKING:
    from plexsync_actors.testing.fake_plex import FakePlex

_AGENTS = {"movie": "tv.plex.agents.movie", "show": "tv.plex.agents.series"}


@dataclass(frozen=True)
class Call:
    ids: tuple[int, ...]
    params: list[tuple[str, str]]
    as_json: bool
    body: bytes


Route = dict[str, Callable[["FakePlex", Call], Answer]]


def identity(plex: FakePlex, call: Call) -> Answer:
    payload = {
        "size": 0,
        "claimed": True,
        "machineIdentifier": plex.machine_id,
        "version": plex.version,
    }
    return wire.container(payload, call.as_json)


def root(plex: FakePlex, call: Call) -> Answer:
    payload = {
        "size": 0,
        "friendlyName": "Fake Plex",
        "machineIdentifier": plex.machine_id,
        "version": plex.version,
        "myPlexSigninState": "ok",
    }
    return wire.container(payload, call.as_json)


def list_sections(plex: FakePlex, call: Call) -> Answer:
    directories = [
        {
            "key": str(section.id),
            "title": section.title,
            "type": section.kind,
            "agent": _AGENTS.get(section.kind, "tv.plex.agents.none"),
            "Location": [{"id": lid, "path": path} for lid, path in section.locations],
        }
        for section in plex._sections.values()
    ]
    payload = {"size": len(directories), "Directory": directories}
    return wire.container(library.compact(payload), call.as_json)


def list_items(plex: FakePlex, call: Call) -> Answer:
    section = plex._sections.get(call.ids[0])
    if section is None:
        return wire.error(404)
    items = [item for item in plex._items.values() if item.section_id == section.id]
    kind = wire.first(call.params, "type")
    if kind is not None and kind != "1":
        items = []  # every fake item is a movie (type 1)
    wanted_file = wire.first(call.params, "file")
    if wanted_file is not None:
        # PMS is reported to decode this value twice, so a `%` in a name can break it.
        wanted = urllib.parse.unquote(wanted_file)
        items = [item for item in items if library.file_matches(item, wanted)]
    title = wire.first(call.params, "title")
    if title is not None:
        items = [item for item in items if title.lower() in item.title.lower()]
    listed = [library.metadata(item, full=False) for item in items]
    payload = {
        "size": len(listed),
        "librarySectionID": section.id,
        "librarySectionTitle": section.title,
        "Metadata": listed,
    }
    return wire.container(library.compact(payload), call.as_json)


def edit_in_section(plex: FakePlex, call: Call) -> Answer:
    if call.ids[0] not in plex._sections:
        return wire.error(404)
    ids = wire.first(call.params, "id")
    if not ids:
        return wire.error(400)
    try:
        keys = [int(key) for key in ids.split(",")]
    except ValueError:
        return wire.error(400)
    items = [plex._items.get(key) for key in keys]
    found = [item for item in items if item is not None and item.section_id == call.ids[0]]
    if len(found) != len(keys):
        return wire.error(404)
    return edit(found, call.params, plex.tag_mode)


def get_item(plex: FakePlex, call: Call) -> Answer:
    item = plex._items.get(call.ids[0])
    if item is None:
        return wire.error(404)
    section = plex._sections[item.section_id]
    # PMS names the item's library on the container as well as on the item.
    payload = {
        "size": 1,
        "librarySectionID": section.id,
        "librarySectionTitle": section.title,
        "Metadata": [library.metadata(item, full=True)],
    }
    return wire.container(payload, call.as_json)


def edit_item(plex: FakePlex, call: Call) -> Answer:
    item = plex._items.get(call.ids[0])
    if item is None:
        return wire.error(404)
    return edit([item], call.params, plex.tag_mode)


def upload_poster(plex: FakePlex, call: Call) -> Answer:
    item = plex._items.get(call.ids[0])
    if item is None:
        return wire.error(404)
    if not call.body:
        return wire.error(400)  # `?url=` uploads are not simulated
    item.posters.append(call.body)
    item.touch()
    return Answer(200)


def edit(items: list[FakeItem], params: list[tuple[str, str]], tag_mode: library.TagMode) -> Answer:
    try:
        plan = wire.parse_edit(params)
    except wire.BadEdit:
        return wire.error(400)
    for item in items:
        library.apply_edit(item, plan, tag_mode)
    return Answer(200)


ROUTES: list[tuple[re.Pattern[str], Route]] = [
    (re.compile(r"/identity"), {"GET": identity}),
    (re.compile(r"/"), {"GET": root}),
    (re.compile(r"/library/sections"), {"GET": list_sections}),
    (
        re.compile(r"/library/sections/(\d+)/all"),
        {"GET": list_items, "PUT": edit_in_section},
    ),
    (
        re.compile(r"/library/metadata/(\d+)"),
        {"GET": get_item, "PUT": edit_item},
    ),
    (re.compile(r"/library/metadata/(\d+)/posters"), {"POST": upload_poster}),
]
