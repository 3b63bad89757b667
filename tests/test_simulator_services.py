"""The simulator's ARM services beyond a connection's approval, and its Event Grid topic.

AML workspace updates and computes (``simulator/aml``), role assignments and principals
(``simulator/authorization``), the private endpoints of a workspace's dependencies
(``simulator/network``), the custom topic (``simulator/eventgrid``), and a reset of all of them.
Driven by the real SDK clients the app uses: azure-mgmt-machinelearningservices
(workspace and compute updates through their LRO pollers), azure-mgmt-authorization
(role assignments), azure-mgmt-resource (generic reads of dependencies) and
azure-eventgrid (publishing outcome events), all authenticated by
ManagedIdentityCredential against the simulator's token endpoint.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from azure.core import PipelineClient
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.rest import HttpRequest, HttpResponse
from azure.eventgrid import EventGridEvent, EventGridPublisherClient
from azure.identity import ManagedIdentityCredential
from azure.mgmt.authorization import AuthorizationManagementClient

# The versioned module: azure.mgmt.authorization.models is the same class at run
# time, but type checkers read it as the 2015-07-01 model.
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.mgmt.machinelearningservices.models import (
    AKS,
    AmlCompute,
    ClusterUpdateParameters,
    ComputeInstance,
    ScaleSettings,
    ScaleSettingsInformation,
    WorkspaceUpdateParameters,
)
from azure.mgmt.resource.resources import ResourceManagementClient

from simulator import AzureSimulator, Request

# `sim`, `env` and `credential` come from conftest: a simulator per module, cleaned per test.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("clean_sim")]

SUB = "00000000-1111-2222-3333-444444444444"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
ML_API = "2023-04-01"
AUTHZ_API = "2022-04-01"


def _arm_kwargs(sim: AzureSimulator) -> dict[str, Any]:
    return {
        "base_url": sim.url,
        "credential_scopes": [sim.url + "/.default"],
        "retry_backoff_factor": 0.01,
    }


def _ml(sim: AzureSimulator, credential: ManagedIdentityCredential) -> Any:
    return MachineLearningServicesMgmtClient(credential, SUB, **_arm_kwargs(sim))


def _authz(sim: AzureSimulator, credential: ManagedIdentityCredential) -> Any:
    return AuthorizationManagementClient(credential, SUB, **_arm_kwargs(sim))


def _arm(sim: AzureSimulator, credential: ManagedIdentityCredential) -> PipelineClient[Any, Any]:
    return PipelineClient(
        base_url=sim.url,
        policies=[
            RetryPolicy(retry_backoff_factor=0.01),
            BearerTokenCredentialPolicy(credential, sim.url + "/.default"),
        ],
    )


def _send(client: PipelineClient[Any, Any], method: str, url: str, **kwargs: Any) -> HttpResponse:
    response: HttpResponse = client.send_request(HttpRequest(method, url, **kwargs))
    return response


def _non_token(sim: AzureSimulator) -> list[Request]:
    return [r for r in sim.requests if r.route != "token"]


class World:
    """A uniquely named resource group with an AML and a Synapse workspace."""

    def __init__(self, sim: AzureSimulator) -> None:
        tag = uuid.uuid4().hex[:8]
        self.rg = f"rg-{tag}"
        self.rg_id = f"/subscriptions/{SUB}/resourceGroups/{self.rg}"
        self.ws_name = f"mlw-{tag}"
        self.ws_id = (
            f"{self.rg_id}/providers/Microsoft.MachineLearningServices/workspaces/{self.ws_name}"
        )
        self.syn_id = f"{self.rg_id}/providers/Microsoft.Synapse/workspaces/syn-{tag}"
        self.principal_id = str(uuid.uuid4())
        self.subnet_id = (
            f"{self.rg_id}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/compute"
        )
        sim.ml.add_workspace(self.ws_id)
        sim.synapse.add_workspace(self.syn_id, principal_id=self.principal_id)

    def role(self, guid: str = CONTRIBUTOR) -> str:
        return f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


@pytest.fixture
def world(sim: AzureSimulator) -> World:
    return World(sim)


# --------------------------------------------------------------------- workspaces


def test_workspace_get_shows_dependencies_and_identity(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    workspace = _ml(sim, credential).workspaces.get(world.rg, world.ws_name)

    assert f"/resourceGroups/{world.rg}/" in workspace.storage_account
    assert "/Microsoft.Storage/storageAccounts/" in workspace.storage_account
    assert "/Microsoft.KeyVault/vaults/" in workspace.key_vault
    assert "/Microsoft.ContainerRegistry/registries/" in workspace.container_registry
    assert workspace.hbi_workspace is False
    assert workspace.public_network_access == "Enabled"
    identity = workspace.as_dict()["identity"]
    assert identity["type"] == "SystemAssigned"
    assert identity["principal_id"]
    assert sim.requests[-1].route == "aml.workspace.get"


def test_workspaces_are_listed_by_resource_group_and_subscription_page_by_page(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    neighbour = world.rg_id + "2"
    sim.ml.add_workspace(f"{world.rg_id}/providers/Microsoft.MachineLearningServices/workspaces/b")
    sim.ml.add_workspace(f"{neighbour}/providers/Microsoft.MachineLearningServices/workspaces/c")
    sim.page_size = 1
    client = _ml(sim, credential)

    in_group = [w.id for w in client.workspaces.list_by_resource_group(world.rg)]
    in_subscription = [w.id.lower() for w in client.workspaces.list_by_subscription()]

    assert sorted(i.rsplit("/", 1)[-1] for i in in_group) == sorted(["b", world.ws_name])
    assert world.ws_id.lower() in in_subscription
    assert f"{neighbour}/providers/microsoft.machinelearningservices/workspaces/c".lower() in (
        in_subscription
    )
    assert sim.count("aml.workspace.list") >= 3  # followed nextLinks


def test_management_group_descendants_are_every_group_and_subscription_below(
    sim: AzureSimulator, credential: ManagedIdentityCredential
) -> None:
    tag = uuid.uuid4().hex[:6]
    top, child, other = f"mg-{tag}", f"mg-{tag}-corp", f"mg-{tag}2"
    for name, parent in ((top, None), (child, top), (other, None)):
        sim.management.add_group(name, parent=parent)
    sim.management.place_subscription(SUB, child)
    sim.management.place_subscription("0f0e0d0c-0b0a-4909-8807-060504030201", other)
    sim.page_size = 1
    client = _arm(sim, credential)
    url = f"{sim.url}/providers/Microsoft.Management/managementGroups/{top}/descendants"

    items: list[dict[str, Any]] = []
    next_url: str | None = f"{url}?api-version=2020-05-01"
    while next_url:
        body = _send(client, "GET", next_url).json()
        items += body["value"]
        next_url = body.get("nextLink")

    assert [(i["id"], i["properties"]["parent"]["id"].rsplit("/", 1)[-1]) for i in items] == [
        (f"/providers/Microsoft.Management/managementGroups/{child}", top),
        (f"/subscriptions/{SUB}", child),
    ]
    assert items[1]["type"] == "Microsoft.Management/managementGroups/subscriptions"
    unknown = _send(client, "GET", url.replace(top, "nope") + "?api-version=2020-05-01")
    assert unknown.status_code == 403


def _graph(
    sim: AzureSimulator, credential: ManagedIdentityCredential, query: str, **request: Any
) -> tuple[Any, Any]:
    """One Resource Graph query through azure-mgmt-resourcegraph: (body, response headers)."""
    from azure.mgmt.resourcegraph import ResourceGraphClient
    from azure.mgmt.resourcegraph.models import QueryRequest

    # Any: `cls` changes what `resources` returns, which its annotations do not say.
    client: Any = ResourceGraphClient(credential, **_arm_kwargs(sim))
    answer: tuple[Any, Any] = client.resources(
        QueryRequest(query=query, **request),
        cls=lambda response, body, _: (body, response.http_response.headers),
    )
    return answer


WORKSPACES = (
    "resources | where type =~ 'microsoft.machinelearningservices/workspaces' | project id, tags"
)


def test_resource_graph_answers_the_apps_query_shape_by_scope_page_by_page(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    from azure.mgmt.resourcegraph.models import QueryRequestOptions

    sim.ml.add_workspace(world.ws_id.replace(world.ws_name, "second"), tags={"team": "ml"})
    sim.resourcegraph.page_size = 1
    mine = world.rg_id.lower()
    rows: list[dict[str, Any]] = []
    token = None
    while True:
        options = QueryRequestOptions(top=1000, skip_token=token)
        body, _ = _graph(sim, credential, WORKSPACES, subscriptions=[SUB], options=options)
        rows += body.data
        token = body.skip_token
        if not token:
            break
    ours = [r for r in rows if r["id"].lower().startswith(mine)]
    assert [(r["id"].rsplit("/", 1)[-1], r["tags"]) for r in ours] == [
        (world.ws_name, None),
        ("second", {"team": "ml"}),
    ]
    assert set(ours[0]) == {"id", "tags"}, "projected"
    elsewhere, _ = _graph(sim, credential, WORKSPACES, subscriptions=[str(uuid.uuid4())])
    assert elsewhere.data == []
    group = f"mg-{uuid.uuid4().hex[:6]}"
    sim.management.add_group(group)
    sim.management.place_subscription(SUB, group)
    sim.resourcegraph.page_size = 1000
    by_group, _ = _graph(sim, credential, WORKSPACES, management_groups=[group])
    assert {r["id"].lower() for r in by_group.data} >= {r["id"].lower() for r in ours}
    with pytest.raises(HttpResponseError) as refused:
        _graph(sim, credential, "resources | take 5", subscriptions=[SUB])
    assert refused.value.status_code == 400, "not a KQL engine: the app's shapes only"


def test_resource_graph_quota_headers_then_429_and_its_lag_behind_arm(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    sim.resourcegraph.reset()  # the quota other tests of the module spent
    sim.resourcegraph.quota, sim.resourcegraph.window = 2, 60.0
    sim.resourcegraph.lag = 3600.0
    sim.resourcegraph.snapshot()
    sim.arm.delete(world.ws_id)

    _, first = _graph(sim, credential, WORKSPACES, subscriptions=[SUB])
    stale, second = _graph(sim, credential, WORKSPACES, subscriptions=[SUB])
    with pytest.raises(HttpResponseError) as throttled:
        _graph(sim, credential, WORKSPACES, subscriptions=[SUB])

    assert [first["x-ms-user-quota-remaining"], second["x-ms-user-quota-remaining"]] == ["1", "0"]
    assert second["x-ms-user-quota-resets-after"] in ("00:01:00", "00:00:59")
    assert throttled.value.status_code == 429
    assert world.ws_id.lower() in {r["id"].lower() for r in stale.data}, "as of the snapshot"
    sim.resourcegraph.reset()
    live, _ = _graph(sim, credential, WORKSPACES, subscriptions=[SUB])
    assert world.ws_id.lower() not in {r["id"].lower() for r in live.data}


def test_workspace_begin_update_disables_public_network_access(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    poller = _ml(sim, credential).workspaces.begin_update(
        world.rg, world.ws_name, WorkspaceUpdateParameters(public_network_access="Disabled")
    )
    updated = poller.result()

    assert poller.done()
    assert updated.public_network_access == "Disabled"
    assert updated.as_dict()["id"] == world.ws_id
    stored = sim.arm.get(world.ws_id)
    assert stored is not None
    assert stored["properties"]["publicNetworkAccess"] == "Disabled"
    # One PATCH answered 200 with the workspace: the poller needs nothing else.
    assert _non_token(sim) == [Request("PATCH", world.ws_id, "aml.workspace.patch", 200, ML_API)]


def test_workspace_patch_merges_and_validates(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    arm = _arm(sim, credential)
    url = sim.url + world.ws_id
    before = sim.arm.get(world.ws_id)
    assert before is not None

    merged = _send(
        arm,
        "PATCH",
        url,
        params={"api-version": ML_API},
        json={
            "tags": {"owner": "automation"},
            "identity": {"type": "SystemAssigned"},
            "properties": {"description": "locked down", "provisioningState": "Failed"},
        },
    )
    invalid = _send(
        arm,
        "PATCH",
        url,
        params={"api-version": ML_API},
        json={"properties": {"publicNetworkAccess": "Sometimes"}},
    )

    assert merged.status_code == 200
    body = merged.json()
    assert body["tags"] == {"owner": "automation"}
    assert body["identity"]["principalId"] == before["identity"]["principalId"]
    assert body["properties"]["description"] == "locked down"
    assert body["properties"]["provisioningState"] == "Succeeded"  # read-only, not taken over
    assert body["properties"]["storageAccount"] == before["properties"]["storageAccount"]
    assert invalid.status_code == 400
    assert invalid.json()["error"]["code"] == "BadRequest"


def test_add_workspace_identity_replaces_the_block(sim: AzureSimulator, world: World) -> None:
    identity = {
        "type": "UserAssigned",
        "userAssignedIdentities": {
            f"{world.rg_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai": {
                "clientId": str(uuid.uuid4()),
                "principalId": str(uuid.uuid4()),
            }
        },
    }

    seeded = sim.ml.add_workspace(world.ws_id + "2", identity=identity, hbiWorkspace=True)

    assert seeded["identity"] == identity
    assert seeded["properties"]["hbiWorkspace"] is True


# ----------------------------------------------------------------------- computes


def test_compute_list_pages_and_deserializes_each_type(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    sim.ml.add_compute(
        world.ws_id, "cpu-cluster", subnet_id=world.subnet_id, vm_size="STANDARD_D2_V2"
    )
    sim.ml.add_compute(
        world.ws_id, "ci-1", compute_type="ComputeInstance", subnet_id=world.subnet_id
    )
    sim.ml.add_compute(world.ws_id, "aks-1", compute_type="AKS", disable_local_auth=None)
    sim.page_size = 2

    computes = list(_ml(sim, credential).compute.list(world.rg, world.ws_name))

    assert [c.name for c in computes] == ["cpu-cluster", "ci-1", "aks-1"]
    cluster, instance, aks = (c.properties for c in computes)
    assert isinstance(cluster, AmlCompute)
    assert isinstance(instance, ComputeInstance)
    assert isinstance(aks, AKS)
    # The generated models type these as optional; read them untyped.
    aml: Any = cluster.properties
    assert cluster.disable_local_auth is True
    assert aml.vm_size == "STANDARD_D2_V2"
    assert aml.subnet.id == world.subnet_id
    assert aml.scale_settings.max_node_count == 4
    assert aml.scale_settings.min_node_count == 0
    assert aml.remote_login_port_public_access == "Disabled"
    ci: Any = instance.properties
    assert ci.subnet.id == world.subnet_id
    assert aks.disable_local_auth is None
    assert "/Microsoft.ContainerService/managedClusters/aks-1-" in str(aks.resource_id)
    assert [r.route for r in _non_token(sim)] == ["aml.compute.list", "aml.compute.list"]


def test_compute_shape_omits_unset_values(sim: AzureSimulator, world: World) -> None:
    body = sim.ml.add_compute(
        world.ws_id,
        "bare",
        disable_local_auth=None,
        max_node_count=None,
        remote_login_port_public_access=None,
    )

    properties = body["properties"]
    assert "disableLocalAuth" not in properties
    assert properties["computeType"] == "AmlCompute"
    assert "subnet" not in properties["properties"]
    assert "remoteLoginPortPublicAccess" not in properties["properties"]
    assert "maxNodeCount" not in properties["properties"]["scaleSettings"]
    assert body["type"] == "Microsoft.MachineLearningServices/workspaces/computes"


def test_compute_begin_update_lowers_max_nodes(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    sim.ml.add_compute(world.ws_id, "cpu-cluster", max_node_count=8)
    client = _ml(sim, credential)
    before = client.compute.get(world.rg, world.ws_name, "cpu-cluster")
    assert before.properties.properties.scale_settings.max_node_count == 8

    updated = client.compute.begin_update(
        world.rg,
        world.ws_name,
        "cpu-cluster",
        parameters=ClusterUpdateParameters(
            properties=ScaleSettingsInformation(
                scale_settings=ScaleSettings(max_node_count=2, min_node_count=0)
            )
        ),
    ).result()

    assert updated.properties.properties.scale_settings.max_node_count == 2
    assert updated.properties.properties.vm_size == "STANDARD_DS3_V2"
    stored = sim.ml.compute(world.ws_id, "cpu-cluster")
    assert stored["properties"]["properties"]["scaleSettings"]["maxNodeCount"] == 2
    assert stored["properties"]["properties"]["scaleSettings"]["nodeIdleTimeBeforeScaleDown"]
    # As in Azure: PATCH answers provisioningState Updating with an
    # Azure-AsyncOperation; the poller reads it (done) and GETs the compute.
    assert [(r.method, r.route, r.status) for r in _non_token(sim)] == [
        ("GET", "aml.compute.get", 200),
        ("PATCH", "aml.compute.patch", 200),
        ("GET", "aml.compute.operation", 200),
        ("GET", "aml.compute.get", 200),
    ]
    assert sim.writes() == [
        Request("PATCH", f"{world.ws_id}/computes/cpu-cluster", "aml.compute.patch", 200, ML_API)
    ]


def test_compute_update_below_min_nodes_or_without_envelope_is_400(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    sim.ml.add_compute(world.ws_id, "cpu-cluster", min_node_count=1, max_node_count=4)
    client = _ml(sim, credential)

    with pytest.raises(HttpResponseError) as below:
        client.compute.begin_update(
            world.rg,
            world.ws_name,
            "cpu-cluster",
            parameters=ClusterUpdateParameters(
                properties=ScaleSettingsInformation(
                    scale_settings=ScaleSettings(max_node_count=1, min_node_count=3)
                )
            ),
        )
    with pytest.raises(HttpResponseError) as bare:
        # A ScaleSettingsInformation without its ClusterUpdateParameters envelope
        # serializes to {"scaleSettings": ...}, which ARM does not read.
        client.compute.begin_update(
            world.rg,
            world.ws_name,
            "cpu-cluster",
            parameters=ScaleSettingsInformation(scale_settings=ScaleSettings(max_node_count=2)),
        )

    assert below.value.status_code == 400
    assert below.value.error is not None
    assert below.value.error.code == "BadRequest"
    assert bare.value.status_code == 400
    assert "ClusterUpdateParameters" in str(bare.value)
    scale = sim.ml.compute(world.ws_id, "cpu-cluster")["properties"]["properties"]["scaleSettings"]
    assert (scale["minNodeCount"], scale["maxNodeCount"]) == (1, 4)


# --------------------------------------------------------------- role assignments


def test_list_for_scope_at_scope_and_create_then_conflict(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    other = str(uuid.uuid4())
    inherited = sim.authorization.add_role_assignment(
        world.rg_id, str(uuid.uuid4()), other, world.role(READER)
    )
    below = f"{world.ws_id}/computes/cpu-cluster"
    sim.authorization.add_role_assignment(below, str(uuid.uuid4()), other, world.role(READER))
    client = _authz(sim, credential).role_assignments
    first_name, second_name = str(uuid.uuid4()), str(uuid.uuid4())
    parameters = RoleAssignmentCreateParameters(
        role_definition_id=world.role(),
        principal_id=world.principal_id,
        principal_type="ServicePrincipal",
    )

    before = list(client.list_for_scope(world.ws_id, filter="atScope()"))
    created = client.create(world.ws_id, first_name, parameters)
    with pytest.raises(HttpResponseError) as conflict:
        client.create(world.ws_id, second_name, parameters)
    after = list(client.list_for_scope(world.ws_id, filter="atScope()"))
    everything = list(client.list_for_scope(world.ws_id))

    # atScope(): at or above the scope (the resource group's assignment is inherited).
    assert [a.name for a in before] == [inherited["name"]]
    assert created.name == first_name
    assert created.scope == world.ws_id
    assert created.principal_id == world.principal_id
    assert created.role_definition_id == world.role()
    assert created.principal_type == "ServicePrincipal"
    assert created.id == (
        f"{world.ws_id}/providers/Microsoft.Authorization/roleAssignments/{first_name}"
    )
    assert created.created_on is not None
    assert conflict.value.status_code == 409
    assert conflict.value.error is not None
    assert conflict.value.error.code == "RoleAssignmentExists"
    assert conflict.value.error.message == (
        "The role assignment already exists. The ID of the existing role assignment is "
        f"{first_name.replace('-', '')}."
    )
    assert sorted(a.name for a in after) == sorted([inherited["name"], first_name])
    assert len(everything) == 3  # no filter: above, at and below
    assert [a["name"] for a in sim.authorization.role_assignments(world.ws_id.upper())] == [
        first_name
    ]
    assert [(w.route, w.status, w.api_version) for w in sim.writes()] == [
        ("authz.ra.put", 201, AUTHZ_API),
        ("authz.ra.put", 409, AUTHZ_API),
    ]


def test_role_assignment_get_and_principal_filter(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    name = str(uuid.uuid4())
    sim.authorization.add_role_assignment(world.ws_id, name, world.principal_id, world.role())
    sim.authorization.add_role_assignment(
        world.ws_id, str(uuid.uuid4()), str(uuid.uuid4()), world.role(READER)
    )
    client = _authz(sim, credential).role_assignments

    found = client.get(world.ws_id, name)
    mine = list(client.list_for_scope(world.ws_id, filter=f"principalId eq '{world.principal_id}'"))
    with pytest.raises(HttpResponseError) as missing:
        client.get(world.ws_id, str(uuid.uuid4()))
    with pytest.raises(HttpResponseError) as unsupported:
        list(client.list_for_scope(world.ws_id, filter="roleDefinitionId eq 'x'"))

    assert found.principal_id == world.principal_id
    assert [a.name for a in mine] == [name]
    assert missing.value.status_code == 404
    assert missing.value.error is not None
    assert missing.value.error.code == "RoleAssignmentNotFound"
    assert unsupported.value.status_code == 400
    assert [r.route for r in _non_token(sim)] == [
        "authz.ra.get",
        "authz.ra.list",
        "authz.ra.get",
        "authz.ra.list",
    ]


def test_role_assignment_seeded_with_put_resource_is_served_normalized(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    # Before the authz routes, tests seeded role assignments with put_resource.
    name = str(uuid.uuid4())
    assignment_id = f"{world.ws_id}/providers/Microsoft.Authorization/roleAssignments/{name}"
    sim.arm.put(assignment_id, {"properties": {"principalId": "p"}})
    arm = _arm(sim, credential)

    found = _send(arm, "GET", sim.url + assignment_id.lower(), params={"api-version": AUTHZ_API})
    listed = _send(
        arm,
        "GET",
        sim.url + world.ws_id + "/providers/Microsoft.Authorization/roleAssignments",
        params={"api-version": AUTHZ_API, "$filter": "atScope()"},
    )

    assert found.json() == {
        "id": assignment_id,
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {"principalId": "p", "scope": world.ws_id},
    }
    assert listed.json()["value"] == [found.json()]


def test_unknown_principal_is_principal_not_found(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    stranger = str(uuid.uuid4())

    with pytest.raises(HttpResponseError) as caught:
        _authz(sim, credential).role_assignments.create(
            world.ws_id,
            str(uuid.uuid4()),
            RoleAssignmentCreateParameters(
                role_definition_id=world.role(),
                principal_id=stranger,
                principal_type="ServicePrincipal",
            ),
        )

    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "PrincipalNotFound"
    assert f"directory {sim.tenant_id}" in str(caught.value.error.message)
    assert sim.authorization.role_assignments(world.ws_id) == []


def test_replication_delay_then_success(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    fresh = str(uuid.uuid4())
    sim.authorization.principal_replication_delay(fresh, times=2)
    client = _authz(sim, credential).role_assignments
    name = str(uuid.uuid4())
    parameters = RoleAssignmentCreateParameters(
        role_definition_id=world.role(), principal_id=fresh, principal_type="ServicePrincipal"
    )

    codes = []
    for _ in range(2):
        with pytest.raises(HttpResponseError) as caught:
            client.create(world.ws_id, name, parameters)
        assert caught.value.error is not None
        codes.append(caught.value.error.code)
    created = client.create(world.ws_id, name, parameters)

    assert codes == ["PrincipalNotFound", "PrincipalNotFound"]
    assert created.principal_id == fresh
    assert [w.status for w in sim.writes()] == [400, 400, 201]


def test_role_assignment_put_validation(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    name = str(uuid.uuid4())
    sim.authorization.add_role_assignment(world.ws_id, name, world.principal_id, world.role())
    client = _authz(sim, credential).role_assignments

    def create(assignment: str, **changes: str) -> str:
        values = {
            "role_definition_id": world.role(),
            "principal_id": world.principal_id,
            "principal_type": "ServicePrincipal",
            **changes,
        }
        with pytest.raises(HttpResponseError) as caught:
            client.create(world.ws_id, assignment, RoleAssignmentCreateParameters(**values))
        assert caught.value.error is not None
        return f"{caught.value.status_code} {caught.value.error.code}"

    assert create("not-a-guid") == "400 InvalidRoleAssignmentId"
    assert create(str(uuid.uuid4()), role_definition_id="Contributor") == (
        "400 InvalidRoleDefinitionId"
    )
    assert create(str(uuid.uuid4()), principal_type="User") == "400 UnmatchedPrincipalType"
    assert create(name, role_definition_id=world.role(READER)) == (
        "400 RoleAssignmentUpdateNotPermitted"
    )
    assert create(name) == "409 RoleAssignmentExists"


# ------------------------------------------------------------------- dependencies


def test_storage_account_and_its_private_endpoint_via_generic_resources(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    sa_id = f"{world.rg_id}/providers/Microsoft.Storage/storageAccounts/sa{uuid.uuid4().hex[:8]}"
    pe_id = f"{world.rg_id}/providers/Microsoft.Network/privateEndpoints/pe-blob"
    kv_id = f"{world.rg_id}/providers/Microsoft.KeyVault/vaults/kv-{uuid.uuid4().hex[:8]}"
    kv_pe = f"{world.rg_id}/providers/Microsoft.Network/privateEndpoints/pe-vault"
    sim.network.add_storage_account(sa_id, private_endpoints=[(pe_id, "blob", "Approved")])
    sim.network.add_key_vault(kv_id, private_endpoints=[(kv_pe, "vault", "Pending")])
    resources = ResourceManagementClient(credential, SUB, **_arm_kwargs(sim)).resources

    account = resources.get_by_id(sa_id, api_version="2023-05-01")
    endpoint: Any = resources.get_by_id(pe_id, api_version="2024-05-01")
    vault_endpoint: Any = resources.get_by_id(kv_pe, api_version="2024-05-01")

    assert account.type == "Microsoft.Storage/storageAccounts"
    assert account.properties is not None
    [connection] = account.properties["privateEndpointConnections"]
    assert connection["properties"]["privateEndpoint"]["id"] == pe_id
    assert connection["properties"]["privateLinkServiceConnectionState"]["status"] == "Approved"
    assert connection["type"] == "Microsoft.Storage/storageAccounts/privateEndpointConnections"
    assert connection["id"].startswith(f"{sa_id}/privateEndpointConnections/")
    [link] = endpoint.properties["privateLinkServiceConnections"]
    assert link["properties"]["groupIds"] == ["blob"]
    assert link["properties"]["privateLinkServiceId"] == sa_id
    [vault_link] = vault_endpoint.properties["privateLinkServiceConnections"]
    assert vault_link["properties"]["privateLinkServiceConnectionState"]["status"] == "Pending"
    assert [r.route for r in _non_token(sim)] == [
        "arm.generic.get",
        "network.pe.get",
        "network.pe.get",
    ]


def test_private_endpoint_connections_of_a_dependency(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    acr_name = f"acr{uuid.uuid4().hex[:8]}"
    acr_id = f"{world.rg_id}/providers/Microsoft.ContainerRegistry/registries/{acr_name}"
    pe_a = f"{world.rg_id}/providers/Microsoft.Network/privateEndpoints/pe-a"
    pe_b = f"{world.rg_id}/providers/Microsoft.Network/privateEndpoints/pe-b"
    sim.network.add_container_registry(acr_id, private_endpoints=[(pe_a, "registry", "Approved")])
    added = sim.network.add_dependency_private_endpoint(acr_id, pe_b, "registry", status="Rejected")
    arm = _arm(sim, credential)

    api = {"api-version": "2023-07-01"}
    connections = sim.url + acr_id + "/privateEndpointConnections"

    listed = _send(arm, "GET", connections, params=api)
    one = _send(arm, "GET", sim.url + added["id"], params=api)
    missing = _send(arm, "GET", connections + "/nope", params=api)

    assert [c["properties"]["privateEndpoint"]["id"] for c in listed.json()["value"]] == [
        pe_a,
        pe_b,
    ]
    assert one.json()["properties"]["privateLinkServiceConnectionState"]["status"] == "Rejected"
    assert missing.status_code == 404
    assert [r.route for r in _non_token(sim)] == ["arm.pec.list", "arm.pec.get", "arm.pec.get"]
    with pytest.raises(KeyError):
        sim.network.add_dependency_private_endpoint(acr_id + "x", pe_b, "registry")


# -------------------------------------------------------------------- Event Grid


class _FixedToken:
    """A TokenCredential that always hands out one token (for a wrong audience)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return AccessToken(self._token, 2**31)


def _event(**data: Any) -> EventGridEvent:
    return EventGridEvent(
        subject="/aml/mlw-1/connections/pec-1",
        event_type="SynapseAml.ConnectionApproved",
        data=data or {"outcome": "approved"},
        data_version="1.0",
    )


def test_eventgrid_client_publishes_to_the_topic(
    sim: AzureSimulator, credential: ManagedIdentityCredential
) -> None:
    client = EventGridPublisherClient(sim.eventgrid.endpoint, credential)
    before = len(sim.eventgrid.published_events)

    client.send([_event(outcome="approved"), _event(outcome="skipped")])

    assert sim.eventgrid.endpoint == f"{sim.url}/eventgrid-topic/api/events"
    published = sim.eventgrid.published_events[before:]
    assert [e["data"]["outcome"] for e in published] == ["approved", "skipped"]
    assert published[0]["eventType"] == "SynapseAml.ConnectionApproved"
    assert published[0]["dataVersion"] == "1.0"
    assert {"id", "subject", "eventTime"} <= published[0].keys()
    assert _non_token(sim) == [
        Request("POST", "/eventgrid-topic/api/events", "eventgrid.publish", 200, "2018-01-01")
    ]
    assert sim.identity.token_requests[-1]["resource"] == "https://eventgrid.azure.net"


@pytest.mark.usefixtures("env")
def test_eventgrid_refuses_a_token_for_another_audience(sim: AzureSimulator) -> None:
    client = EventGridPublisherClient(
        sim.eventgrid.endpoint, _FixedToken(sim.identity.issue_token(sim.url))
    )
    before = len(sim.eventgrid.published_events)

    with pytest.raises(ClientAuthenticationError) as caught:
        client.send([_event()])

    assert caught.value.status_code == 401
    assert len(sim.eventgrid.published_events) == before
    assert [r.status for r in _non_token(sim)] == [401]


def test_eventgrid_injected_503_is_retried(
    sim: AzureSimulator, credential: ManagedIdentityCredential
) -> None:
    sim.inject("eventgrid.publish", status=503, times=1)
    before = len(sim.eventgrid.published_events)

    EventGridPublisherClient(sim.eventgrid.endpoint, credential).send([_event()])

    assert len(sim.eventgrid.published_events) == before + 1
    assert [r.status for r in _non_token(sim)] == [503, 200]


def test_eventgrid_rejects_malformed_events(
    sim: AzureSimulator, credential: ManagedIdentityCredential
) -> None:
    client = EventGridPublisherClient(sim.eventgrid.endpoint, credential)
    before = len(sim.eventgrid.published_events)
    good = {
        "id": "1",
        "subject": "s",
        "eventType": "T",
        "eventTime": "2024-05-01T10:00:00.1234567Z",
        "data": {},
    }

    with pytest.raises(HttpResponseError) as missing:
        client.send([{key: value for key, value in good.items() if key != "subject"}])
    with pytest.raises(HttpResponseError) as wrong_topic:
        client.send([{**good, "topic": "/subscriptions/x/elsewhere", "dataVersion": "1"}])
    client.send([good])  # data and dataVersion are optional in the Event Grid schema

    assert missing.value.status_code == 400
    assert "subject" in str(missing.value)
    assert wrong_topic.value.status_code == 400
    assert sim.eventgrid.published_events[before:] == [good]


# -------------------------------------------------------------------------- reset


def test_new_routes_are_injectable_and_reset_clears_new_state(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    new_routes = {
        "aml.workspace.patch",
        "aml.compute.list",
        "aml.compute.get",
        "aml.compute.patch",
        "aml.compute.operation",
        "authz.ra.list",
        "authz.ra.get",
        "authz.ra.put",
        "arm.pec.list",
        "arm.pec.get",
        "eventgrid.publish",
    }
    assert new_routes <= sim.route_names()
    for route in new_routes:
        sim.inject(route, status=500)
    sim.clear_faults()
    stranger = str(uuid.uuid4())
    sim.authorization.add_principal(stranger)
    sim.authorization.principal_replication_delay(str(uuid.uuid4()), times=3)
    sim.authorization.add_role_assignment(world.ws_id, str(uuid.uuid4()), stranger, world.role())
    EventGridPublisherClient(sim.eventgrid.endpoint, credential).send([_event()])
    assert sim.eventgrid.published_events

    sim.reset()

    assert sim.eventgrid.published_events == []
    assert sim.authorization.role_assignments() == []
    assert sim.authorization.principals == {}
    assert sim.authorization.replication_delays == {}
    with pytest.raises(HttpResponseError) as caught:
        # The principal is no longer known after the reset.
        _authz(sim, credential).role_assignments.create(
            world.ws_id,
            str(uuid.uuid4()),
            RoleAssignmentCreateParameters(role_definition_id=world.role(), principal_id=stranger),
        )
    assert caught.value.status_code == 400
