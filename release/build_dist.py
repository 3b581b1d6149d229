"""`make dist`: the release zip Stash installs from a plugin source, and the source's index.

Writes `dist/PlexSync.zip` (the plugin's files at the zip's root, every runtime dependency
unpacked under `vendor/` at the versions `runtime.lock` pins, and the compiled `cffi` trio needs
on Windows under `vendor/cp3XX-win_amd64/` for CPython 3.10 to 3.14) and `dist/index.yaml` (one
plugin source entry: Stash offers an update when its `date` changes). Writes only under `dist/`.
The zip holds no tests, fakes, demo or bench, and exactly one `.yml`: Stash loads every `.yml`
under its plugins folder as a plugin.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "release" / "runtime.lock"
PLUGIN_ID = "PlexSync"
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
PLUGIN_FILES = ("PlexSync.yml", "plexsync.py", "README.md")
LEFT_OUT = ("__pycache__", "testing", "*.pyc")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python release/build_dist.py")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder")
    parser.add_argument("--wheels", type=Path, default=ROOT / "dist" / ".wheels")
    options = parser.parse_args(argv)
    zip_path = build(options.out, options.wheels)
    print(f"Wrote {zip_path} and {options.out / 'index.yaml'}")
    return 0


def build(out: Path, wheels: Path) -> Path:
    pure, windows = _split_lock(LOCK.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="plexsync-dist-") as tmp:
        work = Path(tmp)
        (work / "pure.lock").write_text(pure, encoding="utf-8")
        (work / "windows.lock").write_text(windows, encoding="utf-8")
        target = ["--platform", "any", "--python-version", "3.10", "--implementation", "py"]
        _download(wheels / "pure", work / "pure.lock", [*target, "--abi", "none"])
        tree = work / PLUGIN_ID
        _copy_plugin(tree)
        for wheel in sorted((wheels / "pure").glob("*.whl")):
            _unpack(wheel, tree / "vendor")
        for python in PYTHONS:
            tag = "cp" + python.replace(".", "")
            folder = wheels / f"{tag}-win_amd64"
            args = ["--platform", "win_amd64", "--python-version", python, "--implementation", "cp"]
            _download(folder, work / "windows.lock", [*args, "--abi", tag])
            for wheel in sorted(folder.glob("*.whl")):
                _unpack(wheel, tree / "vendor" / f"{tag}-win_amd64")
        _check(tree)
        out.mkdir(parents=True, exist_ok=True)
        stamp = _release_time()
        zip_path = out / f"{PLUGIN_ID}.zip"
        _zip(tree, zip_path, stamp)
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    (out / "index.yaml").write_text(_index(digest, stamp), encoding="utf-8")
    return zip_path


def _split_lock(text: str) -> tuple[str, str]:
    """The lock's entries for every platform, and the Windows-only ones without their marker."""
    kept = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    entries = re.split(r"\n(?=\S)", kept)
    pure = [e for e in entries if e.strip() and "os_name" not in e]
    windows = [re.sub(r"\s*;\s*os_name\s*==\s*\"nt\"", "", e) for e in entries if "os_name" in e]
    return "\n".join(pure) + "\n", "\n".join(windows) + "\n"


def _download(dest: Path, lock: Path, target: list[str]) -> None:
    """Fetch exactly the pinned wheels (pip checks every sha256 the lock names)."""
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
        "--only-binary=:all:", "--dest", str(dest), *target, "-r", str(lock),
    ]  # fmt: skip
    subprocess.run(command, check=True)


def _copy_plugin(tree: Path) -> None:
    tree.mkdir(parents=True)
    for name in PLUGIN_FILES:
        shutil.copy2(ROOT / name, tree / name)
    shutil.copytree(
        ROOT / "plexsync_actors", tree / "plexsync_actors", ignore=shutil.ignore_patterns(*LEFT_OUT)
    )
    shutil.copytree(ROOT / "ui", tree / "ui", ignore=shutil.ignore_patterns(*LEFT_OUT))


def _unpack(wheel: Path, into: Path) -> None:
    """A wheel's importable files and its dist-info (licences, metadata); no scripts or data."""
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            top = member.split("/", 1)[0]
            if top.endswith(".data") or member.endswith("/"):
                continue
            target = into / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))


def _check(tree: Path) -> None:
    found = tree.rglob("*")
    ymls = [p.relative_to(tree).as_posix() for p in found if p.suffix in {".yml", ".yaml"}]
    if ymls != ["PlexSync.yml"]:
        raise SystemExit(f"the zip must hold exactly one .yml (Stash loads each): found {ymls}")
    if (tree / "plexsync_actors" / "testing").exists():
        raise SystemExit("the fakes (plexsync_actors/testing) must stay out of the release zip")


def _release_time() -> dt.datetime:
    """The time of the commit built (so a rebuild of it is the same zip), else now."""
    try:
        done = subprocess.run(
            ["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True,
            check=True,
        )  # fmt: skip
        return dt.datetime.fromtimestamp(int(done.stdout.strip()), tz=dt.timezone.utc)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return dt.datetime.now(tz=dt.timezone.utc).replace(microsecond=0)


def _zip(tree: Path, zip_path: Path, stamp: dt.datetime) -> None:
    """Files at the zip's root, in a fixed order with one timestamp: the same tree, same bytes."""
    when = stamp.timetuple()[:6]
    partial = zip_path.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(tree).as_posix(), date_time=when)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    os.replace(partial, zip_path)


def _version() -> str:
    text = (ROOT / "plexsync_actors" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'__version__ = "([^"]+)"', text)
    if found is None:
        raise SystemExit("plexsync_actors/__init__.py names no __version__")
    return found.group(1)


def _index(digest: str, stamp: dt.datetime) -> str:
    """The plugin source index Stash reads (`pkg/pkg`): a YAML list of packages."""
    return (
        f"- id: {PLUGIN_ID}\n"
        f"  name: {PLUGIN_ID}\n"
        f"  version: {_version()}\n"
        f'  date: "{stamp:%Y-%m-%d %H:%M:%S}"\n'
        f"  path: {PLUGIN_ID}.zip\n"
        f"  sha256: {digest}\n"
        "  requires: []\n"
        "  metadata:\n"
        "    description: Syncs Stash scene metadata to Plex, durably, waiting out Plex outages.\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
