"""Path mapping and exact file comparison."""

from plexsync_actors.settings import PathMapping
from plexsync_actors.sync.paths import apply_path_map, same_file

MAP = (
    PathMapping(stash_prefix="/data/movies", plex_prefix="/films"),
    PathMapping(stash_prefix="/data", plex_prefix="/media"),
)


def test_longest_prefix_wins_at_folder_boundary() -> None:
    assert apply_path_map("/data/movies/a.mp4", MAP) == "/films/a.mp4"
    assert apply_path_map("/data/x/a.mp4", MAP) == "/media/x/a.mp4"
    assert apply_path_map("/database/a.mp4", MAP) == "/database/a.mp4"


def test_mapping_to_windows_prefix_switches_separators() -> None:
    mapped = apply_path_map(
        "/data/x/a.mp4", (PathMapping(stash_prefix="/data", plex_prefix="D:\\Media"),)
    )
    assert mapped == "D:\\Media\\x\\a.mp4"


def test_windows_paths_compare_without_case_or_separator() -> None:
    assert same_file("D:\\Media\\A.mp4", "d:/media/a.mp4")
    assert same_file("\\\\?\\D:\\Media\\A.mp4", "D:\\Media\\A.mp4")


def test_posix_paths_compare_exactly() -> None:
    assert not same_file("/media/A.mp4", "/media/a.mp4")
    assert same_file("/media//a.mp4", "/media/a.mp4")
