"""`make sandbox`: the local Azure simulator and Azurite with the demo scene, until Ctrl-C.

    python -m tools.sandbox [--dir .sandbox] [--quiet]

Starts Azurite (the ledger) and the local Azure simulator (ARM, the Synapse data plane, the
managed identity endpoint, an Event Grid topic), seeds the scene of the offline run
(tools/scene.py), and prints the settings that point the app at them, one `export NAME=value`
line each. The same lines go to `<dir>/env.sh`, so that from another shell

    . .sandbox/env.sh
    python -m tools.cli plan
    python -m tools.cli apply
    python -m tools.cli replay .sandbox/events/private-endpoint-events.json

work against the sandbox as they would against Azure. Every request the simulator serves is
printed (unless `--quiet`). Ctrl-C (or SIGTERM, or closing the terminal) stops the simulator,
stops Azurite by its PID and removes the files the sandbox wrote, its throwaway CA included.
Nothing it serves survives it: the ledger is in Azurite's memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import shlex
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

from simulator import AzureSimulator, Azurite
from tools import cli, scene
from tools.local_azure import local_azure

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO_ROOT / ".sandbox"
ENV_FILE = "env.sh"
PID_FILE = "sandbox.pid"
EVENTS_DIR = "events"
#: What the settings file unsets: credentials that DefaultAzureCredential would try before the
#: managed identity, and that would send it to real Azure instead of the simulator.
CREDENTIALS_TO_UNSET = (
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
)
_POLL_SECONDS = 0.25
# Every app setting: the sample's, and the ledger's endpoint (the sample's alternative to its
# connection string).
SAMPLE = REPO_ROOT / "local.settings.sample.json"
OTHER_SETTINGS = ("LEDGER_TABLE_ENDPOINT",)


def env_lines(settings: Mapping[str, str]) -> list[str]:
    """`export NAME=value` per setting, quoted for a POSIX shell, in the given order."""
    return [f"export {name}={shlex.quote(value)}" for name, value in settings.items()]


def parse_env_file(text: str) -> dict[str, str]:
    """The settings of an env file written by the sandbox: its `export NAME=value` words, read
    with the shell's quoting rules (a quoted value may hold any character, newlines included)."""
    words = shlex.split(text, comments=True)
    settings: dict[str, str] = {}
    for keyword, word in itertools.pairwise(words):
        if keyword == "export" and "=" in word:
            name, _, value = word.partition("=")
            settings[name] = value
    return settings


def _claim(files: _Files) -> int | None:
    """Take the directory for this sandbox before anything starts: of two sandboxes started at
    once on one directory, only one runs (the other would overwrite its settings, and remove
    them on its way out). Its PID file stays locked (flock) while it runs, and the kernel drops
    the lock however the process ends: the file of a sandbox killed with -9 blocks nothing, and
    no PID is ever guessed stale. Returns the PID of the sandbox that holds the directory, or
    None once it is ours."""
    path = files.directory / PID_FILE
    files.directory.mkdir(parents=True, exist_ok=True)
    # Written whole and locked under a name of its own, then put in place: the PID file never
    # exists without the PID of a sandbox that has held its lock.
    staged = files.directory / f"{PID_FILE}.{os.getpid()}"
    staged.write_text(f"{os.getpid()}\n", encoding="utf-8")
    lock = os.open(staged, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        while True:
            with contextlib.suppress(FileExistsError):
                os.link(staged, path)
                break
            # Gone (its sandbox stopped) or replaced before we looked: look again.
            with contextlib.suppress(FileNotFoundError), path.open("rb") as found:
                try:
                    fcntl.flock(found, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(lock)
                    return int(found.read())
                # Unlocked: its sandbox died without removing it. Only the holder of the lock
                # of the file in place replaces it, so no running sandbox's file is replaced.
                if os.path.samestat(path.stat(), os.fstat(found.fileno())):
                    os.replace(staged, path)
                    break
    finally:
        staged.unlink(missing_ok=True)
    files.lock = lock
    files.written.append(path)
    return None


class _Files:
    """The files the sandbox writes, removed on the way out (and only those)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.created_directory = not directory.exists()
        self.written: list[Path] = []
        self.lock: int | None = None

    def write(self, relative: str, text: str) -> Path:
        path = self.directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.written.append(path)
        return path

    def remove(self) -> None:
        for path in reversed(self.written):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        with contextlib.suppress(OSError):
            (self.directory / EVENTS_DIR).rmdir()
        if self.created_directory:
            with contextlib.suppress(OSError):
                self.directory.rmdir()
        # Released last: the PID file is removed while its lock is held.
        if self.lock is not None:
            os.close(self.lock)


def _env_file_text(settings: Mapping[str, str], azurite: Azurite) -> str:
    return "\n".join(
        [
            f"# Settings of the sandbox running as PID {os.getpid()} (Azurite PID {azurite.pid}).",
            "# Valid while it runs: `. .sandbox/env.sh` in another shell, then python -m tools.cli",
            "# Unset: credentials that would send DefaultAzureCredential to real Azure.",
            f"unset {' '.join(CREDENTIALS_TO_UNSET)}",
            *env_lines(settings),
            "",
        ]
    )


def _write_events(files: _Files, seeded: scene.Scene) -> dict[str, Path]:
    # Saved events to try `replay` with, as Event Grid would have delivered them.
    batches = {
        "private-endpoint-events.json": scene.connection_events(seeded),
        "workspace-events.json": scene.workspace_events(),
    }
    return {
        name: files.write(f"{EVENTS_DIR}/{name}", json.dumps(events, indent=2) + "\n")
        for name, events in batches.items()
    }


def _print_requests(sim: AzureSimulator, seen: int) -> int:
    requests = sim.requests
    for request in requests[seen:]:
        if request.route == "token":
            continue
        print(
            f"  {request.status} {request.method:6} {request.route:24} {request.path}", flush=True
        )
    return len(requests)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until SIGINT or SIGTERM; 0 after a clean stop, 1 when it cannot run, 64
    (as the CLI) for a bad option."""
    try:
        options = _parser().parse_args(argv)
    except cli.CliError as error:
        return cli.report(error)
    directory: Path = options.dir.resolve()
    files = _Files(directory)
    try:
        running = _claim(files)
    except OSError as error:  # a file there, no permission: say so, not a traceback
        print(
            f"the sandbox cannot use {directory} ({error.strerror}): pass --dir a directory "
            "it may create or write in",
            file=sys.stderr,
        )
        return 1
    if running is not None:
        print(
            f"a sandbox is already running with its settings in {directory} (PID {running}): "
            f"use it (`. {directory / ENV_FILE}`), or stop it with Ctrl-C in its shell "
            f"(or `kill -INT {running}`)",
            file=sys.stderr,
        )
        return 1

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Ctrl-C, `kill`, and the terminal closing (SIGHUP) all get the same clean stop.
    previous = {
        sig: signal.signal(sig, request_stop)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        with local_azure() as local:
            sim, azurite = local.sim, local.azurite
            if stop.is_set():
                # Stopped while starting: nothing to offer, nothing left behind.
                print("stopped while starting; nothing is left running", flush=True)
                return 0
            seeded = scene.seed(sim)
            settings = local.settings()
            # The app settings the scene leaves unset are set empty: the environment wins over a
            # ./local.settings.json (a real one, for `func start`) and replaces the shell's own.
            names = [*json.loads(SAMPLE.read_text(encoding="utf-8"))["Values"], *OTHER_SETTINGS]
            settings |= {name: "" for name in names if name not in settings}
            lines = env_lines(settings)
            env_file = files.write(ENV_FILE, _env_file_text(settings, azurite))
            events = _write_events(files, seeded)
            print("# The sandbox's settings (also in the file below):", flush=True)
            for line in lines:
                print(line, flush=True)
            _print_banner(env_file, events, sim, azurite)
            seen = len(sim.requests)
            while not stop.wait(_POLL_SECONDS):
                if not options.quiet:
                    seen = _print_requests(sim, seen)
                # Ctrl-C on a terminal reaches Azurite too: give our own handler a moment to
                # tell that apart from Azurite failing on its own.
                if not azurite.running and not stop.wait(1.0):
                    print("Azurite stopped unexpectedly; stopping the sandbox", file=sys.stderr)
                    return 1
            print(f"\nstopping: the simulator, then Azurite (PID {azurite.pid})", flush=True)
    except RuntimeError as error:
        # Azurite not installed or not starting: say what to do, not a traceback. Unless stopped:
        # a terminal's Ctrl-C reaches Azurite too, and ends it while it starts.
        if not stop.is_set():
            print(f"the sandbox cannot start: {error}", file=sys.stderr)
            return 1
    finally:
        files.remove()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("sandbox stopped; its files are removed", flush=True)
    return 0


def _print_banner(
    env_file: Path, events: Mapping[str, Path], sim: AzureSimulator, azurite: Azurite
) -> None:
    try:
        shown = env_file.relative_to(Path.cwd())
    except ValueError:
        shown = env_file
    replay = events["private-endpoint-events.json"]
    with contextlib.suppress(ValueError):
        replay = replay.relative_to(Path.cwd())
    print(
        "\n".join(
            [
                "",
                f"Azure simulator: {sim.url} (ARM, Synapse data plane, managed identity, "
                "Event Grid topic)",
                f"Azurite (the ledger, in memory): {azurite.table_endpoint} (PID {azurite.pid})",
                f"Settings file: {shown}",
                "The scene: mlw-prod and mlw-dev in scope, mlw-sandbox out of scope, "
                "syn-analytics allow-listed (see tools/scene.py).",
                "",
                "In another shell, from the repository:",
                f"  . {shown}",
                "  .venv/bin/python -m tools.cli plan",
                "  .venv/bin/python -m tools.cli apply",
                f"  .venv/bin/python -m tools.cli replay {replay}",
                "",
                "Ready. Requests the simulator serves are listed below. Ctrl-C stops everything.",
            ]
        ),
        flush=True,
    )


def _parser() -> cli.Parser:
    parser = cli.Parser(
        prog="python -m tools.sandbox", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_DIR,
        help="where to write env.sh and the sample events (default: .sandbox in the repository)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="do not list the requests the simulator serves"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
