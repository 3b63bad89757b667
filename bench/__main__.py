"""Run every benchmark in order, each in its own process, after a description of the machine.

    python -m bench [--json] [--check]

Each benchmark is also a command of its own: `python -m bench.cold_start`, `bench.event_cost`,
`bench.workspace_cost`, `bench.burst`, `bench.retraining_cost`, `bench.scoring_http`,
`bench.estate_sweep`. Exits non-zero when any of them does.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from bench._common import REPO_ROOT, machine, machine_text, render

# In order.
BENCHMARKS: tuple[str, ...] = (
    "cold_start",
    "event_cost",
    "workspace_cost",
    "burst",
    "retraining_cost",
    "scoring_http",
    "estate_sweep",
)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run every benchmark in order.",
        epilog="Each is also a command of its own: "
        + ", ".join(f"python -m bench.{name}" for name in BENCHMARKS),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--check", action="store_true", help="exit non-zero when any target is missed"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    began = time.perf_counter()
    description = machine()
    if not args.json:
        print("== Machine ==", machine_text(description), "", sep="\n", flush=True)
    results: dict[str, Any] = {}
    rows: list[list[object]] = []
    failed = False
    for name in BENCHMARKS:
        command = [sys.executable, "-m", f"bench.{name}"]
        command += ["--json"] if args.json else []
        command += ["--check"] if args.check else []
        started = time.perf_counter()
        # Text: the benchmark prints straight to this terminal. JSON: collected, then merged.
        child = subprocess.run(
            command,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE if args.json else None,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        failed = failed or child.returncode != 0
        rows.append([name, f"{elapsed:.1f} s", child.returncode])
        if args.json:
            try:
                results[name] = json.loads(child.stdout)
            except json.JSONDecodeError:
                results[name] = {"error": "no JSON output", "stdout": child.stdout}
            results[name]["exit_code"] = child.returncode
            results[name]["wall_seconds"] = round(elapsed, 3)
        else:
            print(flush=True)
    total = time.perf_counter() - began
    if args.json:
        document = {"machine": description, "benchmarks": results, "total_seconds": total}
        print(json.dumps(document, indent=2))
    else:
        print("== Summary ==")
        print(render(["benchmark", "wall time", "exit code"], rows))
        print(f"Total runtime: {total:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
