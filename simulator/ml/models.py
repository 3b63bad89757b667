"""``sim.ml``: ARM's side (workspaces, computes, connections) lives in the resource store; jobs,
components and batch endpoints here. Rules kept as the service applies them: a PATCH changes only
what the caller may write and keeps the system-assigned identity; only an AmlCompute's scale
settings can change; a job name is unique in a workspace; a pipeline job references registered
components; a repeated ``repeatability-request-id`` gets the first job back; job status changes
only when a test moves it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .. import shapes as common
from ..arm.models import key
from ..network.models import check_status
from ..server import Route
from ..shapes import DEFAULT_LOCATION, JSON, connection_state, last_segment, stable_uuid
from . import shapes

if TYPE_CHECKING:
    from ..azure_simulator import AzureSimulator

# Only the service writes these; a PATCH carrying them is not refused, they are ignored (as in ARM).
# fmt: off
WORKSPACE_READ_ONLY: Final = frozenset({
    "provisioningState", "workspaceId", "discoveryUrl", "privateEndpointConnections",
    "privateLinkCount", "serviceProvisionedResourceGroup", "mlFlowTrackingUri", "notebookInfo",
    "tenantId", "storageHnsEnabled",
})
PUBLIC_NETWORK_ACCESS: Final = frozenset({"Enabled", "Disabled"})
TERMINAL: Final = frozenset({"Completed", "Failed", "Canceled"})
STATUSES: Final = TERMINAL | {
    "NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running", "Finalizing",
    "CancelRequested", "NotResponding", "Paused", "Unknown",
}
# fmt: on

#: ``hook(workspace_id, private_endpoint_id, connection_state)`` after a connection's decision.
ConnectionStateHook = Callable[[str, str, JSON], None]


def versioned(asset_id: str, collection: str) -> tuple[str, str, str] | None:
    """``(workspace ID, name, version)`` of ``{workspace}/{collection}/{name}/versions/{v}``."""
    marker, lowered = f"/{collection}/", asset_id.lower()
    if marker not in lowered or "/versions/" not in lowered:
        return None
    name, _, version = asset_id[lowered.index(marker) + len(marker) :].partition("/versions/")
    return asset_id[: lowered.index(marker)], name, version


@dataclass
class BatchEndpoint:
    """One batch endpoint, its deployments and where its scoring URI lives."""

    id: str
    location: str
    scoring_key: str
    default_deployment: str | None
    deployments: dict[str, JSON] = field(default_factory=dict)  # lower-cased name -> body

    @property
    def workspace_id(self) -> str:
        return self.id.rsplit("/batchEndpoints/", 1)[0]

    @property
    def name(self) -> str:
        return last_segment(self.id)


class MachineLearning:
    """Azure ML workspaces, computes, connections, components, jobs and batch endpoints."""

    def __init__(self, sim: AzureSimulator) -> None:
        self.sim = sim
        self.lock = sim.lock
        #: Azure-AsyncOperation status bodies of compute updates, by operation id.
        self.operations: dict[str, JSON] = {}
        self._connection_state_hooks: list[ConnectionStateHook] = []
        self._components: dict[str, dict[str, list[JSON]]] = {}
        self._jobs: dict[str, dict[str, JSON]] = {}
        self.endpoints: dict[str, BatchEndpoint] = {}
        self.repeatability: dict[tuple[str, str], str] = {}
        # What each scoring POST submitted, echoed when the job is answered again.
        self.batch_submitted: dict[tuple[str, str], JSON] = {}
        self._scoring_posts: list[tuple[dict[str, str], JSON]] = []
        self._job_puts: list[tuple[str, JSON, dict[str, str]]] = []
        from .promotion import PromotionService

        #: Model registry, batch deployment writes and run metrics (model promotion).
        self.promotion = PromotionService(self)

    def routes(self) -> list[Route]:
        """ARM's routes (``aml.*``) then the workspace's and the scoring URIs' (``ml.*``)."""
        from .urls import routes

        return [*self.promotion.routes(), *routes(self)]

    def on_connection_state(self, hook: ConnectionStateHook) -> None:
        """Call ``hook`` when a connection's state is set (the consumer side mirrors it)."""
        self._connection_state_hooks.append(hook)

    def reset(self) -> None:
        """Forget all but the ARM resources (they live in the store)."""
        with self.lock:
            for state in (self.operations, self._components, self._jobs, self.endpoints):
                state.clear()
            for seen in (self.repeatability, self.batch_submitted, self._scoring_posts):
                seen.clear()
            self._job_puts.clear()
        self.promotion.reset()

    def add_workspace(
        self,
        workspace_id: str,
        *,
        public_network_access: str = "Enabled",
        identity: JSON | None = None,
        tags: dict[str, str] | None = None,
        **properties_overrides: Any,
    ) -> JSON:
        """Seed an AML workspace; keyword overrides replace keys of ``properties``."""
        body = shapes.ml_workspace(
            workspace_id,
            public_network_access=public_network_access,
            tenant_id=self.sim.tenant_id,
            properties_overrides=properties_overrides,
            identity=identity,
        )
        if tags is not None:
            body["tags"] = dict(tags)
        return self.sim.arm.put(workspace_id, body)

    def add_compute(
        self, workspace_id: str, name: str, *, location: str | None = None, **settings: Any
    ) -> JSON:
        """Seed a compute (:func:`shapes.compute`) of a stored AML workspace."""
        store = self.sim.arm
        store.require(workspace_id)
        workspace = store.get(workspace_id) or {}
        where = location or str(workspace.get("location") or DEFAULT_LOCATION)
        body = shapes.compute(workspace_id, name, location=where, **settings)
        return store.put(body["id"], body)

    def compute(self, workspace_id: str, name: str) -> JSON:
        """A copy of a stored compute (KeyError when there is none)."""
        found = self.sim.arm.get(f"{workspace_id}/computes/{name}")
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
        self.sim.arm.require(workspace_id)
        check_status(status)
        state = connection_state(status, description, actions_required)
        body = shapes.private_endpoint_connection(workspace_id, name, private_endpoint_id, state)
        return self.sim.arm.put(body["id"], body)

    def connection_status(self, workspace_id: str, name: str) -> str:
        found = self.sim.arm.get(f"{workspace_id}/privateEndpointConnections/{name}")
        if found is None:
            raise KeyError(f"no private endpoint connection {name!r} on {workspace_id}")
        return str(found["properties"]["privateLinkServiceConnectionState"]["status"])

    def connections(self, workspace_id: str) -> list[JSON]:
        """Copies of the workspace's private endpoint connections."""
        return self.sim.arm.children(workspace_id, "privateendpointconnections")

    def workspace_view(self, workspace_id: str, stored: JSON) -> JSON:
        """The workspace as ARM serves it, its connections embedded from the stored children."""
        body = copy.deepcopy(stored)
        connections = self.connections(workspace_id)
        body.setdefault("properties", {})["privateEndpointConnections"] = connections
        return body

    def set_connection_state(self, workspace_id: str, connection: JSON, state: JSON) -> None:
        """Take over a new state (the rest is the endpoint owner's) and mirror it."""
        current = connection["properties"]["privateLinkServiceConnectionState"]
        for name in ("status", "description", "actionsRequired"):
            if state.get(name) is not None:
                current[name] = state[name]
        connection["properties"]["provisioningState"] = "Succeeded"
        pe_id = connection["properties"]["privateEndpoint"]["id"]
        for hook in self._connection_state_hooks:
            hook(workspace_id, pe_id, current)

    def add_component(
        self, workspace_id: str, name: str, version: str, *, inputs: JSON | None = None
    ) -> JSON:
        """Register a component version; the last one registered is the ``latest``."""
        body = shapes.component_version(workspace_id, name, version, inputs=inputs)
        with self.lock:
            components = self._components.setdefault(key(workspace_id), {})
            versions = components.setdefault(name.lower(), [])
            versions[:] = [v for v in versions if v["name"] != version]
            versions.append(body)
        return copy.deepcopy(body)

    def component_versions(self, workspace_id: str, name: str) -> list[JSON]:
        """Versions of one component, newest (last registered) first."""
        with self.lock:
            versions = self._components.get(key(workspace_id), {}).get(name.lower(), [])
            return [copy.deepcopy(v) for v in reversed(versions)]

    def component_version(self, workspace_id: str, name: str, version: str) -> JSON | None:
        found = self.component_versions(workspace_id, name)
        return next((b for b in found if b["name"] == version), None)

    def add_job(self, workspace_id: str, body: JSON, *, by_app: bool = False) -> None:
        """Store a job as ARM would list it: made by a workspace user (whatever its name and
        tags), or ``by_app`` (as if the app had submitted it), unless its ``systemData`` says."""
        made_by = (self.sim.identity.client_id, "Application") if by_app else common.PERSON
        body = {**body, "systemData": {**common.system_data(made_by), **body.get("systemData", {})}}
        with self.lock:
            self._jobs.setdefault(key(workspace_id), {})[str(body["name"]).lower()] = body

    def job(self, workspace_id: str, name: str) -> JSON | None:
        with self.lock:
            return copy.deepcopy(self._jobs.get(key(workspace_id), {}).get(name.lower()))

    def jobs(self, workspace_id: str) -> list[JSON]:
        """Every job of the workspace, newest first."""
        with self.lock:
            return copy.deepcopy(list(reversed(self._jobs.get(key(workspace_id), {}).values())))

    def set_job_status(
        self, workspace_id: str, name: str, status: str, *, error: str | None = None
    ) -> JSON:
        """Move a job to ``status`` (Running, Completed, Failed, Canceled, ...)."""
        if status not in STATUSES:
            raise ValueError(f"unknown job status {status!r}; known: {sorted(STATUSES)}")
        with self.lock:
            found = self._jobs.get(key(workspace_id), {}).get(name.lower())
            if found is None:
                raise KeyError(f"no job {name!r} in {workspace_id}")
            found["properties"]["status"] = status
            if error is not None:
                found["properties"]["error"] = {"code": "UserError", "message": error}
            else:
                found["properties"].pop("error", None)
            return copy.deepcopy(found)

    @property
    def job_puts(self) -> list[tuple[str, JSON, dict[str, str]]]:
        """Job name, body and headers of every job PUT, in order."""
        with self.lock:
            return list(self._job_puts)

    def add_batch_endpoint(
        self,
        endpoint_id: str,
        *,
        deployments: list[str] | None = None,
        default_deployment: str | None = "blue",
        location: str = DEFAULT_LOCATION,
    ) -> str:
        """Create a batch endpoint with its deployments; returns its scoring URI."""
        endpoint = BatchEndpoint(
            id=endpoint_id,
            location=location,
            scoring_key=stable_uuid(endpoint_id, "scoring"),
            default_deployment=default_deployment,
        )
        for name in deployments if deployments is not None else ["blue"]:
            deployment = shapes.batch_deployment(endpoint_id, name, location=location)
            endpoint.deployments[name.lower()] = deployment
        with self.lock:
            self.endpoints[key(endpoint_id)] = endpoint
        return self.scoring_uri(endpoint.scoring_key)

    def scoring_uri(self, scoring_key: str) -> str:
        return f"{self.sim.url}/inference/{scoring_key}/jobs"

    def endpoint_view(self, endpoint_id: str) -> JSON | None:
        """A batch endpoint as ARM serves it, or None."""
        endpoint = self.endpoint(endpoint_id)
        if endpoint is None:
            return None
        return shapes.batch_endpoint(
            endpoint.id,
            scoring_uri=self.scoring_uri(endpoint.scoring_key),
            default_deployment=endpoint.default_deployment,
            location=endpoint.location,
        )

    def endpoint(self, endpoint_id: str) -> BatchEndpoint | None:
        with self.lock:
            return self.endpoints.get(key(endpoint_id))

    def endpoint_by_scoring_key(self, scoring_key: str) -> BatchEndpoint | None:
        with self.lock:
            return next(
                (e for e in self.endpoints.values() if e.scoring_key == scoring_key.lower()), None
            )

    @property
    def scoring_posts(self) -> list[tuple[dict[str, str], JSON]]:
        """Headers (lower-cased) and body of every POST to a scoring URI, in order."""
        with self.lock:
            return list(self._scoring_posts)
