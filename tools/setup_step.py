"""One step of `make setup`, with a line when it starts, progress while it runs, and its duration.

    python3.11 -m tools.setup_step "install the app's packages" -- .venv/bin/pip install -r ...

Installers are either silent for minutes (`pip --quiet`, `npm ci --loglevel=error`) or print
hundreds of lines. This keeps their output in a log and prints, every few seconds while the step
runs, how long it has been running and the installer's latest line, then the step's duration.
When the step fails, the log's last lines are printed. The exit code is the command's.

Standard library only: it runs with the system Python, before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import IO

#: Seconds between progress lines while a step runs.
DEFAULT_EVERY = 5.0
#: Log lines shown when a step fails.
TAIL_LINES = 40
_LINE_WIDTH = 100


def _is_progress(line: str) -> bool:
    # Warnings (pip's about ignored index locations, npm's deprecations) say nothing about
    # how far the step is.
    text = line.strip()
    return bool(text) and not text.upper().startswith(("WARNING", "NPM WARN", "DEPRECATION"))


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _LINE_WIDTH else text[: _LINE_WIDTH - 1] + "…"


def _format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


class _Output:
    """The command's output: kept in a log file, the latest progress line remembered."""

    def __init__(self, log: IO[str]) -> None:
        self.log = log
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.latest = ""
        self._lock = threading.Lock()

    def pump(self, stream: IO[str]) -> None:
        for line in stream:
            with self._lock:
                self.log.write(line)
                self.tail.append(line.rstrip("\n"))
                if _is_progress(line):
                    self.latest = line

    def latest_line(self) -> str:
        with self._lock:
            return self.latest


def run_step(
    description: str, command: Sequence[str], *, every: float = DEFAULT_EVERY, out: IO[str]
) -> int:
    """Run `command` as one named step, reporting on `out`; returns the command's exit code."""
    started = time.monotonic()
    print(f"==> {description}", file=out, flush=True)
    with tempfile.NamedTemporaryFile(
        "w", prefix="setup-step-", suffix=".log", delete=False, encoding="utf-8"
    ) as log:
        output = _Output(log)
        try:
            process = subprocess.Popen(  # noqa: S603 - the command is the Makefile's own
                list(command),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
            )
        except OSError as error:
            print(f"    FAILED: cannot run {command[0]}: {error}", file=out, flush=True)
            return 127
        assert process.stdout is not None
        reader = threading.Thread(target=output.pump, args=(process.stdout,), daemon=True)
        reader.start()
        try:
            while True:
                try:
                    process.wait(timeout=every)
                    break
                except subprocess.TimeoutExpired:
                    elapsed = _format_seconds(time.monotonic() - started)
                    latest = _shorten(output.latest_line())
                    print(
                        f"    ... {elapsed}" + (f": {latest}" if latest else ""),
                        file=out,
                        flush=True,
                    )
        except KeyboardInterrupt:
            # Ctrl-C reaches the installer too (same process group): let it end, then say so.
            process.wait()
            print(f"    interrupted after {_format_seconds(time.monotonic() - started)}", file=out)
            return 130
        reader.join(timeout=5)
    took = _format_seconds(time.monotonic() - started)
    if process.returncode == 0:
        print(f"    done in {took}", file=out, flush=True)
        os.unlink(log.name)
        return 0
    print(
        f"    FAILED after {took} (exit code {process.returncode}); last lines of {log.name}:",
        file=out,
    )
    for line in output.tail:
        print(f"    | {line}", file=out)
    out.flush()
    return process.returncode


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: DESCRIPTION [--every SECONDS] -- COMMAND..."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--" not in args:
        print("usage: python -m tools.setup_step DESCRIPTION -- COMMAND ...", file=sys.stderr)
        return 2
    split = args.index("--")
    parser = argparse.ArgumentParser(prog="python -m tools.setup_step")
    parser.add_argument("description")
    parser.add_argument("--every", type=float, default=DEFAULT_EVERY)
    options = parser.parse_args(args[:split])
    command = args[split + 1 :]
    if not command:
        parser.error("no command after --")
    return run_step(options.description, command, every=options.every, out=sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
