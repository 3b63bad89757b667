"""Retraining jobs: read through azure-core, so a debounced event never pays for importing
azure-ai-ml (1.1-2.5 s); submitted with azure-ai-ml (component resolution, `x-azureml-token`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

from azure.core.exceptions import AzureError

from shared.adapters import transport
from shared.adapters.answers import UnexpectedAnswerError, check_named
from shared.adapters.batch_scoring import JOBS_API, check_job, job_parts
from shared.arm import ArmId
from shared.bounds import excerpt
from shared.config import RetrainingSettings


class AppJob(NamedTuple):
    name: str
    status: str
    error: str | None
    # ARM's record of who created it (`createdBy`, `createdByType`): see `shared.ownership`.
    system_data: dict[str, str]


def app_job_from_arm(body: Mapping[str, Any]) -> AppJob:
    name, _, status, error = job_parts(body)
    system = body.get("systemData")
    system = system if isinstance(system, dict) else {}
    return AppJob(name, status, error, {str(k): v for k, v in system.items() if isinstance(v, str)})


def _input(value: Any) -> Any:
    """A `RETRAIN_INPUTS` value for azure-ai-ml: a data path becomes an `Input`, else a literal."""
    from azure.ai.ml import Input

    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return Input(type=str(value.get("type") or "uri_folder"), path=value["path"])
    if isinstance(value, str) and value.startswith(("azureml://", "https://")):
        return Input(type="uri_folder" if value.endswith("/") else "uri_file", path=value)
    return value


class RetrainingJobsAdapter(transport.ArmAdapter):
    def get_job(self, workspace_id: ArmId, name: str) -> AppJob | None:
        path = f"{quote(workspace_id)}/jobs/{quote(name, safe='')}"
        body = self._found("GET", path, JOBS_API, f"job {name}")
        if body is None:
            return None
        job = app_job_from_arm(body)
        check_job(body, workspace_id, name)
        return job

    def submit(
        self, workspace_id: ArmId, name: str, config: RetrainingSettings, tags: Mapping[str, str]
    ) -> None:
        """Submit a pipeline job `name` running `RETRAIN_COMPONENT`. Azure ML refuses a second job
        of a name, so a retry cannot make two; an answer about another job is not applied."""
        # The client first: it prepares azure-ai-ml's import (see clients.prepare_azure_ai_ml).
        ml = self._clients.ml_client(workspace_id)
        from azure.ai.ml.entities import PipelineJob

        # A `ComponentRef` has a version or a label, never both.
        ref, experiment = config.component, config.experiment
        registered = ml.components.get(ref.name, version=ref.version, label=ref.label)
        # The step runs what Azure answered: another component (or version) is other code.
        version = ref.version or getattr(registered, "version", None)
        asked = f"{workspace_id}/components/{ref.name}/versions/{version}"
        check_named(getattr(registered, "id", None), asked, f"asked for component {ref}")
        step = registered(**{key: _input(value) for key, value in config.inputs.items()})
        job = PipelineJob(
            name=name,
            display_name=name,
            experiment_name=experiment,
            tags=dict(tags),
            jobs={"retrain": step},
            compute=config.compute,
        )
        try:
            created = ml.jobs.create_or_update(job, experiment_name=experiment)
        except SystemExit as stop:
            # azure-ai-ml exits when the request of a local run (the answer's URL) fails.
            if not isinstance(stop.__cause__, AzureError):
                raise
            why = excerpt(f"{name!r} answered as a local run: {stop.__cause__}", 500)
            raise UnexpectedAnswerError(why) from stop.__cause__
        doing = f"submitted job {name!r}"
        check_named(getattr(created, "name", None), name, doing)
        job_id = f"{workspace_id}/jobs/{name}"
        check_named(getattr(created, "id", None), job_id, f"{doing} to {workspace_id}")
