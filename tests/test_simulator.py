"""The local Azure simulator and the Azurite launcher, driven by the real Azure SDKs.

These tests prove the simulator is a faithful enough HTTP boundary for the
app's tests: azure-identity gets tokens from it, azure-mgmt clients list and
approve private endpoint connections, azure-core pages the Synapse data plane,
audiences are enforced (tokens are JWTs whose `aud` is the resource asked for, accepted only by
routes of that audience), and injected faults go through azure-core's retries.
"""

from __future__ import annotations

import os
import signal
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.core import PipelineClient
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.rest import HttpRequest, HttpResponse
from azure.data.tables import TableClient
from azure.identity import ManagedIdentityCredential
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.mgmt.machinelearningservices.models import (
    PrivateEndpointConnection,
    PrivateLinkServiceConnectionState,
)

import simulator.azurite
from simulator import AzureSimulator, Azurite, Request
from simulator.tokens import claims_of

# `sim`, `env` and `credential` come from conftest: a simulator per module, cleaned per test.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("clean_sim")]

SUB = "00000000-1111-2222-3333-444444444444"
MANAGED_SUB = "00000000-1111-2222-3333-555555555555"
SYNAPSE_SCOPE = "https://dev.azuresynapse.net/.default"
SYNAPSE_API = "2020-12-01"


def _ml_client(
    sim: AzureSimulator, credential: ManagedIdentityCredential, **kwargs: Any
) -> MachineLearningServicesMgmtClient:
    kwargs.setdefault("credential_scopes", [sim.url + "/.default"])
    return MachineLearningServicesMgmtClient(credential, SUB, base_url=sim.url, **kwargs)


def _pipeline(credential: ManagedIdentityCredential, scope: str) -> PipelineClient[Any, Any]:
    return PipelineClient(
        base_url="https://unused",
        policies=[
            RetryPolicy(retry_backoff_factor=0.01),
            BearerTokenCredentialPolicy(credential, scope),
        ],
    )


def _get(client: PipelineClient[Any, Any], url: str, **params: str) -> HttpResponse:
    response: HttpResponse = client.send_request(HttpRequest("GET", url, params=params))
    return response


class World:
    """A fresh, uniquely named set of resources for one test."""

    def __init__(self, sim: AzureSimulator) -> None:
        tag = uuid.uuid4().hex[:8]
        self.rg = f"rg-{tag}"
        self.ws_name = f"mlw-{tag}"
        self.ws_id = (
            f"/subscriptions/{SUB}/resourceGroups/{self.rg}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.ws_name}"
        )
        self.syn_name = f"syn-{tag}"
        self.syn_id = (
            f"/subscriptions/{SUB}/resourceGroups/{self.rg}"
            f"/providers/Microsoft.Synapse/workspaces/{self.syn_name}"
        )
        self.pe_id = (
            f"/subscriptions/{MANAGED_SUB}/resourceGroups/managed-{tag}"
            f"/providers/Microsoft.Network/privateEndpoints/{self.syn_name}.mpe-aml"
        )
        self.pec_name = f"{uuid.uuid4()}.{uuid.uuid4()}"
        sim.ml.add_workspace(self.ws_id, public_network_access="Disabled")
        sim.synapse.add_workspace(self.syn_id, principal_id=str(uuid.uuid4()))
        sim.network.add_private_endpoint(self.pe_id, private_link_service_id=self.ws_id)
        sim.ml.add_private_endpoint_connection(
            self.ws_id, self.pec_name, self.pe_id, description="Synapse MPE"
        )
        sim.synapse.add_managed_private_endpoint(
            self.syn_id,
            "mpe-aml",
            private_link_resource_id=self.ws_id,
            resource_id=self.pe_id,
        )
        self.mpes_url = (
            f"{sim.synapse.dev_endpoint_template.format(workspace=self.syn_name)}"
            "/managedVirtualNetworks/default/managedPrivateEndpoints"
        )


@pytest.fixture
def world(sim: AzureSimulator) -> World:
    return World(sim)


# ------------------------------------------------------------------ managed identity


def test_env_points_at_the_simulator(sim: AzureSimulator) -> None:
    env = sim.env()
    assert env["ARM_ENDPOINT"] == sim.url
    assert sim.url.startswith("https://127.0.0.1:")
    assert env["IDENTITY_ENDPOINT"] == f"{sim.url}/msi/token"
    assert env["SYNAPSE_DEV_ENDPOINT"] == f"{sim.url}/synapse-dev/{{workspace}}"
    assert env["REQUESTS_CA_BUNDLE"] == env["SSL_CERT_FILE"] == sim.ca_bundle_path
    assert os.path.isfile(sim.ca_bundle_path)


def test_managed_identity_credential_gets_a_token(
    sim: AzureSimulator, credential: ManagedIdentityCredential
) -> None:
    token = credential.get_token(sim.url + "/.default")

    assert token.token
    assert token.expires_on > 0
    assert sim.count("token") == 1
    assert sim.identity.token_requests == [
        {
            "resource": sim.url,
            "client_id": None,
            "object_id": None,
            "mi_res_id": None,
            "api_version": "2019-08-01",
        }
    ]


def test_user_assigned_client_id_is_recorded(
    sim: AzureSimulator, credential: ManagedIdentityCredential
) -> None:
    user_assigned = ManagedIdentityCredential(client_id="11111111-aaaa-bbbb-cccc-222222222222")
    user_assigned.get_token(SYNAPSE_SCOPE)

    assert sim.identity.token_requests[-1]["client_id"] == "11111111-aaaa-bbbb-cccc-222222222222"
    assert sim.identity.token_requests[-1]["resource"] == "https://dev.azuresynapse.net"


def test_wrong_identity_header_is_refused(
    sim: AzureSimulator, credential: ManagedIdentityCredential, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-secret")

    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential().get_token(sim.url + "/.default")
    assert [r.status for r in sim.requests] == [401]


# ---------------------------------------------------------------------------- ARM


def test_ml_client_lists_and_approves_a_connection(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    client = _ml_client(sim, credential)

    listed = list(client.private_endpoint_connections.list(world.rg, world.ws_name))
    assert [c.name for c in listed] == [world.pec_name]
    # The generated models type read-only fields as None, so read them as dicts.
    first = listed[0].as_dict()
    assert first["private_endpoint"]["id"] == world.pe_id
    assert first["private_link_service_connection_state"]["status"] == "Pending"

    approved = client.private_endpoint_connections.create_or_update(
        world.rg,
        world.ws_name,
        world.pec_name,
        PrivateEndpointConnection(
            private_link_service_connection_state=PrivateLinkServiceConnectionState(
                status="Approved", description="Approved by automation"
            )
        ),
    )

    approved_dict = approved.as_dict()
    assert approved_dict["private_link_service_connection_state"]["status"] == "Approved"
    assert approved_dict["private_endpoint"]["id"] == world.pe_id
    assert sim.ml.connection_status(world.ws_id, world.pec_name) == "Approved"
    assert sim.writes() == [
        Request("PUT", f"{world.ws_id}/privateEndpointConnections/{world.pec_name}",
                "aml.pec.put", 200, "2023-04-01")
    ]  # fmt: skip
    # The decision shows on the private endpoint and on Synapse's MPE too.
    pe = sim.arm.get(world.pe_id)
    assert pe is not None
    manual = pe["properties"]["manualPrivateLinkServiceConnections"][0]["properties"]
    assert manual["privateLinkServiceConnectionState"]["status"] == "Approved"
    synapse = _pipeline(credential, SYNAPSE_SCOPE)
    mpe = _get(synapse, world.mpes_url + "/mpe-aml", **{"api-version": SYNAPSE_API}).json()
    assert mpe["properties"]["connectionState"]["status"] == "Approved"


def test_workspace_get_embeds_its_connections(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    workspace = _ml_client(sim, credential).workspaces.get(world.rg, world.ws_name)

    assert workspace.as_dict()["id"] == world.ws_id
    assert workspace.public_network_access == "Disabled"
    embedded = workspace.as_dict()["private_endpoint_connections"]
    assert [c["name"] for c in embedded] == [world.pec_name]
    assert sim.count("aml.workspace.get") == 1


def test_put_on_a_missing_connection_is_404(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    with pytest.raises(ResourceNotFoundError):
        _ml_client(sim, credential).private_endpoint_connections.create_or_update(
            world.rg,
            world.ws_name,
            "does-not-exist",
            PrivateEndpointConnection(
                private_link_service_connection_state=PrivateLinkServiceConnectionState(
                    status="Approved"
                )
            ),
        )
    assert sim.arm.get(f"{world.ws_id}/privateEndpointConnections/does-not-exist") is None


def test_arm_paths_are_case_insensitive_and_keep_stored_casing(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    arm = _pipeline(credential, sim.url + "/.default")

    response = _get(arm, sim.url + world.syn_id.upper(), **{"api-version": "2021-06-01"})

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == world.syn_id
    assert body["properties"]["managedVirtualNetwork"] == "default"
    assert body["identity"]["type"] == "SystemAssigned"
    assert sim.requests[-1].route == "synapse.workspace.get"


def test_generic_store_serves_any_resource(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    # An extension resource with no dedicated route (role assignments have theirs now).
    lock_id = f"{world.ws_id}/providers/Microsoft.Authorization/locks/{uuid.uuid4()}"
    sim.arm.put(lock_id, {"name": "x", "properties": {"level": "CanNotDelete"}})
    arm = _pipeline(credential, sim.url + "/.default")

    found = _get(arm, sim.url + lock_id, **{"api-version": "2020-05-01"})
    missing = _get(arm, sim.url + lock_id + "0", **{"api-version": "2020-05-01"})
    no_route = _get(arm, sim.url + "/nowhere", **{"api-version": "1"})

    assert found.json()["id"] == lock_id
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceNotFound"
    assert no_route.status_code == 404
    assert no_route.json()["error"]["code"] == "NoRouteInSimulator"
    assert [(r.route, r.status, r.api_version) for r in sim.requests if r.route != "token"] == [
        ("arm.generic.get", 200, "2020-05-01"),
        ("arm.generic.get", 404, "2020-05-01"),
        ("unknown", 404, "1"),
    ]


def test_private_endpoint_shape(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    arm = _pipeline(credential, sim.url + "/.default")

    body = _get(arm, sim.url + world.pe_id, **{"api-version": "2025-05-01"}).json()

    assert body["type"] == "Microsoft.Network/privateEndpoints"
    assert body["properties"]["privateLinkServiceConnections"] == []
    connection = body["properties"]["manualPrivateLinkServiceConnections"][0]["properties"]
    assert connection["privateLinkServiceId"] == world.ws_id
    assert connection["groupIds"] == ["amlworkspace"]
    assert sim.requests[-1].route == "network.pe.get"


# ------------------------------------------------------------------- Synapse data plane


def test_pipeline_client_pages_managed_private_endpoints(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    for i in range(4):
        sim.synapse.add_managed_private_endpoint(
            world.syn_id,
            f"mpe-{i}",
            private_link_resource_id=world.ws_id,
            resource_id=None if i == 3 else f"{world.pe_id}-{i}",
            status="Approved",
        )
    sim.page_size = 2
    client = _pipeline(credential, SYNAPSE_SCOPE)

    items: list[dict[str, Any]] = []
    response = _get(client, world.mpes_url, **{"api-version": SYNAPSE_API})
    while True:
        assert response.status_code == 200
        page = response.json()
        items.extend(page["value"])
        if not page.get("nextLink"):
            break
        response = _get(client, page["nextLink"])

    assert [i["name"] for i in items] == ["mpe-aml", "mpe-0", "mpe-1", "mpe-2", "mpe-3"]
    assert items[0]["properties"]["resourceId"] == world.pe_id
    assert items[0]["type"] == (
        "Microsoft.Synapse/workspaces/managedVirtualNetworks/managedPrivateEndpoints"
    )
    assert "resourceId" not in items[4]["properties"]
    assert sim.count("synapse.mpe.list") == 3
    assert {r.api_version for r in sim.requests if r.route == "synapse.mpe.list"} == {SYNAPSE_API}


def test_workspace_without_managed_vnet_has_no_mpes(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    plain_id = world.syn_id + "plain"
    sim.synapse.add_workspace(plain_id, principal_id=str(uuid.uuid4()), managed_vnet=False)
    client = _pipeline(credential, SYNAPSE_SCOPE)
    url = world.mpes_url.replace(world.syn_name, world.syn_name + "plain")

    response = _get(client, url, **{"api-version": SYNAPSE_API})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ManagedVirtualNetworkNotFound"
    stored = sim.arm.get(plain_id)
    assert stored is not None
    assert "managedVirtualNetwork" not in stored["properties"]


# ---------------------------------------------------------------------- audiences


def test_arm_refuses_a_token_for_another_audience(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    client = _ml_client(sim, credential, credential_scopes=[SYNAPSE_SCOPE])

    with pytest.raises(ClientAuthenticationError) as caught:
        list(client.private_endpoint_connections.list(world.rg, world.ws_name))

    assert caught.value.status_code == 401
    assert caught.value.error is not None
    assert caught.value.error.code == "InvalidAuthenticationTokenAudience"
    assert sim.requests[-1] == Request(
        "GET", f"{world.ws_id}/privateEndpointConnections", "aml.pec.list", 401, "2023-04-01"
    )


def test_synapse_refuses_an_arm_token_and_no_token(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    wrong = _get(
        _pipeline(credential, sim.url + "/.default"), world.mpes_url, **{"api-version": SYNAPSE_API}
    )
    anonymous = PipelineClient[Any, Any](base_url=sim.url).send_request(
        HttpRequest("GET", world.mpes_url, params={"api-version": SYNAPSE_API})
    )

    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "AuthenticationFailed"


# ------------------------------------------------------------------------- faults


def test_injected_429_is_retried_by_azure_core(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    sim.inject("aml.pec.list", status=429, retry_after=1)

    listed = list(
        _ml_client(sim, credential).private_endpoint_connections.list(world.rg, world.ws_name)
    )

    assert [c.name for c in listed] == [world.pec_name]
    assert sim.count("aml.pec.list") == 2
    assert [r.status for r in sim.requests if r.route == "aml.pec.list"] == [429, 200]


def test_arm_read_throttling_answers_429_with_retry_after_once_the_bucket_is_empty(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    url = f"{sim.url}{world.ws_id}/privateEndpointConnections"
    # A stopped clock: the counts left and the Retry-After are exact however far apart the
    # reads come (at 0.5 a second, the third read's Retry-After was 1 when the reads took 1 s).
    sim.throttle_arm_reads(burst=2, per_second=0.5, clock=lambda: 1000.0)
    try:
        client: PipelineClient[Any, Any] = PipelineClient(
            base_url="https://unused",
            policies=[BearerTokenCredentialPolicy(credential, sim.url + "/.default")],
        )
        answers = [_get(client, url, **{"api-version": "2023-04-01"}) for _ in range(3)]
        synapse = _pipeline(credential, SYNAPSE_SCOPE)
        data_plane = _get(synapse, world.mpes_url, **{"api-version": SYNAPSE_API})
        write = client.send_request(
            HttpRequest("PUT", f"{url}/{world.pec_name}?api-version=2023-04-01", json={})
        )
    finally:
        sim.read_throttle = None

    left = "x-ms-ratelimit-remaining-subscription-reads"
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers[left] for a in answers] == ["1", "0", "0"]
    assert answers[2].headers["Retry-After"] == "2"
    assert answers[2].json()["error"]["code"] == "SubscriptionRequestsThrottled"
    # The data plane and writes are metered apart.
    assert data_plane.status_code == 200
    assert write.status_code != 429
    assert left not in write.headers


def test_arm_read_throttling_is_off_by_default_and_after_reset(sim: AzureSimulator) -> None:
    assert sim.read_throttle is None
    sim.throttle_arm_reads()
    throttles = [sim.read_throttle]
    sim.reset()
    throttles.append(sim.read_throttle)
    assert [(t.burst, t.per_second) if t else None for t in throttles] == [(250, 25.0), None]


def test_injected_failure_changes_no_state(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    sim.inject("aml.pec.put", status=409, code="Conflict", message="Another operation is running")
    client = _ml_client(sim, credential)

    with pytest.raises(HttpResponseError) as caught:
        client.private_endpoint_connections.create_or_update(
            world.rg,
            world.ws_name,
            world.pec_name,
            PrivateEndpointConnection(
                private_link_service_connection_state=PrivateLinkServiceConnectionState(
                    status="Rejected"
                )
            ),
        )

    assert caught.value.status_code == 409
    assert sim.ml.connection_status(world.ws_id, world.pec_name) == "Pending"
    assert [(w.route, w.status) for w in sim.writes()] == [("aml.pec.put", 409)]


def test_reset_forgets_state_but_keeps_tokens(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    arm = _pipeline(credential, sim.url + "/.default")
    assert _get(arm, sim.url + world.ws_id, **{"api-version": "x"}).status_code == 200
    sim.inject("aml.pec.list", status=500)

    sim.reset()

    assert sim.requests == []
    assert sim.identity.token_requests == []
    assert sim.arm.get(world.ws_id) is None
    response = _get(arm, sim.url + world.ws_id, **{"api-version": "x"})
    assert response.status_code == 404  # still authenticated, the workspace is just gone
    assert sim.count("token") == 0  # the cached token was accepted after the reset


def test_inject_rejects_unknown_routes(sim: AzureSimulator) -> None:
    with pytest.raises(ValueError, match="unknown route"):
        sim.inject("aml.nothing", status=500)


def test_every_service_keeps_its_route_names(sim: AzureSimulator) -> None:
    # Tests and tools name routes in inject(), count() and Request.route: a service package
    # that drops or renames one breaks them, so every known name is pinned here, by service
    # (new routes may come).
    by_service = {
        "identity": {"token"},
        "arm": {"arm.generic.get"},
        "aml": {
            "aml.workspace.list",
            "aml.workspace.get",
            "aml.workspace.patch",
            "aml.compute.list",
            "aml.compute.get",
            "aml.compute.patch",
            "aml.compute.operation",
            "aml.pec.list",
            "aml.pec.get",
            "aml.pec.put",
        },
        "authorization": {"authz.ra.list", "authz.ra.get", "authz.ra.put"},
        "network": {"network.pe.get", "arm.pec.list", "arm.pec.get"},
        "synapse": {"synapse.workspace.get", "synapse.mpe.list", "synapse.mpe.get"},
        "eventgrid": {"eventgrid.publish"},
        "ml": {
            "ml.component.version.get",
            "ml.component.version.list",
            "ml.job.list",
            "ml.job.get",
            "ml.job.put",
            "ml.batch_endpoint.get",
            "ml.batch_deployment.list",
            "ml.batch_deployment.get",
            "ml.scoring.invoke",
        },
        "logs": {"logs.query"},
        "management": {"management.descendants"},
    }
    assert set().union(*by_service.values()) <= sim.route_names()


def test_the_server_mounts_one_object_per_service_and_resets_them_all(
    sim: AzureSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The convention: each service is one object with its routes, its state and its reset, and
    # the server mounts the list; no route is served outside a service, none by two.
    services = [
        sim.identity,
        sim.arm,
        sim.ml,
        sim.synapse,
        sim.authorization,
        sim.network,
        sim.eventgrid,
        sim.logs,
        sim.management,
        sim.resourcegraph,
    ]
    assert sorted(map(id, sim.services)) == sorted(map(id, services))
    names = [r.name for service in sim.services for r in service.routes()]
    assert len(names) == len(set(names))
    assert set(names) == sim.route_names()
    reset: list[object] = []
    for service in services:
        monkeypatch.setattr(service, "reset", lambda s=service: reset.append(s))
    sim.reset()
    assert set(map(id, reset)) == set(map(id, services))


def test_a_lost_response_takes_effect_on_any_route(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    # The request is carried out, its answer is lost: the client sees the error only.
    sim.lose_response("aml.pec.put", status=503)
    with pytest.raises(HttpResponseError) as lost:
        _ml_client(sim, credential, retry_total=0).private_endpoint_connections.create_or_update(
            world.rg,
            world.ws_name,
            world.pec_name,
            PrivateEndpointConnection(
                private_link_service_connection_state=PrivateLinkServiceConnectionState(
                    status="Approved"
                )
            ),
        )
    assert lost.value.status_code == 503
    assert sim.ml.connection_status(world.ws_id, world.pec_name) == "Approved"
    assert [r.status for r in sim.requests if r.route == "aml.pec.put"] == [503]


def test_a_paged_list_keeps_the_query_in_its_next_link(
    sim: AzureSimulator, credential: ManagedIdentityCredential, world: World
) -> None:
    # One paging rule for every list: the nextLink repeats the request's query with the next
    # offset, so a filter holds on every page.
    for name in ("a", "b", "c"):
        sim.ml.add_compute(world.ws_id, f"cpu-{name}")
    sim.page_size = 2
    client = _pipeline(credential, sim.url + "/.default")
    url = f"{sim.url}{world.ws_id}/computes"
    first = _get(client, url, **{"api-version": "2023-04-01", "extra": "kept"}).json()
    assert len(first["value"]) == 2
    assert "extra=kept" in first["nextLink"]
    second = _get(client, first["nextLink"]).json()
    assert [c["name"] for c in first["value"] + second["value"]] == ["cpu-a", "cpu-b", "cpu-c"]
    assert "nextLink" not in second


# ------------------------------------------------------------------------- Azurite


def test_azurite_serves_tables_and_stops_by_pid() -> None:
    with Azurite() as azurite:
        pid = azurite.pid
        started = azurite.running
        assert started
        assert "TableEndpoint=http://127.0.0.1:" in azurite.connection_string
        with TableClient.from_connection_string(
            azurite.connection_string, table_name="ledger"
        ) as table:
            table.create_table()
            table.upsert_entity({"PartitionKey": "ws", "RowKey": "pec-1", "Status": "Approved"})
            entity = table.get_entity("ws", "pec-1")
        assert entity["Status"] == "Approved"

    assert not azurite.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_azurite_missing_binary_says_to_run_npm_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(simulator.azurite, "AZURITE_TABLE", tmp_path / "azurite-table")

    with pytest.raises(RuntimeError, match="npm ci"):
        Azurite().start()


def _children() -> set[int]:
    return {int(pid) for pid in Path(f"/proc/self/task/{os.getpid()}/children").read_text().split()}


def test_azurite_interrupted_while_it_starts_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Ctrl-C (a KeyboardInterrupt: `make demo`, a test run) while it waits for Azurite's port:
    # the process just launched, not yet the object's, was left running, its directory behind.
    def interrupted(port: int) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(simulator.azurite, "_accepts", interrupted)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = _children()

    with pytest.raises(KeyboardInterrupt):
        Azurite().start()

    left = _children() - before
    for pid in left:
        os.kill(pid, signal.SIGKILL)  # our own child: only when the test fails
    assert left == set()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "scope",
    ["https://ml.azure.com/.default", "https://management.azure.com/.default"],
)
def test_tokens_are_jwts_with_the_requested_audience(
    sim: AzureSimulator, credential: ManagedIdentityCredential, scope: str
) -> None:
    token = credential.get_token(scope).token
    claims = claims_of(token)

    assert claims["aud"] == scope.removesuffix("/.default")
    assert claims["tid"] == sim.tenant_id
    assert claims["exp"] > claims["iat"]
    assert sim.token_audience(token) == scope.removesuffix("/.default")


def test_azure_ai_ml_reads_the_audience_it_checks(
    credential: ManagedIdentityCredential,
) -> None:
    # azure-ai-ml decodes the token with PyJWT, unverified, before it submits a pipeline job.
    import jwt

    token = credential.get_token("https://ml.azure.com/.default").token
    decoded = jwt.decode(token, options={"verify_signature": False, "verify_aud": False})
    assert decoded["aud"] == "https://ml.azure.com"


def test_two_tokens_for_one_audience_differ(sim: AzureSimulator) -> None:
    assert sim.identity.issue_token("https://ml.azure.com") != sim.identity.issue_token(
        "https://ml.azure.com"
    )


def test_scoring_uri_refuses_an_arm_token(sim: AzureSimulator) -> None:
    import requests

    uri = sim.ml.add_batch_endpoint(
        "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/"
        "Microsoft.MachineLearningServices/workspaces/ws/batchEndpoints/ep"
    )
    body = {"properties": {"inputData": {"UriFolder": {"jobInputType": "UriFolder", "uri": "x"}}}}
    wrong = sim.identity.issue_token(sim.url)
    right = sim.identity.issue_token("https://ml.azure.com")
    refused = requests.post(
        uri,
        json=body,
        headers={"Authorization": f"Bearer {wrong}"},
        verify=sim.ca_bundle_path,
        timeout=10,
    )
    accepted = requests.post(
        uri,
        json=body,
        headers={"Authorization": f"Bearer {right}"},
        verify=sim.ca_bundle_path,
        timeout=10,
    )

    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    assert accepted.status_code == 200
    assert accepted.json()["properties"]["status"] == "NotStarted"
