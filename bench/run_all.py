"""`make bench`: every benchmark in one run, as one markdown table of figures beside targets.

Each script's `main()` prints its own lines and returns rows (figure, measured, target). The
table goes to stdout and to bench/RESULTS.md with the date and the machine, for the README.
The machine is shared: compare figures within one run, and read ratios rather than times.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SCRIPTS = (
    "hook_cost",
    "e2e_latency",
    "status_cost",
    "throughput",
    "requests_per_sync",
    "bucket_accuracy",
    "recovery",
    "scale",
    "sync_all",
    "fan_out",
    "import_time",
)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value).replace("|", "\\|")


def _rows_of(name: str) -> tuple[list[tuple[str, str, str]], float]:
    start = time.perf_counter()
    if not (HERE / f"{name}.py").exists():
        return [(name, "not written yet", "—")], 0.0
    try:
        found = importlib.import_module(name).main() or []
    except Exception as exc:  # one broken script must not hide the other figures
        traceback.print_exc()
        found = [(name, f"failed: {type(exc).__name__}: {exc}", "—")]
    rows = [tuple(_cell(part) for part in row[:3]) for row in found]
    return rows, time.perf_counter() - start  # type: ignore[return-value]


def main() -> None:
    table = ["| figure | measured | target |", "|---|---|---|"]
    started = time.perf_counter()
    for name in SCRIPTS:
        print(f"\n## bench/{name}.py", flush=True)
        rows, took = _rows_of(name)
        print(f"({took:.0f} s)", flush=True)
        table += [f"| {figure} | {measured} | {target} |" for figure, measured, target in rows]
    machine = (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = f"Measured {when} on {machine}, in {time.perf_counter() - started:.0f} s."
    text = "\n".join([head, "", *table, ""])
    (HERE / "RESULTS.md").write_text(text, encoding="utf-8")
    print("\n" + text)


if __name__ == "__main__":
    main()
