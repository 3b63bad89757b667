"""The local HTTPS stand-in for the Azure endpoints the app talks to: :class:`AzureSimulator`.

The real Azure SDK clients (azure-identity, azure-mgmt-*, azure-core, azure-ai-ml,
azure-monitor-query, azure-eventgrid) run unchanged against it: they only see other base URLs, a
managed identity endpoint and a CA bundle, all given by :meth:`AzureSimulator.env`.

:class:`AzureSimulator` is the facade tests and tools use. It composes one HTTPS server
(:mod:`simulator.server`: TLS, routing, recording, fault injection, authentication) and the
services mounted on it, one package each, moto style (``models`` the state and rules,
``responses`` the handlers, ``urls`` the routes, ``exceptions`` the error bodies):

* :mod:`simulator.identity`: the App Service managed identity token endpoint (``/msi/token``);
* :mod:`simulator.arm`: the generic, case-insensitive ARM resource store and its catch-all GET;
* :mod:`simulator.aml`: AML workspaces (GET, PATCH), computes and private endpoint connections;
* :mod:`simulator.authorization`: role assignments and the directory's principals;
* :mod:`simulator.network`: private endpoints and the connections of a workspace's
  dependencies (storage accounts, key vaults, container registries);
* :mod:`simulator.synapse`: Synapse workspaces and the data plane's managed private endpoints
  (``/synapse-dev/{workspace}/...``);
* :mod:`simulator.eventgrid`: a custom topic (``POST /eventgrid-topic/api/events``) that keeps
  what is published to it;
* :mod:`simulator.ml` (:attr:`AzureSimulator.ml`): Azure ML jobs, components, batch endpoints and
  scoring URIs; :mod:`simulator.logs` (:attr:`AzureSimulator.logs`): the Log Analytics query API.

Every request is recorded (:attr:`AzureSimulator.requests`) and faults can be injected per route
(:meth:`AzureSimulator.inject`), so tests can assert on what crossed the HTTP boundary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final

from . import arm, shapes
from .aml import MachineLearningWorkspaces, MachineLearningWorkspacesResponses
from .aml import routes as aml_routes
from .authorization import Authorization, AuthorizationResponses
from .authorization import routes as authorization_routes
from .eventgrid import TOPIC_PATH, CustomTopic, EventGridResponses
from .eventgrid import routes as eventgrid_routes
from .identity import TOKEN_PATH, ManagedIdentity
from .network import Network, NetworkResponses, dependency_routes, private_endpoint_routes
from .server import ML_AUDIENCE, SYNAPSE_AUDIENCE, Handler, Request, SimulatorServer
from .shapes import JSON
from .synapse import DATA_PLANE_PATH, Synapse, SynapseResponses, data_plane_routes, workspace_routes

#: Path of the simulated custom topic, ``/api/events`` included as in Azure.
EVENTGRID_TOPIC_PATH: Final = TOPIC_PATH


class AzureSimulator:
    """Local HTTPS simulator of ARM, the Synapse data plane, Azure ML, Log Analytics, Event Grid
    and managed identity.

    Use it as a context manager (or call :meth:`start` / :meth:`stop`), seed
    state with the ``add_*`` methods and point the SDKs at it with :meth:`env`.
    """

    def __init__(self, *, tenant_id: str = shapes.DEFAULT_TENANT_ID) -> None:
        """Prepare an unstarted simulator; ``tenant_id`` is used in seeded identities."""
        self.tenant_id = tenant_id
        lock = threading.RLock()
        self._identity = ManagedIdentity(tenant_id=tenant_id, lock=lock)
        self._server = SimulatorServer(
            tenant_id=tenant_id, lock=lock, token_audience=self._identity.token_audience
        )
        self._store = arm.ResourceStore(lock)
        self._aml = MachineLearningWorkspaces(self._store, tenant_id=tenant_id)
        self._authorization = Authorization(
            self._store, updated_by=lambda: self._identity.principal_id
        )
        self._network = Network(self._store, tenant_id=tenant_id)
        self._synapse = Synapse(self._store, tenant_id=tenant_id, dev_endpoint=self._dev_endpoint)
        self._topic = CustomTopic(lock)
        self._aml.on_connection_state(self._network.mirror_connection_state)
        self._aml.on_connection_state(self._synapse.mirror_connection_state)

        # Order matters: the first match wins, so specific routes come before the generic ARM
        # GET (mount() keeps it last) and the AML workspace's connections before any resource's.
        server = self._server
        network = NetworkResponses(self._store, self._network)
        synapse = SynapseResponses(server, self._store, self._synapse)
        server.mount(arm.routes(arm.ArmResponses(self._store)))
        server.mount(self._identity.routes())
        server.mount(aml_routes(MachineLearningWorkspacesResponses(server, self._store, self._aml)))
        server.mount(workspace_routes(synapse))
        server.mount(private_endpoint_routes(network))
        server.mount(
            authorization_routes(
                AuthorizationResponses(self._store, self._authorization, tenant_id=tenant_id)
            )
        )
        server.mount(dependency_routes(network))
        server.mount(eventgrid_routes(EventGridResponses(self._topic)))
        server.mount(data_plane_routes(synapse))

        # Services that take the simulator itself mount their routes through add_route.
        from .logs import LogAnalyticsService
        from .ml import MachineLearningService

        #: Azure ML jobs, components, batch endpoints and scoring URIs (``simulator/ml``).
        self.ml = MachineLearningService(self)
        #: The Log Analytics query API (``simulator/logs``).
        self.logs = LogAnalyticsService(self)

    # ------------------------------------------------------------ settings of the services

    @property
    def page_size(self) -> int:
        """Items per page on the paged lists (Synapse MPEs, AML computes, ML jobs); more items
        give a nextLink."""
        return self._server.page_size

    @page_size.setter
    def page_size(self, value: int) -> None:
        self._server.page_size = value

    @property
    def last_page_next_link(self) -> str | None:
        """``nextLink`` value on the last MPE page; None leaves the field out.

        The published Synapse example sends ``""`` there, which this can mimic.
        """
        return self._synapse.last_page_next_link

    @last_page_next_link.setter
    def last_page_next_link(self, value: str | None) -> None:
        self._synapse.last_page_next_link = value

    @property
    def managed_identity_client_id(self) -> str:
        """client_id the token endpoint reports for the system-assigned identity."""
        return self._identity.client_id

    @managed_identity_client_id.setter
    def managed_identity_client_id(self, value: str) -> None:
        self._identity.client_id = value

    @property
    def managed_identity_principal_id(self) -> str:
        """Object id of that identity; role assignments it writes name it as ``updatedBy``."""
        return self._identity.principal_id

    @managed_identity_principal_id.setter
    def managed_identity_principal_id(self, value: str) -> None:
        self._identity.principal_id = value

    @property
    def eventgrid_topic_id(self) -> str:
        """ARM id of the simulated Event Grid custom topic; an event that names a ``topic`` must
        name exactly this one, as Event Grid demands."""
        return self._topic.topic_id

    @eventgrid_topic_id.setter
    def eventgrid_topic_id(self, value: str) -> None:
        self._topic.topic_id = value

    @property
    def authorization(self) -> Authorization:
        """The directory and role assignments' model (known principals, replication delays)."""
        return self._authorization

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> AzureSimulator:
        """Create a throwaway CA and serve HTTPS on 127.0.0.1 (free port) in a daemon thread."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and delete the CA bundle."""
        self._server.stop()

    def __enter__(self) -> AzureSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- endpoints

    @property
    def url(self) -> str:
        """Base URL, ``https://127.0.0.1:PORT`` (no trailing slash)."""
        return self._server.url

    @property
    def arm_endpoint(self) -> str:
        """The ARM endpoint; the same as :attr:`url`."""
        return self.url

    @property
    def identity_endpoint(self) -> str:
        """The App Service managed identity endpoint (``IDENTITY_ENDPOINT``)."""
        return f"{self.url}{TOKEN_PATH}"

    @property
    def identity_header(self) -> str:
        """The secret the token endpoint expects in ``X-IDENTITY-HEADER``."""
        return self._identity.header

    @property
    def synapse_dev_endpoint_template(self) -> str:
        """Synapse dev endpoint with a literal ``{workspace}`` placeholder."""
        return f"{self.url}{DATA_PLANE_PATH}/{{workspace}}"

    def _dev_endpoint(self, workspace_name: str) -> str | None:
        if not self._server.started:
            return None
        return self.synapse_dev_endpoint_template.replace("{workspace}", workspace_name)

    @property
    def eventgrid_topic_endpoint(self) -> str:
        """The custom topic endpoint (``OUTCOME_TOPIC_ENDPOINT``), ``/api/events`` included.

        ``EventGridPublisherClient`` posts to exactly this URL (it appends
        nothing), like an Azure topic endpoint
        ``https://<topic>.<region>-1.eventgrid.azure.net/api/events``. It is not
        part of :meth:`env`: tests that want events published opt in.
        """
        return f"{self.url}{EVENTGRID_TOPIC_PATH}"

    @property
    def ca_bundle_path(self) -> str:
        """Path of the PEM file holding the throwaway CA certificate."""
        return self._server.ca_bundle_path

    def env(self) -> dict[str, str]:
        """Environment variables that point the app and the SDKs at the simulator."""
        return {
            "ARM_ENDPOINT": self.arm_endpoint,
            "SYNAPSE_DEV_ENDPOINT": self.synapse_dev_endpoint_template,
            # The data plane is served under a path of 127.0.0.1, a host of no Azure cloud:
            # its token audience is stated, as for any custom host.
            "SYNAPSE_DEV_AUDIENCE": SYNAPSE_AUDIENCE,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
            "REQUESTS_CA_BUNDLE": self.ca_bundle_path,
            "SSL_CERT_FILE": self.ca_bundle_path,
            # Batch scoring URIs are served by this simulator's own host.
            "AML_INFERENCE_DOMAIN": self.inference_domain,
            # ...and ARM too: Azure ML's data-plane audience is stated, as for any custom host.
            "AML_AUDIENCE": ML_AUDIENCE,
            "LOGS_QUERY_ENDPOINT": self.logs.endpoint,
        }

    @property
    def inference_domain(self) -> str:
        """The host of the scoring URIs the simulator hands out (``AML_INFERENCE_DOMAIN``)."""
        return "127.0.0.1"

    @property
    def foreign_url(self) -> str:
        """This simulator under another host name (``https://localhost:PORT``): the same
        server and certificate, but another origin for a client that pins 127.0.0.1."""
        return self._server.foreign_url

    # ---------------------------------------------------------------- ARM resources

    def put_resource(self, resource_id: str, body: JSON) -> JSON:
        """Store any resource under ``resource_id`` (case-insensitive); return a copy.

        ``id`` is set to ``resource_id`` when the body has none.
        """
        return self._store.put(resource_id, body)

    def delete_resource(self, resource_id: str) -> None:
        """Forget a stored resource and its children (a Synapse workspace's managed private
        endpoints too), as deleting it in Azure does; its name is then free to be taken."""
        self._store.delete(resource_id)

    def get_resource(self, resource_id: str) -> JSON | None:
        """A copy of the stored resource, or None."""
        return self._store.get(resource_id)

    # ------------------------------------------------------------------ AML (aml/)

    def add_ml_workspace(
        self,
        workspace_id: str,
        *,
        public_network_access: str = "Enabled",
        identity: JSON | None = None,
        **properties_overrides: Any,
    ) -> JSON:
        """Seed an AML workspace; keyword overrides replace keys of ``properties``.

        ``identity`` replaces the whole identity block (default: system-assigned,
        with a principal id derived from the workspace id).
        """
        return self._aml.add_ml_workspace(
            workspace_id,
            public_network_access=public_network_access,
            identity=identity,
            **properties_overrides,
        )

    def add_compute(
        self,
        workspace_id: str,
        name: str,
        *,
        compute_type: str = "AmlCompute",
        vm_size: str = "STANDARD_DS3_V2",
        subnet_id: str | None = None,
        disable_local_auth: bool | None = True,
        max_node_count: int | None = 4,
        min_node_count: int | None = 0,
        remote_login_port_public_access: str | None = "Disabled",
        location: str | None = None,
        current_node_count: int | None = None,
        target_node_count: int | None = None,
    ) -> JSON:
        """Seed a compute of an AML workspace (which must exist); see
        :func:`simulator.aml.shapes.compute`.

        ``compute_type`` is ``AmlCompute``, ``ComputeInstance``, ``AKS`` or
        ``Kubernetes``; None arguments leave their key out. ``location``
        defaults to the workspace's. A cluster's ``current_node_count`` and
        ``target_node_count`` default to its minimum (idle); set them for a
        cluster running jobs.
        """
        return self._aml.add_compute(
            workspace_id,
            name,
            compute_type=compute_type,
            vm_size=vm_size,
            subnet_id=subnet_id,
            disable_local_auth=disable_local_auth,
            max_node_count=max_node_count,
            min_node_count=min_node_count,
            remote_login_port_public_access=remote_login_port_public_access,
            location=location,
            current_node_count=current_node_count,
            target_node_count=target_node_count,
        )

    def compute(self, workspace_id: str, name: str) -> JSON:
        """A copy of a stored compute (KeyError when there is none)."""
        return self._aml.compute(workspace_id, name)

    def add_private_endpoint_connection(
        self,
        workspace_id: str,
        name: str,
        private_endpoint_id: str,
        status: str = "Pending",
        description: str = "",
        actions_required: str = "None",
    ) -> JSON:
        """Seed a private endpoint connection on an AML workspace (which must exist)."""
        return self._aml.add_private_endpoint_connection(
            workspace_id, name, private_endpoint_id, status, description, actions_required
        )

    def connection_status(self, workspace_id: str, name: str) -> str:
        """Current status of an AML private endpoint connection."""
        return self._aml.connection_status(workspace_id, name)

    # ---------------------------------------------------------- Synapse (synapse/)

    def add_synapse_workspace(
        self,
        workspace_id: str,
        *,
        principal_id: str,
        managed_vnet: bool = True,
        prevent_data_exfiltration: bool = False,
        tenant_id: str | None = None,
        workspace_uid: str | None = None,
    ) -> JSON:
        """Seed a Synapse workspace; its name is also its data-plane workspace name.

        Once started, ``connectivityEndpoints.dev`` is the simulator's own data plane for the
        name, as ARM reports the real one. ``workspace_uid`` sets ``workspaceUID`` (default:
        derived from the ID; a workspace deleted and created again gets a new one in Azure).
        """
        return self._synapse.add_synapse_workspace(
            workspace_id,
            principal_id=principal_id,
            managed_vnet=managed_vnet,
            prevent_data_exfiltration=prevent_data_exfiltration,
            tenant_id=tenant_id,
            workspace_uid=workspace_uid,
        )

    def add_managed_private_endpoint(
        self,
        synapse_workspace_id: str,
        name: str,
        *,
        private_link_resource_id: str,
        resource_id: str | None,
        group_id: str = "amlworkspace",
        status: str = "Pending",
    ) -> JSON:
        """Seed a managed private endpoint in a Synapse workspace's managed network.

        ``resource_id`` is the ARM id of the private endpoint behind it (None
        leaves ``properties.resourceId`` out, as older data has it).
        """
        return self._synapse.add_managed_private_endpoint(
            synapse_workspace_id,
            name,
            private_link_resource_id=private_link_resource_id,
            resource_id=resource_id,
            group_id=group_id,
            status=status,
        )

    # ---------------------------------------------------------- network (network/)

    def add_private_endpoint(
        self,
        pe_id: str,
        *,
        private_link_service_id: str,
        group_ids: tuple[str, ...] | list[str] = ("amlworkspace",),
        manual: bool = True,
    ) -> JSON:
        """Seed a ``Microsoft.Network/privateEndpoints`` resource."""
        return self._network.add_private_endpoint(
            pe_id,
            private_link_service_id=private_link_service_id,
            group_ids=group_ids,
            manual=manual,
        )

    def add_storage_account(
        self,
        resource_id: str,
        *,
        private_endpoints: Sequence[tuple[str, str, str]] = (),
        location: str = shapes.DEFAULT_LOCATION,
        **properties_overrides: Any,
    ) -> JSON:
        """Seed a storage account; ``private_endpoints`` are ``(pe_id, group_id, status)``.

        Each one becomes a connection on the account and a private endpoint
        (see :meth:`add_dependency_private_endpoint`). Keyword overrides
        replace keys of ``properties``. Returns the stored account.
        """
        return self._network.add_storage_account(
            resource_id,
            private_endpoints=private_endpoints,
            location=location,
            **properties_overrides,
        )

    def add_key_vault(
        self,
        resource_id: str,
        *,
        private_endpoints: Sequence[tuple[str, str, str]] = (),
        location: str = shapes.DEFAULT_LOCATION,
        **properties_overrides: Any,
    ) -> JSON:
        """Seed a key vault; like :meth:`add_storage_account`."""
        return self._network.add_key_vault(
            resource_id,
            private_endpoints=private_endpoints,
            location=location,
            **properties_overrides,
        )

    def add_container_registry(
        self,
        resource_id: str,
        *,
        private_endpoints: Sequence[tuple[str, str, str]] = (),
        location: str = shapes.DEFAULT_LOCATION,
        **properties_overrides: Any,
    ) -> JSON:
        """Seed a container registry; like :meth:`add_storage_account`."""
        return self._network.add_container_registry(
            resource_id,
            private_endpoints=private_endpoints,
            location=location,
            **properties_overrides,
        )

    def add_dependency_private_endpoint(
        self,
        resource_id: str,
        pe_id: str,
        group_id: str,
        status: str = "Approved",
        description: str | None = None,
    ) -> JSON:
        """Connect a private endpoint to a stored resource (a storage account, vault, registry...).

        Adds (or replaces, for the same ``pe_id``) the connection in the
        resource's ``properties.privateEndpointConnections`` and stores the
        private endpoint itself (automatic approval flow, ``groupIds`` =
        ``[group_id]``, its connection in the same ``status``). Returns the
        connection as the resource embeds it.
        """
        return self._network.add_dependency_private_endpoint(
            resource_id, pe_id, group_id, status, description
        )

    # ------------------------------------------------- role assignments (authorization/)

    def add_principal(self, principal_id: str, principal_type: str = "ServicePrincipal") -> None:
        """Make a principal exist in the simulated directory.

        Role assignment PUTs for principals that do not exist answer
        ``PrincipalNotFound``. Known without this call: the principal of every
        stored resource's ``identity`` (Synapse and AML workspaces, ...) and of
        every seeded role assignment.
        """
        self._authorization.add_principal(principal_id, principal_type)

    def principal_replication_delay(self, principal_id: str, *, times: int = 1) -> None:
        """Make the next ``times`` role assignment PUTs for the principal answer PrincipalNotFound.

        This is Entra ID replication delay: the principal exists (it is made
        known here if it was not), but ARM's directory lookup does not see it
        yet. It applies whatever ``principalType`` the request states.
        Injected faults on ``authz.ra.put`` come first and do not use it up.
        """
        self._authorization.principal_replication_delay(principal_id, times=times)

    def add_role_assignment(
        self,
        scope: str,
        name: str,
        principal_id: str,
        role_definition_id: str,
        principal_type: str = "ServicePrincipal",
    ) -> JSON:
        """Seed a role assignment at ``scope`` (no duplicate or principal checks; the principal
        becomes known)."""
        return self._authorization.add_role_assignment(
            scope, name, principal_id, role_definition_id, principal_type
        )

    def role_assignments(self, scope: str | None = None) -> list[JSON]:
        """Copies of the stored role assignments made exactly at ``scope`` (all when None).

        Scopes compare case-insensitively; inherited assignments are not included.
        """
        return self._authorization.role_assignments(scope)

    # ------------------------------------------------------ Event Grid (eventgrid/)

    @property
    def published_events(self) -> list[JSON]:
        """Events accepted by the Event Grid topic, in order, as they were sent (copies)."""
        return self._topic.published_events

    # ------------------------------------------------------ managed identity (identity)

    def issue_token(self, resource: str) -> str:
        """Issue a bearer token for ``resource`` directly (handy for negative tests).

        The token is an unsigned JWT whose ``aud`` is ``resource`` (azure-ai-ml decodes the
        ``https://ml.azure.com`` token before it submits a job); the simulator still accepts only
        tokens it issued itself.
        """
        return self._identity.issue_token(resource)

    def token_audience(self, token: str) -> str | None:
        """The resource a token issued by this simulator was issued for, or None."""
        return self._identity.token_audience(token)

    @property
    def token_requests(self) -> list[dict[str, str | None]]:
        """Token requests seen, as dicts.

        Keys: ``resource``, ``client_id``, ``object_id``, ``mi_res_id``, ``api_version``.
        """
        return self._identity.token_requests

    # ------------------------------------------------- recording, faults (server)

    @property
    def requests(self) -> list[Request]:
        """Every request so far, in arrival order (a copy)."""
        return self._server.requests

    def count(self, route: str | None = None, method: str | None = None) -> int:
        """Number of recorded requests, optionally only for a route and/or method."""
        return self._server.count(route, method)

    def writes(self) -> list[Request]:
        """Recorded PUT/PATCH/POST/DELETE requests, not counting token requests."""
        return self._server.writes()

    def requests_to(self, host_prefix: str) -> list[Request]:
        """Recorded requests whose Host header starts with ``host_prefix`` (``"localhost"``)."""
        return self._server.requests_to(host_prefix)

    def reset_counts(self) -> None:
        """Forget recorded requests and token requests (state and tokens stay)."""
        self._server.reset_counts()
        self._identity.reset_counts()

    def reset(self) -> None:
        """Forget all seeded state, faults and recorded requests.

        Seeded state includes role assignments, known principals, replication
        delays and published events.

        Issued tokens stay valid: SDK credentials cache them across tests, and
        a reset world should not look like an authentication failure.
        """
        self._store.reset()
        self._aml.reset()
        self._authorization.reset()
        self._synapse.reset()
        self._topic.reset()
        self._server.reset()
        self._identity.reset_counts()
        self.ml.reset()
        self.logs.reset()

    def inject(
        self,
        route: str,
        *,
        status: int,
        times: int = 1,
        retry_after: float | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Make the next ``times`` requests to ``route`` fail with ``status``.

        They get an ARM error body (and ``Retry-After`` when given), are
        recorded like any request and change no state.
        """
        self._server.inject(
            route, status=status, times=times, retry_after=retry_after, code=code, message=message
        )

    def inject_reply(
        self,
        route: str,
        *,
        status: int = 200,
        body: Any = None,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` requests to ``route`` get exactly this reply.

        For what a real service should never send but a client must survive: a ``nextLink``
        or a redirect (``status=307, headers={"Location": ...}``) to another origin, a
        malformed 200 (``body=[...]``, ``raw=b"<html>..."``). Queued with ``inject`` faults,
        answered before authentication, recorded like any request, no state changed.
        """
        self._server.inject_reply(
            route, status=status, body=body, raw=raw, headers=headers, times=times
        )

    def rewrite_reply(self, route: str, rewrite: Callable[[JSON], None], *, times: int = 1) -> None:
        """Let ``rewrite`` change the JSON body of the next ``times`` successful replies of
        ``route`` (the handler has run: state is as the request left it).

        For answers that say other than what happened, such as a connection PUT that answers
        200 with the status still ``Pending``, or a compute that answers with another ID.
        """
        self._server.rewrite_reply(route, rewrite, times=times)

    def clear_faults(self) -> None:
        """Drop every pending injected fault, reply rewrite and lost ML service response."""
        self._server.clear_faults()
        self.ml.backend.lost.clear()

    # --------------------------------------------------------------------- routing

    def route_names(self) -> set[str]:
        """Names of all routes in the routing table."""
        return self._server.route_names()

    def add_route(
        self,
        method: str,
        pattern: str,
        name: str,
        handler: Handler,
        *,
        audience: str | None = "arm",
        needs_api_version: bool = True,
    ) -> None:
        """Add a route ahead of the generic ARM GET (patterns match the lower-cased path)."""
        self._server.add_route(
            method, pattern, name, handler, audience=audience, needs_api_version=needs_api_version
        )


__all__ = ["EVENTGRID_TOPIC_PATH", "AzureSimulator"]
