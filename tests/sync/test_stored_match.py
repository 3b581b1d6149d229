"""A scene synced before is found again by the rating keys of its last match, not by listing its
folder; any doubt about those items sends the syncer back to the full match."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from syncer_rig import FILM, PLEX_FILM, Rig, a_scene, open_rig

from plexsync_actors.errors import PlexNotFound, PlexTemporaryError

MOVED = "/stash/media/movies/b/film.mp4"  # the scene's file after a move in Stash
PLEX_MOVED = "/media/movies/b/film.mp4"


@pytest.fixture(params=["replace", "append"])
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    """Every syncer test runs against a Plex that replaces indexed tags and one that adds them."""
    async with open_rig(tmp_path, request.param) as opened:
        yield opened


def listings(requests: list[str]) -> list[str]:
    """The library listings (`file=` or title searches) among `requests`."""
    return [r for r in requests if r.startswith("GET /library/sections/") and r.endswith("/all")]


async def test_a_later_edit_reads_the_stored_item_and_lists_no_library(rig: Rig) -> None:
    item = rig.movie()
    syncer = rig.syncer()  # one syncer, as a warm drainer keeps it
    rig.stash.scenes[1] = a_scene()
    await syncer.sync(1)
    start = len(rig.plex.requests)
    rig.stash.scenes[1] = a_scene(title="Edited later")
    await syncer.sync(1)
    key = item.rating_key
    assert rig.requests_since(start) == [
        f"GET /library/metadata/{key}",
        f"PUT /library/sections/{rig.section}/all",
    ]
    assert item.title == "Edited later" and item.put_count == 2


async def test_a_cold_syncer_reads_the_library_list_but_lists_no_folder(rig: Rig) -> None:
    item = rig.movie()
    await rig.sync(a_scene())
    start = len(rig.plex.requests)
    await rig.sync(a_scene(title="Edited later"))  # a new syncer: a drainer started afresh
    seen = rig.requests_since(start)
    assert seen[0] == "GET /library/sections" and listings(seen) == []
    assert item.title == "Edited later"


async def test_a_file_moved_in_stash_is_found_again_by_listing(rig: Rig) -> None:
    old = rig.movie()
    await rig.sync(a_scene())
    new = rig.movie(PLEX_MOVED)  # Plex scanned the moved file; the old item is still there
    start = len(rig.plex.requests)
    await rig.sync(a_scene(title="After the move", files=(MOVED,)))
    seen = rig.requests_since(start)
    assert f"GET /library/metadata/{old.rating_key}" in seen and listings(seen)
    assert (new.title, new.put_count) == ("After the move", 1)
    assert (old.title, old.put_count) == ("Stash Title", 1)  # its file is not the scene's now
    start = len(rig.plex.requests)
    await rig.sync(a_scene(title="Again", files=(MOVED,)))
    assert listings(rig.requests_since(start)) == [] and new.title == "Again"


async def test_an_item_plex_moved_with_the_file_is_still_the_stored_one(rig: Rig) -> None:
    item = rig.movie()
    await rig.sync(a_scene())
    with rig.plex.lock:
        item.files = [PLEX_MOVED]  # PMS kept the item and followed the file
    start = len(rig.plex.requests)
    await rig.sync(a_scene(title="After the move", files=(MOVED,)))
    assert listings(rig.requests_since(start)) == [] and item.title == "After the move"


async def test_an_item_deleted_in_plex_is_a_404_and_the_listing_finds_its_successor(
    rig: Rig,
) -> None:
    gone = rig.movie()
    await rig.sync(a_scene())
    rig.plex.remove_movie(gone.rating_key)
    successor = rig.movie()  # the file re-added: a new item, a new rating key
    start = len(rig.plex.requests)
    await rig.sync(a_scene(title="Edited later"))
    seen = rig.requests_since(start)
    assert f"GET /library/metadata/{gone.rating_key}" in seen and listings(seen)
    assert (successor.title, successor.put_count) == ("Edited later", 1)


async def test_a_deleted_item_without_successor_is_not_found_and_not_asked_for_again(
    rig: Rig,
) -> None:
    gone = rig.movie()
    await rig.sync(a_scene())
    rig.plex.remove_movie(gone.rating_key)
    with pytest.raises(PlexNotFound, match="scanned"):
        await rig.sync(a_scene(title="Edited later"))
    start = len(rig.plex.requests)
    with pytest.raises(PlexNotFound):
        await rig.sync(a_scene(title="Edited later"))
    assert f"GET /library/metadata/{gone.rating_key}" not in rig.requests_since(start)


async def test_a_scene_in_two_libraries_updates_both_through_the_stored_keys(rig: Rig) -> None:
    also = rig.plex.add_section("Also", ["/media/movies"])
    first, second = rig.movie(), rig.movie(section=also)
    syncer = rig.syncer()
    rig.stash.scenes[1] = a_scene()
    await syncer.sync(1)
    start = len(rig.plex.requests)
    rig.stash.scenes[1] = a_scene(title="Edited later")
    await syncer.sync(1)
    seen = rig.requests_since(start)
    assert listings(seen) == [] and seen.count("PUT /library/sections/1/all") == 1
    assert seen.count(f"PUT /library/sections/{also}/all") == 1
    assert first.title == second.title == "Edited later"
    assert first.put_count == second.put_count == 2


async def test_after_a_sync_that_failed_half_way_the_retry_reaches_every_item(rig: Rig) -> None:
    also = rig.plex.add_section("Also", ["/media/movies"])
    first, second = rig.movie(), rig.movie(section=also)
    syncer = rig.syncer()
    rig.stash.scenes[1] = a_scene()
    rig.put_faults.extend(["pass", "503"])  # the first item's PUT lands, the second's is refused
    with pytest.raises(PlexTemporaryError):
        await syncer.sync(1)
    assert (first.put_count, second.put_count) == (1, 0)
    start = len(rig.plex.requests)
    await syncer.sync(1)  # the retry
    assert listings(rig.requests_since(start)) == []
    assert (first.put_count, second.put_count) == (1, 1) and second.title == "Stash Title"


async def test_a_library_added_since_the_match_is_searched_again(rig: Rig) -> None:
    first = rig.movie()
    await rig.sync(a_scene())
    also = rig.plex.add_section("Also", ["/media/movies"])
    second = rig.movie(section=also)
    await rig.sync(a_scene(title="Edited later"))
    assert first.title == second.title == "Edited later"
    start = len(rig.plex.requests)
    await rig.sync(a_scene(title="Again"))
    assert listings(rig.requests_since(start)) == [] and second.title == "Again"


async def test_a_library_no_longer_named_in_plex_library_is_left_alone(rig: Rig) -> None:
    also = rig.plex.add_section("Also", ["/media/movies"])
    first, second = rig.movie(), rig.movie(section=also)
    await rig.sync(a_scene())
    await rig.sync(a_scene(title="Edited later"), plex_library=("Also",))
    assert (first.title, second.title) == ("Stash Title", "Edited later")


async def test_a_file_added_to_the_scene_is_looked_up_in_every_library(rig: Rig) -> None:
    first = rig.movie()
    await rig.sync(a_scene())
    also = rig.plex.add_section("Also", ["/media/movies"])
    extra = rig.movie(PLEX_MOVED, section=also)
    syncer = rig.syncer()  # knows the new library: only the scene's new file can tell
    rig.stash.scenes[1] = a_scene(files=(FILM,))
    await syncer.sync(1)
    assert extra.put_count == 0  # not the scene's file yet
    rig.stash.scenes[1] = a_scene(title="Two files", files=(FILM, MOVED))
    await syncer.sync(1)
    assert first.title == extra.title == "Two files"


async def test_a_loose_file_name_match_is_not_taken_on_trust(rig: Rig) -> None:
    item = rig.movie("/media/movies/elsewhere/film.mp4")
    await rig.sync(a_scene(), strict_matching=False)
    assert rig.queue.stored_match(1) is None
    exact = rig.movie(PLEX_FILM, section=rig.plex.add_section("Also", ["/media/movies"]))
    await rig.sync(a_scene(title="Edited later"), strict_matching=False)
    assert exact.title == "Edited later"  # an exact path now: the loose one is no longer used
    assert item.title == "Stash Title"


async def test_a_large_folder_is_listed_once_for_its_scenes_and_afresh_for_a_new_file(
    rig: Rig,
) -> None:
    folder = "/media/movies/all"  # PMS's file= answers with the whole folder
    items = [rig.movie(f"{folder}/s{n}.mp4") for n in range(60)]
    syncer = rig.syncer()
    start = len(rig.plex.requests)
    for n in (1, 2, 3):
        rig.stash.scenes[n] = a_scene(id=n, title=f"S{n}", files=(f"/stash{folder}/s{n}.mp4",))
        await syncer.sync(n)
    assert len(listings(rig.requests_since(start))) == 1  # one listing serves the folder
    assert [items[n].title for n in (1, 2, 3)] == ["S1", "S2", "S3"]
    late = rig.movie(f"{folder}/new.mp4")  # scanned after that listing
    rig.stash.scenes[9] = a_scene(id=9, title="New", files=(f"/stash{folder}/new.mp4",))
    start = len(rig.plex.requests)
    await syncer.sync(9)
    assert len(listings(rig.requests_since(start))) == 1 and late.title == "New"
