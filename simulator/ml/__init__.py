"""Azure Machine Learning in the simulator: jobs, component versions, batch endpoints and their
scoring URIs (moto style: `models` holds the state and rules, `responses` the handlers, `urls` the
routes, `shapes` the JSON bodies).

Tests seed it and drive job states through `AzureSimulator.ml`:

    sim.ml.add_component(workspace_id, "train_model", "3")
    sim.ml.add_batch_endpoint(endpoint_id, deployments=["blue"], default_deployment="blue")
    sim.ml.set_job_status(workspace_id, job_name, "Completed")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..shapes import DEFAULT_LOCATION, JSON
from .models import TERMINAL, MachineLearningBackend
from .promotion import PromotionService
from .responses import MachineLearningResponses
from .urls import routes

if TYPE_CHECKING:
    from ..azure_simulator import AzureSimulator

__all__ = ["TERMINAL", "MachineLearningService"]


class MachineLearningService:
    """The ML service mounted into one simulator."""

    def __init__(self, sim: AzureSimulator) -> None:
        self._sim = sim
        self.backend = MachineLearningBackend()
        self._responses = MachineLearningResponses(sim, self.backend)
        # Model promotion's routes (simulator/ml/promotion.py), ahead of the routes below.
        self.promotion = PromotionService(sim, self.backend, self._responses._endpoint_view)
        for spec in routes(self._responses):
            sim.add_route(
                spec.method,
                spec.pattern,
                spec.name,
                spec.handler,
                audience=spec.audience,
                needs_api_version=spec.needs_api_version,
            )

    def reset(self) -> None:
        """Forget components, jobs, endpoints and pending faults."""
        self.backend.reset()
        self.promotion.reset()

    # --------------------------------------------------------------------- seeding

    def add_component(
        self, workspace_id: str, name: str, version: str, *, inputs: JSON | None = None
    ) -> JSON:
        """Register a component version; the last one registered is the `latest`."""
        return self.backend.add_component(workspace_id, name, version, inputs)

    def add_batch_endpoint(
        self,
        endpoint_id: str,
        *,
        deployments: list[str] | None = None,
        default_deployment: str | None = "blue",
        location: str = DEFAULT_LOCATION,
    ) -> str:
        """Create a batch endpoint with its deployments; returns its scoring URI."""
        endpoint = self.backend.add_batch_endpoint(
            endpoint_id,
            deployments=deployments if deployments is not None else ["blue"],
            default_deployment=default_deployment,
            location=location,
        )
        return self._responses.scoring_uri(endpoint.scoring_key)

    def add_job(self, workspace_id: str, body: JSON) -> None:
        """Store a job as ARM would list it (jobs this app did not submit, for example)."""
        self.backend.store_job(workspace_id, body)

    # ------------------------------------------------------------- reading, driving

    def job(self, workspace_id: str, name: str) -> JSON | None:
        return self.backend.job(workspace_id, name)

    def jobs(self, workspace_id: str) -> list[JSON]:
        """Every job of the workspace, newest first."""
        return self.backend.all_jobs(workspace_id)

    def set_job_status(
        self, workspace_id: str, name: str, status: str, *, error: str | None = None
    ) -> JSON:
        """Move a job to `status` (Running, Completed, Failed, Canceled, ...)."""
        return self.backend.set_job_status(workspace_id, name, status, error=error)

    @property
    def scoring_posts(self) -> list[tuple[dict[str, str], JSON]]:
        """Headers (lower-cased) and body of every POST to a scoring URI, in order."""
        with self.backend.lock:
            return list(self.backend.scoring_posts)

    @property
    def job_puts(self) -> list[tuple[str, JSON, dict[str, str]]]:
        """Job name, body and headers of every job PUT, in order."""
        with self.backend.lock:
            return list(self.backend.job_puts)

    def lose_response(self, route: str, *, status: int = 503, times: int = 1) -> None:
        """The next `times` requests to `route` take effect but are answered with `status`
        (a response lost on the way back): the client cannot tell it worked."""
        if route not in ("ml.job.put", "ml.scoring.invoke"):
            raise ValueError("lost responses are simulated for ml.job.put and ml.scoring.invoke")
        self.backend.lose_response(route, status=status, times=times)
