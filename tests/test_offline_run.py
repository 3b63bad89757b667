"""The offline main job (the README's first command) runs in the suite, so it cannot rot; and what
it prints is read as a person would read it: titled tables, no row twice, nothing cut."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.report_tables import tables
from tools import scene

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run() -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "COLUMNS"}
    return subprocess.run(
        [sys.executable, "-m", "tools.offline_run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def squeezed(text: str) -> str:
    # Wrapping breaks at spaces, folding inside long IDs: compare without any whitespace.
    return "".join(text.split())


def all_cells(output: str) -> list[str]:
    return [squeezed(cell) for _, rows in tables(output) for row in rows for cell in row]


def test_offline_run_reaches_the_expected_state(run: subprocess.CompletedProcess[str]) -> None:
    output = run.stdout
    assert run.returncode == 0, output + run.stderr
    assert "RESULT: everything as the rules call for" in output
    assert "FAILED" not in output
    # The story's key moments are in what a person reads.
    cells = all_cells(output)
    for moment in (
        "applied: now Approved",
        "applied: created",
        "applied: publicNetworkAccess is now Disabled",
        "out-of-scope",
        "invalid",
    ):
        assert any(squeezed(moment) in cell for cell in cells), moment
    # Retraining: drift -> job -> completion -> scoring; duplicates change nothing; the gate.
    assert "retraining-submitted" in output
    assert "scoring-started" in output
    assert "gate above the threshold (0.41): mlw-dev retrains" in output


def test_every_table_has_a_title_naming_its_workspace_or_step(
    run: subprocess.CompletedProcess[str],
) -> None:
    titles = [title for title, _ in tables(run.stdout)]
    assert len(titles) >= 8
    assert all(titles), titles
    for expected in (
        "Events delivered to on_workspace_event",
        "Non-compliant findings in mlw-prod",
        "Decisions about connections and identities in mlw-prod",
        "Decisions about connections and identities in mlw-dev",
        "Remediations in mlw-prod",
        "Final connection states on mlw-prod, mlw-dev and mlw-sandbox",
        "Outcome events published to OUTCOME_TOPIC_ENDPOINT",
    ):
        assert any(title.startswith(expected) for title in titles), (expected, titles)
    # A workspace with nothing to show gets a line, not an empty table.
    assert (
        "Non-compliant findings in mlw-dev (audit: recorded and published, nothing changed): none"
        in run.stdout
    )


def test_no_table_shows_the_same_row_twice(run: subprocess.CompletedProcess[str]) -> None:
    seen_repeats = False
    for title, rows in tables(run.stdout):
        header, body = rows[0], rows[1:]
        keyed = [tuple(row) for row in body]
        assert len(keyed) == len(set(keyed)), title
        if "times" in header:
            seen_repeats = True
            counts = [int(row[header.index("times")]) for row in body]
            assert max(counts) > 1, title
    # The scene re-decides the lookalike connection on every event: said once, with a count.
    assert seen_repeats


def test_reasons_and_summaries_are_printed_in_full(run: subprocess.CompletedProcess[str]) -> None:
    assert "…" not in run.stdout
    cells = all_cells(run.stdout)
    # The out-of-scope summary names the whole workspace ID (it used to be cut at 90 characters).
    assert any(squeezed(f"{scene.SANDBOX} is not in scope") in c for c in cells)
    assert squeezed("same name as syn-analytics' endpoint, another subscription") in cells
    width = max(len(line) for line in run.stdout.splitlines())
    assert width <= 160
    assert all(line == line.rstrip() for line in run.stdout.splitlines())  # no padding


def test_outcome_events_and_the_ledger_are_shown(run: subprocess.CompletedProcess[str]) -> None:
    events = next(rows for title, rows in tables(run.stdout) if title.startswith("Outcome events"))
    types = [squeezed(row[0]) for row in events[1:]]
    for decided in (
        "PrivateEndpointConnection.Approve",
        "RoleAssignment.Assign",
        "PolicyFinding.NonCompliant",
        "PolicyRemediation.DisablePublicNetworkAccess",
    ):
        # Followed by the outcome's state (Planned, Applied, Failed) where it has one.
        assert any(t == decided or t.startswith(f"{decided}.") for t in types), (decided, types)
    assert "The ledger was table 'automationledger' in the Azurite this run started" in run.stdout
    assert "make sandbox" in run.stdout
