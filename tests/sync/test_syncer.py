"""SceneSyncer against a FakePlex: which items a scene reaches, and what it writes to them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from syncer_rig import FILM, IMAGE_1, IMAGE_2, PLEX_FILM, SHOT, Rig, a_scene, open_rig

from plexsync_actors.errors import (
    PlexNotFound,
    PlexPermanentError,
    PlexTemporaryError,
    StashUnavailable,
)
from plexsync_actors.settings import PathMapping
from plexsync_actors.stash.models import Image
from plexsync_actors.sync.syncer import SceneSyncer


@pytest.fixture(params=["replace", "append"])
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    """Every syncer test runs against a Plex that replaces indexed tags and one that adds them."""
    async with open_rig(tmp_path, request.param) as opened:
        yield opened


# -- finding the item ----------------------------------------------------------------------------


async def test_first_sync_writes_every_field_locked_in_one_put(rig: Rig) -> None:
    item = rig.movie(collections=["Favourites"])
    assert await rig.sync(a_scene()) != "no change"
    assert item.put_count == 1
    assert (item.title, item.summary, item.studio) == ("Stash Title", "Details", "Studio A")
    assert (item.originally_available_at, item.year) == ("2024-05-01", 2024)
    assert (item.genres, item.actors) == (["t1", "t2"], ["Ann", "Bob"])
    assert sorted(item.collections) == ["Favourites", "Studio A"]
    fields = {"title", "summary", "studio", "originallyAvailableAt", "year", "genre", "actor"}
    assert item.locked >= fields | {"collection"}
    assert not rig.plex.token_seen_in_urls()


async def test_other_files_in_the_same_folder_are_not_matched(rig: Rig) -> None:
    before = rig.movie("/media/movies/a/before.mp4")
    after = rig.movie("/media/movies/a/film.mp4.part")
    unmapped = rig.movie("/media/other" + FILM)  # Stash's own path, not mapped
    with pytest.raises(PlexNotFound, match="path_map"):
        await rig.sync(a_scene())
    target = rig.movie(PLEX_FILM)
    await rig.sync(a_scene())
    assert target.put_count == 1
    assert before.put_count == after.put_count == unmapped.put_count == 0


async def test_windows_plex_paths_match_after_path_map(rig: Rig) -> None:
    item = rig.movie("D:\\Media\\movies\\a\\film.mp4")
    mapping = PathMapping(stash_prefix="/stash/media", plex_prefix="D:\\Media")
    await rig.sync(a_scene(), path_map=(mapping,))
    assert item.put_count == 1


async def test_several_exact_matches_in_one_library_are_refused(rig: Rig) -> None:
    one, two = rig.movie(), rig.movie()
    with pytest.raises(PlexPermanentError, match="does not guess"):
        await rig.sync(a_scene())
    assert one.put_count == two.put_count == 0


async def test_same_file_in_two_libraries_updates_both(rig: Rig) -> None:
    other = rig.plex.add_section("Also", ["/media/movies"])
    first, second = rig.movie(), rig.movie(section=other)
    await rig.sync(a_scene())
    assert first.put_count == second.put_count == 1
    assert first.title == second.title == "Stash Title"


async def test_a_scene_with_several_files_matches_by_any_part(rig: Rig) -> None:
    item = rig.movie(["/media/movies/b/cut-1.mp4", "/media/movies/c/film-4k.mp4"])
    await rig.sync(a_scene(files=(FILM, "/stash/media/movies/c/film-4k.mp4")))
    assert item.put_count == 1 and item.title == "Stash Title"


async def test_a_path_with_percent_escapes_is_found_through_title_search(rig: Rig) -> None:
    # PMS decodes `file=` twice, so this path never matches there; the title search does,
    # and the exact path still decides.
    item = rig.movie("/media/movies/50%41 off/film.mp4", title="film")
    decoy = rig.movie("/media/movies/b/film.mp4", title="film")
    await rig.sync(a_scene(files=("/stash/media/movies/50%41 off/film.mp4",)))
    assert item.put_count == 1 and decoy.put_count == 0


async def test_no_item_is_not_found(rig: Rig) -> None:
    with pytest.raises(PlexNotFound, match="scanned"):
        await rig.sync(a_scene())
    with pytest.raises(PlexNotFound):
        await rig.sync(a_scene(files=()))


async def test_loose_matching_accepts_one_item_with_the_same_file_name(rig: Rig) -> None:
    item = rig.movie("/media/movies/elsewhere/film.mp4")
    with pytest.raises(PlexNotFound):
        await rig.sync(a_scene())
    await rig.sync(a_scene(), strict_matching=False)
    assert item.put_count == 1 and item.title == "Stash Title"
    # Plex's title is now the scene's, not the file's: later syncs still find the item.
    await rig.sync(a_scene(details="Later"), strict_matching=False)
    assert item.summary == "Later"


async def test_loose_matching_refuses_several_items_with_the_same_file_name(rig: Rig) -> None:
    one = rig.movie("/media/movies/x/film.mp4")
    two = rig.movie("/media/movies/y/film.mp4")
    with pytest.raises(PlexPermanentError, match="does not guess"):
        await rig.sync(a_scene(), strict_matching=False)
    assert one.put_count == two.put_count == 0


async def test_unknown_plex_library_is_an_error_naming_the_setting(rig: Rig) -> None:
    item = rig.movie()
    with pytest.raises(PlexPermanentError, match="plex_library") as info:
        await rig.sync(a_scene(), plex_library=("Movies", "Nope"))
    assert "Nope" in str(info.value) and item.put_count == 0


async def test_only_the_named_movie_libraries_are_searched(rig: Rig) -> None:
    other = rig.plex.add_section("Other", ["/media/movies"])
    shows = rig.plex.add_section("Shows", ["/media/movies"], kind="show")
    skipped, wanted, show = rig.movie(), rig.movie(section=other), rig.movie(section=shows)
    await rig.sync(a_scene(), plex_library=("other",))
    assert (skipped.put_count, wanted.put_count, show.put_count) == (0, 1, 0)


# -- what is written ---------------------------------------------------------------------------


async def test_full_item_is_read_so_long_tag_lists_cause_no_put(rig: Rig) -> None:
    tags, people = ("t1", "t2", "t3", "t4", "t5"), ("P1", "P2", "P3", "P4", "P5")
    item = rig.movie(
        title="Stash Title", summary="Details", studio="Studio A", year=2024,
        originally_available_at="2024-05-01", genres=tags, actors=people,
        collections=["Studio A"],
    )  # fmt: skip
    assert await rig.sync(a_scene(tags=tags, performers=people)) == "no change"
    assert item.put_count == 0


async def test_second_sync_of_an_unchanged_scene_sends_no_put(rig: Rig) -> None:
    item = rig.movie()
    await rig.sync(a_scene())
    assert await rig.sync(a_scene()) == "no change"
    assert item.put_count == 1
    assert [r.method for r in rig.plex.requests].count("PUT") == 1


async def test_tag_removed_in_stash_is_removed_in_plex(rig: Rig) -> None:
    item = rig.movie()
    await rig.sync(a_scene(tags=("t1", "t2", "t3"), performers=("Ann", "Bob")))
    await rig.sync(a_scene(tags=("t1", "t3"), performers=("Bob",)))
    assert (item.genres, item.actors) == (["t1", "t3"], ["Bob"])


async def test_after_removals_and_a_studio_change_the_next_sync_sends_no_put(rig: Rig) -> None:
    item = rig.movie(collections=["Favourites"])
    await rig.sync(a_scene(tags=("t1", "t2"), performers=("Ann", "Bob"), studio="Studio A"))
    changed = a_scene(tags=("t2",), performers=("Bob",), studio="Studio B")
    await rig.sync(changed)
    assert (item.genres, item.actors) == (["t2"], ["Bob"])
    assert sorted(item.collections) == ["Favourites", "Studio B"] and item.studio == "Studio B"
    puts = item.put_count
    assert await rig.sync(changed) == "no change" and item.put_count == puts


async def test_removing_every_tag_empties_plex_lists(rig: Rig) -> None:
    item = rig.movie()
    await rig.sync(a_scene(tags=("a b", "c,d", "e&f+g")))
    assert item.genres == ["a b", "c,d", "e&f+g"]
    await rig.sync(a_scene(tags=(), performers=()))
    assert (item.genres, item.actors) == ([], [])
    assert await rig.sync(a_scene(tags=(), performers=())) == "no change"


@pytest.mark.parametrize("own", [[], ["Favourites"]])
async def test_studio_collection_is_managed_and_users_collections_kept(
    rig: Rig, own: list[str]
) -> None:
    item = rig.movie(collections=own)
    await rig.sync(a_scene(studio="Studio A"))
    assert sorted(item.collections) == sorted([*own, "Studio A"])
    await rig.sync(a_scene(studio="Studio B"))
    assert sorted(item.collections) == sorted([*own, "Studio B"])
    await rig.sync(a_scene(studio=None))
    assert item.collections == own


async def test_empty_stash_title_never_blanks_plex(rig: Rig) -> None:
    item = rig.movie(title="Plex Title")
    await rig.sync(a_scene(title="  "))
    assert item.title == "Plex Title"


@pytest.mark.parametrize("date", ["2021", "2021-03"])
async def test_partial_date_sets_only_the_year(rig: Rig, date: str) -> None:
    item = rig.movie()
    await rig.sync(a_scene(date=date))
    assert (item.year, item.originally_available_at) == (2021, None)
    assert "year" in item.locked and "originallyAvailableAt" not in item.locked
    assert await rig.sync(a_scene(date=date)) == "no change"


async def test_a_date_narrowed_or_removed_in_stash_clears_what_plexsync_wrote(rig: Rig) -> None:
    item = rig.movie()
    await rig.sync(a_scene(date="2024-05-01"))
    await rig.sync(a_scene(date="2023"))
    assert (item.year, item.originally_available_at) == (2023, None)
    await rig.sync(a_scene(date=None))
    assert (item.year, item.originally_available_at) == (None, None)
    other = rig.movie("/media/movies/b/film.mp4", year=1999, originally_available_at="1999-01-02")
    await rig.sync(a_scene(id=2, files=("/stash/media/movies/b/film.mp4",), date=None))
    assert (other.year, other.originally_available_at) == (1999, "1999-01-02")  # not ours


@pytest.mark.parametrize(
    ("toggle", "field", "untouched"),
    [
        ("sync_studio", "studio", ""),
        ("sync_summary", "summary", ""),
        ("sync_date", "originally_available_at", None),
        ("sync_performers", "actors", []),
        ("sync_tags", "genres", []),
        ("sync_collection", "collections", []),
        ("sync_poster", "posters", []),
    ],
)
async def test_field_toggle_off_leaves_the_field_alone(
    rig: Rig, toggle: str, field: str, untouched: object
) -> None:
    item = rig.movie()
    rig.stash.screenshots[SHOT] = IMAGE_1
    await rig.sync(a_scene(screenshot_url=SHOT), **{toggle: False})
    assert getattr(item, field) == untouched
    assert item.title == "Stash Title"  # the rest still syncs


# -- posters -----------------------------------------------------------------------------------


async def test_poster_is_uploaded_once_and_locked(rig: Rig) -> None:
    item = rig.movie()
    rig.stash.screenshots[SHOT] = IMAGE_1
    assert "poster" in await rig.sync(a_scene(screenshot_url=SHOT))
    assert item.posters == [IMAGE_1] and "thumb" in item.locked
    assert await rig.sync(a_scene(screenshot_url=SHOT)) == "no change"
    assert rig.stash.fetched == [SHOT]  # same URL: not even fetched again
    assert item.posters == [IMAGE_1] and item.put_count == 1


async def test_poster_is_uploaded_again_only_when_its_bytes_change(rig: Rig) -> None:
    item = rig.movie()
    second, third = SHOT.replace("t=1", "t=2"), SHOT.replace("t=1", "t=3")
    rig.stash.screenshots.update({SHOT: IMAGE_1, second: IMAGE_1, third: IMAGE_2})
    await rig.sync(a_scene(screenshot_url=SHOT))
    assert await rig.sync(a_scene(screenshot_url=second)) == "no change"
    assert item.posters == [IMAGE_1] and item.put_count == 1
    assert await rig.sync(a_scene(screenshot_url=third)) == "poster"
    assert item.posters == [IMAGE_1, IMAGE_2] and "thumb" in item.locked


PLACEHOLDER = b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="9"/></svg>'


async def test_stash_placeholder_is_never_uploaded_nor_locked_and_the_poster_is_pending(
    rig: Rig,
) -> None:
    item = rig.movie()
    rig.stash.screenshots[SHOT] = PLACEHOLDER
    syncer = SceneSyncer(
        settings=rig.settings, plex=rig.client, stash=rig.stash, queue=rig.queue,
        wall_now=lambda: 1_700_000_000.0,
    )  # fmt: skip
    rig.stash.scenes[1] = a_scene(screenshot_url=SHOT)
    result = await syncer.sync(1)
    assert result.poster_pending and "no cover" in result.detail
    assert item.title == "Stash Title" and item.genres == ["t1", "t2"]  # the metadata went
    assert item.posters == [] and "thumb" not in item.locked
    rig.stash.screenshots[SHOT] = IMAGE_1  # the scan generated the cover; no hook fired
    again = await syncer.sync(1, poster_only=True)
    assert not again.poster_pending and again.detail == "poster"
    assert item.posters == [IMAGE_1] and "thumb" in item.locked


async def test_the_metadata_put_goes_before_the_poster_upload(rig: Rig) -> None:
    rig.movie()
    rig.stash.screenshots[SHOT] = IMAGE_1
    await rig.sync(a_scene(screenshot_url=SHOT))
    writes = [r.method for r in rig.plex.requests if r.method in ("PUT", "POST")]
    assert writes == ["PUT", "POST"]


async def test_poster_only_leaves_the_metadata_alone(rig: Rig) -> None:
    item = rig.movie()
    rig.stash.scenes[1] = a_scene(title="Changed without a hook", screenshot_url=SHOT)
    rig.stash.screenshots[SHOT] = IMAGE_1
    syncer = SceneSyncer(
        settings=rig.settings, plex=rig.client, stash=rig.stash, queue=rig.queue,
        wall_now=lambda: 1_700_000_000.0,
    )  # fmt: skip
    assert (await syncer.sync(1, poster_only=True)).detail == "poster"
    assert item.title == "film" and item.posters == [IMAGE_1] and "thumb" in item.locked


async def test_a_screenshot_stash_fails_to_serve_still_lets_the_metadata_through(
    rig: Rig,
) -> None:
    item = rig.movie()

    async def broken(url: str) -> Image | None:
        raise StashUnavailable("Stash answered HTTP 500 for a scene screenshot.")

    rig.stash.fetch_screenshot = broken  # type: ignore[method-assign]
    with pytest.raises(StashUnavailable):
        await rig.sync(a_scene(screenshot_url=SHOT))
    assert item.title == "Stash Title" and item.posters == [] and "thumb" not in item.locked


# -- edits in Plex, retries and deletions ---------------------------------------------------------


async def test_preserve_plex_edits_leaves_a_field_edited_in_plex(rig: Rig) -> None:
    item = rig.movie()
    await rig.sync(a_scene(), preserve_plex_edits=True)
    with rig.plex.lock:
        item.title, item.genres = "Edited in Plex", ["mine"]
    changed = a_scene(title="New in Stash", tags=("t9",), details="New details")
    await rig.sync(changed, preserve_plex_edits=True)
    assert (item.title, item.genres, item.summary) == ("Edited in Plex", ["mine"], "New details")
    await rig.sync(changed)  # without the setting, Stash wins
    assert (item.title, item.genres) == ("New in Stash", ["t9"])


async def test_tags_spelled_differently_by_plex_are_not_a_plex_edit(rig: Rig) -> None:
    item = rig.movie()
    await rig.sync(a_scene(tags=("blonde",)), preserve_plex_edits=True)
    with rig.plex.lock:
        item.genres = ["Blonde"]  # Plex shows the library's existing spelling of the tag
    await rig.sync(a_scene(tags=("blonde", "new")), preserve_plex_edits=True)
    # An appending Plex keeps its own spelling of a tag it has; either way the list is Stash's.
    assert [genre.casefold() for genre in item.genres] == ["blonde", "new"]


@pytest.mark.parametrize("preserve", [False, True])
async def test_write_that_timed_out_but_landed_is_not_repeated(rig: Rig, preserve: bool) -> None:
    item = rig.movie()
    rig.stash.screenshots[SHOT] = IMAGE_1
    rig.put_faults.append("timeout")
    with pytest.raises(PlexTemporaryError):
        await rig.sync(a_scene(screenshot_url=SHOT), preserve_plex_edits=preserve)
    assert item.put_count == 1 and item.title == "Stash Title"
    assert item.posters == []  # the metadata PUT goes first; its lost answer stopped the upload
    again = await rig.sync(a_scene(screenshot_url=SHOT), preserve_plex_edits=preserve)
    assert again == "poster"  # only the poster follows: the PUT is not repeated
    assert item.put_count == 1 and item.posters == [IMAGE_1] and "thumb" in item.locked
    # PlexSync knows these values are its own: a later change in Stash still reaches Plex.
    await rig.sync(a_scene(title="Renamed", screenshot_url=SHOT), preserve_plex_edits=preserve)
    assert item.title == "Renamed"


async def test_change_that_timed_out_but_landed_is_not_mistaken_for_a_plex_edit(rig: Rig) -> None:
    item = rig.movie()
    await rig.sync(a_scene(), preserve_plex_edits=True)
    rig.put_faults.append("timeout")
    with pytest.raises(PlexTemporaryError):
        await rig.sync(a_scene(title="Second", tags=("t3",)), preserve_plex_edits=True)
    assert (item.title, item.genres, item.put_count) == ("Second", ["t3"], 2)
    await rig.sync(a_scene(title="Second", tags=("t3",)), preserve_plex_edits=True)
    assert item.put_count == 2
    await rig.sync(a_scene(title="Third", tags=("t4",)), preserve_plex_edits=True)
    assert (item.title, item.genres) == ("Third", ["t4"])


async def test_a_refused_put_sends_no_poster_and_the_retry_sends_both_once(rig: Rig) -> None:
    item = rig.movie()
    rig.stash.screenshots[SHOT] = IMAGE_1
    rig.put_faults.append("503")
    with pytest.raises(PlexTemporaryError):
        await rig.sync(a_scene(screenshot_url=SHOT))
    assert item.posters == [] and "thumb" not in item.locked  # metadata first: nothing went
    await rig.sync(a_scene(screenshot_url=SHOT))
    assert item.posters == [IMAGE_1] and "thumb" in item.locked
    assert item.title == "Stash Title" and item.put_count == 1
    assert await rig.sync(a_scene(screenshot_url=SHOT)) == "no change"
    assert item.posters == [IMAGE_1]


async def test_scene_deleted_in_stash_is_dropped_from_the_queue(rig: Rig) -> None:
    rig.queue.enqueue(7, reason="hook", now=1.0)
    rig.queue.enqueue(8, reason="hook", now=1.0)
    assert await rig.sync(7) == "deleted in Stash"
    assert rig.queue.pending_count() == 1
    assert rig.plex.requests == []
