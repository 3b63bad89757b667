"""What counts as a private path (`private_paths`) for the public-access guard: one people can use.

The public-access guard counts only approved connections whose private endpoint lives in a
customer subscription (one of ML_WORKSPACE_IDS'): the Synapse managed private endpoint the app
itself approves lives in a Microsoft-managed subscription and serves only Synapse. Judged on
the run's listing, and again on a fresh listing just before the write. Dependencies' private
endpoints are counted the same way. Connections Azure answers oddly (no private endpoint, in
other casing, listed for another workspace, unreadable) never make a private path by guess.
End to end over the simulator, and a property over any set of connections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.adapters.errors import TransientAzureError
from shared.arm import ArmId
from shared.model import ConnectionStatus, PrivateEndpointConnection
from shared.policy.engine import evaluate, remediations
from shared.policy.rules import RemediationKind
from shared.reconcilers.policies import private_paths
from tests.conftest import App
from tests.test_policy_rules import PARAMS, PROPERTY, workspace
from tests.test_remediation_e2e import (
    WORKSPACE_PATCH,
    cut_private_paths,
    deferred,
    public_access,
    remediation_writes,
    sweep,
    workspace_event,
)
from tools import scene

NONE_FROM_CUSTOMERS = "none from a subscription of ML_WORKSPACE_IDS"


def approve(app: App, connection: scene.Connection, description: str = "") -> None:
    app.sim.ml.add_private_endpoint_connection(
        connection.workspace_id,
        connection.name,
        connection.private_endpoint_id,
        status="Approved",
        description=description,
    )


# --- end to end -------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_synapse_connection_the_sweep_approves_is_no_private_path_for_people(
    app: App,
) -> None:
    # Only the verified Synapse connection is left: the sweep approves it, and public access
    # stays on, because users and pipelines cannot use Synapse's managed private endpoint.
    app.set_settings(POLICY_MODE="remediate")
    cut_private_paths(app, scene.PROD)
    verified = app.connection("listed by allow-listed syn-analytics")
    app.sim.ml.add_private_endpoint_connection(
        scene.PROD, verified.name, verified.private_endpoint_id, status="Pending"
    )

    sweep()

    assert app.status(verified) == "Approved"
    assert public_access(app, scene.PROD) == "Enabled"
    assert WORKSPACE_PATCH not in [w.route for w in remediation_writes(app)]
    row = deferred(app, scene.PROD)["mlw-prod"]
    assert NONE_FROM_CUSTOMERS in row["Outcome"]
    assert row["Evidence"] == "disable-public-network-access: guard"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("why", "description"),
    [
        ("listed by allow-listed syn-analytics", ""),
        # Whatever the requester wrote is no evidence of where the endpoint lives.
        (
            "same name as syn-analytics' endpoint, another subscription",
            f"customer endpoint in subscription {scene.ML_SUBSCRIPTION}, rg-network",
        ),
    ],
)
def test_approved_connections_from_outside_the_customer_subscriptions_are_no_private_path(
    app: App, why: str, description: str
) -> None:
    app.set_settings(POLICY_MODE="remediate")
    cut_private_paths(app, scene.PROD)
    approve(app, app.connection(why), description)

    workspace_event(app, scene.PROD)

    assert public_access(app, scene.PROD) == "Enabled"
    assert (
        "1 approved private endpoint connection(s), " + NONE_FROM_CUSTOMERS
        in (deferred(app, scene.PROD)["mlw-prod"]["Outcome"])
    )


@pytest.mark.slow
def test_a_private_path_rejected_since_the_listing_leaves_public_access_on(app: App) -> None:
    # The run's listing shows the network team's connection approved; read again just before
    # the write, it has been rejected: nothing is written, the remediation is deferred.
    app.set_settings(POLICY_MODE="remediate")
    cut_private_paths(app, scene.PROD)
    team = app.connection("approved earlier by the network team")

    def approved_at_first(body: dict[str, Any]) -> None:
        for item in body.get("value", []):
            if item["properties"]["privateEndpoint"]["id"] == team.private_endpoint_id:
                item["properties"]["privateLinkServiceConnectionState"]["status"] = "Approved"

    app.sim.rewrite_reply("aml.pec.list", approved_at_first, times=1)

    workspace_event(app, scene.PROD)

    assert public_access(app, scene.PROD) == "Enabled"
    assert WORKSPACE_PATCH not in [w.route for w in remediation_writes(app)]
    held = deferred(app, scene.PROD)["mlw-prod"]
    assert "read again just before the write" in held["Outcome"]
    assert held["Evidence"] == "disable-public-network-access: guard"


@pytest.mark.slow
def test_a_managed_private_endpoint_gives_a_dependency_no_private_path(app: App) -> None:
    # mlw-prod's registry has no endpoint of the customer's; a Synapse managed private endpoint
    # to it, approved, serves only Synapse.
    registry = (
        f"/subscriptions/{scene.ML_SUBSCRIPTION}/resourceGroups/rg-ml/providers/"
        "Microsoft.ContainerRegistry/registries/crmlwprod"
    )
    managed = scene.managed_endpoint_id(
        "syn-analytics", "mpe-acr", scene.SYNAPSE_MANAGED_SUBSCRIPTION
    )
    app.sim.network.add_dependency_private_endpoint(registry, managed, "registry", "Approved")

    sweep()

    (finding,) = [
        row
        for row in app.ledger.actions(scene.PROD)
        if row["Kind"] == "policy-finding" and row["Subject"] == registry
    ]
    assert finding["Verdict"] == "non-compliant"
    assert "no approved private endpoint for: registry" in finding["Reason"]


# --- the rule, over any connections -----------------------------------------------------------

CUSTOMER = scene.ML_SUBSCRIPTION
CUSTOMERS = frozenset({CUSTOMER})
OTHERS = (
    scene.SYNAPSE_MANAGED_SUBSCRIPTION,
    scene.LOOKALIKE_SUBSCRIPTION,
    scene.SYNAPSE_SUBSCRIPTION,
    CUSTOMER + "0",
    CUSTOMER.replace("6", "\uff16"),  # a full-width digit: a lookalike, not ASCII
)
WORKSPACE = ArmId(scene.PROD)
names = st.text(alphabet="abcXYZ-._0123456789", min_size=1, max_size=12)


def cased(value: str) -> st.SearchStrategy[str]:
    return st.sampled_from([value, value.lower(), value.upper()])


def endpoint_in(subscription: str, *, kind: str = "privateEndpoints") -> st.SearchStrategy[str]:
    return st.builds(
        lambda sub, group, name, child: (
            f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/{kind}/{name}"
            + child
        ),
        cased(subscription),
        # The customer's subscription may appear anywhere a user names things.
        names | st.just(f"rg-{CUSTOMER}"),
        names | st.just(CUSTOMER),
        st.sampled_from(["", "/children/x"]) if kind == "privateEndpoints" else st.just(""),
    )


# A private endpoint elsewhere, or something in a customer subscription that is no private
# endpoint of it (a network interface, a child resource, text): never a customer path.
foreign_endpoints = (
    st.sampled_from(OTHERS).flatmap(endpoint_in)
    | endpoint_in(CUSTOMER, kind="networkInterfaces")
    | endpoint_in(CUSTOMER).filter(lambda e: e.endswith("/children/x"))
    | st.just(f"{CUSTOMER}/privateEndpoints/pe")
    | st.none()
)
customer_endpoints = endpoint_in(CUSTOMER).filter(lambda e: not e.endswith("/children/x"))
statuses = st.sampled_from(list(ConnectionStatus))
other_workspace = scene.workspace_id("mlw-other")


def connection(workspace_id: str, endpoint: str | None, status: ConnectionStatus, name: str) -> Any:
    return PrivateEndpointConnection(
        id=f"{workspace_id}/privateEndpointConnections/{name}",
        name=name,
        workspace_id=ArmId(workspace_id),
        private_endpoint_id=endpoint,
        status=status,
        description=f"approved by the network team of subscription {CUSTOMER}",
    )


# Any connection that is not an Approved one of this workspace from a customer private endpoint.
no_customer_path = (
    st.builds(connection, st.just(scene.PROD), foreign_endpoints, statuses, names)
    | st.builds(
        connection,
        st.just(scene.PROD),
        customer_endpoints,
        statuses.filter(lambda s: s is not ConnectionStatus.APPROVED),
        names,
    )
    | st.builds(connection, st.just(other_workspace), customer_endpoints, statuses, names)
)


def disable_is_safe(connections: list[Any]) -> bool:
    """The guard's verdict on disabling public access, the facts counted from `connections`."""
    approved, customer = private_paths(connections, WORKSPACE, CUSTOMERS)
    facts = workspace(
        public_network_access="Enabled",
        approved_private_endpoint_connections=approved,
        customer_private_endpoint_connections=customer,
    )
    (candidate,) = [
        c
        for c in remediations(evaluate(facts, PARAMS), facts)
        if c.remediation.kind is RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS
    ]
    return candidate.guard.safe


@PROPERTY
@given(st.lists(no_customer_path, max_size=6))
def test_no_connections_without_a_customer_private_endpoint_let_public_access_be_disabled(
    connections: list[Any],
) -> None:
    assert not disable_is_safe(connections)


@PROPERTY
@given(st.lists(no_customer_path, max_size=6), customer_endpoints, st.data())
def test_one_approved_customer_private_endpoint_is_a_private_path(
    connections: list[Any], endpoint: str, data: st.DataObject
) -> None:
    approved = connection(scene.PROD, endpoint, ConnectionStatus.APPROVED, "pe-team")
    at = data.draw(st.integers(min_value=0, max_value=len(connections)))

    assert disable_is_safe([*connections[:at], approved, *connections[at:]])


@pytest.mark.slow
def test_a_dependencys_endpoint_in_the_dependencys_own_subscription_is_a_private_path(
    app: App,
) -> None:
    # A key vault in another subscription of the customer's, its endpoint beside it.
    other = scene.SYNAPSE_SUBSCRIPTION
    vault = (
        f"/subscriptions/{other}/resourceGroups/rg-shared/providers/Microsoft.KeyVault/vaults/kv"
    )
    endpoint = (
        f"/subscriptions/{other}/resourceGroups/rg-shared/providers/"
        "Microsoft.Network/privateEndpoints/pe-kv"
    )
    app.sim.network.add_key_vault(vault, private_endpoints=[(endpoint, "vault", "Approved")])
    workspace = app.sim.arm.get(scene.PROD) or {}
    workspace["properties"]["keyVault"] = vault
    app.sim.arm.put(scene.PROD, workspace)

    sweep()

    assert not [
        row
        for row in app.ledger.actions(scene.PROD)
        if row["Kind"] == "policy-finding" and row["Subject"] == vault
    ]  # compliant: only problems get rows of their own
    summary = next(r for r in app.ledger.actions(scene.PROD) if r["Kind"] == "policy-summary")
    assert "dependencies-private-endpoints" in summary["Evidence"]


def rewrite_connections(app: App, change: Callable[[dict[str, Any]], None]) -> None:
    """Let `change` alter every connection the next listings of connections answer."""

    def rewrite(body: Any) -> None:
        for item in body.get("value", []):
            change(item)

    app.sim.rewrite_reply("aml.pec.list", rewrite, times=50)


def approve_all(item: dict[str, Any]) -> None:
    item["properties"]["privateLinkServiceConnectionState"]["status"] = "approved"


@pytest.mark.slow
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


@pytest.mark.slow
def test_an_approved_connection_in_other_casing_is_a_private_path(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate")
    cut_private_paths(app, scene.PROD)
    rewrite_connections(app, approve_all)  # "approved", from a real private endpoint

    workspace_event(app, scene.PROD)

    assert public_access(app, scene.PROD) == "Disabled"


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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
