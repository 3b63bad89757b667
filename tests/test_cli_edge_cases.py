"""The operator CLI at its edges: writes Azure did not confirm, Azure ML's own events, odd
settings files and event files, Ctrl-C. One line per error, the documented exit codes."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import App
from tools import cli, scene

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures"


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.strip().splitlines() if line]


def test_apply_exits_1_and_names_a_write_azure_did_not_confirm(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    # ARM answers the approval 200 with the connection still Pending: it was not applied.
    def still_pending(body: Any) -> None:
        body["properties"]["privateLinkServiceConnectionState"]["status"] = "Pending"

    app.sim.rewrite_reply("aml.pec.put", still_pending, times=10)

    assert cli.main(["apply"]) == 1

    errors = _error_lines(capsys.readouterr().err)
    assert any(line.startswith("error: mlw-prod: connections: not applied: ") for line in errors), (
        errors
    )


@pytest.mark.parametrize(
    "sample",
    ["eventgrid_aml_runcompleted.json", "eventgrid_aml_datasetdriftdetected.json"],
)
def test_replay_delivers_azure_ml_events_to_on_ml_event(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str], sample: str
) -> None:
    events = json.loads((FIXTURES / sample).read_text(encoding="utf-8"))
    for event in events:
        event["topic"] = scene.PROD
    path = tmp_path / "ml-events.json"
    path.write_text(json.dumps(events), encoding="utf-8")

    code = cli.main(["replay", str(path)])

    out = capsys.readouterr().out
    assert "not delivered" not in out, out
    assert out.count("on_ml_event") == len(events)
    assert code == 0


def test_replay_of_an_event_no_function_handles_names_its_type(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.json"
    event = {"id": "e1", "eventType": "Contoso.Something", "subject": "x", "data": {}}
    path.write_text(json.dumps(event), encoding="utf-8")

    assert cli.main(["replay", str(path)]) == 64

    assert "no function handles event type 'Contoso.Something'" in capsys.readouterr().out


def test_replay_reads_a_file_with_a_bom_and_windows_line_endings(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = scene.connection_events(app.scene)
    path = tmp_path / "events.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(events, indent=2).replace("\n", "\r\n").encode())

    assert cli.main(["replay", str(path)]) == 0

    assert capsys.readouterr().out.count("on_private_endpoint_event") == len(events)


@pytest.mark.parametrize(
    "values",
    [{"A\u0000B": "x"}, {"": "x"}, {"A=B": "x"}, {"ARM_NOTE": "nul\u0000inside"}],
    ids=["nul-in-name", "empty-name", "equals-in-name", "nul-in-value"],
)
def test_a_settings_file_with_a_setting_no_environment_can_hold_is_one_line_and_exit_64(
    app: App,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    values: dict[str, str],
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "odd.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}), encoding="utf-8")

    assert cli.main(["plan", "--settings", str(path)]) == 64

    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"error: settings file {path} has a setting that cannot be")


def test_a_null_setting_in_the_settings_file_counts_as_unset(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAX_REMEDIATIONS_PER_RUN", raising=False)
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": {"MAX_REMEDIATIONS_PER_RUN": None}}), encoding="utf-8")

    assert cli.main(["plan", "--settings", str(path)]) == 0


def test_ctrl_c_during_apply_is_one_line_and_exit_130(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shared.reconcilers.sweep as sweep_module

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module, "sweep", interrupted)

    assert cli.main(["apply"]) == 130

    (line,) = _error_lines(capsys.readouterr().err)
    assert line == "error: interrupted"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # Regular files only: /dev/zero never ends, and a device is no saved event file.
        ("/dev/zero", "is not a regular file (a device, a pipe)"),
        ("/dev/null", "is not a regular file (a device, a pipe)"),
        ("/", "is a directory: give the path of a saved event file"),
    ],
)
def test_replay_of_special_files_is_one_line_and_exit_64(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    path: str,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)

    assert cli.main(["replay", path]) == 64

    captured = capsys.readouterr()
    (line,) = _error_lines(captured.err)
    assert expected in line
    assert captured.out == ""


def test_replay_of_many_events_reports_each_and_sums_them_up(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Items that cannot be events are refused each on its own, without Azure: a large batch
    # still ends with one summary and exit 64.
    path = tmp_path / "many.json"
    path.write_text(json.dumps([{"id": f"e{n}"} for n in range(10_000)]), encoding="utf-8")

    assert cli.main(["replay", str(path)]) == 64

    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 10_001
    assert lines[-1] == "replayed 10000 events: 10000 invalid"


def test_output_into_a_closed_pipe_ends_quietly_without_a_traceback(
    app: App,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `replay many.json | head -1`: the reader leaves after one line.
    path = tmp_path / "many.json"
    path.write_text(json.dumps([{"id": f"e{n}"} for n in range(20_000)]), encoding="utf-8")
    read_end, write_end = os.pipe()
    os.close(read_end)
    closed = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - stdout for the call
    monkeypatch.setattr(sys, "stdout", closed)
    try:
        code = cli.main(["replay", str(path)])
    finally:
        monkeypatch.undo()
        with contextlib.suppress(OSError):
            closed.close()

    assert code == 1
    assert "Traceback" not in capsys.readouterr().err


def test_apply_summaries_stay_one_line_each_when_piped(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    # Long summaries (deferrals included) are not wrapped: one grep-able line per workspace.
    app.set_settings(POLICY_MODE="remediate", MAX_REMEDIATIONS_PER_RUN="1")

    assert cli.main(["apply"]) == 0

    lines = capsys.readouterr().out.splitlines()
    summaries = [line for line in lines if line.startswith("  mlw-")]
    assert len(summaries) == 2
    assert all("policies: " in line for line in summaries)
    assert any(line.endswith("remediation(s) deferred") for line in summaries), summaries
    assert len(lines) == 3  # the heading and one line per workspace


def test_plan_json_gives_exemption_expiries_as_iso_8601_date_times(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import datetime

    compute = f"{scene.PROD}/computes/cpu-cluster"
    entries = [
        {"rule": "compute-max-nodes", "scope": compute, "reason": "in force", "expires": day}
        for day in ("2999-01-01T00:00:00+05:30", "2001-01-01T00:00:00Z")
    ]
    app.set_settings(MAX_CLUSTER_NODES="2", POLICY_EXEMPTIONS=json.dumps(entries))

    assert cli.main(["plan", "--json"]) == 0

    (prod,) = [i for i in json.loads(capsys.readouterr().out) if i["workspace"] == scene.PROD]
    (exempt,) = [f for f in prod["findings"] if f["status"] == "exempt"]
    assert exempt["exemption"]["expires"] == "2999-01-01T00:00:00+05:30"
    (expired,) = prod["expiredExemptions"]
    assert datetime.fromisoformat(expired["expires"]).isoformat() == "2001-01-01T00:00:00+00:00"
    assert "T" in expired["expires"]
