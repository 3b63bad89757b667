"""The operator CLI over the simulator: plan writes nothing, apply reconciles, replay delivers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import App
from tools import cli, scene

pytestmark = pytest.mark.slow


def resource_writes(app: App) -> list[object]:
    return [w for w in app.sim.writes() if w.route != "eventgrid.publish"]


def test_plan_prints_decisions_and_findings_and_writes_nothing(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    app.set_settings(POLICY_MODE="remediate")

    assert cli.main(["plan"]) == 0

    out = capsys.readouterr().out
    assert app.sim.writes() == []  # not even an outcome event
    assert "approve" in out
    assert "leave-pending" in out
    assert "Contributor: syn-analytics" in out
    assert "workspace-public-access" in out
    assert "non-compliant" in out
    assert all(app.status(c) == c.initial for c in app.scene.connections)


def test_plan_json_is_machine_readable(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "--json"]) == 0

    plan = json.loads(capsys.readouterr().out)
    by_workspace = {item["workspace"]: item for item in plan}
    assert set(by_workspace) == {scene.PROD, scene.DEV}
    prod = by_workspace[scene.PROD]
    verdicts = {d["connection_name"]: d["verdict"] for d in prod["connections"]}
    verified = app.connection("listed by allow-listed syn-analytics")
    assert verdicts[verified.name] == "approve"
    # The plan follows the approval through: the identity would then get Contributor.
    assert [d["verdict"] for d in prod["roleAssignments"]] == ["assign"]
    assert {f["rule_id"] for f in prod["findings"]} >= {"workspace-public-access"}


def test_apply_reconciles_everything_in_scope(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["apply"]) == 0

    out = capsys.readouterr().out
    assert "mlw-prod" in out
    for connection in app.scene.connections:
        assert app.status(connection) == connection.expected


def test_replay_delivers_a_dead_lettered_batch(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = scene.connection_events(app.scene)
    # A dead-letter blob holds an array of events with Event Grid's extra fields.
    dead = [{**e, "deadLetterReason": "MaxDeliveryAttemptsExceeded"} for e in events]
    path = tmp_path / "dead-letter.json"
    path.write_text(json.dumps(dead), encoding="utf-8")

    assert cli.main(["replay", str(path)]) == 0

    out = capsys.readouterr().out
    assert out.count("on_private_endpoint_event") == len(events)
    for connection in app.scene.connections:
        assert app.status(connection) == connection.expected


def test_bad_settings_are_reported_by_name(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    app.set_settings(ML_WORKSPACE_IDS="not-an-id")

    assert cli.main(["plan"]) == 2

    assert "ML_WORKSPACE_IDS" in capsys.readouterr().err
    assert app.sim.requests == []
