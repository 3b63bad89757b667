"""Outcome event types say whether an action was planned, applied or failed: a Logic App that
filters on `...Approve.Applied` announces only approvals that happened."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.adapters.outcomes import event_type
from shared.ledger import ActionRecord
from shared.ml_events import APP_TAG
from shared.outcome import INTENT, NO_CHANGE, PLANNED, RECORDED, Outcome, Status, noted
from tests.conftest import App
from tests.retraining import (
    add_completed_job,
    completed_event,
    deliver_ml_event,
)
from tools import host, scene
from tools import retraining_scene as rs
from tools import scoring_scene as ss


def _record(kind: str, verdict: str, outcome: Outcome) -> ActionRecord:
    return ActionRecord(
        target_id=scene.PROD,
        kind=kind,
        verdict=verdict,
        subject=f"{scene.PROD}/privateEndpointConnections/c",
        reason="r",
        mode="enforce",
        outcome=outcome,
        trigger="event:e",
    )


@pytest.mark.parametrize(
    ("text", "outcome", "state"),
    [
        ("planned (dry-run)", PLANNED, "Planned"),
        ("applied: now Approved", Outcome(Status.APPLIED, "now Approved"), "Applied"),
        ("applied: already existed", Outcome(Status.APPLIED, "already existed"), "Applied"),
        (
            "failed: HTTP 403 AuthorizationFailed: no",
            Outcome(Status.FAILED, "HTTP 403 AuthorizationFailed: no"),
            "Failed",
        ),
        ("failed (will retry): HTTP 503", Outcome(Status.RETRY, "HTTP 503"), "Failed"),
        (
            "not attempted: an earlier write failed transiently",
            Outcome(Status.SKIPPED, "an earlier write failed transiently"),
            "Skipped",
        ),
        (
            "not applied: ARM's answer shows the connection Pending, not Approved",
            Outcome(Status.NOT_APPLIED, "ARM's answer shows the connection Pending, not Approved"),
            "Failed",
        ),
        (
            "refused: target is not this in-scope workspace",
            Outcome(Status.REFUSED, "target is not this in-scope workspace"),
            "Skipped",
        ),
        ("recorded", RECORDED, None),
        ("no change", NO_CHANGE, None),
        (
            "remediation applied: publicNetworkAccess is now Disabled",
            noted("remediation applied: publicNetworkAccess is now Disabled"),
            None,
        ),
        # An intent row: before the write, never an event of its own state.
        ("intent: about to write", INTENT, None),
    ],
)
def test_the_state_comes_from_the_outcome(text: str, outcome: Outcome, state: str | None) -> None:
    assert str(outcome) == text
    assert outcome.state == state


def test_an_action_type_carries_its_state_and_an_observation_does_not() -> None:
    approve = _record("private-endpoint-connection", "approve", PLANNED)
    finding = _record("policy-finding", "non-compliant", RECORDED)
    pending = _record("private-endpoint-connection", "leave-pending", NO_CHANGE)

    assert event_type(approve) == "SynapseAmlAutomation.PrivateEndpointConnection.Approve.Planned"
    assert event_type(finding) == "SynapseAmlAutomation.PolicyFinding.NonCompliant"
    assert event_type(pending) == "SynapseAmlAutomation.PrivateEndpointConnection.LeavePending"


_ACTION_TYPES = (".Approve", ".Reject", ".Assign", ".PolicyRemediation.")


def _published(app: App) -> list[str]:
    return [str(event["eventType"]) for event in app.sim.eventgrid.published_events]


def _actions(types: list[str]) -> list[str]:
    return [t for t in types if any(marker in t for marker in _ACTION_TYPES)]


@pytest.mark.slow
def test_in_dry_run_every_action_event_says_planned(app: App) -> None:
    app.set_settings(AUTOMATION_MODE="dry-run", POLICY_MODE="remediate")

    for payload in scene.workspace_events() + scene.connection_events(app.scene):
        app.deliver(
            payload,
            "on_workspace_event"
            if payload["data"]["operationName"] == scene.WORKSPACE_WRITE
            else "on_private_endpoint_event",
        )
    host.fire_timer("reconcile_all")

    actions = _actions(_published(app))
    assert "SynapseAmlAutomation.PrivateEndpointConnection.Approve.Planned" in actions
    assert "SynapseAmlAutomation.RoleAssignment.Assign.Planned" in actions
    assert any(t.startswith("SynapseAmlAutomation.PolicyRemediation.") for t in actions)
    assert all(t.endswith(".Planned") for t in actions), actions


@pytest.mark.slow
def test_in_enforce_an_approval_azure_accepted_says_applied(app: App) -> None:
    for payload in scene.connection_events(app.scene):
        app.deliver(payload)

    types = _published(app)
    assert "SynapseAmlAutomation.PrivateEndpointConnection.Approve.Applied" in types
    assert "SynapseAmlAutomation.RoleAssignment.Assign.Applied" in types
    assert not [t for t in _actions(types) if not t.endswith(".Applied")]


@pytest.mark.slow
def test_an_approval_refused_with_403_says_failed_and_nothing_says_applied(app: App) -> None:
    app.sim.inject("aml.pec.put", status=403, times=10)

    app.deliver(scene.connection_events(app.scene)[0])

    actions = _actions(_published(app))
    assert actions == ["SynapseAmlAutomation.PrivateEndpointConnection.Approve.Failed"]
    (event,) = [
        e for e in app.sim.eventgrid.published_events if e["eventType"].endswith("Approve.Failed")
    ]
    assert event["data"]["verdict"] == "approve"  # data fields are the ledger record, as before
    assert event["data"]["outcome"].startswith("failed: HTTP 403")


# ------------------------------------------------------------------------- outcome types


def test_dry_run_outcome_types_are_planned_and_never_claim_an_action(rapp: App) -> None:
    rapp.set_settings(**rs.retraining_settings(AUTOMATION_MODE="dry-run"))
    rs.claim_job("retrain-by-hand")
    add_completed_job(rapp, "retrain-by-hand")
    deliver_ml_event(rapp, rs.monitor_breach_event())
    deliver_ml_event(rapp, rs.job_finished_event("retrain-by-hand", tags={APP_TAG: "retraining"}))

    published = sorted(e["eventType"] for e in rapp.sim.eventgrid.published_events)
    assert published == [
        "SynapseAmlAutomation.BatchScoring.Start.Planned",
        "SynapseAmlAutomation.Retraining.Submit.Planned",
    ]


def test_applied_and_failed_scoring_say_so_in_their_type(rapp: App) -> None:
    event = completed_event(rapp)
    deliver_ml_event(rapp, event)
    assert "SynapseAmlAutomation.BatchScoring.Start.Applied" in [
        e["eventType"] for e in rapp.sim.eventgrid.published_events
    ]

    rapp.set_settings(**rs.retraining_settings(AML_INFERENCE_DOMAIN="inference.ml.azure.com"))
    again = _completed_event_for_new_job(rapp)
    deliver_ml_event(rapp, again)
    assert "SynapseAmlAutomation.BatchScoring.Start.Failed" in [
        e["eventType"] for e in rapp.sim.eventgrid.published_events
    ]


def test_an_http_scoring_start_has_the_type_of_one_after_a_retrain(scoring: App) -> None:
    from tests.test_scoring_http_e2e import post

    scoring.set_settings(**ss.settings_env(), AUTOMATION_MODE="dry-run")
    assert post().status_code == 200
    assert scoring.sim.eventgrid.published_events == []  # a dry-run over HTTP starts nothing
    scoring.set_settings(**ss.settings_env())
    assert post().status_code == 202
    assert [e["eventType"] for e in scoring.sim.eventgrid.published_events] == [
        "SynapseAmlAutomation.BatchScoring.Start.Applied"
    ]


def _completed_event_for_new_job(app: App) -> dict[str, Any]:
    name = f"retrain-{uuid.uuid4().hex[:8]}"
    tags = {APP_TAG: "retraining"}
    rs.claim_job(name)  # a job of the app's claim
    app.sim.ml.add_job(
        scene.PROD,
        {
            "id": f"{scene.PROD}/jobs/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {"jobType": "Pipeline", "status": "Completed", "tags": tags},
            "systemData": {"createdAt": "2026-11-26T00:00:00Z"},
        },
        by_app=True,
    )
    return rs.job_finished_event(name, tags=tags)


def test_events_of_long_text_that_json_escapes_are_published_within_a_publishs_size(
    app: App,
) -> None:
    # 1 MB a publish, as sent: JSON writes a character outside ASCII as `\uXXXX` (an emoji two).
    from shared.runtime import runtime

    outcome = Outcome(Status.APPLIED, "approved")
    row = (scene.PROD, "private-endpoint-connection", "approve")
    records = [
        ActionRecord(*row, f"{i}" + "😀" * 8_000, "r", "enforce", outcome, "e") for i in range(30)
    ]

    runtime().sink.record_actions(records)

    assert [r for r in app.ledger.actions(scene.PROD) if r["Kind"] == "outcome-event"] == []
    assert len(app.sim.eventgrid.published_events) == 30


def test_a_publish_failing_part_way_names_only_the_events_it_did_not_publish(app: App) -> None:
    # 250 events are two publishes (at most 200 each): the first goes out, the second fails.
    from shared.runtime import runtime

    app.sim.inject_reply("eventgrid.publish", status=200, body=None)
    app.sim.inject("eventgrid.publish", status=503, times=10)
    outcome = Outcome(Status.APPLIED, "approved")
    row = (scene.PROD, "private-endpoint-connection", "approve")
    records = [ActionRecord(*row, f"c{i}", "r", "enforce", outcome, "e") for i in range(250)]

    runtime().sink.record_actions(records)

    [failure] = [r for r in app.ledger.actions(scene.PROD) if r["Kind"] == "outcome-event"]
    assert failure["Reason"].startswith("50 of 250 outcome event(s) not published")
