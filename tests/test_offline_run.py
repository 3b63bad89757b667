"""The offline main job (the README's first command) runs in the suite, so it cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def test_offline_run_reaches_the_expected_state() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "tools.offline_run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    output = completed.stdout
    assert completed.returncode == 0, output + completed.stderr
    assert "RESULT: everything as the rules call for" in output
    assert "FAILED" not in output
    # The story's key moments are in what a person reads.
    assert "applied: now Approved" in output
    assert "applied: created" in output
    assert "applied: publicNetworkAccess is now Disabled" in output
    assert "out-of-scope" in output
    assert "invalid" in output
    # Retraining: drift -> job -> completion -> scoring; duplicates change nothing; the gate.
    assert "retraining-submitted" in output
    assert "scoring-started" in output
    assert "gate above the threshold (0.41): mlw-dev retrains" in output
