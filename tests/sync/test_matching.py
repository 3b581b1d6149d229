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


def test_paths_compare_in_nfc_whatever_form_the_os_gave() -> None:
    nfd, nfc = "/media/Cafe\u0301/Ame\u0301lie.mp4", "/media/Caf\u00e9/Am\u00e9lie.mp4"
    assert same_file(nfd, nfc)
    assert apply_path_map(nfd, (PathMapping(stash_prefix="/media/Caf\u00e9", plex_prefix="/p"),))
    assert apply_path_map(
        nfd, (PathMapping(stash_prefix="/media/Caf\u00e9", plex_prefix="/p"),)
    ) == "/p/Am\u00e9lie.mp4"


def test_long_path_prefixes_are_dropped_for_drives_and_unc_shares() -> None:
    assert same_file("\\\\?\\UNC\\nas\\share\\A.mp4", "\\\\NAS\\share\\a.mp4")
    assert same_file("\\\\?\\C:\\Videos\\a.mp4", "c:/videos/A.MP4")


def test_windows_prefixes_map_whatever_the_case_and_the_slashes() -> None:
    drive = (PathMapping(stash_prefix="c:\\videos", plex_prefix="/media"),)
    assert apply_path_map("C:\\Videos\\a.mp4", drive) == "/media/a.mp4"
    assert apply_path_map("C:/VIDEOS/sub/a.mp4", drive) == "/media/sub/a.mp4"
    assert apply_path_map("C:\\Videos2\\a.mp4", drive) == "C:\\Videos2\\a.mp4"  # not a folder
    unc = (PathMapping(stash_prefix="\\\\nas\\share", plex_prefix="/data"),)
    assert apply_path_map("\\\\NAS\\share\\x\\a.mp4", unc) == "/data/x/a.mp4"
    assert apply_path_map("\\\\?\\UNC\\NAS\\Share\\a.mp4", unc) == "/data/a.mp4"


def test_posix_prefixes_still_match_case_sensitively() -> None:
    posix = (PathMapping(stash_prefix="/Data", plex_prefix="/media"),)
    assert apply_path_map("/data/a.mp4", posix) == "/data/a.mp4"
    assert apply_path_map("/Data/a.mp4", posix) == "/media/a.mp4"
