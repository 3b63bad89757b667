"""Remediation that cannot hurt, end to end: registered functions → real SDK clients → HTTPS →
the simulator (computes with running nodes included), the ledger in Azurite.

Each guard, through the sweep and the workspace event; the limit per run (not per process) and
the stop after three failures; exemptions; dry-run and `plan` showing all of it. At the edges
(node counts of the wrong shape, a cluster that scaled up since it was listed, writes Azure did
not confirm) the write is left undone rather than guessed.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.arm import ArmId
from shared.outcome import INTENT
from tests.conftest import App
from tools import cli, host, scene

pytestmark = pytest.mark.slow

WORKSPACE_PATCH = "aml.workspace.patch"
COMPUTE_PATCH = "aml.compute.patch"
DEFERRED_EVENT = "SynapseAmlAutomation.PolicyRemediation.Deferred"
SUBNET = (
    f"/subscriptions/{scene.ML_SUBSCRIPTION}/resourceGroups/rg-network/providers/"
    "Microsoft.Network/virtualNetworks/vnet-ml/subnets/snet-compute"
)


# --- helpers ----------------------------------------------------------------------------------


def remediation_writes(app: App) -> list[Any]:
    return [w for w in app.sim.writes() if w.route in (WORKSPACE_PATCH, COMPUTE_PATCH)]


def patched_computes(app: App) -> list[str]:
    return sorted(w.path.rsplit("/", 1)[-1] for w in app.sim.writes() if w.route == COMPUTE_PATCH)


def add_cluster(
    app: App,
    workspace_id: str,
    name: str,
    *,
    current_node_count: int | None = None,
    target_node_count: int | None = None,
) -> None:
    """A cluster over MAX_CLUSTER_NODES (4): maxNodeCount 10, with these node counts (default:
    idle at its minimum, 0)."""
    app.sim.ml.add_compute(
        workspace_id,
        name,
        subnet_id=SUBNET,
        max_node_count=10,
        current_node_count=current_node_count,
        target_node_count=target_node_count,
    )


def max_nodes(app: App, workspace_id: str, name: str) -> int:
    cluster = app.sim.ml.compute(workspace_id, name)
    return int(cluster["properties"]["properties"]["scaleSettings"]["maxNodeCount"])


def public_access(app: App, workspace_id: str) -> str:
    return str((app.sim.arm.get(workspace_id) or {})["properties"]["publicNetworkAccess"])


def cut_private_paths(app: App, workspace_id: str) -> None:
    """Every seeded connection of the workspace rejected: no private path, none to approve."""
    for connection in app.scene.connections:
        if connection.workspace_id == workspace_id:
            app.sim.ml.add_private_endpoint_connection(
                workspace_id, connection.name, connection.private_endpoint_id, status="Rejected"
            )


def workspace_event(app: App, workspace_id: str) -> dict[str, Any]:
    payload = scene.resource_write_event(workspace_id, scene.WORKSPACE_WRITE)
    app.deliver(payload, function="on_workspace_event")
    return payload


def sweep() -> None:
    host.fire_timer("reconcile_all")


def remediation_rows(app: App, *workspaces: str) -> list[dict[str, Any]]:
    """Every policy-remediation row recorded for these workspaces (default: both in scope)."""
    return [
        row
        for workspace_id in workspaces or (scene.PROD, scene.DEV)
        for row in app.ledger.actions(workspace_id)
        if row["Kind"] == "policy-remediation"
    ]


def deferred(app: App, *workspaces: str) -> dict[str, dict[str, Any]]:
    """The deferred remediations, by the name of the resource they target."""
    return {
        row["Subject"].rsplit("/", 1)[-1]: row
        for row in remediation_rows(app, *workspaces)
        if row["Verdict"] == "deferred"
    }


def announced_deferrals(app: App) -> list[dict[str, Any]]:
    return [e for e in app.sim.eventgrid.published_events if e["eventType"] == DEFERRED_EVENT]


def exemptions(*entries: dict[str, str]) -> str:
    return json.dumps(list(entries))


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


# --- workspace-public-access guard ------------------------------------------------------------


def test_public_access_is_disabled_by_the_event_when_an_approved_connection_exists(
    app: App,
) -> None:
    app.set_settings(POLICY_MODE="remediate")

    workspace_event(app, scene.PROD)  # the network team's connection is approved

    assert public_access(app, scene.PROD) == "Disabled"
    assert "mlw-prod" not in deferred(app, scene.PROD)


def test_public_access_answered_disabled_in_another_casing_is_applied(app: App) -> None:
    # ARM's casing varies between API versions; the rule reads 'disabled' as compliant, so an
    # answer saying it is the write done, not a failure announced and counted toward the stop.
    app.set_settings(POLICY_MODE="remediate")
    app.sim.rewrite_reply(
        WORKSPACE_PATCH, lambda body: body["properties"].update(publicNetworkAccess="disabled")
    )

    workspace_event(app, scene.PROD)

    [outcome] = [
        r["Outcome"]
        for r in remediation_rows(app, scene.PROD)
        if r["Verdict"] == "disable-public-network-access" and r["Outcome"] != str(INTENT)
    ]
    assert outcome.startswith("applied"), outcome


def test_public_access_is_deferred_by_the_event_without_an_approved_connection(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate")
    cut_private_paths(app, scene.PROD)

    payload = workspace_event(app, scene.PROD)

    assert public_access(app, scene.PROD) == "Enabled"
    assert [w.route for w in remediation_writes(app)] == [COMPUTE_PATCH]  # the cluster, safely
    row = deferred(app, scene.PROD)["mlw-prod"]
    assert "no approved private endpoint connection" in row["Outcome"]
    assert row["Evidence"] == "disable-public-network-access: guard"
    (announced,) = announced_deferrals(app)
    assert announced["subject"] == scene.PROD
    assert "cut off" in announced["data"]["outcome"]
    assert "1 remediation(s) deferred" in (app.ledger.event(payload["id"]) or {})["Reason"]


def test_public_access_through_the_sweep_waits_for_a_private_path(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate")
    cut_private_paths(app, scene.PROD)

    sweep()

    assert public_access(app, scene.PROD) == "Enabled"
    assert "no approved private endpoint connection" in deferred(app)["mlw-prod"]["Outcome"]

    # The network team approves a connection: the next sweep finds the path and applies.
    team = app.connection("approved earlier by the network team")
    app.sim.ml.add_private_endpoint_connection(
        scene.PROD, team.name, team.private_endpoint_id, status="Approved"
    )
    sweep()

    assert public_access(app, scene.PROD) == "Disabled"


# --- compute-max-nodes guard ------------------------------------------------------------------


def test_node_counts_are_read_where_azure_reports_them(app: App) -> None:
    reference = json.loads(
        Path("/work/shared/reference/aml_compute_get_amlcompute.json").read_text(encoding="utf-8")
    )
    documented = reference["responses"]["200"]["body"]["properties"]["properties"]
    add_cluster(app, scene.PROD, "busy-cluster", current_node_count=6, target_node_count=7)

    served = app.sim.ml.compute(scene.PROD, "busy-cluster")["properties"]["properties"]
    from shared.runtime import runtime

    observed = {c.name: c for c in runtime().policies.observe(ArmId(scene.PROD)).computes}

    assert {"currentNodeCount", "targetNodeCount"} <= set(documented)
    assert (served["currentNodeCount"], served["targetNodeCount"]) == (6, 7)
    assert served["nodeStateCounts"]["runningNodeCount"] == 6
    busy = observed["busy-cluster"]
    assert (busy.current_node_count, busy.target_node_count) == (6, 7)
    idle = observed["cpu-cluster"]
    assert (idle.current_node_count, idle.target_node_count) == (0, 0)


def seed_busy_clusters(app: App) -> None:
    """Next to the idle cpu-cluster (0 nodes): one running 6 nodes, one scaling up to 8, one
    running 3 on its way to 4 (fits the new maximum 4)."""
    add_cluster(app, scene.PROD, "busy-cluster", current_node_count=6, target_node_count=6)
    add_cluster(app, scene.PROD, "scaling-cluster", current_node_count=0, target_node_count=8)
    add_cluster(app, scene.PROD, "warm-cluster", current_node_count=3, target_node_count=4)


def assert_only_clusters_that_fit_were_lowered(app: App) -> None:
    assert patched_computes(app) == ["cpu-cluster", "warm-cluster"]
    assert max_nodes(app, scene.PROD, "cpu-cluster") == 4
    assert max_nodes(app, scene.PROD, "warm-cluster") == 4
    assert max_nodes(app, scene.PROD, "busy-cluster") == 10
    assert max_nodes(app, scene.PROD, "scaling-cluster") == 10
    held = deferred(app, scene.PROD)
    assert set(held) == {"busy-cluster", "scaling-cluster"}
    assert (
        "6 current and 6 target node(s), above the new maximum 4" in held["busy-cluster"]["Outcome"]
    )
    assert "0 current and 8 target node(s)" in held["scaling-cluster"]["Outcome"]
    findings = {
        row["Subject"].rsplit("/", 1)[-1]: row
        for row in app.ledger.actions(scene.PROD)
        if row["Kind"] == "policy-finding" and row["Evidence"] == "compute-max-nodes"
    }
    assert findings["busy-cluster"]["Outcome"].startswith("remediation deferred: ")
    assert findings["cpu-cluster"]["Outcome"].startswith("remediation applied")


def test_cluster_maximum_through_the_event_spares_running_nodes(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate")
    seed_busy_clusters(app)

    workspace_event(app, scene.PROD)

    assert_only_clusters_that_fit_were_lowered(app)
    assert {e["subject"].rsplit("/", 1)[-1] for e in announced_deferrals(app)} == {
        "busy-cluster",
        "scaling-cluster",
    }


def test_cluster_maximum_through_the_sweep_spares_running_nodes_until_they_scale_down(
    app: App,
) -> None:
    app.set_settings(POLICY_MODE="remediate")
    seed_busy_clusters(app)

    sweep()

    assert_only_clusters_that_fit_were_lowered(app)
    # The sweep records deferrals; it does not announce them every few minutes.
    assert announced_deferrals(app) == []

    # The jobs finish and the cluster scales down to its idle minimum: the next sweep lowers it.
    add_cluster(app, scene.PROD, "busy-cluster", current_node_count=0, target_node_count=0)
    app.sim.reset_counts()
    sweep()

    assert patched_computes(app) == ["busy-cluster"]
    assert max_nodes(app, scene.PROD, "busy-cluster") == 4


# --- the limit per run ------------------------------------------------------------------------


def seed_idle_clusters(app: App, count: int) -> None:
    for number in range(count):
        add_cluster(app, scene.PROD if number % 2 else scene.DEV, f"idle-{number}")


def test_a_sweep_applies_exactly_the_limit_and_defers_the_rest_announcing_once(app: App) -> None:
    # Candidates: PROD's public access, cpu-cluster and four idle clusters over two workspaces.
    app.set_settings(POLICY_MODE="remediate", MAX_REMEDIATIONS_PER_RUN="2")
    seed_idle_clusters(app, 4)

    sweep()

    assert len(remediation_writes(app)) == 2
    held = deferred(app)
    assert len(held) == 4
    assert all(row["Outcome"].startswith("deferred: limit reached") for row in held.values())
    assert all("MAX_REMEDIATIONS_PER_RUN=2" in row["Outcome"] for row in held.values())
    (announcement,) = announced_deferrals(app)  # once per run, not once per deferral
    assert "limit reached" in announcement["data"]["outcome"]


def test_the_limit_is_per_run_not_per_process(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate", MAX_REMEDIATIONS_PER_RUN="2")
    seed_idle_clusters(app, 3)  # five candidates in all

    applied = []
    for _ in range(3):
        app.sim.reset_counts()
        sweep()
        applied.append(len(remediation_writes(app)))

    assert applied == [2, 2, 1]  # each sweep starts a new budget, in the same process
    assert public_access(app, scene.PROD) == "Disabled"
    assert all(
        max_nodes(app, ws, f"idle-{n}") == 4
        for n, ws in enumerate([scene.DEV, scene.PROD, scene.DEV])
    )
    assert len(announced_deferrals(app)) == 2  # one per run that reached the limit


def test_each_event_is_a_run_of_its_own(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate", MAX_REMEDIATIONS_PER_RUN="1")

    workspace_event(app, scene.PROD)
    first = [w.route for w in remediation_writes(app)]
    workspace_event(app, scene.PROD)

    assert first == [WORKSPACE_PATCH]
    assert [w.route for w in remediation_writes(app)] == [WORKSPACE_PATCH, COMPUTE_PATCH]
    assert len(announced_deferrals(app)) == 1  # the first event deferred the cluster


def test_a_cli_run_shares_one_budget_across_workspaces(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    app.set_settings(POLICY_MODE="remediate", MAX_REMEDIATIONS_PER_RUN="3")
    seed_idle_clusters(app, 4)

    assert cli.main(["apply"]) == 0

    assert len(remediation_writes(app)) == 3
    assert len(deferred(app)) == 3
    assert "deferred" in capsys.readouterr().out


def test_a_run_stops_after_three_failed_remediations(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate")
    seed_idle_clusters(app, 4)
    app.sim.inject(COMPUTE_PATCH, status=403, times=10, code="AuthorizationFailed")

    sweep()

    attempts = [w for w in app.sim.writes() if w.route == COMPUTE_PATCH]
    assert len(attempts) == 3
    failed = [r for r in remediation_rows(app) if r["Outcome"].startswith("failed")]
    assert len(failed) == 3
    held = deferred(app)
    assert len(held) == 2  # five clusters: three failed, two deferred
    assert all(row["Outcome"].startswith("deferred: too many failures") for row in held.values())
    (announcement,) = announced_deferrals(app)
    assert "too many failures" in announcement["data"]["outcome"]


# --- exemptions -------------------------------------------------------------------------------


def rg_ml(name: str = "rg-ml") -> str:
    return f"/subscriptions/{scene.ML_SUBSCRIPTION}/resourceGroups/{name}"


def test_an_exempt_finding_is_recorded_with_its_reason_and_never_remediated(app: App) -> None:
    expires = in_days(30)
    app.set_settings(
        POLICY_MODE="remediate",
        POLICY_EXEMPTIONS=exemptions(
            {
                "rule": "compute-max-nodes",
                "scope": rg_ml().upper(),
                "reason": "load test",
                "expires": expires,
            }
        ),
    )

    workspace_event(app, scene.PROD)

    assert patched_computes(app) == []
    assert public_access(app, scene.PROD) == "Disabled"  # other rules still remediate
    (row,) = [
        r
        for r in app.ledger.actions(scene.PROD)
        if r["Kind"] == "policy-finding" and r["Evidence"] == "compute-max-nodes"
    ]
    assert row["Verdict"] == "exempt"
    assert "load test" in row["Reason"]
    assert row["Outcome"].startswith("exempt until ")
    published = [
        e for e in app.sim.eventgrid.published_events if e["subject"].endswith("/cpu-cluster")
    ]
    assert published == []  # not announced as non-compliant


def test_a_group_sharing_the_prefix_exempts_nothing(app: App) -> None:
    app.set_settings(
        POLICY_MODE="remediate",
        POLICY_EXEMPTIONS=exemptions(
            {
                "rule": "compute-max-nodes",
                "scope": rg_ml("rg-m"),
                "reason": "x",
                "expires": in_days(30),
            },
            {
                "rule": "compute-max-nodes",
                "scope": rg_ml("rg-ml-2"),
                "reason": "x",
                "expires": in_days(30),
            },
        ),
    )

    workspace_event(app, scene.PROD)

    assert patched_computes(app) == ["cpu-cluster"]


def test_an_expired_exemption_counts_for_nothing_and_is_reported_once(app: App) -> None:
    app.set_settings(
        POLICY_MODE="remediate",
        POLICY_EXEMPTIONS=exemptions(
            {
                "rule": "compute-max-nodes",
                "scope": f"{scene.PROD}/computes/cpu-cluster",
                "reason": "load test",
                "expires": in_days(-1),
            }
        ),
    )

    sweep()
    sweep()
    workspace_event(app, scene.PROD)

    assert patched_computes(app) == ["cpu-cluster"]
    reports = [r for r in app.ledger.actions(scene.PROD) if r["Kind"] == "policy-exemption"]
    assert len(reports) == 1
    assert reports[0]["Verdict"] == "expired"
    assert "load test" in reports[0]["Reason"]
    expired_events = [
        e for e in app.sim.eventgrid.published_events if e["eventType"].endswith("Expired")
    ]
    assert len(expired_events) == 1


def test_a_bad_exemption_stops_the_function_at_start_up_naming_the_entry(app: App) -> None:
    app.set_settings(
        POLICY_EXEMPTIONS=exemptions(
            {"rule": "compute-max-nodes", "scope": rg_ml(), "reason": "x", "expires": "soon"}
        )
    )

    with pytest.raises(ValueError, match=r"POLICY_EXEMPTIONS: entry 1 .*'soon'"):
        sweep()
    assert app.sim.requests == []


# --- dry-run and plan -------------------------------------------------------------------------


def hazards(app: App, **overrides: str) -> None:
    """Settings and seeds that exercise every reason a remediation is not applied."""
    app.set_settings(
        **overrides,
        POLICY_MODE="remediate",
        MAX_REMEDIATIONS_PER_RUN="1",
        POLICY_EXEMPTIONS=exemptions(
            {
                "rule": "compute-max-nodes",
                "scope": f"{scene.PROD}/computes/exempt-cluster",
                "reason": "benchmark until March",
                "expires": in_days(30),
            }
        ),
    )
    add_cluster(app, scene.PROD, "busy-cluster", current_node_count=6, target_node_count=6)
    add_cluster(app, scene.PROD, "exempt-cluster")


def test_dry_run_writes_nothing_and_shows_deferrals_and_exemptions(app: App) -> None:
    hazards(app, AUTOMATION_MODE="dry-run")

    sweep()

    assert [w for w in app.sim.writes() if w.route != "eventgrid.publish"] == []
    rows = remediation_rows(app, scene.PROD)
    assert [r["Outcome"] for r in rows if r["Outcome"] == "planned (dry-run)"] == [
        "planned (dry-run)"
    ]
    held = deferred(app, scene.PROD)
    assert "above the new maximum" in held["busy-cluster"]["Outcome"]
    assert held["cpu-cluster"]["Outcome"].startswith("deferred: limit reached")
    exempt = [r for r in app.ledger.actions(scene.PROD) if r["Verdict"] == "exempt"]
    assert [r["Subject"].rsplit("/", 1)[-1] for r in exempt] == ["exempt-cluster"]


def test_plan_shows_guarded_deferred_and_exempt_with_their_reasons(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    hazards(app)

    assert cli.main(["plan", "--json"]) == 0

    assert app.sim.writes() == []
    (prod,) = [
        item for item in json.loads(capsys.readouterr().out) if item["workspace"] == scene.PROD
    ]
    shown = {r["target_id"].rsplit("/", 1)[-1]: r for r in prod["remediations"]}
    assert shown["mlw-prod"]["disposition"] == "apply"
    assert shown["busy-cluster"]["disposition"] == "guarded"
    assert "6 current and 6 target" in shown["busy-cluster"]["reason"]
    assert shown["cpu-cluster"]["disposition"] == "deferred"
    assert "limit reached" in shown["cpu-cluster"]["reason"]
    assert "exempt-cluster" not in shown
    (exempt,) = [f for f in prod["findings"] if f["status"] == "exempt"]
    assert exempt["target_id"].endswith("/exempt-cluster")
    assert exempt["exemption"]["reason"] == "benchmark until March"

    assert cli.main(["plan"]) == 0

    table = capsys.readouterr().out
    for word in ("guarded", "deferred", "exempt", "limit reached", "benchmark until March"):
        assert word in table


def rewrite_cluster_counts(app: App, name: str, current: object, target: object) -> None:
    """The next compute listings report these node counts for cluster `name`, as sent."""

    def rewrite(body: Any) -> None:
        for item in body.get("value", []):
            if item["name"] == name:
                item["properties"]["properties"]["currentNodeCount"] = current
                item["properties"]["properties"]["targetNodeCount"] = target

    app.sim.rewrite_reply("aml.compute.list", rewrite, times=50)


@pytest.mark.parametrize(
    ("current", "target"),
    [(2.5, 0), (0, 1.5), (True, 0), ("3", "3"), (-1, 0), (0, -2), (None, 0)],
)
def test_node_counts_azure_sends_in_the_wrong_shape_defer_the_cluster(
    app: App, current: object, target: object
) -> None:
    # The SDK would read 2.5 as 2, true as 1 and "3" as 3: the guard judges what ARM sent.
    app.set_settings(POLICY_MODE="remediate")
    add_cluster(app, scene.PROD, "odd-cluster", current_node_count=0, target_node_count=0)
    rewrite_cluster_counts(app, "odd-cluster", current, target)

    sweep()

    assert max_nodes(app, scene.PROD, "odd-cluster") == 10
    assert "odd-cluster" not in [
        w.path.rsplit("/", 1)[-1] for w in app.sim.writes() if w.route == COMPUTE_PATCH
    ]
    held = deferred(app, scene.PROD)["odd-cluster"]
    assert "does not report a valid currentNodeCount and targetNodeCount" in held["Outcome"]


def test_writes_azure_did_not_confirm_count_toward_the_failure_stop(app: App) -> None:
    # ARM's answer to each cluster update (the compute read at the end of the long-running
    # PATCH) shows the old maximum: not applied, three times, then the run stops.
    app.set_settings(POLICY_MODE="remediate")
    add_cluster(app, scene.PROD, "idle-a")
    add_cluster(app, scene.PROD, "idle-b")
    add_cluster(app, scene.DEV, "idle-c")
    add_cluster(app, scene.DEV, "idle-d")

    def unchanged(body: Any) -> None:
        body["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = 10

    app.sim.rewrite_reply("aml.compute.get", unchanged, times=40)

    sweep()

    rows = [
        row
        for ws in (scene.PROD, scene.DEV)
        for row in app.ledger.actions(ws)
        if row["Kind"] == "policy-remediation"
    ]
    not_applied = [r for r in rows if r["Outcome"].startswith("not applied")]
    stopped = [r for r in rows if r["Outcome"].startswith("deferred: too many failures")]
    assert len(not_applied) == 3
    assert len(stopped) == 2  # five clusters over the limit: three tried, two held back
    assert len([w for w in app.sim.writes() if w.route == COMPUTE_PATCH]) == 3


@pytest.mark.parametrize("route", [WORKSPACE_PATCH, COMPUTE_PATCH])
def test_a_remediation_whose_last_answer_was_lost_is_read_back_as_applied(
    app: App, route: str
) -> None:
    """ARM made the change, but every answer to azure-core's tries was an error (the last one's
    lost after it took effect): read back, the change holds. Applied, not a failure announced
    and raised for a redelivery that finds the finding compliant and records nothing of it."""
    from tests.test_private_endpoints_e2e import _unavailable_then_lost

    app.set_settings(POLICY_MODE="remediate")
    _unavailable_then_lost(app, route)

    workspace_event(app, scene.PROD)

    assert public_access(app, scene.PROD) == "Disabled"
    assert max_nodes(app, scene.PROD, "cpu-cluster") == 4
    outcomes = [
        r["Outcome"] for r in remediation_rows(app, scene.PROD) if r["Outcome"] != str(INTENT)
    ]
    assert all(outcome.startswith("applied: ") for outcome in outcomes), outcomes
    assert len(outcomes) == 2
    failed = [e for e in app.sim.eventgrid.published_events if e["eventType"].endswith(".Failed")]
    assert failed == []


@pytest.mark.parametrize("route", [WORKSPACE_PATCH, COMPUTE_PATCH])
def test_a_remediation_azure_never_made_is_still_raised_for_redelivery(
    app: App, route: str
) -> None:
    """Every try refused unavailable, nothing written: read back, the change does not hold, so
    the failure stands (recorded, raised for redelivery), not taken as applied."""
    from shared.adapters.errors import TransientAzureError

    app.set_settings(POLICY_MODE="remediate")
    app.sim.inject(route, status=503, times=10, retry_after=0)

    with pytest.raises(TransientAzureError, match="503"):
        workspace_event(app, scene.PROD)

    unchanged = {WORKSPACE_PATCH: public_access(app, scene.PROD) == "Enabled"}
    unchanged[COMPUTE_PATCH] = max_nodes(app, scene.PROD, "cpu-cluster") == 10
    assert unchanged[route]
    outcomes = [r["Outcome"] for r in remediation_rows(app, scene.PROD)]
    assert any(outcome.startswith("failed (will retry): HTTP 503") for outcome in outcomes)


def test_dry_run_counts_remediations_against_the_limit_and_writes_nothing(app: App) -> None:
    app.set_settings(
        POLICY_MODE="remediate", AUTOMATION_MODE="dry-run", MAX_REMEDIATIONS_PER_RUN="1"
    )
    add_cluster(app, scene.PROD, "idle-a")

    sweep()

    assert remediation_writes(app) == []
    rows = [r for r in app.ledger.actions(scene.PROD) if r["Kind"] == "policy-remediation"]
    planned = [r for r in rows if r["Outcome"].startswith("planned")]
    held = [r for r in rows if r["Outcome"].startswith("deferred: limit reached")]
    assert len(planned) == 1
    assert len(held) >= 1


def test_a_cluster_that_scaled_up_since_the_listing_keeps_its_maximum(app: App) -> None:
    # The run's listing shows the cluster idle; read again just before the write, it runs six
    # nodes: the guard no longer holds, nothing is written, the remediation is deferred.
    app.set_settings(POLICY_MODE="remediate")
    add_cluster(app, scene.PROD, "busy-cluster", current_node_count=6, target_node_count=6)
    rewrite_cluster_counts(app, "busy-cluster", 0, 0)

    workspace_event(app, scene.PROD)

    assert max_nodes(app, scene.PROD, "busy-cluster") == 10
    assert "busy-cluster" not in [
        w.path.rsplit("/", 1)[-1] for w in app.sim.writes() if w.route == COMPUTE_PATCH
    ]
    held = deferred(app, scene.PROD)["busy-cluster"]
    assert "now has 6 current and 6 target node(s), above the new maximum 4" in held["Outcome"]
    assert held["Evidence"] == "lower-max-nodes: guard"


def test_a_cluster_whose_maximum_was_lowered_since_the_listing_is_never_raised(app: App) -> None:
    # The run's listing shows maxNodeCount 10; read again just before the write, a person has
    # lowered it to 2: the app's "lower to 4" would raise it, so nothing is written.
    app.set_settings(POLICY_MODE="remediate")
    app.sim.ml.add_compute(scene.PROD, "tight-cluster", subnet_id=SUBNET, max_node_count=2)

    def listed_at_ten(body: Any) -> None:
        for item in body.get("value", []):
            if item["name"] == "tight-cluster":
                item["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = 10

    app.sim.rewrite_reply("aml.compute.list", listed_at_ten, times=50)
    workspace_event(app, scene.PROD)

    assert max_nodes(app, scene.PROD, "tight-cluster") == 2
    assert "tight-cluster" not in patched_computes(app)
    held = deferred(app, scene.PROD)["tight-cluster"]["Outcome"]
    assert "now has maxNodeCount 2, not above 4: nothing to lower" in held


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(listed=st.integers(5, 20), now=st.integers(0, 20))
def test_a_maximum_changed_since_the_listing_is_only_ever_lowered_to_the_limit(
    app: App, listed: int, now: int
) -> None:
    # Listed with maxNodeCount `listed` (over the limit, 4), read again before the write as `now`
    # (a person changed it): it ends at min(now, 4), never above what it was.
    app.set_settings(POLICY_MODE="remediate", MAX_REMEDIATIONS_PER_HOUR="1000")
    name = f"c-{uuid.uuid4().hex[:8]}"  # a cluster per example: a write's hold outlives it
    app.sim.ml.add_compute(scene.PROD, name, subnet_id=SUBNET, max_node_count=now)

    def listed_so(body: Any) -> None:
        for item in body.get("value", []):
            if item["name"] == name:
                item["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = listed

    app.sim.rewrite_reply("aml.compute.list", listed_so)
    workspace_event(app, scene.PROD)

    assert max_nodes(app, scene.PROD, name) == min(now, 4)


@pytest.mark.parametrize("counts", [(4.5, 0), (0, 4.9), (True, 0), ("3", "3"), (-1, 0)])
def test_node_counts_of_the_wrong_shape_read_again_before_the_write_defer_it(
    app: App, counts: tuple[object, object]
) -> None:
    # Listed idle; read again, the counts are not whole numbers >= 0 as ARM sent them (the SDK
    # would read 4.5 as 4, true as 1): judged as the guard judges them, never guessed at.
    app.set_settings(POLICY_MODE="remediate")
    add_cluster(app, scene.PROD, "odd-cluster", current_node_count=0, target_node_count=0)

    def odd(body: Any) -> None:
        if body["name"] == "odd-cluster":
            inner = body["properties"]["properties"]
            inner["currentNodeCount"], inner["targetNodeCount"] = counts

    app.sim.rewrite_reply("aml.compute.get", odd, times=10)
    workspace_event(app, scene.PROD)

    assert max_nodes(app, scene.PROD, "odd-cluster") == 10
    assert "odd-cluster" not in patched_computes(app)


def test_a_cluster_deleted_before_its_write_is_said_gone_once_and_the_sweep_goes_on(
    app: App,
) -> None:
    # Read again just before the write, the cluster is there; deleted before the PATCH, which
    # ARM answers 404. Nothing left to lower: said once, no failure announced, no retry, and
    # the other workspace's cluster is still lowered.
    app.set_settings(POLICY_MODE="remediate")
    add_cluster(app, scene.DEV, "idle-dev")
    doomed = f"{scene.PROD}/computes/cpu-cluster"

    def deleted(body: Any) -> None:
        if body["name"] == "cpu-cluster":
            app.sim.arm.delete(doomed)

    app.sim.rewrite_reply("aml.compute.get", deleted, times=10)

    sweep()

    assert max_nodes(app, scene.DEV, "idle-dev") == 4
    [gone] = [
        r["Outcome"]
        for r in remediation_rows(app, scene.PROD)
        if r["Subject"] == doomed and r["Outcome"] != str(INTENT)
    ]
    assert gone.startswith("no longer exists: HTTP 404")
    events = app.sim.eventgrid.published_events
    assert [e["eventType"] for e in events if e["subject"] == doomed] == []


def test_a_re_read_answered_about_another_compute_writes_nothing(app: App) -> None:
    # Read again just before the write, ARM answers with an idle compute of another workspace:
    # its node counts say nothing of this cluster's six running nodes.
    app.set_settings(POLICY_MODE="remediate")
    add_cluster(app, scene.PROD, "busy-cluster", current_node_count=6, target_node_count=6)
    rewrite_cluster_counts(app, "busy-cluster", 0, 0)

    def another(body: Any) -> None:
        if body["name"] == "busy-cluster":
            body["id"] = f"{scene.DEV}/computes/busy-cluster"
            body["properties"]["properties"] |= {"currentNodeCount": 0, "targetNodeCount": 0}

    app.sim.rewrite_reply("aml.compute.get", another, times=10)
    workspace_event(app, scene.PROD)

    assert max_nodes(app, scene.PROD, "busy-cluster") == 10
    patched = [w.path for w in app.sim.writes() if w.route == COMPUTE_PATCH]
    assert not [path for path in patched if path.endswith("/busy-cluster")]
    (row,) = [
        r
        for r in app.ledger.actions(scene.PROD)
        if r["Kind"] == "policy-remediation"
        and r["Subject"].endswith("/busy-cluster")
        and r["Outcome"] != str(INTENT)
    ]
    assert row["Outcome"].startswith("not applied: asked for compute busy-cluster")
