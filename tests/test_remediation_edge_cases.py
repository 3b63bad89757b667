"""Remediation guards at their edges, over the simulator: what Azure may answer that is not a
plain count or a plain private endpoint, and connections that cannot be read at all.

Each case must leave the write undone (deferred, or not evaluated) rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared.reconcilers.transient import TransientAzureError
from tests.conftest import App
from tests.test_remediation_e2e import (
    COMPUTE_PATCH,
    WORKSPACE_PATCH,
    add_cluster,
    cut_private_paths,
    deferred,
    max_nodes,
    public_access,
    remediation_writes,
    sweep,
    workspace_event,
)
from tools import scene

pytestmark = pytest.mark.slow


def rewrite_connections(app: App, change: Callable[[dict[str, Any]], None]) -> None:
    """Let `change` alter every connection the next listings of connections answer."""

    def rewrite(body: Any) -> None:
        for item in body.get("value", []):
            change(item)

    app.sim.rewrite_reply("aml.pec.list", rewrite, times=50)


def rewrite_cluster_counts(app: App, name: str, current: object, target: object) -> None:
    """The next compute listings report these node counts for cluster `name`, as sent."""

    def rewrite(body: Any) -> None:
        for item in body.get("value", []):
            if item["name"] == name:
                item["properties"]["properties"]["currentNodeCount"] = current
                item["properties"]["properties"]["targetNodeCount"] = target

    app.sim.rewrite_reply("aml.compute.list", rewrite, times=50)


def approve_all(item: dict[str, Any]) -> None:
    item["properties"]["privateLinkServiceConnectionState"]["status"] = "approved"


@pytest.mark.parametrize(
    "endpoint",
    [
        None,
        "",
        f"/subscriptions/{scene.ML_SUBSCRIPTION}/resourceGroups/rg-network/providers/"
        "Microsoft.Network/networkInterfaces/nic-1",
        "not an ARM ID",
    ],
)
def test_an_approved_connection_without_a_private_endpoint_gives_no_private_path(
    app: App, endpoint: str | None
) -> None:
    app.set_settings(POLICY_MODE="remediate")
    cut_private_paths(app, scene.PROD)

    def change(item: dict[str, Any]) -> None:
        approve_all(item)
        if endpoint is None:
            item["properties"].pop("privateEndpoint", None)
        else:
            item["properties"]["privateEndpoint"] = {"id": endpoint}

    rewrite_connections(app, change)

    workspace_event(app, scene.PROD)

    assert public_access(app, scene.PROD) == "Enabled"
    assert WORKSPACE_PATCH not in [w.route for w in remediation_writes(app)]
    assert (
        "no approved private endpoint connection"
        in deferred(app, scene.PROD)["mlw-prod"]["Outcome"]
    )


def test_an_approved_connection_in_other_casing_is_a_private_path(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate")
    cut_private_paths(app, scene.PROD)
    rewrite_connections(app, approve_all)  # "approved", from a real private endpoint

    workspace_event(app, scene.PROD)

    assert public_access(app, scene.PROD) == "Disabled"


def test_an_approved_connection_listed_for_another_workspace_gives_no_private_path(
    app: App,
) -> None:
    app.set_settings(POLICY_MODE="remediate")
    cut_private_paths(app, scene.PROD)

    def elsewhere(item: dict[str, Any]) -> None:
        approve_all(item)
        item["id"] = item["id"].replace("/workspaces/mlw-prod/", "/workspaces/mlw-dev/")

    rewrite_connections(app, elsewhere)

    workspace_event(app, scene.PROD)

    assert public_access(app, scene.PROD) == "Enabled"


def test_the_private_path_guard_is_judged_per_workspace(app: App) -> None:
    # mlw-dev has an approved connection from the customer's network; mlw-prod, swept in the
    # same run, has none.
    app.set_settings(POLICY_MODE="remediate")
    cut_private_paths(app, scene.PROD)
    app.sim.ml.add_private_endpoint_connection(
        scene.DEV, "pe-mlw-dev-hub", scene.private_endpoint_id("pe-mlw-dev-hub"), "Approved"
    )
    dev = app.sim.arm.get(scene.DEV) or {}
    dev["properties"]["publicNetworkAccess"] = "Enabled"
    app.sim.arm.put(scene.DEV, dev)

    sweep()

    assert public_access(app, scene.DEV) == "Disabled"
    assert public_access(app, scene.PROD) == "Enabled"
    assert "mlw-prod" in deferred(app, scene.PROD)


@pytest.mark.parametrize("status", [403, 503])
def test_connections_unreadable_at_decision_time_leave_public_access_alone(
    app: App, status: int
) -> None:
    app.set_settings(POLICY_MODE="remediate")
    app.sim.inject("aml.pec.list", status=status, times=50)

    if status == 503:
        # Transient: the event and the timer are handed back to be run again, nothing written.
        with pytest.raises(TransientAzureError):
            workspace_event(app, scene.PROD)
        with pytest.raises(TransientAzureError):
            sweep()
    else:
        workspace_event(app, scene.PROD)
        sweep()

    assert public_access(app, scene.PROD) == "Enabled"
    assert WORKSPACE_PATCH not in [w.route for w in remediation_writes(app)]


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
