"""The release zip, installed as Stash installs it and run by a Python with no packages at all."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import ROOT, Plugin, kill_drainer, wait_for

pytestmark = pytest.mark.slow
PYTHONS = ("310", "311", "312", "313", "314")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make dist` into a fresh folder (wheels come from PyPI, cached under dist/.wheels)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, str(ROOT / "release" / "build_dist.py"), "--out", str(out)],
        check=True,
        timeout=600,
    )
    return out


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A virtual environment with nothing installed, not even pip: what Docker's python3 is."""
    home = tmp_path_factory.mktemp("bare-venv")
    venv.create(home, with_pip=False, system_site_packages=False)
    python = home / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('trio'))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert probe.stdout.strip() == "None"  # truly bare
    return str(python)


@pytest.fixture
def installed(
    dist: Path, bare_python: str, tmp_path: Path, fake_stash: FakeStash, data_dir: Path
) -> Iterator[Plugin]:
    """The zip unpacked into a fresh Stash-like plugins folder, started with the bare Python."""
    plugin_dir = tmp_path / "plugins" / "PlexSync"
    with zipfile.ZipFile(dist / "PlexSync.zip") as archive:
        archive.extractall(plugin_dir)
    plugin = Plugin(plugin_dir, fake_stash.server_connection(), tmp_path, python=bare_python)
    try:
        yield plugin
    finally:
        kill_drainer(data_dir)


def test_the_index_names_the_zip_by_its_sha256_and_the_zip_holds_what_it_claims(
    dist: Path,
) -> None:
    [entry] = yaml.safe_load((dist / "index.yaml").read_text(encoding="utf-8"))
    data = (dist / entry["path"]).read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["id"] == "PlexSync" and entry["requires"] == []
    assert len(entry["date"]) == len("2026-01-01 00:00:00")
    with zipfile.ZipFile(dist / entry["path"]) as archive:
        names = archive.namelist()
    assert [n for n in names if n.endswith((".yml", ".yaml"))] == ["PlexSync.yml"]
    assert "plexsync.py" in names and "plexsync_actors/plugin/entry.py" in names
    assert "ui/plexsync.js" in names and "ui/plexsync.css" in names  # the PlexSync page
    assert not [n for n in names if "plexsync_actors/testing" in n or n.startswith("tests/")]
    assert not [n for n in names if n.startswith(("bench/", "release/"))]
    for tag in PYTHONS:
        folder = f"vendor/cp{tag}-win_amd64/"
        assert f"{folder}_cffi_backend.cp{tag}-win_amd64.pyd" in names
        assert f"{folder}cffi/__init__.py" in names
    for package in ("trio", "httpx", "attrs", "cattrs", "outcome", "sniffio", "idna", "h11"):
        assert f"vendor/{package}/__init__.py" in names, package
    for package in ("httpcore", "anyio", "certifi", "exceptiongroup", "pycparser"):
        assert f"vendor/{package}/__init__.py" in names, package


def test_a_bare_python_runs_the_unpacked_zip_end_to_end(
    installed: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> None:
    plex, _ = fake_plex
    section = plex.add_section("Movies", ["/media"])
    keys = {}
    for n in (1, 2, 3):
        scene = fake_stash.add_scene(
            title=f"Zip scene {n}", tags=("a", f"t{n}"), files=(f"/stash/media/z{n}.mp4",)
        )
        keys[scene] = plex.add_movie(section, f"/media/z{n}.mp4")
    for scene in keys:
        run = installed.hook(scene)
        assert run.returncode == 0, run.stderr
        assert run.output == {"queued": scene}

    def synced(key: int) -> bool:  # the poster goes after the metadata: wait for both
        return plex.item(key).title.startswith("Zip") and bool(plex.item(key).posters)

    assert wait_for(lambda: all(synced(k) for k in keys.values()), 60)
    assert installed.task("queue_status").output["queue"]["pending"] == 0


def test_without_its_dependencies_every_run_says_so_and_the_save_is_kept(
    installed: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    data_dir: Path,
    tmp_path: Path,
    bare_python: str,
) -> None:
    plex, _ = fake_plex
    key = plex.add_movie(plex.add_section("Movies", ["/media"]), "/media/kept.mp4")
    scene = fake_stash.add_scene(title="Kept", files=("/stash/media/kept.mp4",))
    vendor = installed.dir / "vendor"
    shutil.move(vendor, tmp_path / "vendor-aside")

    hook = installed.hook(scene)
    assert hook.returncode != 0
    error = hook.answer["error"]
    assert bare_python in error and "trio" in error and "plugin source" in error, error
    assert f'"{bare_python}" -m pip install' in error
    with JobQueue(data_dir) as queue:
        assert queue.pending_scene_ids() == {scene}  # the save is queued all the same
    answers = []
    for mode in ("queue_status", "check_setup"):
        run = installed.task(mode)
        assert run.returncode != 0 and "Traceback" not in run.stderr
        answers.append(run.answer["error"])
    # The same one sentence everywhere (the hook adds that its save was kept).
    assert answers[0] == answers[1] and "\n" not in answers[0] and error.startswith(answers[0])

    shutil.move(tmp_path / "vendor-aside", vendor)  # installed again
    done = installed.task("process_queue")
    assert done.output["synced"] == 1, done.stderr
    assert plex.item(key).title == "Kept"


def test_a_drainer_that_cannot_start_says_why_in_plexsync_log(
    installed: Plugin, data_dir: Path, tmp_path: Path, bare_python: str, fake_stash: FakeStash
) -> None:
    shutil.move(installed.dir / "vendor", tmp_path / "vendor-aside")
    payload = b'{"data_dir": "%s", "server_connection": {}}' % str(data_dir).encode()
    env = {**installed.env, "PYTHONPATH": str(installed.dir)}
    done = subprocess.run(
        [bare_python, "-m", "plexsync_actors", "drainer"],
        input=payload, capture_output=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    log = (data_dir / "plexsync.log").read_text(encoding="utf-8")
    assert "PlexSync cannot start" in log and "trio" in log and bare_python in log
