"""A realistic scene for the offline run and the end-to-end tests.

Two AML workspaces in scope and one out of scope; an allow-listed Synapse workspace with two
managed private endpoints; a second Synapse workspace that is not allow-listed; and a connection
whose private endpoint imitates the allow-listed one's name from another subscription.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from shared.arm import name_of, resource_group_of, subscription_of
from shared.config import EVENTGRID_AUDIENCE
from simulator import AzureSimulator

ML_SUBSCRIPTION = "6f1c7b9e-2d4a-4c3b-9a51-0e8d7f6a5b40"
SYNAPSE_SUBSCRIPTION = "b7e2c9d1-5a3f-4e8b-8c6d-1f2a3b4c5d6e"
# Synapse creates managed private endpoints in a subscription of its own.
SYNAPSE_MANAGED_SUBSCRIPTION = "0d8e3f5a-7b1c-4d2e-9f6a-3c4b5a6d7e8f"
LOOKALIKE_SUBSCRIPTION = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def workspace_id(name: str, subscription: str = ML_SUBSCRIPTION, group: str = "rg-ml") -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{name}"
    )


def synapse_id(name: str, subscription: str = SYNAPSE_SUBSCRIPTION) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/rg-analytics"
        f"/providers/Microsoft.Synapse/workspaces/{name}"
    )


def managed_endpoint_id(synapse_name: str, mpe_name: str, subscription: str) -> str:
    # The shape Synapse uses: the endpoint lives in its managed resource group.
    return (
        f"/subscriptions/{subscription}/resourceGroups/synapse-{synapse_name}-managed"
        f"/providers/Microsoft.Network/privateEndpoints/{synapse_name}.{mpe_name}"
    )


PROD = workspace_id("mlw-prod")
DEV = workspace_id("mlw-dev")
SANDBOX = workspace_id("mlw-sandbox", group="rg-sandbox")
ANALYTICS = synapse_id("syn-analytics")
ROGUE = synapse_id("syn-partner", subscription=LOOKALIKE_SUBSCRIPTION)
ANALYTICS_PRINCIPAL = "3d2f5c1a-8b7e-4f6d-9a0c-2b1e4d3c5a6f"
ROGUE_PRINCIPAL = "7c6b5a4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"


@dataclass(frozen=True)
class Connection:
    """A seeded connection and what the rules should make of it."""

    workspace_id: str
    name: str
    private_endpoint_id: str
    initial: str
    expected: str
    why: str


@dataclass
class Scene:
    connections: list[Connection] = field(default_factory=list)

    @property
    def in_scope(self) -> list[str]:
        return [PROD, DEV]

    @property
    def allow_listed(self) -> list[str]:
        return [ANALYTICS]


def private_endpoint_id(name: str) -> str:
    """A private endpoint in the ML subscription's network resource group."""
    return (
        f"/subscriptions/{ML_SUBSCRIPTION}/resourceGroups/rg-network"
        f"/providers/Microsoft.Network/privateEndpoints/{name}"
    )


UAI = (
    f"/subscriptions/{ML_SUBSCRIPTION}/resourceGroups/rg-ml/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/id-mlw-dev"
)


def seed_workspace(
    sim: AzureSimulator, ws: str, *, hardened: bool, registry_endpoint: bool | None = None
) -> None:
    """An AML workspace with its storage, key vault and registry. `hardened` is the landing
    zone's target state; the other one has the usual gaps (public access, no user-assigned
    identity, not HBI, two storage groups only, and no registry endpoint unless
    `registry_endpoint`)."""
    short = name_of(ws).replace("-", "")
    group = ws.split("/providers/", maxsplit=1)[0]
    storage = f"{group}/providers/Microsoft.Storage/storageAccounts/st{short}"
    vault = f"{group}/providers/Microsoft.KeyVault/vaults/kv-{short}"
    registry = f"{group}/providers/Microsoft.ContainerRegistry/registries/cr{short}"
    storage_groups = ["blob", "file", "dfs", "queue", "table"] if hardened else ["blob", "file"]
    sim.network.add_storage_account(
        storage,
        private_endpoints=[
            (private_endpoint_id(f"pe-st{short}-{g}"), g, "Approved") for g in storage_groups
        ],
    )
    sim.network.add_key_vault(
        vault, private_endpoints=[(private_endpoint_id(f"pe-kv{short}"), "vault", "Approved")]
    )
    sim.network.add_container_registry(
        registry,
        private_endpoints=(
            [(private_endpoint_id(f"pe-cr{short}"), "registry", "Approved")]
            if (hardened if registry_endpoint is None else registry_endpoint)
            else []
        ),
    )
    identity: dict[str, object] = {
        "type": "SystemAssigned,UserAssigned",
        "principalId": str(uuid.uuid5(uuid.NAMESPACE_URL, ws)),
        "tenantId": sim.tenant_id,
        "userAssignedIdentities": {UAI: {"principalId": str(uuid.uuid5(uuid.NAMESPACE_URL, UAI))}},
    }
    sim.ml.add_workspace(
        ws,
        public_network_access="Disabled" if hardened else "Enabled",
        identity=identity if hardened else None,
        storageAccount=storage,
        keyVault=vault,
        containerRegistry=registry,
        hbiWorkspace=hardened,
    )


def _seed_computes(sim: AzureSimulator) -> None:
    subnet = (
        f"/subscriptions/{ML_SUBSCRIPTION}/resourceGroups/rg-network/providers/"
        "Microsoft.Network/virtualNetworks/vnet-ml/subnets/snet-compute"
    )
    # Too many nodes for MAX_CLUSTER_NODES: the one remediation a cluster can get.
    sim.ml.add_compute(
        PROD, "cpu-cluster", vm_size="STANDARD_DS3_V2", subnet_id=subnet, max_node_count=10
    )
    sim.ml.add_compute(
        PROD,
        "ci-alice",
        compute_type="ComputeInstance",
        vm_size="STANDARD_NC6",
        subnet_id=None,
        disable_local_auth=False,
        max_node_count=None,
        min_node_count=None,
        remote_login_port_public_access=None,
    )
    sim.ml.add_compute(
        DEV, "gpu-cluster", vm_size="Standard_E4s_v3", subnet_id=subnet, max_node_count=4
    )


def seed(sim: AzureSimulator) -> Scene:
    """Seed the simulator with the scene; returns what was seeded and what to expect."""
    scene = Scene()
    seed_workspace(sim, PROD, hardened=False)
    seed_workspace(sim, DEV, hardened=True)
    sim.ml.add_workspace(SANDBOX)
    _seed_computes(sim)
    sim.synapse.add_workspace(ANALYTICS, principal_id=ANALYTICS_PRINCIPAL)
    sim.synapse.add_workspace(ROGUE, principal_id=ROGUE_PRINCIPAL)
    # The Contributor granter's ABAC condition, as infra/ deploys it for SYNAPSE_WORKSPACE_IDS:
    # the identities their ARM reads named at deployment.
    sim.permissions.grantable = frozenset({ANALYTICS_PRINCIPAL})

    prod_pe = managed_endpoint_id("syn-analytics", "mpe-aml-prod", SYNAPSE_MANAGED_SUBSCRIPTION)
    dev_pe = managed_endpoint_id("syn-analytics", "mpe-aml-dev", SYNAPSE_MANAGED_SUBSCRIPTION)
    sandbox_pe = managed_endpoint_id("syn-analytics", "mpe-aml-sbx", SYNAPSE_MANAGED_SUBSCRIPTION)
    legacy_pe = managed_endpoint_id(
        "syn-analytics", "mpe-aml-dev-old", SYNAPSE_MANAGED_SUBSCRIPTION
    )
    # Same resource group and name as the verified endpoint, in another subscription.
    lookalike_pe = managed_endpoint_id("syn-analytics", "mpe-aml-prod", LOOKALIKE_SUBSCRIPTION)
    rogue_pe = managed_endpoint_id("syn-partner", "mpe-aml-dev", LOOKALIKE_SUBSCRIPTION)
    team_pe = (
        f"/subscriptions/{ML_SUBSCRIPTION}/resourceGroups/rg-network"
        "/providers/Microsoft.Network/privateEndpoints/pe-mlw-prod-hub"
    )

    sim.synapse.add_managed_private_endpoint(
        ANALYTICS, "mpe-aml-prod", private_link_resource_id=PROD, resource_id=prod_pe
    )
    sim.synapse.add_managed_private_endpoint(
        ANALYTICS, "mpe-aml-dev", private_link_resource_id=DEV, resource_id=dev_pe
    )
    sim.synapse.add_managed_private_endpoint(
        ANALYTICS, "mpe-aml-sbx", private_link_resource_id=SANDBOX, resource_id=sandbox_pe
    )
    sim.synapse.add_managed_private_endpoint(
        ANALYTICS,
        "mpe-aml-dev-old",
        private_link_resource_id=DEV,
        resource_id=legacy_pe,
        status="Approved",
    )
    # The partner's Synapse really does list its endpoint: but it is not allow-listed.
    sim.synapse.add_managed_private_endpoint(
        ROGUE, "mpe-aml-dev", private_link_resource_id=DEV, resource_id=rogue_pe
    )

    def connect(ws: str, pe: str, initial: str, expected: str, why: str, message: str = "") -> None:
        name = f"{pe.rsplit('/', 1)[-1]}-{uuid.uuid5(uuid.NAMESPACE_URL, pe).hex[:8]}"
        sim.ml.add_private_endpoint_connection(ws, name, pe, status=initial, description=message)
        scene.connections.append(Connection(ws, name, pe, initial, expected, why))

    connect(PROD, prod_pe, "Pending", "Approved", "listed by allow-listed syn-analytics")
    connect(
        PROD,
        lookalike_pe,
        "Pending",
        "Pending",
        "same name as syn-analytics' endpoint, another subscription",
        message="Requested by syn-analytics (managed private endpoint mpe-aml-prod)",
    )
    connect(PROD, team_pe, "Approved", "Approved", "approved earlier by the network team")
    connect(DEV, dev_pe, "Pending", "Approved", "listed by allow-listed syn-analytics")
    connect(DEV, legacy_pe, "Approved", "Approved", "approved by hand before the app ran")
    connect(DEV, rogue_pe, "Pending", "Pending", "listed by syn-partner, not allow-listed")
    connect(SANDBOX, sandbox_pe, "Pending", "Pending", "workspace not in scope")
    return scene


def resource_write_event(
    resource_uri: str, operation: str, *, event_id: str | None = None
) -> dict[str, Any]:
    """A `ResourceWriteSuccess` event shaped on the documented sample."""
    subscription, group = subscription_of(resource_uri), resource_group_of(resource_uri)
    return {
        "subject": resource_uri,
        "eventType": "Microsoft.Resources.ResourceWriteSuccess",
        "eventTime": "2026-11-22T09:30:00.0000000Z",
        "id": event_id or str(uuid.uuid4()),
        "data": {
            "authorization": {
                "scope": resource_uri,
                "action": operation,
                "evidence": {"role": "Contributor"},
            },
            "claims": {},
            "correlationId": str(uuid.uuid4()),
            "resourceProvider": operation.split("/", maxsplit=1)[0],
            "resourceUri": resource_uri,
            "operationName": operation,
            "status": "Succeeded",
            "subscriptionId": subscription,
            "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        },
        "dataVersion": "2",
        "metadataVersion": "1",
        "topic": f"/subscriptions/{subscription}/resourceGroups/{group}",
    }


CONNECTION_WRITE = "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/write"
WORKSPACE_WRITE = "Microsoft.MachineLearningServices/workspaces/write"


def workspace_events() -> list[dict[str, Any]]:
    """The workspaces in scope (and the sandbox) being written, as at their creation."""
    return [resource_write_event(ws, WORKSPACE_WRITE) for ws in (PROD, DEV, SANDBOX)]


def connection_events(scene: Scene) -> list[dict[str, Any]]:
    """One event per seeded connection, as Event Grid would send when it was written."""
    return [
        resource_write_event(
            f"{item.workspace_id}/privateEndpointConnections/{item.name}", CONNECTION_WRITE
        )
        for item in scene.connections
    ]


def settings_env(sim: AzureSimulator, ledger_connection_string: str) -> dict[str, str]:
    """App settings for the scene: the simulator's endpoints and the scene's scope."""
    return {
        **sim.env(),
        "ML_WORKSPACE_IDS": ",".join([PROD, DEV]),
        "SYNAPSE_WORKSPACE_IDS": ANALYTICS,
        "AUTOMATION_MODE": "enforce",
        "REJECT_UNVERIFIED": "false",
        "LEDGER_CONNECTION_STRING": ledger_connection_string,
        "LEDGER_TABLE_NAME": "automationledger",
        "RECONCILE_SCHEDULE": "0 */15 * * * *",
        "POLICY_MODE": "audit",
        "ALLOWED_COMPUTE_VM_SIZES": "Standard_DS3_v2,Standard_E4s_v3",
        "MAX_CLUSTER_NODES": "4",
        "HBI_REQUIRED": "true",
        "OUTCOME_TOPIC_ENDPOINT": sim.eventgrid.endpoint,
        # The simulator's host is of no Azure cloud: the token that may go there is stated.
        "OUTCOME_TOPIC_AUDIENCE": EVENTGRID_AUDIENCE,
        "AZURE_CLIENT_ID": "5e2f1d3c-4b6a-4c8d-9e0f-a1b2c3d4e5f6",
        # The simulator meters no ARM read until it is told to (`sim.throttle_arm_reads`): a
        # budget it never exhausts. Tests and benches of the budget set ARM's sizes.
        "ARM_READS_BURST": "100000",
        "ARM_READS_PER_SECOND": "100000",
    }
