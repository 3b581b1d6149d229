"""Stash's plugin protocol: stdin parsing, one JSON answer, encoded log lines."""

import io
import json
import site
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plexsync_actors.errors import InputError
from plexsync_actors.plugin.entry import run_from_stash
from plexsync_actors.plugin.protocol import (
    encode_log_line,
    encode_progress,
    lenient_bool,
    parse_input,
)
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin


def test_log_lines_use_stash_encoding_and_stay_short() -> None:
    assert encode_log_line(20, "hello") == "\x01i\x02hello\n"
    assert encode_log_line(40, "a\nb") == "\x01e\x02a b\n"
    assert len(encode_log_line(20, "x" * 100_000)) < 10_000
    assert encode_progress(1.7) == "\x01p\x021.000\n"


@pytest.mark.parametrize("raw", ["", "nope", "[1]", '{"args": 3}'])
def test_unusable_input_is_an_input_error(raw: str) -> None:
    with pytest.raises(InputError):
        parse_input(raw)


def test_lenient_bool_reads_stash_strings() -> None:
    assert lenient_bool("true", default=False) is True
    assert lenient_bool("0", default=True) is False
    assert lenient_bool(None, default=True) is True
    with pytest.raises(InputError):
        lenient_bool("perhaps", default=True)


def test_error_answer_is_one_json_object_and_nonzero() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run_from_stash(io.StringIO("{not json"), out, err)
    assert code != 0
    answer = json.loads(out.getvalue())
    assert list(answer) == ["error"] and "JSON" in answer["error"]
    assert err.getvalue().startswith("\x01e\x02")


def test_hook_path_imports_neither_trio_nor_httpx(tmp_path: Path) -> None:
    # Stash is not reachable here: the hook queues where the settings last put the queue.
    (tmp_path / "plugin_data").mkdir()
    (tmp_path / "plugin_data" / "PlexSync.data_dir").write_text(str(tmp_path / "data"))
    code = (
        "import io, sys\n"
        "from plexsync_actors.plugin.entry import run_from_stash\n"
        "out = io.StringIO()\n"
        "assert run_from_stash(sys.stdin, out, io.StringIO()) == 0, out.getvalue()\n"
        "print(sorted({'trio', 'httpx', 'attrs', 'cattrs', 'logging'} & set(sys.modules)))\n"
    )
    stdin = json.dumps(
        {
            "server_connection": {"Port": 1, "Dir": str(tmp_path)},
            "args": {"hookContext": {"id": 3, "type": "Scene.Destroy.Post"}},
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", code], input=stdin, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# What a save costs Stash is mostly imports: the hook's floor is `import sqlite3, json`.
SLOW_IMPORTS = {
    "typing", "pathlib", "tempfile", "shutil", "random", "urllib.parse", "ipaddress",
    "contextlib", "encodings.idna", "subprocess", "logging", "trio", "httpx", "attrs",
}  # fmt: skip


def test_a_save_with_a_drainer_running_imports_no_module_it_can_do_without(
    plugin: Plugin, fake_stash: FakeStash, data_dir: Path
) -> None:
    scene = fake_stash.add_scene(title="Cheap", files=("/media/cheap.mp4",))
    data_dir.mkdir(parents=True)
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    heartbeat = {"pid": stand_in.pid, "since": time.time(), "at": time.time()}  # "it runs"
    (data_dir / "drainer.heartbeat").write_text(json.dumps(heartbeat), encoding="ascii")
    script = str(plugin.dir / "plexsync.py")
    code = (  # no site: a .pth file of this venv would import what the hook itself does not
        "import sys\n"
        f"sys.path.extend({site.getsitepackages()!r})\n"
        f"sys.argv = [{script!r}]\n"
        "try:\n"
        f"    exec(compile(open({script!r}).read(), {script!r}, 'exec'), "
        f"{{'__name__': '__main__', '__file__': {script!r}}})\n"
        "except SystemExit as stop:\n"
        f"    sys.stderr.write(repr(sorted(set({sorted(SLOW_IMPORTS)!r}) & set(sys.modules))))\n"
        "    sys.exit(stop.code)\n"
    )
    context = {"id": scene, "type": "Scene.Update.Post", "input": {"id": str(scene)}}
    try:
        done = subprocess.run(
            [sys.executable, "-S", "-c", code],
            input=plugin.input_for({"hookContext": context}),
            capture_output=True,
            env=plugin.env,
            check=False,
        )
    finally:
        stand_in.kill()
        stand_in.wait()
    assert json.loads(done.stdout) == {"output": {"queued": scene}}, done.stderr
    assert done.stderr.decode().rsplit("\n", 1)[-1] == "[]", done.stderr


@pytest.mark.parametrize("mode", ["queue_status", "outage_summary"])
def test_the_read_only_tasks_answer_without_trio_or_httpx(
    plugin: Plugin, fake_stash: FakeStash, data_dir: Path, mode: str
) -> None:
    scene = fake_stash.add_scene(title="Polled", files=("/media/polled.mp4",))
    assert plugin.hook(scene).returncode == 0  # a queue to report on
    code = (
        "import io, sys\n"
        "from plexsync_actors.plugin.entry import run_from_stash\n"
        "out = io.StringIO()\n"
        "assert run_from_stash(sys.stdin, out, io.StringIO()) == 0, out.getvalue()\n"
        "sys.stderr.write(out.getvalue())\n"
        "print(sorted({'trio', 'httpx', 'httpcore', 'importlib.metadata'} & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=plugin.input_for({"mode": mode, "quiet": "true"}),
        capture_output=True,
        cwd=plugin.cwd,
        check=True,
    )
    assert done.stdout.decode().strip() == "[]"
    output = json.loads(done.stderr)["output"]
    assert "queue" in output if mode == "queue_status" else "metrics" in output


def test_the_entry_routes_exactly_the_read_only_modes_around_the_task_loop() -> None:
    from plexsync_actors.plugin.entry import READ_ONLY_MODES
    from plexsync_actors.plugin.read_tasks import READ_TASKS
    from plexsync_actors.plugin.tasks import TASKS

    assert set(READ_ONLY_MODES) == set(READ_TASKS) and set(READ_TASKS) <= set(TASKS)


def test_stdin_bytes_are_utf8_and_anything_else_is_a_clear_error() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run_from_stash(io.BytesIO(b'{"args": {"mode": "\xff"}}'), out, err)
    assert code != 0
    assert "not UTF-8" in json.loads(out.getvalue())["error"]
    out = io.StringIO()
    assert run_from_stash(io.BytesIO(b"{\"args\": 3}"), out, io.StringIO()) != 0
    assert "args" in json.loads(out.getvalue())["error"]


def hook_input(context: object, connection: object = None) -> bytes:
    conn = connection if connection is not None else {"Port": 1, "Dir": "/nonexistent/stash"}
    return json.dumps({"server_connection": conn, "args": {"hookContext": context}}).encode()


@pytest.mark.parametrize(
    ("stdin", "field"),
    [
        (b'{"args": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
        (hook_input({"id": 2**63, "type": "Scene.Update.Post"}), "hookContext.id"),
        (hook_input({"id": "9" * 5000, "type": "Scene.Update.Post"}), "hookContext.id"),
        (hook_input({"id": "\u00b2", "type": "Scene.Update.Post"}), "hookContext.id"),
        (hook_input({"id": 0, "type": "Scene.Update.Post"}), "hookContext.id"),
        (hook_input({"id": 3, "type": ["Scene.Update.Post"]}), "hookContext.type"),
        (hook_input({"id": 3, "type": {"a": 1}}), "hookContext.type"),
        (hook_input({"id": 3, "type": "Scene.Update.Post"}, {"Port": 1, "Dir": "/s\x00x"}), "Dir"),
        (hook_input({"id": 3, "type": "Scene.Update.Post"}, {"Port": [1]}), "Port"),
        (hook_input({"id": 3, "type": "Scene.Update.Post"}, {"Port": "9" * 5000}), "Port"),
    ],
)
def test_bad_input_is_one_short_error_naming_the_field_and_no_traceback(
    stdin: bytes, field: str
) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run_from_stash(io.BytesIO(stdin), out, err)
    assert code == 1, err.getvalue()  # a clear answer, not "failed unexpectedly" (2)
    answer = json.loads(out.getvalue())
    assert list(answer) == ["error"] and field in answer["error"]
    assert len(answer["error"]) < 600 and "Traceback" not in err.getvalue()


def test_an_error_quotes_at_most_about_200_characters_of_what_it_got(tmp_path: object) -> None:
    huge = "/x" * 500_000  # a 1 MB Dir: no folder can be made there
    out, err = io.StringIO(), io.StringIO()
    context = {"id": 3, "type": "Scene.Update.Post"}
    code = run_from_stash(io.BytesIO(hook_input(context, {"Port": 1, "Dir": huge})), out, err)
    assert code == 1
    assert len(json.loads(out.getvalue())["error"]) < 1000
    assert len(err.getvalue()) < 2000
