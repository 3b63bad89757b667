"""Azure ML's state in the simulator: component versions, jobs, batch endpoints, scoring jobs.

The rules the app relies on live here, as the service applies them: a job name is unique in a
workspace (a second PUT of a name conflicts), a pipeline job must reference a registered component
version, a scoring POST that repeats a `repeatability-request-id` gets the first job back, and
job status changes only when a test (the "service") moves it.
"""

from __future__ import annotations

import copy
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field

from ..shapes import DEFAULT_LOCATION, JSON, stable_uuid
from . import shapes

TERMINAL = frozenset({"Completed", "Failed", "Canceled"})
STATUSES = frozenset(
    {
        "NotStarted",
        "Starting",
        "Provisioning",
        "Preparing",
        "Queued",
        "Running",
        "Finalizing",
        "CancelRequested",
        "Completed",
        "Failed",
        "Canceled",
        "NotResponding",
        "Paused",
        "Unknown",
    }
)


def key(arm_id: str) -> str:
    """ARM IDs compare case-insensitively."""
    return arm_id.lower().rstrip("/")


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
        return self.id.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class LostResponse:
    """A fault after the work is done: the request takes effect, its answer is an error."""

    status: int
    remaining: int


class MachineLearningBackend:
    """The service's state. Callers hold the simulator's lock (route handlers do)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.components: dict[str, dict[str, list[JSON]]] = {}
        self.jobs: dict[str, dict[str, JSON]] = {}
        self.endpoints: dict[str, BatchEndpoint] = {}
        self.repeatability: dict[tuple[str, str], str] = {}
        # What each scoring POST submitted, echoed when the job is answered again.
        self.batch_submitted: dict[tuple[str, str], JSON] = {}
        self.lost: dict[str, deque[LostResponse]] = {}
        # Every scoring POST's headers and body, as received (tests check what crossed).
        self.scoring_posts: list[tuple[dict[str, str], JSON]] = []
        # Every job PUT body, by job name, as received.
        self.job_puts: list[tuple[str, JSON, dict[str, str]]] = []

    def reset(self) -> None:
        with self.lock:
            self.components.clear()
            self.jobs.clear()
            self.endpoints.clear()
            self.repeatability.clear()
            self.batch_submitted.clear()
            self.lost.clear()
            self.scoring_posts.clear()
            self.job_puts.clear()

    # ------------------------------------------------------------------ components

    def add_component(
        self, workspace_id: str, name: str, version: str, inputs: JSON | None = None
    ) -> JSON:
        body = shapes.component_version(workspace_id, name, version, inputs=inputs)
        with self.lock:
            versions = self.components.setdefault(key(workspace_id), {}).setdefault(
                name.lower(), []
            )
            versions[:] = [v for v in versions if v["name"] != version]
            versions.append(body)
        return copy.deepcopy(body)

    def component_versions(self, workspace_id: str, name: str) -> list[JSON]:
        """Versions of one component, newest (last registered) first."""
        with self.lock:
            versions = self.components.get(key(workspace_id), {}).get(name.lower(), [])
            return [copy.deepcopy(v) for v in reversed(versions)]

    def component_version(self, workspace_id: str, name: str, version: str) -> JSON | None:
        for body in self.component_versions(workspace_id, name):
            if body["name"] == version:
                return body
        return None

    def component_by_id(self, component_id: str) -> JSON | None:
        marker = "/components/"
        lowered = component_id.lower()
        if marker not in lowered or "/versions/" not in lowered:
            return None
        workspace_id = component_id[: lowered.index(marker)]
        rest = component_id[lowered.index(marker) + len(marker) :]
        name, _, version = rest.partition("/versions/")
        return self.component_version(workspace_id, name, version)

    # ------------------------------------------------------------------------ jobs

    def job(self, workspace_id: str, name: str) -> JSON | None:
        with self.lock:
            found = self.jobs.get(key(workspace_id), {}).get(name.lower())
            return copy.deepcopy(found) if found is not None else None

    def all_jobs(self, workspace_id: str) -> list[JSON]:
        """The workspace's jobs, newest first."""
        with self.lock:
            return [
                copy.deepcopy(j) for j in reversed(self.jobs.get(key(workspace_id), {}).values())
            ]

    def store_job(self, workspace_id: str, body: JSON) -> None:
        with self.lock:
            self.jobs.setdefault(key(workspace_id), {})[str(body["name"]).lower()] = body

    def set_job_status(
        self, workspace_id: str, name: str, status: str, *, error: str | None = None
    ) -> JSON:
        if status not in STATUSES:
            raise ValueError(f"unknown job status {status!r}; known: {sorted(STATUSES)}")
        with self.lock:
            found = self.jobs.get(key(workspace_id), {}).get(name.lower())
            if found is None:
                raise KeyError(f"no job {name!r} in {workspace_id}")
            found["properties"]["status"] = status
            if error is not None:
                found["properties"]["error"] = {"code": "UserError", "message": error}
            else:
                found["properties"].pop("error", None)
            return copy.deepcopy(found)

    # -------------------------------------------------------------- batch endpoints

    def add_batch_endpoint(
        self,
        endpoint_id: str,
        *,
        deployments: list[str],
        default_deployment: str | None,
        location: str = DEFAULT_LOCATION,
    ) -> BatchEndpoint:
        endpoint = BatchEndpoint(
            id=endpoint_id,
            location=location,
            scoring_key=stable_uuid(endpoint_id, "scoring"),
            default_deployment=default_deployment,
        )
        for name in deployments:
            endpoint.deployments[name.lower()] = shapes.batch_deployment(
                endpoint_id, name, location=location
            )
        with self.lock:
            self.endpoints[key(endpoint_id)] = endpoint
        return endpoint

    def endpoint(self, endpoint_id: str) -> BatchEndpoint | None:
        with self.lock:
            return self.endpoints.get(key(endpoint_id))

    def endpoint_by_scoring_key(self, scoring_key: str) -> BatchEndpoint | None:
        with self.lock:
            return next(
                (e for e in self.endpoints.values() if e.scoring_key == scoring_key.lower()), None
            )

    def new_batch_job_name(self) -> str:
        return f"batchjob-{secrets.token_hex(4)}"

    # ---------------------------------------------------------------------- faults

    def lose_response(self, route: str, *, status: int, times: int = 1) -> None:
        with self.lock:
            self.lost.setdefault(route, deque()).append(LostResponse(status, times))

    def take_lost(self, route: str) -> int | None:
        with self.lock:
            queue = self.lost.get(route)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
            return fault.status
