"""The breaker/recovery event log: append, recent, trim, relay cursor, torn lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plexsync_actors.persistence.events import (
    CURSOR_FILE,
    EVENTS_FILE,
    MAX_MESSAGE_CHARS,
    Event,
    EventLog,
)


def fill(log: EventLog, count: int, *, start: float = 100.0) -> list[Event]:
    return [log.append(at=start + i, level="info", message=f"event {i + 1}") for i in range(count)]


def test_append_numbers_events_and_writes_one_json_line_each(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "data")
    first = log.append(at=1.5, level="warning", message="Plex is unreachable; circuit opened.")
    second = log.append(at=2, level="info", message="Plex answered again; circuit closed.")
    assert first == Event(
        seq=1, at=1.5, level="warning", message="Plex is unreachable; circuit opened."
    )
    assert second.seq == 2
    assert second.at == 2.0
    lines = (tmp_path / "data" / EVENTS_FILE).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]


def test_message_with_newlines_stays_on_one_line(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    log.append(at=1.0, level="error", message="line one\nline two")
    assert (tmp_path / EVENTS_FILE).read_bytes().count(b"\n") == 1
    assert log.recent()[0].message == "line one\nline two"


def test_recent_returns_the_newest_events_newest_last(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    events = fill(log, 25)
    assert log.recent() == events[-20:]
    assert log.recent(3) == events[-3:]
    assert log.recent(0) == []
    assert EventLog(tmp_path / "nothing").recent() == []


def test_sequence_continues_in_a_new_process(tmp_path: Path) -> None:
    fill(EventLog(tmp_path), 3)
    again = EventLog(tmp_path)
    assert again.append(at=9.0, level="info", message="later").seq == 4


def test_long_messages_are_cut_with_an_ellipsis(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    event = log.append(at=1.0, level="info", message="x" * 5000)
    assert len(event.message) == MAX_MESSAGE_CHARS
    assert event.message.endswith("…")
    assert log.recent() == [event]
    exact = "y" * MAX_MESSAGE_CHARS
    assert log.append(at=2.0, level="info", message=exact).message == exact


def test_unknown_level_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="level"):
        EventLog(tmp_path).append(at=1.0, level="debug", message="chatter")
    assert not (tmp_path / EVENTS_FILE).exists()


def test_log_is_trimmed_to_keep_once_it_holds_twice_as_many(tmp_path: Path) -> None:
    log = EventLog(tmp_path, keep=5)
    events = fill(log, 10)
    assert len(_lines(tmp_path)) == 10
    events.append(log.append(at=500.0, level="info", message="eleventh"))
    assert len(_lines(tmp_path)) == 5
    assert log.recent(100) == events[-5:]
    assert log.append(at=501.0, level="info", message="twelfth").seq == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == [EVENTS_FILE]


def test_take_unrelayed_returns_each_event_once(tmp_path: Path) -> None:
    writer = EventLog(tmp_path)
    events = fill(writer, 3)
    relay = EventLog(tmp_path)  # a task run is another process
    assert relay.take_unrelayed() == events
    assert relay.take_unrelayed() == []
    later = writer.append(at=9.0, level="warning", message="opened again")
    assert EventLog(tmp_path).take_unrelayed() == [later]
    assert (tmp_path / CURSOR_FILE).read_text(encoding="ascii").strip() == "4"


def test_take_unrelayed_on_an_empty_folder_returns_nothing(tmp_path: Path) -> None:
    assert EventLog(tmp_path / "missing").take_unrelayed() == []
    assert not (tmp_path / "missing").exists()


def test_cursor_ahead_of_a_reset_log_restarts_and_returns_everything(tmp_path: Path) -> None:
    fill(EventLog(tmp_path), 5)
    assert len(EventLog(tmp_path).take_unrelayed()) == 5
    (tmp_path / EVENTS_FILE).unlink()
    # A log rebuilt by something that did not know the cursor (seq restarts at 1).
    (tmp_path / EVENTS_FILE).write_text(
        '{"seq": 1, "at": 1.0, "level": "info", "message": "a"}\n'
        '{"seq": 2, "at": 2.0, "level": "info", "message": "b"}\n',
        encoding="utf-8",
    )
    relay = EventLog(tmp_path)
    assert [e.message for e in relay.take_unrelayed()] == ["a", "b"]
    assert relay.take_unrelayed() == []


def test_writer_never_reuses_a_relayed_sequence_number_after_the_log_is_lost(
    tmp_path: Path,
) -> None:
    fill(EventLog(tmp_path), 5)
    EventLog(tmp_path).take_unrelayed()
    (tmp_path / EVENTS_FILE).unlink()
    fresh = EventLog(tmp_path).append(at=1.0, level="info", message="after loss")
    assert fresh.seq == 6
    assert EventLog(tmp_path).take_unrelayed() == [fresh]


def test_corrupt_cursor_relays_everything_again(tmp_path: Path) -> None:
    events = fill(EventLog(tmp_path), 2)
    (tmp_path / CURSOR_FILE).write_bytes(b"\xffnot a number")
    assert EventLog(tmp_path).take_unrelayed() == events


def test_half_written_trailing_line_is_skipped_by_readers(tmp_path: Path) -> None:
    events = fill(EventLog(tmp_path), 2)
    with open(tmp_path / EVENTS_FILE, "ab") as f:
        f.write(b'{"seq": 3, "at": 3.0, "level": "info", "mess')
    reader = EventLog(tmp_path)
    assert reader.recent() == events
    assert reader.take_unrelayed() == events


def test_append_after_a_torn_line_keeps_the_new_event_readable(tmp_path: Path) -> None:
    events = fill(EventLog(tmp_path), 2)
    with open(tmp_path / EVENTS_FILE, "ab") as f:
        f.write(b'{"seq": 3, "at": 3.0, "lev')  # the writer was killed mid-line
    restarted = EventLog(tmp_path)
    new = restarted.append(at=4.0, level="error", message="after the crash")
    assert new.seq == 3
    assert restarted.recent() == [*events, new]


def test_lines_that_are_not_events_are_skipped(tmp_path: Path) -> None:
    (tmp_path / EVENTS_FILE).write_bytes(
        b"garbage\n"
        b"[1, 2]\n"
        b'{"seq": "1", "at": 1.0, "level": "info", "message": "seq as text"}\n'
        b'{"seq": true, "at": 1.0, "level": "info", "message": "seq as bool"}\n'
        b'{"seq": 1, "at": "now", "level": "info", "message": "bad time"}\n'
        b'{"seq": 1, "at": 1.0, "level": ["info"], "message": "bad level"}\n'
        b'{"seq": 1, "at": 1.0, "level": "info", "message": null}\n'
        b"\xff\xfe\n"
        b"\n"
        b'{"seq": 7, "at": 7, "level": "warning", "message": "good"}\n'
    )
    log = EventLog(tmp_path)
    assert log.recent() == [Event(seq=7, at=7.0, level="warning", message="good")]
    assert log.append(at=8.0, level="info", message="next").seq == 8


def test_keep_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep"):
        EventLog(tmp_path, keep=0)


def _lines(folder: Path) -> list[str]:
    return (folder / EVENTS_FILE).read_text(encoding="utf-8").splitlines()
