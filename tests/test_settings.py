"""Settings validation: defaults, lenient types, and errors that name the setting and the fix."""

from pathlib import Path

import pytest

from plexsync_actors.errors import SettingsError
from plexsync_actors.settings import PathMapping, enabled_in, parse_settings

BASE = {"plex_url": "http://plex:32400/", "plex_token": "secret-token"}


def test_defaults_apply_to_unset_keys() -> None:
    s = parse_settings(dict(BASE), stash_dir="/stash")
    assert s.plex_url == "http://plex:32400"
    assert s.data_dir == Path("/stash/plugin_data/PlexSync")
    assert (s.max_retries, s.retry_base_seconds, s.max_rate) == (5, 5.0, 20.0)
    assert enabled_in(dict(BASE)) is True


def test_numbers_and_booleans_are_parsed_leniently() -> None:
    s = parse_settings(
        {**BASE, "max_retries": 3.0, "ramp_seconds": "0.5", "sync_tags": "false"}, stash_dir="/s"
    )
    assert (s.max_retries, s.ramp_seconds, s.sync_tags) == (3, 0.5, False)


def test_token_is_masked_in_repr() -> None:
    s = parse_settings(dict(BASE), stash_dir="/s")
    assert "secret-token" not in repr(s) and "secret-token" not in str(s.plex_token)
    assert s.plex_token.reveal() == "secret-token"


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"plex_token": "t"}, "plex_url"),
        ({"plex_url": "http://p"}, "plex_token"),
        ({**BASE, "max_retries": "lots"}, "max_retries"),
        ({**BASE, "read_timeout": -1}, "read_timeout"),
        ({**BASE, "sync_tags": "maybe"}, "sync_tags"),
        ({**BASE, "path_map": "/a->/b"}, "path_map"),
        ({**BASE, "plex_url": "plex:32400"}, "plex_url"),
        ({**BASE, "plex_url": "http://"}, "plex_url"),
        ({**BASE, "plex_url": "http://[::1"}, "plex_url"),
        ({**BASE, "plex_url": "http://host:99999"}, "plex_url"),
        ({**BASE, "plex_url": "http://host:0"}, "plex_url"),
        ({**BASE, "data_dir": "/data\x00/x"}, "data_dir"),
        ({**BASE, "retry_base_seconds": 100}, "retry_base_seconds"),
    ],
)
def test_errors_name_the_setting(raw: dict[str, object], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        parse_settings(raw, stash_dir="/s")


def test_non_numeric_number_error_shows_the_value() -> None:
    with pytest.raises(SettingsError, match=r"'lots'.*number"):
        parse_settings({**BASE, "max_retries": "lots"}, stash_dir="/s")


def test_path_map_parses_longest_prefix_first() -> None:
    s = parse_settings({**BASE, "path_map": "/data=>/media; /data/movies=>/films"}, stash_dir="/s")
    assert s.path_map == (
        PathMapping(stash_prefix="/data/movies", plex_prefix="/films"),
        PathMapping(stash_prefix="/data", plex_prefix="/media"),
    )


def test_the_values_in_force_mask_the_token_and_say_what_differs_from_the_defaults() -> None:
    from plexsync_actors.settings import in_force, not_default

    raw = {**BASE, "max_rate": 50, "sync_tags": False, "path_map": "/a=>/b"}
    s = parse_settings(raw, stash_dir="/s")
    shown = in_force(s)
    assert shown["plex_token"] == "********" and "secret-token" not in str(shown)
    assert shown["enabled"] is True and shown["max_retries"] == 5 and shown["path_map"] == "/a=>/b"
    assert not_default(s) == {"max_rate": 50.0, "sync_tags": False, "path_map": "/a=>/b"}


def test_the_url_scheme_may_be_in_any_case() -> None:
    assert parse_settings({**BASE, "plex_url": "HTTP://Plex:32400"}, stash_dir="/s").plex_url == (
        "http://Plex:32400"
    )


def test_a_huge_setting_value_is_quoted_short() -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings({**BASE, "max_retries": "x" * 1_000_000}, stash_dir="/s")
    assert len(str(info.value)) < 400 and "characters" in str(info.value)
