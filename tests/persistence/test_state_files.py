"""Schema-versioned state files: round trips, corruption moved aside, migrations, atomic saves."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path
from typing import Any

import attrs
import cattrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plexsync_actors.persistence.files import atomic_write_bytes, read_file_bytes, replace_file
from plexsync_actors.persistence.state_files import StateFile, make_converter

# 2024-05-01T12:34:56.789012Z
FIXED_NOW = dt.datetime(2024, 5, 1, 12, 34, 56, 789012, tzinfo=dt.timezone.utc).timestamp()
CORRUPT_NAME = "breaker.json.corrupt-20240501T123456789012"


# -- a tiny breaker-like union, discriminated by an init=False field ----------------------------
@attrs.frozen(kw_only=True)
class Closed:
    consecutive_failures: int = 0
    first_failure_at: float | None = None
    name: str = attrs.field(default="closed", init=False)


@attrs.frozen(kw_only=True)
class Open:
    opened_at: float
    first_failure_at: float
    name: str = attrs.field(default="open", init=False)


State = Closed | Open


@attrs.frozen(kw_only=True)
class Record:
    started_at: float
    ended_at: float | None = None
    scenes: frozenset[int] = frozenset()
    tags: frozenset[str] = frozenset()


@attrs.frozen(kw_only=True)
class History:
    records: tuple[Record, ...] = ()
    pair: tuple[int, str] = (0, "")


def state_converter() -> cattrs.Converter:
    converter = make_converter()
    classes: dict[str, type[Closed] | type[Open]] = {"closed": Closed, "open": Open}

    def structure_state(data: Any, _: Any) -> State:
        return converter.structure(data, classes[data["name"]])

    converter.register_structure_hook(State, structure_state)
    return converter


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.fixture
def warnings() -> Warnings:
    return Warnings()


def breaker_file(folder: Path, warnings: Warnings, *, schema: int = 1) -> StateFile[State]:
    return StateFile[State](
        folder / "breaker.json",
        State,
        schema=schema,
        converter=state_converter(),
        on_warning=warnings,
        clock=lambda: FIXED_NOW,
    )


# -- round trips ----------------------------------------------------------------------------------
def test_union_members_round_trip_through_the_discriminator_hook(
    tmp_path: Path, warnings: Warnings
) -> None:
    store = breaker_file(tmp_path, warnings)
    for state in (Closed(), Closed(consecutive_failures=3, first_failure_at=9.5)):
        store.save(state)
        assert store.load() == state
    opened = Open(opened_at=12.25, first_failure_at=10.0)
    store.save(opened)
    loaded = store.load()
    assert loaded == opened
    assert isinstance(loaded, Open)
    assert warnings == []


def test_saved_file_is_a_schema_envelope_with_the_discriminator(
    tmp_path: Path, warnings: Warnings
) -> None:
    store = breaker_file(tmp_path, warnings, schema=3)
    store.save(Open(opened_at=2.0, first_failure_at=1.0))
    doc = json.loads((tmp_path / "breaker.json").read_text(encoding="utf-8"))
    assert doc == {"schema": 3, "data": {"opened_at": 2.0, "first_failure_at": 1.0, "name": "open"}}


def test_frozensets_and_tuples_round_trip_with_sets_stored_sorted(tmp_path: Path) -> None:
    store = StateFile[History](
        tmp_path / "outages.json",
        History,
        schema=1,
        converter=make_converter(),
        on_warning=pytest.fail,
    )
    history = History(
        records=(
            Record(started_at=5.0, ended_at=None, scenes=frozenset({30, 4, 12})),
            Record(started_at=1.0, ended_at=2.5, tags=frozenset({"b", "a"})),
        ),
        pair=(7, "x"),
    )
    store.save(history)
    loaded = store.load()
    assert loaded == history
    assert loaded is not None
    assert isinstance(loaded.records, tuple)
    assert isinstance(loaded.records[0].scenes, frozenset)
    doc = json.loads(store.path.read_text(encoding="utf-8"))
    assert doc["data"]["records"][0]["scenes"] == [4, 12, 30]
    assert doc["data"]["records"][1]["tags"] == ["a", "b"]


def test_unorderable_set_elements_are_still_stored_in_a_stable_order() -> None:
    converter = make_converter()
    assert converter.unstructure(frozenset({2, "a", 1})) == converter.unstructure(
        frozenset({"a", 1, 2})
    )


def test_missing_file_loads_as_none_without_a_warning(tmp_path: Path, warnings: Warnings) -> None:
    assert breaker_file(tmp_path / "nowhere", warnings).load() is None
    assert warnings == []


def test_infinite_floats_round_trip(tmp_path: Path, warnings: Warnings) -> None:
    store = breaker_file(tmp_path, warnings)
    store.save(Open(opened_at=math.inf, first_failure_at=-math.inf))
    assert store.load() == Open(opened_at=math.inf, first_failure_at=-math.inf)


finite_or_infinite = st.floats(allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    failures=st.integers(min_value=0, max_value=2**53),
    first=st.none() | finite_or_infinite,
    started=st.lists(finite_or_infinite, max_size=4),
    ended=st.none() | finite_or_infinite,
    scenes=st.frozensets(st.integers(min_value=-(2**63), max_value=2**63)),
    opened=finite_or_infinite,
    use_open=st.booleans(),
)
def test_any_floats_and_nones_round_trip(
    tmp_path_factory: pytest.TempPathFactory,
    failures: int,
    first: float | None,
    started: list[float],
    ended: float | None,
    scenes: frozenset[int],
    opened: float,
    use_open: bool,
) -> None:
    folder = tmp_path_factory.mktemp("roundtrip")
    breaker = breaker_file(folder, Warnings())
    state: State = (
        Open(opened_at=opened, first_failure_at=first if first is not None else 0.0)
        if use_open
        else Closed(consecutive_failures=failures, first_failure_at=first)
    )
    breaker.save(state)
    assert breaker.load() == state

    history_file = StateFile[History](
        folder / "outages.json",
        History,
        schema=1,
        converter=make_converter(),
        on_warning=pytest.fail,
    )
    history = History(
        records=tuple(Record(started_at=s, ended_at=ended, scenes=scenes) for s in started)
    )
    history_file.save(history)
    assert history_file.load() == history


# -- corruption ------------------------------------------------------------------------------------
CORRUPTIONS = {
    "empty": (b"", "empty"),
    "whitespace": (b"  \n", "empty"),
    "truncated": (b'{"schema": 1, "data": {"opened_at": 2.0, "first_fa', "not valid JSON"),
    "garbage": (b"\x00\x01 this is not json", "not valid JSON"),
    "not utf-8": (b'{"schema": 1, "data": "\xff\xfe"}', "UTF-8"),
    "json list": (b'[{"schema": 1, "data": {}}]', '"schema" and "data"'),
    "no data": (b'{"schema": 1}', '"schema" and "data"'),
    "schema not int": (b'{"schema": "1", "data": {"name": "closed"}}', "schema"),
    "schema bool": (b'{"schema": true, "data": {"name": "closed"}}', "schema"),
    "newer schema": (b'{"schema": 9, "data": {"name": "closed"}}', "schema 9 is newer"),
    "wrong data shape": (b'{"schema": 1, "data": [1, 2]}', "data does not fit"),
    "unknown tag": (b'{"schema": 1, "data": {"name": "ajar"}}', "data does not fit"),
    "bad field": (
        b'{"schema": 1, "data": {"name": "open", "opened_at": "soon", "first_failure_at": 1}}',
        "data does not fit",
    ),
    "missing field": (b'{"schema": 1, "data": {"name": "open"}}', "data does not fit"),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corrupt_file_is_moved_aside_with_a_warning_and_loads_as_none(
    tmp_path: Path, warnings: Warnings, kind: str
) -> None:
    content, reason = CORRUPTIONS[kind]
    path = tmp_path / "breaker.json"
    path.write_bytes(content)
    store = breaker_file(tmp_path, warnings)

    assert store.load() is None

    assert not path.exists()
    assert (tmp_path / CORRUPT_NAME).read_bytes() == content
    assert len(warnings) == 1
    message = warnings[0]
    assert str(path) in message
    assert reason in message
    assert CORRUPT_NAME in message
    assert message.endswith("starting from a fresh state.")
    assert "\n" not in message

    store.save(Closed(consecutive_failures=1))
    assert store.load() == Closed(consecutive_failures=1)
    assert len(warnings) == 1


def test_warning_sentence_reads_as_documented(tmp_path: Path, warnings: Warnings) -> None:
    (tmp_path / "breaker.json").write_text("nope", encoding="utf-8")
    breaker_file(tmp_path, warnings).load()
    assert warnings == [
        f"State file {tmp_path / 'breaker.json'} was unreadable (not valid JSON: Expecting value, "
        f"line 1 column 1) and was moved aside to {CORRUPT_NAME}; starting from a fresh state."
    ]


def test_second_corruption_at_the_same_instant_keeps_both_copies(
    tmp_path: Path, warnings: Warnings
) -> None:
    store = breaker_file(tmp_path, warnings)
    (tmp_path / "breaker.json").write_bytes(b"first")
    store.load()
    (tmp_path / "breaker.json").write_bytes(b"second")
    store.load()
    assert (tmp_path / CORRUPT_NAME).read_bytes() == b"first"
    assert (tmp_path / f"{CORRUPT_NAME}-1").read_bytes() == b"second"
    assert f"{CORRUPT_NAME}-1" in warnings[1]


def test_unreadable_file_warns_and_loads_as_none(tmp_path: Path, warnings: Warnings) -> None:
    (tmp_path / "breaker.json").mkdir()  # reading a folder fails with an OSError on every OS
    assert breaker_file(tmp_path, warnings).load() is None
    assert len(warnings) == 1
    assert str(tmp_path / "breaker.json") in warnings[0]
    assert "could not be read" in warnings[0]
    assert warnings[0].endswith("starting from a fresh state.")


def test_corrupt_file_that_cannot_be_moved_aside_still_warns(
    tmp_path: Path, warnings: Warnings, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "breaker.json").write_bytes(b"garbage")

    def refuse(src: Any, dst: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    assert breaker_file(tmp_path, warnings).load() is None
    assert (tmp_path / "breaker.json").exists()
    assert len(warnings) == 1
    assert "could not be moved aside (Permission denied)" in warnings[0]
    assert str(tmp_path / "breaker.json") in warnings[0]


# -- migrations ------------------------------------------------------------------------------------
def rename_opened(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 called `opened_at` `since`."""
    if data.get("name") != "open":
        return data
    migrated = {k: v for k, v in data.items() if k != "since"}
    migrated["opened_at"] = data["since"]
    return migrated


def test_schema_1_file_is_migrated_to_schema_2(tmp_path: Path, warnings: Warnings) -> None:
    path = tmp_path / "breaker.json"
    path.write_text(
        json.dumps({"schema": 1, "data": {"name": "open", "since": 4.0, "first_failure_at": 3.0}}),
        encoding="utf-8",
    )
    store = StateFile[State](
        path,
        State,
        schema=2,
        converter=state_converter(),
        migrations={1: rename_opened},
        on_warning=warnings,
    )
    assert store.load() == Open(opened_at=4.0, first_failure_at=3.0)
    assert warnings == []
    store.save(Closed())
    assert json.loads(path.read_text(encoding="utf-8"))["schema"] == 2


def test_migrations_chain_across_several_schemas(tmp_path: Path, warnings: Warnings) -> None:
    path = tmp_path / "breaker.json"
    path.write_text(json.dumps({"schema": 1, "data": {"fails": 2}}), encoding="utf-8")
    store = StateFile[State](
        path,
        State,
        schema=3,
        converter=state_converter(),
        migrations={
            1: lambda d: {"consecutive_failures": d["fails"]},
            2: lambda d: {**d, "name": "closed"},
        },
        on_warning=warnings,
    )
    assert store.load() == Closed(consecutive_failures=2)


def test_missing_migration_moves_the_file_aside(tmp_path: Path, warnings: Warnings) -> None:
    path = tmp_path / "breaker.json"
    path.write_text(json.dumps({"schema": 1, "data": {"name": "closed"}}), encoding="utf-8")
    store = StateFile[State](
        path,
        State,
        schema=3,
        converter=state_converter(),
        migrations={2: lambda d: d},
        on_warning=warnings,
        clock=lambda: FIXED_NOW,
    )
    assert store.load() is None
    assert "no migration from schema 1 to schema 2" in warnings[0]
    assert (tmp_path / CORRUPT_NAME).exists()


def test_migration_that_fails_on_bad_data_moves_the_file_aside(
    tmp_path: Path, warnings: Warnings
) -> None:
    path = tmp_path / "breaker.json"
    path.write_text(
        json.dumps({"schema": 1, "data": {"name": "open", "first_failure_at": 3.0}}),
        encoding="utf-8",
    )
    store = StateFile[State](
        path,
        State,
        schema=2,
        converter=state_converter(),
        migrations={1: rename_opened},
        on_warning=warnings,
        clock=lambda: FIXED_NOW,
    )
    assert store.load() is None
    assert "migrating it from schema 1 failed: KeyError" in warnings[0]
    assert not path.exists()


def test_migrations_that_lead_nowhere_are_rejected_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="migrations"):
        StateFile[State](
            tmp_path / "x.json",
            State,
            schema=2,
            converter=make_converter(),
            migrations={2: lambda d: d},
            on_warning=pytest.fail,
        )


# -- atomic saves ----------------------------------------------------------------------------------
def test_save_creates_the_folder_and_leaves_no_temp_files(
    tmp_path: Path, warnings: Warnings
) -> None:
    folder = tmp_path / "a" / "b"
    store = breaker_file(folder, warnings)
    store.save(Closed())
    store.save(Open(opened_at=1.0, first_failure_at=0.5))
    assert sorted(p.name for p in folder.iterdir()) == ["breaker.json"]


def test_failed_replace_keeps_the_old_file_and_removes_the_temp_file(
    tmp_path: Path, warnings: Warnings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = breaker_file(tmp_path, warnings)
    store.save(Closed(consecutive_failures=1))
    before = (tmp_path / "breaker.json").read_bytes()

    def refuse(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space"):
        store.save(Closed(consecutive_failures=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["breaker.json"]
    assert (tmp_path / "breaker.json").read_bytes() == before


def test_failed_fsync_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output"):
        atomic_write_bytes(tmp_path / "x.json", b"{}")
    assert list(tmp_path.iterdir()) == []


def test_unserialisable_value_fails_before_touching_the_disk(tmp_path: Path) -> None:
    store = StateFile[Any](
        tmp_path / "x.json", Any, schema=1, converter=make_converter(), on_warning=pytest.fail
    )
    with pytest.raises(TypeError):
        store.save(object())
    assert list(tmp_path.iterdir()) == []


def test_folder_fsync_failure_is_tolerated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def no_folder_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path).is_dir():
            raise PermissionError(13, "Permission denied")  # what Windows does
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_folder_open)
    atomic_write_bytes(tmp_path / "x.json", b"{}")
    assert (tmp_path / "x.json").read_bytes() == b"{}"


# -- Windows sharing violations --------------------------------------------------------------------
def test_replace_retries_sharing_violations_on_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(b"new")
    real_replace = os.replace
    failures = [PermissionError(13, "in use"), PermissionError(13, "in use")]

    def flaky(a: Any, b: Any) -> None:
        if failures:
            raise failures.pop()
        real_replace(a, b)

    monkeypatch.setattr(os, "replace", flaky)
    sleeps: list[float] = []
    replace_file(src, dst, windows=True, sleep=sleeps.append)
    assert dst.read_bytes() == b"new"
    assert len(sleeps) == 2


def test_replace_gives_up_after_the_retries_and_never_retries_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(a: Any, b: Any) -> None:
        raise PermissionError(13, "in use")

    monkeypatch.setattr(os, "replace", refuse)
    sleeps: list[float] = []
    with pytest.raises(PermissionError):
        replace_file(tmp_path / "a", tmp_path / "b", windows=True, sleep=sleeps.append)
    assert 0 < sum(sleeps) < 1.0
    sleeps.clear()
    with pytest.raises(PermissionError):
        replace_file(tmp_path / "a", tmp_path / "b", windows=False, sleep=sleeps.append)
    assert sleeps == []


def test_read_file_bytes_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_file_bytes(tmp_path / "missing", windows=True, sleep=_no_sleep)


def _no_sleep(seconds: float) -> None:
    pytest.fail(f"slept {seconds} s for a missing file")


def test_read_retries_sharing_violations_on_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plexsync_actors.persistence import files

    path = tmp_path / "breaker.json"
    path.write_bytes(b"{}")
    failures = [PermissionError(13, "in use")]

    def flaky(name: Any, *args: Any, **kwargs: Any) -> Any:  # another process holds it once
        if failures:
            raise failures.pop()
        return open(name, *args, **kwargs)

    monkeypatch.setattr(files, "open", flaky, raising=False)
    sleeps: list[float] = []
    assert read_file_bytes(path, windows=True, sleep=sleeps.append) == b"{}"
    assert len(sleeps) == 1


def test_an_outage_history_of_schema_1_keeps_its_counts_not_its_scene_ids(
    tmp_path: Path,
) -> None:
    from plexsync_actors.persistence.outage_state import OutageFiles

    old = {
        "schema": 1,
        "data": {
            "records": [
                {"id": 2, "first_failure_at": 5.0, "started_at": 6.0, "ended_at": 9.0,
                 "first_error": "PlexServerDown", "probes": 3, "affected_scenes": [4, 5, 6]},
            ],
            "next_id": 3,
        },
    }  # fmt: skip
    (tmp_path / "outages.json").write_text(json.dumps(old))
    warnings: list[str] = []
    log = OutageFiles(tmp_path, warnings.append).outages.load()
    assert warnings == [] and log is not None
    assert log.records[0].jobs_affected == 3 and log.next_id == 3
