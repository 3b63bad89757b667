"""`make sandbox`: the simulator and Azurite with the demo scene, driven by the CLI from another
process through the settings file it writes, until SIGINT stops everything it started."""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools import scene
from tools.sandbox import PID_FILE, _claim, _Files, env_lines, parse_env_file
from tools.sandbox import main as sandbox_main

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 90.0


@dataclass
class Sandbox:
    process: subprocess.Popen[str]
    directory: Path
    lines: list[str] = field(default_factory=list)

    @property
    def env_file(self) -> Path:
        return self.directory / "env.sh"

    def settings(self) -> dict[str, str]:
        return parse_env_file(self.env_file.read_text(encoding="utf-8"))

    def azurite_pid(self) -> int:
        match = re.search(r"Azurite .*\(PID (\d+)\)", "\n".join(self.lines))
        assert match, self.lines
        return int(match.group(1))


def _drain(source: queue.Queue[str | None], into: list[str]) -> None:
    for line in iter(source.get, None):
        into.append(line)


def _start(directory: Path, **env: str) -> Sandbox:
    process = subprocess.Popen(  # noqa: S603 - our own module, our own arguments
        [sys.executable, "-m", "tools.sandbox", "--dir", str(directory), "--quiet"],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    sandbox = Sandbox(process, directory)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        sandbox.lines.append(line)
        if line.startswith("Ready."):
            # Keep draining so that a full pipe never blocks the sandbox.
            threading.Thread(target=_drain, args=(lines, sandbox.lines), daemon=True).start()
            return sandbox
    process.kill()
    process.wait()
    raise AssertionError("the sandbox did not get ready:\n" + "\n".join(sandbox.lines))


def _stop(sandbox: Sandbox) -> None:
    if sandbox.process.poll() is None:
        sandbox.process.kill()  # only after a failed test: our own child, by its PID
        sandbox.process.wait(timeout=30)


def _cli(sandbox: Sandbox, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    # Another process, as from another shell: only what the settings file says, plus a PATH.
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    env.update(sandbox.settings())
    return subprocess.run(  # noqa: S603 - our own module, our own arguments
        [sys.executable, "-m", "tools.cli", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    running = _start(tmp_path_factory.mktemp("sandbox") / "state")
    yield running
    running.process.send_signal(signal.SIGINT)
    try:
        running.process.wait(timeout=30)
    finally:
        _stop(running)


@pytest.mark.slow
def test_sandbox_prints_first_the_settings_it_writes_to_its_env_file(sandbox: Sandbox) -> None:
    printed = [line for line in sandbox.lines if line.startswith("export ")]
    written = [
        line
        for line in sandbox.env_file.read_text(encoding="utf-8").splitlines()
        if line.startswith("export ")
    ]
    assert printed == written
    # The settings come first: only comments before them.
    first_export = sandbox.lines.index(printed[0])
    assert all(line.startswith("#") for line in sandbox.lines[:first_export])
    settings = sandbox.settings()
    for name in (
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "REQUESTS_CA_BUNDLE",
        "ARM_ENDPOINT",
        "SYNAPSE_DEV_ENDPOINT",
        "ML_WORKSPACE_IDS",
        "SYNAPSE_WORKSPACE_IDS",
        "LEDGER_CONNECTION_STRING",
        "LEDGER_TABLE_NAME",
        "AUTOMATION_MODE",
        "POLICY_MODE",
        "OUTCOME_TOPIC_ENDPOINT",
    ):
        assert settings.get(name), name
    assert Path(settings["REQUESTS_CA_BUNDLE"]).is_file()


@pytest.mark.slow
def test_sourcing_the_env_file_in_a_shell_gives_the_same_values(sandbox: Sandbox) -> None:
    settings = sandbox.settings()
    names = sorted(settings)
    script = f'. "{sandbox.env_file}" && ' + " && ".join(
        f'printf "%s\\0" "${name}"' for name in names
    )
    completed = subprocess.run(  # noqa: S603 - a script of the test's own
        ["/bin/sh", "-c", script], capture_output=True, text=True, check=True, timeout=30, env={}
    )
    assert completed.stdout.split("\0")[:-1] == [settings[name] for name in names]


@pytest.mark.slow
def test_cli_plan_apply_and_replay_work_against_the_sandbox_from_another_process(
    sandbox: Sandbox,
) -> None:
    plan = _cli(sandbox, "plan")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "mlw-prod" in plan.stdout
    assert "approve" in plan.stdout
    assert "Contributor: syn-analytics" in plan.stdout

    apply = _cli(sandbox, "apply")
    assert apply.returncode == 0, apply.stdout + apply.stderr
    assert re.search(r"\bcli:[0-9a-f]+", apply.stdout), apply.stdout  # the ledger's trigger
    assert "1 approve" in apply.stdout

    events = sandbox.directory / "events" / "private-endpoint-events.json"
    replay = _cli(sandbox, "replay", str(events))
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert replay.stdout.count("on_private_endpoint_event") == 7
    assert "out-of-scope" in replay.stdout  # the sandbox workspace's connection

    # After apply, the plan has nothing left to approve: the sandbox kept the state.
    again = _cli(sandbox, "plan", "--json")
    assert again.returncode == 0, again.stderr
    assert '"verdict": "approve"' not in again.stdout


@pytest.mark.slow
def test_a_local_settings_json_in_the_checkout_does_not_reach_the_sandbox(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # The one `func start` reads against Azure (README): the CLI reads ./local.settings.json
    # too, for each setting its environment lacks (env.sh sets every app setting, some empty).
    real = {
        "ML_SCOPE_TAG": "team=data",
        "LEDGER_TABLE_ENDPOINT": "https://st.table.core.windows.net",
    }
    (tmp_path / "local.settings.json").write_text(json.dumps({"Values": real}), encoding="utf-8")

    plan = _cli(sandbox, "plan", "--json", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert {item["workspace"] for item in json.loads(plan.stdout)} == {scene.PROD, scene.DEV}
    # Read as far as the scope (nothing written): the ledger is the sandbox's own, not both.
    apply = _cli(sandbox, "apply", "--workspace", scene.SANDBOX, cwd=tmp_path)
    assert apply.returncode == 64
    assert f"--workspace {scene.SANDBOX} is not a workspace in scope" in apply.stderr


@pytest.mark.slow
def test_a_second_sandbox_on_the_same_directory_refuses_to_start(sandbox: Sandbox) -> None:
    second = subprocess.run(  # noqa: S603 - our own module, our own arguments
        [sys.executable, "-m", "tools.sandbox", "--dir", str(sandbox.directory)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 1
    assert f"PID {sandbox.process.pid}" in second.stderr
    assert sandbox.env_file.is_file()  # the running one's settings are untouched


def _processes_with(fragment: str) -> list[int]:
    """PIDs whose command line holds `fragment` (arguments separated by NUL), from /proc."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if fragment in cmdline.read_bytes().decode("utf-8", "replace"):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue  # a process that ended while we looked
    return found


def _accepts(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 443), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize(
    "stop_signal",
    [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
    ids=["ctrl-c", "sigterm", "terminal-closed"],
)
def test_stopping_it_stops_azurite_and_the_simulator_and_removes_the_sandbox_files(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    directory = tmp_path / "state"
    sandbox = _start(directory)
    try:
        settings = sandbox.settings()
        azurite_pid = sandbox.azurite_pid()
        os.kill(azurite_pid, 0)  # running now
        ledger = settings["LEDGER_CONNECTION_STRING"].split("TableEndpoint=")[1].rstrip(";")
        assert _accepts(settings["ARM_ENDPOINT"])
        assert _accepts(ledger)
        assert _processes_with(f"--tablePort\0{urlsplit(ledger).port}\0") == [azurite_pid]

        sandbox.process.send_signal(stop_signal)
        assert sandbox.process.wait(timeout=30) == 0
    finally:
        _stop(sandbox)

    with pytest.raises(ProcessLookupError):
        os.kill(azurite_pid, 0)
    assert _processes_with(f"--tablePort\0{urlsplit(ledger).port}\0") == []
    assert not _accepts(settings["ARM_ENDPOINT"])
    assert not _accepts(ledger)
    assert not Path(settings["REQUESTS_CA_BUNDLE"]).exists()
    assert not directory.exists()


@pytest.mark.slow
def test_ctrl_c_on_a_terminal_while_azurite_starts_stops_it_all_and_says_so(
    tmp_path: Path,
) -> None:
    # A terminal's Ctrl-C goes to its whole foreground process group: to Azurite too, which is
    # still starting. It was taken for Azurite failing: "cannot start", exit 1.
    directory = tmp_path / "state"
    process = subprocess.Popen(  # noqa: S603 - our own module, our own arguments
        [sys.executable, "-m", "tools.sandbox", "--dir", str(directory), "--quiet"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # a process group of its own, as a shell gives a job
    )
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        deadline = time.monotonic() + START_TIMEOUT
        while not (started := children.read_text().split()) and time.monotonic() < deadline:
            time.sleep(0.005)
        (azurite_pid,) = map(int, started)
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        _stop(Sandbox(process, directory))

    assert process.returncode == 0, output
    assert "cannot start" not in output
    assert not directory.exists()
    assert azurite_pid not in _processes_with("azurite")


values = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=60)


@given(st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True), values, max_size=8))
def test_env_lines_read_back_as_the_same_settings(settings: dict[str, str]) -> None:
    assert parse_env_file("\n".join(env_lines(settings))) == settings


@pytest.mark.slow
def test_two_sandboxes_started_at_once_on_one_directory_leave_one_running(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "state"
    command = [sys.executable, "-m", "tools.sandbox", "--dir", str(directory), "--quiet"]
    both = [
        subprocess.Popen(  # noqa: S603 - our own module, our own arguments
            command,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and all(p.poll() is None for p in both):
            time.sleep(0.2)
        refused = next(p for p in both if p.poll() is not None)
        running = next(p for p in both if p is not refused)
        assert refused.returncode == 1
        assert refused.stderr is not None
        assert f"already running with its settings in {directory}" in refused.stderr.read()
        while time.monotonic() < deadline and not (directory / "env.sh").is_file():
            time.sleep(0.2)
        # The refused one removed nothing of the running one's: its settings and its PID stay.
        assert running.poll() is None
        assert f"PID {running.pid}" in (directory / "env.sh").read_text(encoding="utf-8")
        assert (directory / "sandbox.pid").read_text(encoding="utf-8").strip() == str(running.pid)
        running.send_signal(signal.SIGINT)
        assert running.wait(timeout=30) == 0
        assert not (directory / "env.sh").exists()
    finally:
        for process in both:
            if process.poll() is None:
                process.kill()  # only after a failed test: our own child, by its PID
                process.wait(timeout=30)


@pytest.mark.slow
def test_a_stale_pid_file_of_a_killed_sandbox_does_not_block_a_new_one(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    # A PID above the kernel's maximum: no process can hold it.
    (directory / "sandbox.pid").write_text("999999999\n", encoding="utf-8")

    started = _start(directory)
    try:
        pid = (directory / "sandbox.pid").read_text(encoding="utf-8").strip()
        assert pid == str(started.process.pid)
        started.process.send_signal(signal.SIGINT)
        assert started.process.wait(timeout=30) == 0
    finally:
        _stop(started)


@pytest.mark.slow
def test_a_sandbox_killed_with_sigkill_releases_its_directory_at_once(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    # Its temporary files (the CA, Azurite's directory) stay behind it: keep them in tmp_path.
    killed = _start(directory, TMPDIR=str(tmp_path))
    azurite_pid = killed.azurite_pid()
    try:
        killed.process.kill()
        # Dead, its files closed, but not reaped: its PID still answers `kill -0` (as it would
        # once reused by another process). Nothing it left may block the next sandbox.
        os.waitid(os.P_PID, killed.process.pid, os.WEXITED | os.WNOWAIT)
        assert (directory / PID_FILE).read_text(encoding="utf-8").strip() == str(killed.process.pid)
        following = _start(directory)
        try:
            following.process.send_signal(signal.SIGINT)
            assert following.process.wait(timeout=30) == 0
        finally:
            _stop(following)
        # The next one took the dead one's PID file over, and removed it with its own files.
        assert list(directory.iterdir()) == []
    finally:
        _stop(killed)
        # Its Azurite outlived it (nobody stopped it): our own child's child, by its PID.
        os.kill(azurite_pid, signal.SIGKILL)


#: Above the kernel's maximum: no process can hold it.
STALE_PID = 999_999_999
#: Only a bound on a hung claimant, never a synchronisation.
WAIT = 60.0


def _claimant(
    directory: Path,
    second: bool,
    go: Barrier,
    checked: list[Event],
    first_holds: Event,
    release: Event,
    results: Queue[tuple[bool, int | None]],
) -> None:
    """One sandbox's claim on `directory`, in a process of its own: it reports whether it holds
    the directory, and keeps it until `release`.

    A claim that takes the PID file for stale because its PID is not running (`os.kill(pid, 0)`)
    is held there: each claimant until both have read the stale PID, the second until the first
    holds the directory. That is the interleaving in which both used to run."""
    real_kill = os.kill

    def kill(pid: int, sig: int) -> None:
        if pid == STALE_PID:
            checked[second].set()
            checked[not second].wait(WAIT)
            if second:
                first_holds.wait(WAIT)
        real_kill(pid, sig)

    files = _Files(directory)
    with mock.patch.object(os, "kill", kill):
        go.wait(WAIT)
        running = _claim(files)
    if running is None and not second:
        first_holds.set()
    results.put((second, running))
    release.wait(WAIT)
    if running is None:
        files.remove()


def test_two_claims_started_together_over_a_stale_pid_file_leave_one_holding_the_directory(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    # Left by a sandbox killed with -9.
    (directory / PID_FILE).write_text(f"{STALE_PID}\n", encoding="utf-8")
    spawn = multiprocessing.get_context("spawn")
    go, release, first_holds = spawn.Barrier(3), spawn.Event(), spawn.Event()
    checked = [spawn.Event(), spawn.Event()]
    results: Queue[tuple[bool, int | None]] = spawn.Queue()
    claimants = [
        spawn.Process(
            target=_claimant,
            args=(directory, second, go, checked, first_holds, release, results),
        )
        for second in (False, True)
    ]
    for claimant in claimants:
        claimant.start()
    try:
        go.wait(WAIT)
        claims = dict(results.get(timeout=WAIT) for _ in claimants)
        holders = [second for second, running in claims.items() if running is None]
        assert len(holders) == 1, claims
        holder = claimants[holders[0]]
        assert (directory / PID_FILE).read_text(encoding="utf-8").strip() == str(holder.pid)
    finally:
        release.set()
        for claimant in claimants:
            claimant.join(WAIT)
            if claimant.is_alive():
                claimant.kill()  # only after a failed test: our own child, by its PID
                claimant.join()


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_a_dir_that_cannot_be_a_directory_is_one_line_and_exit_1(
    tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("not a directory\n", encoding="utf-8")

    assert sandbox_main(["--dir", str(tmp_path / where)]) == 1

    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1
    assert err.startswith(f"the sandbox cannot use {tmp_path / where}")
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "not a directory\n"


@pytest.mark.parametrize("argv", [["--bogus"], ["--dir"], ["stray"]])
def test_a_bad_option_is_one_line_and_the_clis_usage_exit(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # As the operator CLI: one line naming `--help`, sysexits' EX_USAGE, nothing started.
    assert sandbox_main(argv) == 64

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert err.rstrip().endswith("see `python -m tools.sandbox --help`")
