"""`make setup` says what it does: a line per step, progress while a step runs, its duration;
`make demo` and `make sandbox` install only what they need (not the tests' checkov)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.setup_step import main, run_step

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def test_a_step_prints_its_name_then_its_duration() -> None:
    out = io.StringIO()

    assert run_step("say hello", [PYTHON, "-c", "print('chatter')"], out=out) == 0

    lines = out.getvalue().splitlines()
    assert lines[0] == "==> say hello"
    assert re.fullmatch(r" {4}done in \d+\.\ds", lines[-1])
    assert "chatter" not in out.getvalue()  # the installer's output stays in the log


def test_a_long_step_shows_progress_with_the_latest_output_line() -> None:
    out = io.StringIO()
    script = (
        "import time\n"
        "print('WARNING: an index location is ignored', flush=True)\n"
        "print('Collecting azure-core', flush=True)\n"
        "time.sleep(1.0)\n"
        "print('Installing collected packages', flush=True)\n"
        "time.sleep(1.0)\n"
    )

    assert run_step("install", [PYTHON, "-c", script], every=0.3, out=out) == 0

    progress = [line for line in out.getvalue().splitlines() if line.startswith("    ... ")]
    assert len(progress) >= 4  # about one every 0.3 s over 2 s: never silent for long
    assert any(line.endswith(": Collecting azure-core") for line in progress)
    assert progress[-1].endswith(": Installing collected packages")
    assert not any("WARNING" in line for line in progress)


def test_a_failing_step_shows_the_end_of_its_output_and_its_exit_code() -> None:
    out = io.StringIO()
    script = (
        "import sys\nprint('ERROR: No matching distribution found for nosuchpackage')\nsys.exit(3)"
    )

    assert run_step("install", [PYTHON, "-c", script], out=out) == 3

    text = out.getvalue()
    assert "FAILED after" in text
    assert "exit code 3" in text
    assert "| ERROR: No matching distribution found for nosuchpackage" in text


def test_a_missing_program_is_a_failed_step_not_a_traceback() -> None:
    out = io.StringIO()
    assert run_step("install", ["/nonexistent/installer"], out=out) == 127
    assert "cannot run /nonexistent/installer" in out.getvalue()


def test_the_command_line_needs_a_command_after_the_separator(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["just a description"]) == 2
    assert "usage" in capsys.readouterr().err


def _planned(target: str) -> str:
    # -n -B: every command make would run for the target from nothing, run none of them.
    completed = subprocess.run(  # noqa: S603 - make with fixed arguments
        [shutil.which("make") or "make", "-n", "-B", "-C", str(REPO), target],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return completed.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["demo", "sandbox"])
def test_the_demo_and_the_sandbox_do_not_install_checkov(target: str) -> None:
    planned = _planned(target)
    assert "requirements-dev.txt" in planned
    assert "npm ci" in planned
    assert "checkov" not in planned


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["setup", "pytest", "test"])
def test_the_tests_install_checkov(target: str) -> None:
    assert "requirements-checkov.txt" in _planned(target)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_every_install_command_of_setup_runs_as_a_reported_step() -> None:
    planned = _planned("setup").splitlines()
    installs = [
        line
        for line in planned
        if re.search(r"pip install|npm ci|-m venv", line) and "setup_step" not in line
    ]
    # A wrapped command continues on the next line after `-- \`; anything else runs unreported.
    unreported = [
        line for line in installs if not planned[planned.index(line) - 1].rstrip().endswith("\\")
    ]
    assert unreported == []
    steps = [line for line in planned if "tools.setup_step" in line]
    assert len(steps) >= 6
