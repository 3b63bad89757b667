"""Every log line about an event or a decision can be tied to its trigger without reading order:
the text and the structured fields (custom dimensions) carry trigger, workspace, kind, verdict."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from shared.arm import ArmId
from shared.ledger import ActionRecord
from shared.logs import DECISION_FIELDS
from shared.outcome import NO_CHANGE, Outcome, Status
from shared.policy.budget import RemediationBudget
from shared.reconcilers.run import Decision, Run, Trail
from tests.conftest import App
from tests.retraining import (
    completed_event,
    deliver_ml_event,
)
from tools import host, scene

pytestmark = pytest.mark.slow


def _app_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("shared.", "handlers."))]


def test_every_line_of_an_event_names_the_event_workspace_kind_and_verdict(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    payload = scene.connection_events(app.scene)[0]

    with caplog.at_level(logging.INFO):
        app.deliver(payload)

    records = _app_records(caplog)
    kinds = {getattr(r, "kind", None) for r in records}
    assert {"event", "private-endpoint-connection", "role-assignment"} <= kinds
    for record in records:
        fields = {name: getattr(record, name, None) for name in DECISION_FIELDS}
        assert fields["trigger"] == f"event:{payload['id']}", record.getMessage()
        assert fields["event_id"] == payload["id"]
        assert fields["workspace_id"] == scene.PROD
        assert fields["kind"]
        assert fields["verdict"]
        assert record.getMessage().startswith(f"[event:{payload['id']}] mlw-prod ")


def test_sweep_lines_name_the_sweep_run(app: App, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        host.fire_timer("reconcile_all")

    records = _app_records(caplog)
    triggers = {getattr(r, "trigger", None) for r in records}
    assert len(triggers) == 1
    (trigger,) = triggers
    assert str(trigger).startswith("sweep:")
    workspaces = {getattr(r, "workspace_id", None) for r in records if r.name.startswith("shared.")}
    assert workspaces == {scene.PROD, scene.DEV}
    assert all(getattr(r, "event_id", None) == "" for r in records)


def test_unreadable_evidence_and_a_failed_publish_are_logged_with_their_event(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    app.sim.inject("synapse.mpe.list", status=403, times=50)
    app.sim.inject("eventgrid.publish", status=403, times=50)
    payload = scene.connection_events(app.scene)[0]

    with caplog.at_level(logging.INFO):
        app.deliver(payload)

    by_kind = {getattr(r, "kind", None): r for r in _app_records(caplog)}
    evidence = by_kind["synapse-evidence"]
    assert getattr(evidence, "trigger") == f"event:{payload['id']}"  # noqa: B009
    assert getattr(evidence, "subject_id") == scene.ANALYTICS  # noqa: B009
    publish = by_kind["outcome-event"]
    assert getattr(publish, "trigger") == f"event:{payload['id']}"  # noqa: B009
    assert getattr(publish, "workspace_id") == scene.PROD  # noqa: B009
    assert str(getattr(publish, "outcome")).startswith("failed: HTTP 403")  # noqa: B009


# ------------------------------------------------------------------------- decision logs

_DECISION_LOGGERS = (
    "shared.reconcilers.retraining",
    "shared.intake",
    "handlers.retraining",
    "handlers.scoring",
    "shared.scoring.service",
)


def _decision_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name in _DECISION_LOGGERS]


def test_every_retraining_line_is_a_decision_line(
    rapp: App, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        event = completed_event(rapp)
        deliver_ml_event(rapp, event)
        host.fire_timer("scheduled_retrain")

    lines = _decision_records(caplog)
    assert {r.name for r in lines} >= {
        "shared.reconcilers.retraining",
        "shared.intake",  # the event's own line, as every Event Grid function's intake logs it
        "handlers.retraining",
    }
    for record in lines:
        fields = record.__dict__
        assert fields["trigger"], record.getMessage()
        assert fields["kind"], record.getMessage()
        assert fields["verdict"], record.getMessage()
        assert fields["workspace_id"] == scene.PROD, record.getMessage()
    started = [r for r in lines if r.__dict__["kind"] == "batch-scoring"]
    assert [r.__dict__["event_id"] for r in started] == [event["id"]]


def test_http_scoring_lines_carry_the_logic_apps_tracking_ids(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    from shared.telemetry import DECISION_LOG_FIELDS
    from tests.test_scoring_http_e2e import _headers, post
    from tools import scoring_scene as ss

    ss.seed(app.sim)
    app.set_settings(**ss.settings_env())
    tracking = {"x-ms-workflow-run-id": "0858432", "x-ms-client-tracking-id": "ord-42"}
    with caplog.at_level(logging.INFO):
        assert post(headers=_headers(**tracking)).status_code == 202
        assert post(headers=_headers(ss.STRANGER, **tracking)).status_code == 403

    lines = _decision_records(caplog)
    assert len(lines) >= 4
    for record in lines:
        fields = record.__dict__
        assert fields["workflow_run_id"] == "0858432", record.getMessage()
        assert fields["client_tracking_id"] == "ord-42", record.getMessage()
        assert fields["kind"]
        assert fields["verdict"]
        assert fields["trigger"]
    assert {"workflow_run_id", "client_tracking_id"} <= set(DECISION_LOG_FIELDS)
    verdicts = [r.__dict__["verdict"] for r in lines if r.name == "handlers.scoring"]
    assert "started" in verdicts
    assert "refused" in verdicts


def test_each_policy_finding_is_one_decision_line_with_its_rule(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    from shared.runtime import runtime

    with caplog.at_level(logging.INFO, logger="shared.reconcilers.run"):
        host.fire_timer("reconcile_all")

    lines = [
        r
        for r in caplog.records
        if r.name == "shared.reconcilers.run" and r.__dict__.get("kind") == "policy-finding"
    ]
    recorded = [
        (a["Subject"].lower(), a["Evidence"], a["Verdict"])
        for workspace in (scene.PROD, scene.DEV)
        for a in runtime().ledger.actions(workspace)
        if a["Kind"] == "policy-finding" and a["Verdict"] != "not-evaluated"
    ]
    assert any(verdict == "non-compliant" for _, _, verdict in recorded)
    # The README's "findings by rule" query counts these lines by rule_id and verdict.
    logged = [
        (r.__dict__["subject_id"].lower(), r.__dict__["rule_id"], r.__dict__["verdict"])
        for r in lines
    ]
    assert sorted(logged) == sorted(recorded)


@pytest.mark.parametrize("status", list(Status))
def test_an_outcome_has_one_level_on_a_run_and_on_a_trail(
    status: Status, caplog: pytest.LogCaptureFixture
) -> None:
    # One level for one thing: a failed write is an ERROR whichever path records it.
    outcome, workspace = Outcome(status, "detail"), ArmId("/w")
    row = ActionRecord(workspace, "model", "promote", "s", "why", "enforce", NO_CHANGE, "t")
    run = Run("t", dry_run=False, budget=RemediationBudget(1), sink=None)
    trail = Trail(
        _Rows(), logging.getLogger("shared.reconcilers.promotion"), "enforce", workspace, "t"
    )

    with caplog.at_level(logging.INFO):
        run.record(workspace, [(Decision(row), outcome)])
        trail.record("model", "promote", "s", "why", outcome)

    levels = [r.levelno for r in caplog.records if r.__dict__.get("kind") == "model"]
    assert levels == [logging.ERROR if outcome.failed else logging.INFO] * 2


class _Rows:
    def record_actions(self, records: Sequence[ActionRecord]) -> None:
        pass
