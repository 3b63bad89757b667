"""A local HTTPS stand-in for the Azure endpoints the app talks to.

The real Azure SDK clients (azure-identity, azure-mgmt-*, azure-core) run
unchanged against it: they only see other base URLs, a managed identity
endpoint and a CA bundle, all given by :meth:`AzureSimulator.env`.

It serves

* the App Service managed identity token endpoint (``/msi/token``),
* ARM routes under ``/subscriptions/...`` backed by a generic, case-insensitive
  resource store, with dedicated routes for AML workspaces (GET, PATCH), their
  private endpoint connections and computes, Synapse workspaces, private
  endpoints, role assignments (Microsoft.Authorization) and the private
  endpoint connections of any other resource (storage accounts, key vaults,
  container registries),
* the Synapse data plane (managed private endpoints) under
  ``/synapse-dev/{workspace}/...``,
* an Event Grid custom topic (``POST /eventgrid-topic/api/events``) that
  records what is published to it.

Every request is recorded (:attr:`AzureSimulator.requests`) and faults can be
injected per route (:meth:`AzureSimulator.inject`), so tests can assert on what
crossed the HTTP boundary.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import http
import json
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final, cast

import trustme

from . import shapes, tokens
from .shapes import JSON

SYNAPSE_AUDIENCE: Final = "https://dev.azuresynapse.net"
EVENTGRID_AUDIENCE: Final = "https://eventgrid.azure.net"
#: Audience of Azure ML's data plane (batch scoring URIs, the ``x-azureml-token`` of job PUTs).
ML_AUDIENCE: Final = "https://ml.azure.com"
#: Path of the simulated custom topic, ``/api/events`` included as in Azure.
EVENTGRID_TOPIC_PATH: Final = "/eventgrid-topic/api/events"
#: Token audiences of the non-ARM route audiences (``"arm"`` is the simulator's own URL).
_AUDIENCES: Final[dict[str, str]] = {
    "synapse": SYNAPSE_AUDIENCE,
    "eventgrid": EVENTGRID_AUDIENCE,
    "ml": ML_AUDIENCE,
}
WRITE_METHODS: Final = frozenset({"PUT", "PATCH", "POST", "DELETE"})
CONNECTION_STATUSES: Final = frozenset(
    {"Pending", "Approved", "Rejected", "Disconnected", "Timeout"}
)

# Default ARM error codes for injected faults, as ARM spells them.
_DEFAULT_FAULT_CODES: Final[dict[int, str]] = {
    400: "BadRequest",
    401: "AuthenticationFailed",
    403: "AuthorizationFailed",
    404: "ResourceNotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

# Path building blocks, matched against the lower-cased path.
_SEG: Final = r"[^/]+"
_RG: Final = rf"/subscriptions/{_SEG}/resourcegroups/{_SEG}/providers"
_AML_WS: Final = rf"{_RG}/microsoft\.machinelearningservices/workspaces/{_SEG}"
_SYNAPSE_WS: Final = rf"{_RG}/microsoft\.synapse/workspaces/{_SEG}"
_PE: Final = rf"{_RG}/microsoft\.network/privateendpoints/{_SEG}"
_COMPUTES: Final = rf"(?P<ws>{_AML_WS})/computes"
_COMPUTE_OPERATION: Final = (
    rf"/subscriptions/{_SEG}/providers/microsoft\.machinelearningservices/locations/{_SEG}"
    rf"/computeoperationsstatus/(?P<op>{_SEG})"
)
# The scope of a role assignment is any ARM id, or nothing for the tenant root.
_RAS: Final = r"(?P<scope>(?:/.+?)?)/providers/microsoft\.authorization/roleassignments"
_RA_SEGMENT: Final = "/providers/microsoft.authorization/roleassignments/"
_MPES: Final = (
    rf"/synapse-dev/(?P<ws>{_SEG})/managedvirtualnetworks/(?P<vnet>{_SEG})/managedprivateendpoints"
)


# Properties of an AML workspace that only the service writes; a PATCH that
# carries them is not an error, they are just not taken over (as in ARM).
_WORKSPACE_READ_ONLY: Final = frozenset(
    {
        "provisioningState",
        "workspaceId",
        "discoveryUrl",
        "privateEndpointConnections",
        "privateLinkCount",
        "serviceProvisionedResourceGroup",
        "mlFlowTrackingUri",
        "notebookInfo",
        "tenantId",
        "storageHnsEnabled",
    }
)
_PUBLIC_NETWORK_ACCESS: Final = frozenset({"Enabled", "Disabled"})
_PRINCIPAL_TYPES: Final = frozenset({"User", "Group", "ServicePrincipal", "ForeignGroup", "Device"})
_ROLE_DEFINITION_ID: Final = re.compile(
    r"^(?:/subscriptions/[^/]+)?/providers/microsoft\.authorization/roledefinitions/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    re.IGNORECASE,
)
# Event Grid schema: the four properties Event Grid requires on every event
# (``data`` and ``dataVersion`` are optional; Event Grid stamps an empty
# ``dataVersion`` when it is missing).
_EVENT_REQUIRED: Final = ("id", "subject", "eventType", "eventTime")
_EVENTGRID_MAX_BYTES: Final = 1024 * 1024


@dataclass(frozen=True)
class Request:
    """One request as the simulator saw and answered it."""

    method: str
    path: str
    route: str
    status: int
    api_version: str | None


@dataclass(frozen=True)
class Call:
    """A parsed incoming request, handed to route handlers."""

    method: str
    path: str  # percent-decoded, original casing, no trailing slash, no query
    query: Mapping[str, str]
    headers: Mapping[str, str]  # keys lower-cased
    body: Any  # parsed JSON, or None when the request had no body
    match: re.Match[str]

    def group(self, name: str) -> str:
        """A named regex group in the path's original casing.

        Routes match the lower-cased path (ARM paths are case-insensitive) but
        ids must keep the caller's casing, so the span is cut from ``path``.
        """
        start, end = self.match.span(name)
        return self.path[start:end]


@dataclass
class Reply:
    """What a route handler answers: a status, a JSON body and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Reply]


@dataclass(frozen=True)
class Route:
    """One row of the routing table.

    ``audience`` is the token audience the route requires: ``"arm"``,
    ``"synapse"``, ``"eventgrid"`` or None (the token route checks its own
    secret header).
    """

    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler
    audience: str | None
    #: Whether the route demands ``?api-version=`` (ARM does; data planes such as a batch
    #: scoring URI or the Log Analytics query API do not).
    needs_api_version: bool = True


@dataclass
class _Fault:
    status: int
    remaining: int
    retry_after: float | None
    code: str
    message: str


def arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """An ARM-style error reply: ``{"error": {"code": ..., "message": ...}}``."""
    return Reply(status, {"error": {"code": code, "message": message}}, headers or {})


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def _scope(value: str) -> str:
    """A scope for comparisons: one leading slash, lower case; ``/`` for the tenant root."""
    return "/" + value.strip("/").lower()


def _at_or_above(candidate: str, scope: str) -> bool:
    """Whether the scope ``candidate`` is ``scope`` or one of its ancestors (both normalized)."""
    return candidate in ("/", scope) or scope.startswith(candidate + "/")


def _role_guid(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def _bad_request(message: str) -> Reply:
    return arm_error(400, "BadRequest", message)


def _invalid_content(message: str) -> Reply:
    return arm_error(400, "InvalidRequestContent", message)


def _not_found(arm_id: str) -> Reply:
    _, rg = shapes.scope_of(arm_id)
    where = f" under resource group '{rg}'" if rg else ""
    return arm_error(
        404,
        "ResourceNotFound",
        f"The Resource '{shapes.arm_type_of(arm_id)}/{shapes.last_segment(arm_id)}'{where} "
        "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


class _Server(ThreadingHTTPServer):
    """HTTP server that knows its simulator and keeps track of live sockets."""

    daemon_threads = True

    def __init__(self, simulator: AzureSimulator, ssl_context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _RequestHandler)
        self.simulator = simulator
        self.ssl_context = ssl_context
        self.live_sockets: set[socket.socket] = set()
        self.live_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that drop a connection or refuse the certificate are not
        # errors of the simulator; a traceback on stderr would only add noise.
        return


class _RequestHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 with keep-alive: the SDKs reuse connections from their pools.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two sends; with Nagle's algorithm the body would wait for the
    # client's delayed ACK (~40 ms on Linux) and every request would cost that.
    disable_nagle_algorithm = True
    # An idle keep-alive connection gives its thread back after this long.
    timeout = 60

    def setup(self) -> None:
        # TLS is set up per connection in the handler thread, not in accept(),
        # so a slow or failing handshake never blocks the accept loop.
        server = cast(_Server, self.server)
        raw = cast(socket.socket, self.request)
        raw.settimeout(self.timeout)
        self.request = server.ssl_context.wrap_socket(raw, server_side=True)
        with server.live_lock:
            server.live_sockets.add(self.request)
        super().setup()

    def finish(self) -> None:
        server = cast(_Server, self.server)
        tls = cast(socket.socket, self.request)
        try:
            super().finish()
        finally:
            with server.live_lock:
                server.live_sockets.discard(tls)
            # socketserver closes the raw socket it accepted, but wrap_socket()
            # detached that one; the TLS socket must be closed here.
            with contextlib.suppress(OSError):
                tls.close()

    def log_message(self, format: str, *args: Any) -> None:
        # The default handler logs every request to stderr; tests read
        # sim.requests instead.
        return

    def do_GET(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Skip trailers up to the blank line that ends the body.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        server = cast(_Server, self.server)
        raw_body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = server.simulator._handle(self.command, self.path, headers, raw_body)
        payload = b"" if reply.body is None else json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("x-ms-request-id", secrets.token_hex(16))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        # Always send a length so keep-alive connections stay usable.
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class AzureSimulator:
    """Local HTTPS simulator of ARM, the Synapse data plane and managed identity.

    Use it as a context manager (or call :meth:`start` / :meth:`stop`), seed
    state with the ``add_*`` methods and point the SDKs at it with :meth:`env`.
    """

    def __init__(self, *, tenant_id: str = shapes.DEFAULT_TENANT_ID) -> None:
        """Prepare an unstarted simulator; ``tenant_id`` is used in seeded identities."""
        self.tenant_id = tenant_id
        #: Items per page on the paged lists (Synapse MPEs, AML computes); more
        #: items give a nextLink.
        self.page_size = 50
        #: ``nextLink`` value on the last MPE page; None leaves the field out.
        #: The published Synapse example sends ``""`` there, which this can mimic.
        self.last_page_next_link: str | None = None
        #: client_id the token endpoint reports for the system-assigned identity.
        self.managed_identity_client_id = shapes.stable_uuid("simulator", "client_id")
        #: Object id of that identity; role assignments it writes name it as ``updatedBy``.
        self.managed_identity_principal_id = shapes.stable_uuid("simulator", "principal_id")
        #: ARM id of the simulated Event Grid custom topic; an event that names a
        #: ``topic`` must name exactly this one, as Event Grid demands.
        self.eventgrid_topic_id = (
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-simulator"
            "/providers/Microsoft.EventGrid/topics/eventgrid-topic"
        )
        self._identity_header = secrets.token_urlsafe(24)
        self._lock = threading.RLock()
        self._resources: dict[str, JSON] = {}
        self._mpes: dict[str, dict[str, JSON]] = {}
        # Directory objects: lower-cased principal id -> principal type.
        self._principals: dict[str, str] = {}
        # Lower-cased principal id -> PUTs left that still answer PrincipalNotFound.
        self._replication_delays: dict[str, int] = {}
        self._published_events: list[JSON] = []
        # Azure-AsyncOperation status bodies of compute updates, by operation id.
        self._operations: dict[str, JSON] = {}
        self._tokens: dict[str, str] = {}
        self._token_requests: list[dict[str, str | None]] = []
        self._requests: list[Request] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._routes: list[Route] = self._build_routes()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tempdir: Path | None = None
        self._ca_bundle: Path | None = None
        # Services with a package of their own (moto style) mount their routes here.
        from .logs import LogAnalyticsService
        from .ml import MachineLearningService

        #: Azure ML jobs, components, batch endpoints and scoring URIs (``simulator/ml``).
        self.ml = MachineLearningService(self)
        #: The Log Analytics query API (``simulator/logs``).
        self.logs = LogAnalyticsService(self)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> AzureSimulator:
        """Create a throwaway CA and serve HTTPS on 127.0.0.1 (free port) in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("AzureSimulator is already started")
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self._tempdir = Path(tempfile.mkdtemp(prefix="azure-simulator-"))
        self._ca_bundle = self._tempdir / "ca.pem"
        ca.cert_pem.write_to_path(str(self._ca_bundle))
        self._server = _Server(self, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="azure-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and delete the CA bundle."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            with server.live_lock:
                live = list(server.live_sockets)
            for sock in live:
                # Wake handler threads blocked on idle keep-alive connections.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None
            self._ca_bundle = None

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
        if self._server is None:
            raise RuntimeError("AzureSimulator is not started")
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def arm_endpoint(self) -> str:
        """The ARM endpoint; the same as :attr:`url`."""
        return self.url

    @property
    def identity_endpoint(self) -> str:
        """The App Service managed identity endpoint (``IDENTITY_ENDPOINT``)."""
        return f"{self.url}/msi/token"

    @property
    def identity_header(self) -> str:
        """The secret the token endpoint expects in ``X-IDENTITY-HEADER``."""
        return self._identity_header

    @property
    def synapse_dev_endpoint_template(self) -> str:
        """Synapse dev endpoint with a literal ``{workspace}`` placeholder."""
        return f"{self.url}/synapse-dev/{{workspace}}"

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
        if self._ca_bundle is None:
            raise RuntimeError("AzureSimulator is not started")
        return str(self._ca_bundle)

    def env(self) -> dict[str, str]:
        """Environment variables that point the app and the SDKs at the simulator."""
        return {
            "ARM_ENDPOINT": self.arm_endpoint,
            "SYNAPSE_DEV_ENDPOINT": self.synapse_dev_endpoint_template,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
            "REQUESTS_CA_BUNDLE": self.ca_bundle_path,
            "SSL_CERT_FILE": self.ca_bundle_path,
            # Batch scoring URIs are served by this simulator's own host.
            "AML_INFERENCE_DOMAIN": self.inference_domain,
            "LOGS_QUERY_ENDPOINT": self.logs.endpoint,
        }

    @property
    def inference_domain(self) -> str:
        """The host of the scoring URIs the simulator hands out (``AML_INFERENCE_DOMAIN``)."""
        return "127.0.0.1"

    # --------------------------------------------------------------------- seeding

    def put_resource(self, resource_id: str, body: JSON) -> JSON:
        """Store any resource under ``resource_id`` (case-insensitive); return a copy.

        ``id`` is set to ``resource_id`` when the body has none.
        """
        stored = copy.deepcopy(body)
        stored.setdefault("id", resource_id)
        with self._lock:
            self._resources[self._key(resource_id)] = stored
            return copy.deepcopy(stored)

    def get_resource(self, resource_id: str) -> JSON | None:
        """A copy of the stored resource, or None."""
        with self._lock:
            found = self._resources.get(self._key(resource_id))
            return copy.deepcopy(found) if found is not None else None

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
        body = shapes.ml_workspace(
            workspace_id,
            public_network_access=public_network_access,
            tenant_id=self.tenant_id,
            properties_overrides=properties_overrides,
            identity=identity,
        )
        return self.put_resource(workspace_id, body)

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
    ) -> JSON:
        """Seed a compute of an AML workspace (which must exist); see :func:`shapes.compute`.

        ``compute_type`` is ``AmlCompute``, ``ComputeInstance``, ``AKS`` or
        ``Kubernetes``; None arguments leave their key out. ``location``
        defaults to the workspace's.
        """
        self._require(workspace_id)
        workspace = self.get_resource(workspace_id) or {}
        body = shapes.compute(
            workspace_id,
            name,
            compute_type=compute_type,
            vm_size=vm_size,
            subnet_id=subnet_id,
            disable_local_auth=disable_local_auth,
            max_node_count=max_node_count,
            min_node_count=min_node_count,
            remote_login_port_public_access=remote_login_port_public_access,
            location=location or str(workspace.get("location") or shapes.DEFAULT_LOCATION),
        )
        return self.put_resource(body["id"], body)

    def compute(self, workspace_id: str, name: str) -> JSON:
        """A copy of a stored compute (KeyError when there is none)."""
        found = self.get_resource(f"{workspace_id}/computes/{name}")
        if found is None:
            raise KeyError(f"no compute {name!r} in {workspace_id}")
        return found

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
        self._require(workspace_id)
        self._check_status(status)
        body = shapes.private_endpoint_connection(
            workspace_id,
            name,
            private_endpoint_id=private_endpoint_id,
            status=status,
            description=description,
            actions_required=actions_required,
        )
        return self.put_resource(body["id"], body)

    def add_synapse_workspace(
        self,
        workspace_id: str,
        *,
        principal_id: str,
        managed_vnet: bool = True,
        prevent_data_exfiltration: bool = False,
        tenant_id: str | None = None,
    ) -> JSON:
        """Seed a Synapse workspace; its name is also its data-plane workspace name."""
        body = shapes.synapse_workspace(
            workspace_id,
            principal_id=principal_id,
            tenant_id=tenant_id or self.tenant_id,
            managed_vnet=managed_vnet,
            prevent_data_exfiltration=prevent_data_exfiltration,
        )
        with self._lock:
            self._mpes.setdefault(shapes.last_segment(workspace_id).lower(), {})
            return self.put_resource(workspace_id, body)

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
        self._require(synapse_workspace_id)
        self._check_status(status)
        with self._lock:
            mpes = self._mpes.setdefault(shapes.last_segment(synapse_workspace_id).lower(), {})
            body = shapes.managed_private_endpoint(
                name,
                private_link_resource_id=private_link_resource_id,
                resource_id=resource_id,
                group_id=group_id,
                status=status,
                ip_address=f"10.250.0.{10 + len(mpes) % 240}",
            )
            mpes[name.lower()] = body
            return copy.deepcopy(body)

    def add_private_endpoint(
        self,
        pe_id: str,
        *,
        private_link_service_id: str,
        group_ids: tuple[str, ...] | list[str] = ("amlworkspace",),
        manual: bool = True,
    ) -> JSON:
        """Seed a ``Microsoft.Network/privateEndpoints`` resource."""
        body = shapes.private_endpoint(
            pe_id,
            private_link_service_id=private_link_service_id,
            group_ids=list(group_ids),
            manual=manual,
        )
        return self.put_resource(pe_id, body)

    # ---------------------------------------------------------- role assignments

    def add_principal(self, principal_id: str, principal_type: str = "ServicePrincipal") -> None:
        """Make a principal exist in the simulated directory.

        Role assignment PUTs for principals that do not exist answer
        ``PrincipalNotFound``. Known without this call: the principal of every
        stored resource's ``identity`` (Synapse and AML workspaces, ...) and of
        every seeded role assignment.
        """
        if principal_type not in _PRINCIPAL_TYPES:
            raise ValueError(f"principal_type must be one of {sorted(_PRINCIPAL_TYPES)}")
        with self._lock:
            self._principals[principal_id.lower()] = principal_type

    def principal_replication_delay(self, principal_id: str, *, times: int = 1) -> None:
        """Make the next ``times`` role assignment PUTs for the principal answer PrincipalNotFound.

        This is Entra ID replication delay: the principal exists (it is made
        known here if it was not), but ARM's directory lookup does not see it
        yet. It applies whatever ``principalType`` the request states.
        Injected faults on ``authz.ra.put`` come first and do not use it up.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            if self._principal_type(principal_id) is None:
                self._principals[principal_id.lower()] = "ServicePrincipal"
            self._replication_delays[principal_id.lower()] = times

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
        body = shapes.role_assignment(
            scope,
            name,
            principal_id=principal_id,
            role_definition_id=role_definition_id,
            principal_type=principal_type,
            updated_by=self.managed_identity_principal_id,
        )
        with self._lock:
            self._principals.setdefault(principal_id.lower(), principal_type)
            return self.put_resource(body["id"], body)

    def role_assignments(self, scope: str | None = None) -> list[JSON]:
        """Copies of the stored role assignments made exactly at ``scope`` (all when None).

        Scopes compare case-insensitively; inherited assignments are not included.
        """
        with self._lock:
            return [
                copy.deepcopy(body)
                for body in self._role_assignment_views()
                if scope is None or _scope(body["properties"]["scope"]) == _scope(scope)
            ]

    # ------------------------------------------------------------- dependencies

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
        body = shapes.storage_account(
            resource_id, location=location, properties_overrides=properties_overrides
        )
        return self._add_dependency(resource_id, body, private_endpoints)

    def add_key_vault(
        self,
        resource_id: str,
        *,
        private_endpoints: Sequence[tuple[str, str, str]] = (),
        location: str = shapes.DEFAULT_LOCATION,
        **properties_overrides: Any,
    ) -> JSON:
        """Seed a key vault; like :meth:`add_storage_account`."""
        body = shapes.key_vault(
            resource_id,
            tenant_id=self.tenant_id,
            location=location,
            properties_overrides=properties_overrides,
        )
        return self._add_dependency(resource_id, body, private_endpoints)

    def add_container_registry(
        self,
        resource_id: str,
        *,
        private_endpoints: Sequence[tuple[str, str, str]] = (),
        location: str = shapes.DEFAULT_LOCATION,
        **properties_overrides: Any,
    ) -> JSON:
        """Seed a container registry; like :meth:`add_storage_account`."""
        body = shapes.container_registry(
            resource_id, location=location, properties_overrides=properties_overrides
        )
        return self._add_dependency(resource_id, body, private_endpoints)

    def _add_dependency(
        self, resource_id: str, body: JSON, private_endpoints: Iterable[tuple[str, str, str]]
    ) -> JSON:
        with self._lock:
            self.put_resource(resource_id, body)
            for pe_id, group_id, status in private_endpoints:
                self.add_dependency_private_endpoint(resource_id, pe_id, group_id, status)
            return self.get_resource(resource_id) or {}

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
        self._check_status(status)
        with self._lock:
            stored = self._resources.get(self._key(resource_id))
            if stored is None:
                raise KeyError(f"seed {resource_id} first")
            connection = shapes.dependency_connection(
                str(stored.get("id", resource_id)),
                str(stored.get("type") or shapes.arm_type_of(resource_id)),
                pe_id=pe_id,
                status=status,
                description=(
                    description
                    if description is not None
                    else ("Auto-Approved" if status == "Approved" else "")
                ),
            )
            connections = stored.setdefault("properties", {}).setdefault(
                "privateEndpointConnections", []
            )
            connections[:] = [
                c
                for c in connections
                if str(c.get("properties", {}).get("privateEndpoint", {}).get("id", "")).lower()
                != pe_id.lower()
            ]
            connections.append(connection)
            pe = shapes.private_endpoint(
                pe_id,
                private_link_service_id=resource_id,
                group_ids=[group_id],
                manual=False,
                status=status,
            )
            self.put_resource(pe_id, pe)
            return copy.deepcopy(connection)

    # ------------------------------------------------------------------ queries

    def connection_status(self, workspace_id: str, name: str) -> str:
        """Current status of an AML private endpoint connection."""
        found = self.get_resource(f"{workspace_id}/privateEndpointConnections/{name}")
        if found is None:
            raise KeyError(f"no private endpoint connection {name!r} on {workspace_id}")
        return str(found["properties"]["privateLinkServiceConnectionState"]["status"])

    def issue_token(self, resource: str) -> str:
        """Issue a bearer token for ``resource`` directly (handy for negative tests).

        The token is an unsigned JWT whose ``aud`` is ``resource`` (azure-ai-ml decodes the
        ``https://ml.azure.com`` token before it submits a job); the simulator still accepts only
        tokens it issued itself.
        """
        token = tokens.unsigned_jwt(
            audience=resource,
            tenant_id=self.tenant_id,
            object_id=self.managed_identity_principal_id,
            client_id=self.managed_identity_client_id,
        )
        with self._lock:
            self._tokens[token] = resource
        return token

    def token_audience(self, token: str) -> str | None:
        """The resource a token issued by this simulator was issued for, or None."""
        with self._lock:
            return self._tokens.get(token.strip())

    # ------------------------------------------------------------ counting, faults

    @property
    def requests(self) -> list[Request]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def published_events(self) -> list[JSON]:
        """Events accepted by the Event Grid topic, in order, as they were sent (copies)."""
        with self._lock:
            return copy.deepcopy(self._published_events)

    @property
    def token_requests(self) -> list[dict[str, str | None]]:
        """Token requests seen, as dicts.

        Keys: ``resource``, ``client_id``, ``object_id``, ``mi_res_id``, ``api_version``.
        """
        with self._lock:
            return [dict(r) for r in self._token_requests]

    def count(self, route: str | None = None, method: str | None = None) -> int:
        """Number of recorded requests, optionally only for a route and/or method."""
        with self._lock:
            return sum(
                1
                for r in self._requests
                if (route is None or r.route == route)
                and (method is None or r.method == method.upper())
            )

    def writes(self) -> list[Request]:
        """Recorded PUT/PATCH/POST/DELETE requests, not counting token requests."""
        with self._lock:
            return [r for r in self._requests if r.method in WRITE_METHODS and r.route != "token"]

    def reset_counts(self) -> None:
        """Forget recorded requests and token requests (state and tokens stay)."""
        with self._lock:
            self._requests.clear()
            self._token_requests.clear()

    def reset(self) -> None:
        """Forget all seeded state, faults and recorded requests.

        Seeded state includes role assignments, known principals, replication
        delays and published events.

        Issued tokens stay valid: SDK credentials cache them across tests, and
        a reset world should not look like an authentication failure.
        """
        with self._lock:
            self._resources.clear()
            self._mpes.clear()
            self._principals.clear()
            self._replication_delays.clear()
            self._published_events.clear()
            self._operations.clear()
            self._faults.clear()
            self._requests.clear()
            self._token_requests.clear()
            self.page_size = 50
            self.last_page_next_link = None
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
        if route not in self.route_names():
            raise ValueError(f"unknown route {route!r}; known: {sorted(self.route_names())}")
        if times < 1:
            raise ValueError("times must be at least 1")
        fault = _Fault(
            status=status,
            remaining=times,
            retry_after=retry_after,
            code=code
            or _DEFAULT_FAULT_CODES.get(status)
            or http.HTTPStatus(status).phrase.replace(" ", ""),
            message=message or f"Fault injected by the simulator (HTTP {status}).",
        )
        with self._lock:
            self._faults.setdefault(route, deque()).append(fault)

    def clear_faults(self) -> None:
        """Drop every pending injected fault (lost responses of the ML service included)."""
        with self._lock:
            self._faults.clear()
        self.ml.backend.lost.clear()

    # --------------------------------------------------------------------- routing

    def route_names(self) -> set[str]:
        """Names of all routes in the routing table."""
        return {r.name for r in self._routes}

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
        route = Route(
            method.upper(), re.compile(pattern), name, handler, audience, needs_api_version
        )
        with self._lock:
            generic = next(
                (i for i, r in enumerate(self._routes) if r.name == "arm.generic.get"),
                len(self._routes),
            )
            self._routes.insert(generic, route)

    def _build_routes(self) -> list[Route]:
        # Order matters: the first match wins, so specific routes come before
        # the generic ARM GET.
        table: list[tuple[str, str, str, Handler, str | None]] = [
            ("GET", r"^/msi/token$", "token", self._h_token, None),
            ("GET", rf"^(?P<id>{_AML_WS})$", "aml.workspace.get", self._h_aml_workspace, "arm"),
            (
                "PATCH",
                rf"^(?P<id>{_AML_WS})$",
                "aml.workspace.patch",
                self._h_aml_workspace_patch,
                "arm",
            ),
            ("GET", rf"^{_COMPUTES}$", "aml.compute.list", self._h_compute_list, "arm"),
            ("GET", rf"^{_COMPUTES}/{_SEG}$", "aml.compute.get", self._h_get, "arm"),
            ("PATCH", rf"^{_COMPUTES}/{_SEG}$", "aml.compute.patch", self._h_compute_patch, "arm"),
            (
                "GET",
                rf"^{_COMPUTE_OPERATION}$",
                "aml.compute.operation",
                self._h_compute_operation,
                "arm",
            ),
            (
                "GET",
                rf"^(?P<ws>{_AML_WS})/privateendpointconnections$",
                "aml.pec.list",
                self._h_pec_list,
                "arm",
            ),
            (
                "GET",
                rf"^(?P<ws>{_AML_WS})/privateendpointconnections/{_SEG}$",
                "aml.pec.get",
                self._h_get,
                "arm",
            ),
            (
                "PUT",
                rf"^(?P<ws>{_AML_WS})/privateendpointconnections/{_SEG}$",
                "aml.pec.put",
                self._h_pec_put,
                "arm",
            ),
            ("GET", rf"^{_SYNAPSE_WS}$", "synapse.workspace.get", self._h_get, "arm"),
            ("GET", rf"^{_PE}$", "network.pe.get", self._h_get, "arm"),
            ("GET", rf"^{_RAS}$", "authz.ra.list", self._h_ra_list, "arm"),
            ("GET", rf"^{_RAS}/(?P<name>{_SEG})$", "authz.ra.get", self._h_ra_get, "arm"),
            ("PUT", rf"^{_RAS}/(?P<name>{_SEG})$", "authz.ra.put", self._h_ra_put, "arm"),
            (
                "GET",
                r"^(?P<res>/subscriptions/.+)/privateendpointconnections$",
                "arm.pec.list",
                self._h_dep_pec_list,
                "arm",
            ),
            (
                "GET",
                rf"^(?P<res>/subscriptions/.+)/privateendpointconnections/(?P<name>{_SEG})$",
                "arm.pec.get",
                self._h_dep_pec_get,
                "arm",
            ),
            (
                "POST",
                rf"^{re.escape(EVENTGRID_TOPIC_PATH)}$",
                "eventgrid.publish",
                self._h_eventgrid_publish,
                "eventgrid",
            ),
            ("GET", rf"^{_MPES}$", "synapse.mpe.list", self._h_mpe_list, "synapse"),
            (
                "GET",
                rf"^{_MPES}/(?P<name>{_SEG})$",
                "synapse.mpe.get",
                self._h_mpe_get,
                "synapse",
            ),
            ("GET", r"^/(?:subscriptions|providers)/.+$", "arm.generic.get", self._h_get, "arm"),
        ]
        return [Route(m, re.compile(p), n, h, a) for m, p, n, h, a in table]

    def _handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> Reply:
        split = urllib.parse.urlsplit(raw_path)
        path = urllib.parse.unquote(split.path)
        path = re.sub(r"/{2,}", "/", path)
        if len(path) > 1:
            path = path.rstrip("/")
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query).items()}
        api_version = query.get("api-version")
        lowered = path.lower()
        if len(lowered) != len(path):
            # Non-ASCII case mapping can change lengths; keep spans aligned.
            path = lowered

        with self._lock:
            routes = list(self._routes)
        route: Route | None = None
        match: re.Match[str] | None = None
        for candidate in routes:
            if candidate.method != method:
                continue
            match = candidate.pattern.match(lowered)
            if match:
                route = candidate
                break

        if route is None or match is None:
            missing = arm_error(
                404,
                "NoRouteInSimulator",
                f"The simulator has no route for {method} {path}.",
            )
            self._record(method, path, "unknown", missing.status, api_version)
            return missing

        early = self._take_fault(route.name) or self._authenticate(route, headers, api_version)
        reply = early or self._run_handler(
            route, Call(method, path, query, headers, None, match), raw_body
        )
        self._record(method, path, route.name, reply.status, api_version)
        return reply

    def _run_handler(self, route: Route, call: Call, raw_body: bytes) -> Reply:
        if raw_body:
            try:
                call = dataclasses.replace(call, body=json.loads(raw_body))
            except ValueError:
                return arm_error(
                    400, "InvalidRequestContent", "The request content is not valid JSON."
                )
        with self._lock:
            return route.handler(call)

    def _record(
        self, method: str, path: str, route: str, status: int, api_version: str | None
    ) -> None:
        with self._lock:
            self._requests.append(Request(method, path, route, status, api_version))

    def _take_fault(self, route: str) -> Reply | None:
        with self._lock:
            queue = self._faults.get(route)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        return arm_error(fault.status, fault.code, fault.message, headers)

    def _authenticate(
        self, route: Route, headers: Mapping[str, str], api_version: str | None
    ) -> Reply | None:
        if route.audience is None:
            return None
        challenge = {
            "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/'
            f'{self.tenant_id}", error="invalid_token", '
            'error_description="The authentication failed"'
        }
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return arm_error(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                challenge,
            )
        with self._lock:
            resource = self._tokens.get(token.strip())
        if resource is None:
            return arm_error(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid (not issued by this simulator).",
                challenge,
            )
        expected = self.url if route.audience == "arm" else _AUDIENCES[route.audience]
        if resource.rstrip("/").lower() != expected.lower():
            return arm_error(
                401,
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{resource}'. "
                f"It should exactly match with one of the allowed audiences '{expected}', "
                f"'{expected}/'.",
                challenge,
            )
        if api_version is None and route.needs_api_version:
            return arm_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        return None

    # -------------------------------------------------------------------- handlers
    # Handlers run with self._lock held.

    def _h_token(self, call: Call) -> Reply:
        if call.headers.get("x-identity-header") != self._identity_header:
            body = {
                "statusCode": 401,
                "message": "Unauthorized: X-IDENTITY-HEADER is missing or wrong.",
                "error": {"code": "Unauthorized", "message": "X-IDENTITY-HEADER is wrong."},
            }
            return Reply(401, body)
        resource = call.query.get("resource")
        if not resource:
            return Reply(
                400, {"statusCode": 400, "message": "The 'resource' parameter is required."}
            )
        client_id = call.query.get("client_id")
        self._token_requests.append(
            {
                "resource": resource,
                "client_id": client_id,
                "object_id": call.query.get("object_id"),
                "mi_res_id": call.query.get("mi_res_id"),
                "api_version": call.query.get("api-version"),
            }
        )
        token = self.issue_token(resource)
        return Reply(
            200,
            {
                "access_token": token,
                # App Service protocol 2019-08-01: epoch seconds as a string.
                "expires_on": str(int(time.time()) + 3600),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": client_id or self.managed_identity_client_id,
            },
        )

    def _h_get(self, call: Call) -> Reply:
        found = self._resources.get(self._key(call.path))
        if found is None:
            return _not_found(call.path)
        return Reply(200, copy.deepcopy(found))

    def _h_aml_workspace(self, call: Call) -> Reply:
        found = self._resources.get(self._key(call.path))
        if found is None:
            return _not_found(call.path)
        return Reply(200, self._workspace_view(call.path, found))

    def _workspace_view(self, workspace_id: str, stored: JSON) -> JSON:
        body = copy.deepcopy(stored)
        # ARM embeds the workspace's connections in the workspace; build them
        # from the stored children so both views always agree.
        body.setdefault("properties", {})["privateEndpointConnections"] = self._pecs_of(
            workspace_id
        )
        return body

    def _h_aml_workspace_patch(self, call: Call) -> Reply:
        stored = self._resources.get(self._key(call.path))
        if stored is None:
            return _not_found(call.path)
        body = call.body
        if not isinstance(body, dict):
            return _invalid_content("The request body must be a JSON object.")
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            return _invalid_content("properties must be a JSON object.")
        access = properties.get("publicNetworkAccess")
        if access is not None and access not in _PUBLIC_NETWORK_ACCESS:
            return _bad_request(
                f"publicNetworkAccess '{access}' is not one of {sorted(_PUBLIC_NETWORK_ACCESS)}."
            )
        target = stored.setdefault("properties", {})
        for key, value in properties.items():
            if value is not None and key not in _WORKSPACE_READ_ONLY:
                target[key] = copy.deepcopy(value)
        for key in ("tags", "sku"):
            if body.get(key) is not None:
                stored[key] = copy.deepcopy(body[key])
        identity = body.get("identity")
        if isinstance(identity, dict):
            merged = copy.deepcopy(identity)
            old = stored.get("identity") or {}
            if "systemassigned" in str(merged.get("type", "")).lower():
                # The system-assigned identity survives an update that keeps it.
                for key in ("principalId", "tenantId"):
                    if key in old:
                        merged.setdefault(key, old[key])
            stored["identity"] = merged
        return Reply(200, self._workspace_view(call.path, stored))

    def _children(self, parent_id: str, collection: str) -> list[JSON]:
        prefix = f"{self._key(parent_id)}/{collection}/"
        return [
            copy.deepcopy(body)
            for key, body in self._resources.items()
            if key.startswith(prefix) and "/" not in key[len(prefix) :]
        ]

    def _page(self, call: Call, items: list[JSON], token: str) -> Reply:
        """One page of ``items``; the nextLink carries the offset in query parameter ``token``."""
        try:
            skip = int(call.query.get(token, "0"))
        except ValueError:
            return _bad_request(f"Invalid {token}.")
        size = max(1, self.page_size)
        body: JSON = {"value": items[skip : skip + size]}
        if skip + size < len(items):
            api = urllib.parse.quote(call.query.get("api-version", ""), safe="")
            path = urllib.parse.quote(call.path)
            body["nextLink"] = f"{self.url}{path}?api-version={api}&{token}={skip + size}"
        return Reply(200, body)

    def _h_compute_list(self, call: Call) -> Reply:
        workspace_id = call.group("ws")
        if self._key(workspace_id) not in self._resources:
            return _not_found(workspace_id)
        return self._page(call, self._children(workspace_id, "computes"), "$skip")

    def _h_compute_patch(self, call: Call) -> Reply:
        workspace_id = call.group("ws")
        if self._key(workspace_id) not in self._resources:
            return _not_found(workspace_id)
        stored = self._resources.get(self._key(call.path))
        if stored is None:
            return _not_found(call.path)
        body = call.body if isinstance(call.body, dict) else {}
        outer = body.get("properties")
        inner = outer.get("properties") if isinstance(outer, dict) else None
        scale = inner.get("scaleSettings") if isinstance(inner, dict) else None
        if not isinstance(scale, dict):
            hint = (
                " The body has a top-level 'scaleSettings': that is a ScaleSettingsInformation "
                "sent without its ClusterUpdateParameters(properties=...) envelope."
                if "scaleSettings" in body
                else ""
            )
            return _bad_request(
                "ClusterUpdateParameters need properties.properties.scaleSettings." + hint
            )
        properties = stored.setdefault("properties", {})
        compute_type = str(properties.get("computeType", ""))
        if compute_type.lower() != "amlcompute":
            return _bad_request(
                f"Compute '{shapes.last_segment(call.path)}' is of type '{compute_type}'; only "
                "AmlCompute scale settings can be updated."
            )
        current = properties.setdefault("properties", {}).setdefault("scaleSettings", {})
        merged = {**current, **{k: v for k, v in scale.items() if v is not None}}
        maximum, minimum = merged.get("maxNodeCount"), merged.get("minNodeCount", 0)
        for key, value in (("maxNodeCount", maximum), ("minNodeCount", minimum)):
            if value is not None and (not isinstance(value, int) or value < 0):
                return _bad_request(f"{key} must be a non-negative integer, not {value!r}.")
        if isinstance(maximum, int) and isinstance(minimum, int) and maximum < minimum:
            return _bad_request(
                f"maxNodeCount ({maximum}) must be greater than or equal to "
                f"minNodeCount ({minimum})."
            )
        current.clear()
        current.update(merged)
        properties["modifiedOn"] = shapes.now_iso()
        properties["provisioningState"] = "Succeeded"
        # As in the spec's Compute/patch.json: 200, provisioningState Updating
        # and an Azure-AsyncOperation to poll. The operation is already done,
        # and Retry-After: 0 keeps the SDK's poller from waiting 30 s; it then
        # GETs the compute for its result (a fresh body: azure-mgmt-
        # machinelearningservices 2.0.0b2 loses the computeType discriminator
        # when it deserializes the same response twice, as it does for an LRO
        # that ends on its initial response).
        operation = str(uuid.uuid4())
        now = shapes.now_iso()
        self._operations[operation] = {
            "id": operation,
            "name": operation,
            "status": "Succeeded",
            "startTime": now,
            "endTime": now,
        }
        subscription, _ = shapes.scope_of(call.path)
        location = urllib.parse.quote(str(stored.get("location") or shapes.DEFAULT_LOCATION))
        api = urllib.parse.quote(call.query.get("api-version", ""), safe="")
        status_url = (
            f"{self.url}/subscriptions/{subscription}/providers/Microsoft.MachineLearningServices"
            f"/locations/{location}/computeOperationsStatus/{operation}?api-version={api}"
        )
        reply = copy.deepcopy(stored)
        reply["properties"]["provisioningState"] = "Updating"
        return Reply(200, reply, {"Azure-AsyncOperation": status_url, "Retry-After": "0"})

    def _h_compute_operation(self, call: Call) -> Reply:
        found = self._operations.get(call.group("op").lower())
        if found is None:
            return arm_error(404, "NotFound", f"Operation '{call.group('op')}' was not found.")
        return Reply(200, copy.deepcopy(found))

    # Role assignments live in the resource store under
    # ``{scope}/providers/Microsoft.Authorization/roleAssignments/{name}``, so
    # put_resource() can seed odd ones too; they are served normalized.

    @staticmethod
    def _ra_view(key: str, body: JSON) -> JSON | None:
        """The served form of a stored body if ``key`` is a role assignment's, else None."""
        index = key.rfind(_RA_SEGMENT)
        if index < 0 or "/" in key[index + len(_RA_SEGMENT) :]:
            return None
        view = copy.deepcopy(body)
        stored_id = str(view.get("id") or key)
        cut = stored_id.lower().rfind(_RA_SEGMENT)
        properties = view.setdefault("properties", {})
        properties.setdefault("scope", (stored_id[:cut] if cut >= 0 else key[:index]) or "/")
        view.setdefault("type", shapes.ROLE_ASSIGNMENT_TYPE)
        view.setdefault("name", shapes.last_segment(stored_id))
        return view

    def _role_assignment_items(self) -> list[tuple[str, JSON]]:
        items = ((key, self._ra_view(key, body)) for key, body in self._resources.items())
        return [(key, view) for key, view in items if view is not None]

    def _role_assignment_views(self) -> list[JSON]:
        return [view for _, view in self._role_assignment_items()]

    def _h_ra_list(self, call: Call) -> Reply:
        scope = _scope(call.group("scope"))
        at_scope = False
        principal: str | None = None
        raw_filter = call.query.get("$filter", "").strip()
        for term in filter(None, re.split(r"\s+and\s+", raw_filter, flags=re.IGNORECASE)):
            principal_match = re.fullmatch(
                r"(?:principalId\s+eq\s+'?([^'\s]+)'?|assignedTo\('([^']+)'\))",
                term.strip(),
                re.IGNORECASE,
            )
            if re.fullmatch(r"atScope\(\)", term.strip(), re.IGNORECASE):
                at_scope = True
            elif principal_match:
                principal = (principal_match.group(1) or principal_match.group(2)).lower()
            else:
                return arm_error(
                    400,
                    "UnsupportedFilterInSimulator",
                    f"The simulator does not understand the filter term '{term}'. It knows "
                    "atScope(), principalId eq '{id}' and assignedTo('{id}'), joined by 'and'.",
                )
        items = []
        for view in self._role_assignment_views():
            properties = view["properties"]
            candidate = _scope(str(properties["scope"]))
            # atScope(): at or above the scope; otherwise also below it.
            if not (
                _at_or_above(candidate, scope) or (not at_scope and _at_or_above(scope, candidate))
            ):
                continue
            if principal is not None and str(properties.get("principalId", "")).lower() != (
                principal
            ):
                continue
            items.append(view)
        return Reply(200, {"value": items})

    def _h_ra_get(self, call: Call) -> Reply:
        key = self._key(call.path)
        stored = self._resources.get(key)
        view = self._ra_view(key, stored) if stored is not None else None
        if view is None:
            return arm_error(
                404,
                "RoleAssignmentNotFound",
                f"The role assignment '{call.group('name')}' is not found.",
            )
        return Reply(200, view)

    def _principal_type(self, principal_id: str) -> str | None:
        key = principal_id.lower()
        if key in self._principals:
            return self._principals[key]
        for body in self._resources.values():
            identity = body.get("identity")
            if not isinstance(identity, dict):
                continue
            ids = [identity.get("principalId")] + [
                uai.get("principalId")
                for uai in (identity.get("userAssignedIdentities") or {}).values()
                if isinstance(uai, dict)
            ]
            if any(str(i or "").lower() == key for i in ids):
                return "ServicePrincipal"
        return None

    def _principal_not_found(self, principal_id: str) -> Reply:
        return arm_error(
            400,
            "PrincipalNotFound",
            f"Principal {principal_id.replace('-', '')} does not exist in the directory "
            f"{self.tenant_id}. Check that you have the correct principal ID. If you are "
            "creating this principal and then immediately assigning a role, this error might "
            "be related to a replication delay. In this case, set the role assignment "
            "principalType property to a value, such as ServicePrincipal, User, or Group.  "
            "See https://aka.ms/docs-principaltype",
        )

    def _h_ra_put(self, call: Call) -> Reply:
        name = call.group("name")
        scope_path = call.group("scope") or "/"
        properties = call.body.get("properties") if isinstance(call.body, dict) else None
        if not isinstance(properties, dict):
            return _invalid_content("The request body must have a 'properties' object.")
        role_definition_id = properties.get("roleDefinitionId")
        principal_id = properties.get("principalId")
        principal_type = properties.get("principalType")
        if not isinstance(role_definition_id, str) or not isinstance(principal_id, str):
            return _invalid_content(
                "properties.roleDefinitionId and properties.principalId are required."
            )
        if not _is_guid(name):
            return arm_error(
                400,
                "InvalidRoleAssignmentId",
                f"The role assignment ID '{name}' is not valid. The role assignment ID must be "
                "a GUID.",
            )
        if not _ROLE_DEFINITION_ID.match(role_definition_id):
            return arm_error(
                400,
                "InvalidRoleDefinitionId",
                f"The role definition ID '{role_definition_id}' is not valid.",
            )
        key = principal_id.lower()
        delay = self._replication_delays.get(key, 0)
        if delay > 0:
            self._replication_delays[key] = delay - 1
            return self._principal_not_found(principal_id)
        actual_type = self._principal_type(principal_id)
        if actual_type is None:
            return self._principal_not_found(principal_id)
        if principal_type is not None and principal_type != actual_type:
            return arm_error(
                400,
                "UnmatchedPrincipalType",
                f"The PrincipalId '{principal_id.replace('-', '')}' has type '{actual_type}' , "
                f"which is different from specified PrincipalType '{principal_type}'.",
            )
        scope = _scope(scope_path)
        role = _role_guid(role_definition_id)
        assignments = self._role_assignment_items()
        for _, view in assignments:
            existing = view["properties"]
            if (
                _scope(str(existing["scope"])) == scope
                and str(existing.get("principalId", "")).lower() == key
                and _role_guid(str(existing.get("roleDefinitionId", ""))) == role
            ):
                existing_name = str(view.get("name", "")).replace("-", "")
                return arm_error(
                    409,
                    "RoleAssignmentExists",
                    "The role assignment already exists. The ID of the existing role "
                    f"assignment is {existing_name}.",
                )
        if any(stored_key == self._key(call.path) for stored_key, _ in assignments):
            # The name is taken by an assignment of another principal or role.
            return arm_error(
                400,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            )
        body = shapes.role_assignment(
            scope_path,
            name,
            principal_id=principal_id,
            role_definition_id=role_definition_id,
            principal_type=principal_type or actual_type,
            updated_by=self.managed_identity_principal_id,
            description=properties.get("description"),
            condition=properties.get("condition"),
            condition_version=properties.get("conditionVersion"),
        )
        self._resources[self._key(call.path)] = body
        return Reply(201, copy.deepcopy(body))

    def _dependency_pecs(self, resource_id: str, stored: JSON) -> list[JSON]:
        embedded = copy.deepcopy(
            stored.get("properties", {}).get("privateEndpointConnections") or []
        )
        seen = {str(c.get("id", "")).lower() for c in embedded}
        children = self._children(resource_id, "privateendpointconnections")
        return embedded + [c for c in children if str(c.get("id", "")).lower() not in seen]

    def _h_dep_pec_list(self, call: Call) -> Reply:
        resource_id = call.group("res")
        stored = self._resources.get(self._key(resource_id))
        if stored is None:
            return _not_found(resource_id)
        return Reply(200, {"value": self._dependency_pecs(resource_id, stored)})

    def _h_dep_pec_get(self, call: Call) -> Reply:
        found = self._resources.get(self._key(call.path))
        if found is not None:
            return Reply(200, copy.deepcopy(found))
        resource_id = call.group("res")
        stored = self._resources.get(self._key(resource_id))
        name = call.group("name").lower()
        for connection in self._dependency_pecs(resource_id, stored or {}):
            if str(connection.get("name", "")).lower() == name:
                return Reply(200, connection)
        return _not_found(call.path)

    def _h_eventgrid_publish(self, call: Call) -> Reply:
        length = call.headers.get("content-length", "0")
        if length.isdigit() and int(length) > _EVENTGRID_MAX_BYTES:
            return arm_error(
                413,
                "RequestEntityTooLarge",
                f"The request is {length} bytes; Event Grid accepts at most 1 MB per request.",
            )
        events = call.body
        if not isinstance(events, list) or not events:
            return self._eventgrid_invalid("The request body must be a non-empty JSON array.")
        for index, event in enumerate(events):
            problem = self._event_problem(event)
            if problem:
                return self._eventgrid_invalid(f"Event {index}: {problem}")
        self._published_events.extend(copy.deepcopy(events))
        return Reply(200)

    def _event_problem(self, event: Any) -> str | None:
        if not isinstance(event, dict):
            return "an event must be a JSON object."
        for key in _EVENT_REQUIRED:
            if not isinstance(event.get(key), str) or not event[key]:
                return f"Required property '{key}' was not set."
        try:
            datetime.fromisoformat(event["eventTime"])
        except ValueError:
            return f"eventTime '{event['eventTime']}' is not a valid ISO 8601 time."
        for key in ("dataVersion", "topic", "metadataVersion"):
            if key in event and event[key] is not None and not isinstance(event[key], str):
                return f"Property '{key}' must be a string."
        topic = event.get("topic")
        if topic is not None and topic.lower() != self.eventgrid_topic_id.lower():
            return (
                f"topic '{topic}' does not match the topic's resource id "
                f"'{self.eventgrid_topic_id}'; leave it out and Event Grid stamps it."
            )
        metadata_version = event.get("metadataVersion")
        if metadata_version is not None and metadata_version != "1":
            return f"metadataVersion '{metadata_version}' is not supported; only '1' is."
        return None

    @staticmethod
    def _eventgrid_invalid(message: str) -> Reply:
        return Reply(
            400,
            {
                "error": {
                    "code": "BadRequest",
                    "message": message,
                    "details": [{"code": "InputJsonInvalid", "message": message}],
                }
            },
        )

    def _pecs_of(self, workspace_id: str) -> list[JSON]:
        prefix = self._key(workspace_id) + "/privateendpointconnections/"
        return [
            copy.deepcopy(body)
            for key, body in self._resources.items()
            if key.startswith(prefix) and "/" not in key[len(prefix) :]
        ]

    def _h_pec_list(self, call: Call) -> Reply:
        workspace_id = call.group("ws")
        if self._key(workspace_id) not in self._resources:
            return _not_found(workspace_id)
        return Reply(200, {"value": self._pecs_of(workspace_id)})

    def _h_pec_put(self, call: Call) -> Reply:
        workspace_id = call.group("ws")
        if self._key(workspace_id) not in self._resources:
            return _not_found(workspace_id)
        stored = self._resources.get(self._key(call.path))
        if stored is None:
            return _not_found(call.path)
        properties = call.body.get("properties") if isinstance(call.body, dict) else None
        state = properties.get("privateLinkServiceConnectionState") if properties else None
        if not isinstance(state, dict):
            return arm_error(
                400,
                "InvalidRequestContent",
                "properties.privateLinkServiceConnectionState is required.",
            )
        status = state.get("status")
        if status is not None and status not in CONNECTION_STATUSES:
            return arm_error(
                400,
                "InvalidPrivateEndpointConnectionStatus",
                f"Status '{status}' is not one of {sorted(CONNECTION_STATUSES)}.",
            )
        current = stored["properties"]["privateLinkServiceConnectionState"]
        # Only the state can change; the private endpoint id is fixed by the
        # endpoint's owner, so anything else in the body is ignored.
        for key in ("status", "description", "actionsRequired"):
            if state.get(key) is not None:
                current[key] = state[key]
        stored["properties"]["provisioningState"] = "Succeeded"
        self._propagate(workspace_id, stored["properties"]["privateEndpoint"]["id"], current)
        return Reply(200, copy.deepcopy(stored))

    def _propagate(self, workspace_id: str, pe_id: str, state: JSON) -> None:
        # In Azure the target's decision shows up on the private endpoint and
        # on Synapse's managed private endpoint; mirror that so the app sees a
        # consistent world after approving.
        pe = self._resources.get(self._key(pe_id))
        if pe is not None:
            for collection in (
                "manualPrivateLinkServiceConnections",
                "privateLinkServiceConnections",
            ):
                for conn in pe.get("properties", {}).get(collection, []):
                    props = conn.get("properties", {})
                    if str(props.get("privateLinkServiceId", "")).lower() == workspace_id.lower():
                        props["privateLinkServiceConnectionState"] = dict(state)
        for mpes in self._mpes.values():
            for mpe in mpes.values():
                props = mpe["properties"]
                if str(props.get("resourceId", "")).lower() == pe_id.lower():
                    props["connectionState"]["status"] = state.get("status", "")
                    props["connectionState"]["description"] = state.get("description", "")

    def _synapse_scope(self, call: Call) -> tuple[dict[str, JSON] | None, Reply | None]:
        name = call.group("ws")
        workspace = next(
            (
                body
                for body in self._resources.values()
                if body.get("type", "").lower() == shapes.SYNAPSE_WORKSPACE_TYPE.lower()
                and str(body.get("name", "")).lower() == name.lower()
            ),
            None,
        )
        if workspace is None:
            return None, arm_error(404, "WorkspaceNotFound", f"Workspace '{name}' not found.")
        vnet = workspace.get("properties", {}).get("managedVirtualNetwork")
        if not vnet or str(vnet).lower() != call.group("vnet").lower():
            return None, arm_error(
                404,
                "ManagedVirtualNetworkNotFound",
                f"Managed virtual network '{call.group('vnet')}' was not found in workspace "
                f"'{name}'. The workspace has no managed virtual network.",
            )
        return self._mpes.setdefault(name.lower(), {}), None

    def _h_mpe_list(self, call: Call) -> Reply:
        mpes, error = self._synapse_scope(call)
        if error is not None or mpes is None:
            return error or arm_error(500, "InternalServerError", "no scope")
        try:
            skip = int(call.query.get("$skipToken", "0"))
        except ValueError:
            return arm_error(400, "BadRequest", "Invalid $skipToken.")
        items = list(mpes.values())
        size = max(1, self.page_size)
        body: JSON = {"value": copy.deepcopy(items[skip : skip + size])}
        if skip + size < len(items):
            api = urllib.parse.quote(call.query.get("api-version", ""), safe="")
            path = urllib.parse.quote(call.path)
            body["nextLink"] = f"{self.url}{path}?api-version={api}&$skipToken={skip + size}"
        elif self.last_page_next_link is not None:
            body["nextLink"] = self.last_page_next_link
        return Reply(200, body)

    def _h_mpe_get(self, call: Call) -> Reply:
        mpes, error = self._synapse_scope(call)
        if error is not None or mpes is None:
            return error or arm_error(500, "InternalServerError", "no scope")
        found = mpes.get(call.group("name").lower())
        if found is None:
            return arm_error(
                404,
                "ManagedPrivateEndpointNotFound",
                f"Managed private endpoint '{call.group('name')}' was not found.",
            )
        return Reply(200, copy.deepcopy(found))

    # --------------------------------------------------------------------- helpers

    @staticmethod
    def _key(resource_id: str) -> str:
        # ARM ids compare case-insensitively; the stored body keeps the casing.
        return "/" + resource_id.strip("/").lower()

    def _require(self, resource_id: str) -> None:
        with self._lock:
            if self._key(resource_id) not in self._resources:
                raise KeyError(f"seed {resource_id} first")

    @staticmethod
    def _check_status(status: str) -> None:
        if status not in CONNECTION_STATUSES:
            raise ValueError(f"status must be one of {sorted(CONNECTION_STATUSES)}")
