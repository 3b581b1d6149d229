"""Fuzzing with hypothesis: whatever comes in, one clear answer and nothing lost.

stdin payloads, settings values, Plex answers and Stash answers: never a traceback on stdout,
never an exception of another kind than the project's own, never a save that answered
"queued" and is not in the queue.
"""

from __future__ import annotations

import io
import json
import os
import string
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plexsync_actors.errors import (
    PlexError,
    SettingsError,
    StashSceneError,
    StashUnavailable,
)
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.plex.client import PlexClient
from plexsync_actors.plugin import hook as hook_module
from plexsync_actors.plugin.entry import run_from_stash
from plexsync_actors.secret import Secret
from plexsync_actors.settings import Settings, parse_settings
from plexsync_actors.stash.client import StashClient
from plexsync_actors.stash.connection import StashConnection

# PLEXSYNC_FUZZ_EXAMPLES=5000 for a long run (the soak); 120 keeps the suite in its budget.
FUZZ = settings(
    max_examples=int(os.environ.get("PLEXSYNC_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
HOOK_TYPES = ["Scene.Update.Post", "Scene.Create.Post", "Scene.Destroy.Post"]
hook_ids = st.integers(min_value=-5, max_value=2**70) | st.text(string.digits + " ²x", max_size=25)
hook_contexts = st.fixed_dictionaries(
    {"id": hook_ids | json_values, "type": st.sampled_from(HOOK_TYPES) | json_values},
    optional={"input": json_values, "inputFields": json_values},
)
connections = st.fixed_dictionaries(
    {"Port": st.just(1) | json_values},
    optional={
        "Scheme": st.sampled_from(["http", "https", "ftp"]) | json_values,
        "Host": st.text(max_size=20),
        "SessionCookie": json_values,
    },
)
hook_args = st.fixed_dictionaries({"hookContext": hook_contexts})
task_args = st.fixed_dictionaries({"mode": st.sampled_from(["queue_status", "x"]) | json_values})
payloads = st.one_of(
    st.fixed_dictionaries({"server_connection": connections, "args": hook_args}),
    st.fixed_dictionaries({"server_connection": connections, "args": task_args}),
    json_values,
)


@FUZZ
@given(payload=payloads)
def test_any_stdin_gets_one_json_answer_and_a_queued_save_is_in_the_queue(
    payload: Any, monkeypatch_session: pytest.MonkeyPatch
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stash_dir = Path(tmp)
        (stash_dir / "plugin_data").mkdir()
        data_dir = stash_dir / "data"
        (stash_dir / "plugin_data" / "PlexSync.data_dir").write_text(str(data_dir))
        if isinstance(payload, dict) and isinstance(payload.get("server_connection"), dict):
            payload["server_connection"]["Dir"] = str(stash_dir)  # Stash unreachable: Port 1
        out, err = io.StringIO(), io.StringIO()
        code = run_from_stash(io.BytesIO(json.dumps(payload).encode()), out, err)
        answer = json.loads(out.getvalue())  # exactly one JSON object
        assert set(answer) in ({"output"}, {"error"}) and code in (0, 1), (answer, err.getvalue())
        assert "Traceback" not in out.getvalue() + err.getvalue()
        queued = answer.get("output", {})
        if isinstance(queued, dict) and isinstance(queued.get("queued"), int):
            with JobQueue(data_dir) as queue:
                assert queued["queued"] in queue.pending_scene_ids()  # never a lost save


@pytest.fixture(scope="module")
def monkeypatch_session() -> Any:
    """No drainer is started by the fuzzed hooks (each would be a detached process)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hook_module, "ensure_drainer", lambda *args, **kwargs: False)
        yield patch


setting_names = st.sampled_from(
    ["plex_url", "plex_token", "data_dir", "path_map", "max_retries", "ramp_seconds",
     "enabled", "sync_tags", "max_tags", "plex_library", "health_interval_min", "unknown"]
)  # fmt: skip


@FUZZ
@given(raw=st.dictionaries(setting_names, json_values, max_size=8))
def test_any_settings_map_is_valid_settings_or_one_settings_error(raw: dict[str, Any]) -> None:
    try:
        result = parse_settings(raw, stash_dir="/stash")
    except SettingsError as exc:
        assert len(str(exc)) < 800
    else:
        assert isinstance(result, Settings)


bodies = st.one_of(
    st.binary(max_size=300),
    st.just(b'{"MediaContainer": {"Metadata": [{"ratingKey": "1", "Media": [{"Part": [{"fil'),
    st.just(b"<html><body>" + b"x" * 200_000 + b"</body></html>"),
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    st.builds(lambda v: json.dumps({"MediaContainer": v}).encode(), json_values),
)
answers = st.tuples(
    st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 409, 500, 503]),
    st.sampled_from(["application/json", "text/html", "text/xml", ""]),
    bodies,
)


@FUZZ
@given(answer=answers, call=st.sampled_from(["identity", "sections", "list", "metadata"]))
async def test_any_plex_answer_is_a_value_or_a_plex_error(
    answer: tuple[int, str, bytes], call: str
) -> None:
    status, kind, body = answer
    headers = {"content-type": kind} if kind else {}
    transport = httpx.MockTransport(lambda r: httpx.Response(status, headers=headers, content=body))
    async with httpx.AsyncClient(transport=transport) as http:
        plex = PlexClient(
            http, base_url="http://plex:32400", token=Secret("t"), client_id="c",
            connect_timeout=1, read_timeout=1,
        )  # fmt: skip
        try:
            if call == "identity":
                await plex.identity()
            elif call == "sections":
                await plex.sections()
            elif call == "list":
                await plex.list_items("1", file="/m/a.mp4")
            else:
                await plex.metadata("1", "1")
        except PlexError as exc:
            assert len(str(exc)) < 1000


@FUZZ
@given(answer=answers, call=st.sampled_from(["scene", "settings", "screenshot"]))
async def test_any_stash_answer_is_a_value_or_a_stash_error(
    answer: tuple[int, str, bytes], call: str
) -> None:
    status, kind, body = answer
    headers = {"content-type": kind} if kind else {}
    transport = httpx.MockTransport(lambda r: httpx.Response(status, headers=headers, content=body))
    async with httpx.AsyncClient(transport=transport) as http:
        stash = StashClient(http, StashConnection(base_url="http://stash:9999"))
        try:
            if call == "scene":
                await stash.find_scene(1)
            elif call == "settings":
                await stash.plugin_config()
            else:
                await stash.fetch_screenshot("/scene/1/screenshot?t=1")
        except (StashUnavailable, StashSceneError) as exc:
            assert len(str(exc)) < 1000
