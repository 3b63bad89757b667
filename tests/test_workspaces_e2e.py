"""End to end for workspace events: Synapse identity → Contributor, and the policy set.

Registered functions → real SDK clients → HTTPS → the simulator; writes counted at the boundary.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.outcome import INTENT
from shared.planning.role_assignments import CONTRIBUTOR_ROLE_ID, assignment_name
from tests.conftest import App
from tools import host, scene

pytestmark = pytest.mark.slow

REMEDIATION_ROUTES = {"aml.workspace.patch", "aml.compute.patch"}


def writes(app: App) -> list[Any]:
    """Writes to the Azure estate (outcome events are records, like the ledger)."""
    return [w for w in app.sim.writes() if w.route != "eventgrid.publish"]


def workspace_event(workspace_id: str) -> dict[str, Any]:
    return scene.resource_write_event(workspace_id, scene.WORKSPACE_WRITE)


def deliver(app: App, payload: dict[str, Any]) -> None:
    app.deliver(payload, function="on_workspace_event")


def latest_evaluation(app: App, workspace_id: str) -> list[dict[str, Any]]:
    """The ledger rows of the newest policy evaluation of a workspace (its summary row first)."""
    rows = list(app.ledger.actions(workspace_id))  # newest first
    summary = next(r for r in rows if r["Kind"] == "policy-summary")
    return [
        r for r in rows if r["Trigger"] == summary["Trigger"] and r["Kind"].startswith("policy")
    ]


def findings(app: App, workspace_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The problems (non-compliant, unknown) of the newest evaluation, by (rule, resource)."""
    return {
        (row["Evidence"], row["Subject"].rsplit("/", 1)[-1]): row
        for row in latest_evaluation(app, workspace_id)
        if row["Kind"] == "policy-finding"
    }


@pytest.mark.parametrize("cloud", [False, True], ids=["eventgrid-schema", "cloudevents-schema"])
def test_workspace_event_wires_the_synapse_identity_with_one_contributor_assignment(
    app: App, cloud: bool
) -> None:
    payload = workspace_event(scene.DEV)

    deliver(app, host.as_cloud_event(payload) if cloud else payload)

    assert [w.route for w in writes(app)] == ["authz.ra.put"]
    (assignment,) = app.sim.authorization.role_assignments(scene.DEV)
    properties = assignment["properties"]
    assert properties["principalId"] == scene.ANALYTICS_PRINCIPAL
    assert properties["principalType"] == "ServicePrincipal"
    assert properties["roleDefinitionId"].endswith(f"/roleDefinitions/{CONTRIBUTOR_ROLE_ID}")
    assert assignment["name"] == assignment_name(scene.DEV, scene.ANALYTICS_PRINCIPAL)
    assert (
        app.sim.authorization.role_assignments(scene.PROD) == []
    )  # no approved Synapse connection there yet
    record = app.ledger.event(payload["id"]) or {}
    assert record["Outcome"] == "reconciled"
    assert "1 assign" in record["Reason"]


def test_findings_are_recorded_for_every_rule(app: App) -> None:
    payload = workspace_event(scene.PROD)
    deliver(app, payload)

    recorded = findings(app, scene.PROD)
    summary = next(r for r in latest_evaluation(app, scene.PROD) if r["Kind"] == "policy-summary")
    assert len(summary["Evidence"].split(",")) == 12  # every rule ran
    assert "compliant" in summary["Reason"]
    assert recorded[("workspace-public-access", "mlw-prod")]["Verdict"] == "non-compliant"
    assert recorded[("compute-max-nodes", "cpu-cluster")]["Verdict"] == "non-compliant"
    assert recorded[("compute-local-auth", "ci-alice")]["Verdict"] == "non-compliant"
    assert recorded[("compute-vm-size", "ci-alice")]["Verdict"] == "non-compliant"
    storage = recorded[("dependencies-private-endpoints", "stmlwprod")]
    assert storage["Verdict"] == "non-compliant"
    assert "dfs" in storage["Reason"]
    assert "queue" in storage["Reason"]
    event = app.ledger.event(payload["id"]) or {}
    assert event["Outcome"] == "reconciled"
    assert "non-compliant" in event["Reason"]


def test_a_compliant_workspace_has_no_non_compliant_findings(app: App) -> None:
    deliver(app, workspace_event(scene.DEV))

    assert findings(app, scene.DEV) == {}
    summary = latest_evaluation(app, scene.DEV)[0]
    assert "non-compliant" not in summary["Reason"], summary["Reason"]


def test_audit_mode_never_remediates(app: App) -> None:
    deliver(app, workspace_event(scene.PROD))
    deliver(app, workspace_event(scene.DEV))

    assert not [w for w in writes(app) if w.route in REMEDIATION_ROUTES]
    workspace = app.sim.arm.get(scene.PROD) or {}
    assert workspace["properties"]["publicNetworkAccess"] == "Enabled"
    # Nor plans one: audit mode records no remediation rows at all.
    kinds = {row["Kind"] for ws in (scene.PROD, scene.DEV) for row in app.ledger.actions(ws)}
    assert "policy-finding" in kinds
    assert "policy-remediation" not in kinds


def test_remediate_mode_applies_exactly_the_allowed_writes_once(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate")

    deliver(app, workspace_event(scene.PROD))

    remediation_writes = sorted(w.route for w in writes(app) if w.route in REMEDIATION_ROUTES)
    assert remediation_writes == ["aml.compute.patch", "aml.workspace.patch"]
    assert {w.route for w in writes(app)} <= REMEDIATION_ROUTES  # nothing else was written
    workspace = app.sim.arm.get(scene.PROD) or {}
    assert workspace["properties"]["publicNetworkAccess"] == "Disabled"
    cluster = app.sim.ml.compute(scene.PROD, "cpu-cluster")
    assert cluster["properties"]["properties"]["scaleSettings"]["maxNodeCount"] == 4

    app.sim.reset_counts()
    deliver(app, workspace_event(scene.PROD))

    assert writes(app) == []
    recorded = findings(app, scene.PROD)
    assert ("workspace-public-access", "mlw-prod") not in recorded
    assert ("compute-max-nodes", "cpu-cluster") not in recorded
    assert ("compute-local-auth", "ci-alice") in recorded  # not remediable: still a problem


def test_dry_run_writes_nothing_even_in_remediate_mode(app: App) -> None:
    app.set_settings(AUTOMATION_MODE="dry-run", POLICY_MODE="remediate")

    deliver(app, workspace_event(scene.PROD))
    deliver(app, workspace_event(scene.DEV))
    host.fire_timer("reconcile_all")

    assert writes(app) == []
    planned = [
        row
        for ws in (scene.PROD, scene.DEV)
        for row in app.ledger.actions(ws)
        if row["Outcome"] == "planned (dry-run)"
    ]
    kinds = {row["Kind"] for row in planned}
    assert kinds == {"policy-remediation", "role-assignment", "private-endpoint-connection"}


def test_replaying_workspace_events_writes_nothing_more(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate")
    events = [workspace_event(scene.PROD), workspace_event(scene.DEV)]
    for payload in events:
        deliver(app, payload)
    assert writes(app)
    app.sim.reset_counts()

    for payload in events + events:
        deliver(app, payload)

    assert writes(app) == []


def test_assignment_that_already_exists_counts_as_success(app: App) -> None:
    app.sim.inject("authz.ra.put", status=409, code="RoleAssignmentExists", times=1)

    deliver(app, workspace_event(scene.DEV))

    (row,) = [
        r
        for r in app.ledger.actions(scene.DEV)
        if r["Kind"] == "role-assignment" and r["Outcome"] != str(INTENT)
    ]
    assert row["Verdict"] == "assign"
    assert row["Outcome"] == "applied: already existed"


def test_principal_not_found_right_after_creation_is_retried(app: App) -> None:
    app.sim.authorization.principal_replication_delay(scene.ANALYTICS_PRINCIPAL, times=1)

    deliver(app, workspace_event(scene.DEV))

    statuses = [r.status for r in app.sim.requests if r.route == "authz.ra.put"]
    assert statuses == [400, 201]
    assert len(app.sim.authorization.role_assignments(scene.DEV)) == 1


def test_principal_never_found_is_recorded_not_raised(app: App) -> None:
    app.sim.authorization.principal_replication_delay(scene.ANALYTICS_PRINCIPAL, times=20)

    deliver(app, workspace_event(scene.DEV))

    assert app.sim.authorization.role_assignments(scene.DEV) == []
    assert app.sim.count(route="authz.ra.put") == 4  # the first try and three retries
    (row,) = [
        r
        for r in app.ledger.actions(scene.DEV)
        if r["Kind"] == "role-assignment" and r["Outcome"] != str(INTENT)
    ]
    assert "PrincipalNotFound" in row["Outcome"]


def test_decisions_and_findings_are_published_for_people(app: App) -> None:
    deliver(app, workspace_event(scene.DEV))
    deliver(app, workspace_event(scene.PROD))

    types = [event["eventType"] for event in app.sim.eventgrid.published_events]
    assert "SynapseAmlAutomation.RoleAssignment.Assign.Applied" in types
    assert "SynapseAmlAutomation.PolicyFinding.NonCompliant" in types
    assert "SynapseAmlAutomation.PolicyFinding.Compliant" not in types
    assign = next(
        e for e in app.sim.eventgrid.published_events if e["eventType"].endswith("Assign.Applied")
    )
    assert assign["subject"] == scene.ANALYTICS
    assert assign["data"]["workspaceId"] == scene.DEV
    assert assign["dataVersion"] == "1.0"


def test_a_failed_publish_loses_no_decision_and_does_not_raise(app: App) -> None:
    app.sim.inject("eventgrid.publish", status=503, times=50)

    deliver(app, workspace_event(scene.DEV))

    rows = list(app.ledger.actions(scene.DEV))
    assert any(r["Kind"] == "role-assignment" and r["Verdict"] == "assign" for r in rows)
    failures = [r for r in rows if r["Kind"] == "outcome-event"]
    assert failures
    assert all(r["Outcome"].startswith("failed: HTTP 503") for r in failures)
    assert len(app.sim.authorization.role_assignments(scene.DEV)) == 1


@pytest.mark.parametrize("cloud", [False, True], ids=["eventgrid-schema", "cloudevents-schema"])
def test_out_of_scope_workspace_event_costs_no_azure_call(app: App, cloud: bool) -> None:
    payload = workspace_event(scene.SANDBOX)

    deliver(app, host.as_cloud_event(payload) if cloud else payload)

    assert app.sim.requests == []
    assert (app.ledger.event(payload["id"]) or {}).get("Outcome") == "out-of-scope"


def test_compute_write_events_are_handled_and_foreign_operations_ignored(app: App) -> None:
    compute = scene.resource_write_event(
        f"{scene.PROD}/computes/cpu-cluster",
        "Microsoft.MachineLearningServices/workspaces/computes/write",
    )
    foreign = scene.resource_write_event(
        f"{scene.PROD}/privateEndpointConnections/x", scene.CONNECTION_WRITE
    )

    deliver(app, compute)
    app.sim.reset_counts()
    deliver(app, foreign)

    assert (app.ledger.event(compute["id"]) or {}).get("Outcome") == "reconciled"
    assert (app.ledger.event(foreign["id"]) or {}).get("Outcome") == "invalid"
    assert app.sim.requests == []


def test_one_private_endpoint_event_wires_the_synapse_workspace_completely(app: App) -> None:
    verified = app.connection("listed by allow-listed syn-analytics")  # on PROD

    app.deliver(
        scene.resource_write_event(
            f"{verified.workspace_id}/privateEndpointConnections/{verified.name}",
            scene.CONNECTION_WRITE,
        )
    )

    assert app.status(verified) == "Approved"
    (assignment,) = app.sim.authorization.role_assignments(scene.PROD)
    assert assignment["properties"]["principalId"] == scene.ANALYTICS_PRINCIPAL


def test_the_sweep_covers_connections_roles_and_policies(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate")

    host.fire_timer("reconcile_all")

    assert len(app.sim.authorization.role_assignments(scene.PROD)) == 1
    assert len(app.sim.authorization.role_assignments(scene.DEV)) == 1
    assert (app.sim.arm.get(scene.PROD) or {})["properties"]["publicNetworkAccess"] == ("Disabled")
    for connection in app.scene.connections:
        assert app.status(connection) == connection.expected
    app.sim.reset_counts()

    host.fire_timer("reconcile_all")

    assert writes(app) == []


def test_the_sweep_records_findings_but_does_not_announce_them_again(app: App) -> None:
    deliver(app, workspace_event(scene.PROD))
    announced = len(app.sim.eventgrid.published_events)

    host.fire_timer("reconcile_all")

    later = app.sim.eventgrid.published_events[announced:]
    assert not [e for e in later if e["eventType"].endswith("PolicyFinding.NonCompliant")]
    assert findings(app, scene.PROD)  # still recorded by the sweep
    assert latest_evaluation(app, scene.PROD)[0]["Trigger"].startswith("sweep:")


def test_a_workspace_deleted_during_the_sweep_is_said_gone_once_and_the_others_go_on(
    app: App,
) -> None:
    # Resource Graph lists the workspace; it is deleted before the sweep reads it from ARM
    # (every concern's read answered 404): one row says so, nothing announced, nothing raised.
    def listed_then_deleted(body: Any) -> None:
        if any(str(row.get("id")).lower() == scene.PROD.lower() for row in body["data"]):
            app.sim.arm.delete(scene.PROD)

    app.sim.rewrite_reply("resourcegraph.query", listed_then_deleted, times=10)

    host.fire_timer("reconcile_all")

    rows = [r for r in app.ledger.actions(scene.PROD) if r["Outcome"] != str(INTENT)]
    assert [r["Outcome"].split(":")[0] for r in rows] == ["no longer exists"]
    assert "HTTP 404 ResourceNotFound" in rows[0]["Outcome"]
    events = app.sim.eventgrid.published_events
    assert [e for e in events if e["data"]["workspaceId"] == scene.PROD] == []
    assert len(app.sim.authorization.role_assignments(scene.DEV)) == 1
    assert latest_evaluation(app, scene.DEV)
