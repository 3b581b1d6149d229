"""Pin `runtime.in` into `runtime.lock`: exact versions and the sha256 of every wheel bundled.

Run it (`python release/lock.py`) to move the bundled dependencies forward; `make dist` only
ever installs what the lock names. Pure-Python wheels are resolved for CPython 3.10; `cffi` is
pinned with one hash per Windows build, CPython 3.10 to 3.14.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")


def pip_download(dest: Path, *args: str) -> None:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
    subprocess.run([*command, "--dest", str(dest), *args], check=True)


def wheel_name(path: Path) -> tuple[str, str]:
    name, version = path.name.split("-")[:2]
    return name.lower().replace("_", "-"), version


def main() -> int:
    lines = [line.split("#")[0].strip() for line in (HERE / "runtime.in").read_text().splitlines()]
    pure = [line for line in lines if line and "os_name" not in line]
    windows = [line.split(";")[0].strip() for line in lines if "os_name" in line]
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp)
        target = ["--python-version", "3.10", "--implementation", "py", "--abi", "none"]
        pip_download(wheels / "pure", *target, "--platform", "any", *pure)
        names = [req.split(">")[0].split("=")[0].split("<")[0] for req in windows]
        for python in PYTHONS:
            abi = "cp" + python.replace(".", "")
            pip_download(
                wheels / "windows", "--no-deps", "--platform", "win_amd64",
                "--python-version", python, "--implementation", "cp", "--abi", abi,
                "--abi", "none", *windows,
            )  # fmt: skip
        hashes: dict[tuple[str, str, bool], list[str]] = {}
        for kind in ("pure", "windows"):
            for wheel in sorted((wheels / kind).glob("*.whl")):
                name, version = wheel_name(wheel)
                key = (name, version, kind == "windows" and name in names)
                digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
                hashes.setdefault(key, [])
                if digest not in hashes[key]:
                    hashes[key].append(digest)
    out = [
        "# Written by release/lock.py from runtime.in: every wheel `make dist` bundles, pinned",
        "# with its sha256. Lines marked os_name == \"nt\" are the Windows-only builds.",
    ]
    for (name, version, windows_only), digests in sorted(hashes.items()):
        marker = ' ; os_name == "nt"' if windows_only else ""
        out.append(f"{name}=={version}{marker} \\")
        out.extend(f"    --hash=sha256:{d} \\" for d in digests[:-1])
        out.append(f"    --hash=sha256:{digests[-1]}")
    (HERE / "runtime.lock").write_text("\n".join(out) + "\n")
    print(f"runtime.lock: {len(hashes)} pinned")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
