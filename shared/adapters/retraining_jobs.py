"""Retraining jobs: read them from ARM, submit them with azure-ai-ml.

Reads go through azure-core (the jobs API at 2024-04-01), so a debounced or ignored event never
pays for importing azure-ai-ml (1.1-2.5 s). Submission goes through azure-ai-ml: it resolves the
registered component (`name:version`, or `name@label` as a list ordered by creation time, recorded
files 01-02), builds the pipeline job and PUTs it with the `x-azureml-token` it requires (03-04).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from shared.adapters.batch_scoring import (
    JOBS_API,
    UnexpectedResponseError,
    raise_for_status,
)
from shared.adapters.clients import AzureClients
from shared.arm import ArmId
from shared.config import ComponentRef
from shared.ml_events import APP_TAG

# Pages of a job list read at most (a workspace with thousands of jobs is bounded too).
MAX_PAGES = 20


@dataclass(frozen=True)
class AppJob:
    """A job as ARM lists it: enough to debounce, to confirm an outcome and to find scoring."""

    name: str
    status: str
    tags: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    error: str | None = None


def app_job_from_arm(body: Mapping[str, Any]) -> AppJob:
    """An `AppJob` from ARM's job body; `UnexpectedResponseError` when it has the wrong shape."""
    name = body.get("name")
    properties = body.get("properties")
    if not isinstance(name, str) or not name or not isinstance(properties, dict):
        raise UnexpectedResponseError("job: expected a name and properties")
    status = properties.get("status")
    if not isinstance(status, str) or not status:
        raise UnexpectedResponseError(f"job {name}: no status")
    tags = properties.get("tags")
    system = body.get("systemData")
    error = properties.get("error")
    return AppJob(
        name=name,
        status=status,
        tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
        created_at=str(system.get("createdAt", "")) if isinstance(system, dict) else "",
        error=str(error.get("message")) if isinstance(error, dict) else None,
    )


def _input(value: Any) -> Any:
    """A `RETRAIN_INPUTS` value as azure-ai-ml takes it: a data path becomes an `Input`
    (`{"type": ..., "path": ...}`, or a string starting with azureml:// or https://), anything
    else stays a literal."""
    from azure.ai.ml import Input

    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return Input(type=str(value.get("type") or "uri_folder"), path=value["path"])
    if isinstance(value, str) and value.startswith(("azureml://", "https://")):
        return Input(type="uri_folder" if value.endswith("/") else "uri_file", path=value)
    return value


class RetrainingJobsAdapter:
    """Lists, reads and submits retraining jobs of one app."""

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    def list_app_jobs(self, workspace_id: ArmId, purpose: str) -> list[AppJob]:
        """This app's jobs for `purpose` (`retraining`, `scoring`), newest first.

        The list asks ARM for jobs carrying the app's tag key and keeps those whose value is
        `purpose`; pages are bounded and must stay on the ARM endpoint.
        """
        from azure.core.rest import HttpRequest

        client = self._clients.arm_pipeline()
        arm = urlsplit(self._clients.settings.arm_endpoint)
        url: str | None = client.format_url(f"{quote(workspace_id)}/jobs")
        params: dict[str, str] | None = {"api-version": JOBS_API, "tag": APP_TAG}
        jobs: list[AppJob] = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = client.send_request(HttpRequest("GET", url, params=params))
            if response.status_code != 200:
                raise_for_status(response)
            try:
                body = response.json()
            except ValueError:
                raise UnexpectedResponseError("job list: the response is not JSON") from None
            items = body.get("value") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise UnexpectedResponseError("job list: expected an object with a value array")
            jobs.extend(app_job_from_arm(item) for item in items if isinstance(item, dict))
            next_link = body.get("nextLink")
            if not next_link:
                url = None
                continue
            target = urlsplit(str(next_link))
            if (target.scheme, target.netloc) != (arm.scheme, arm.netloc):
                raise UnexpectedResponseError(f"job list: nextLink leaves ARM ({target.netloc})")
            url, params = str(next_link), None
        matching = [job for job in jobs if job.tags.get(APP_TAG) == purpose]
        return sorted(matching, key=lambda job: job.created_at, reverse=True)

    def get_job(self, workspace_id: ArmId, name: str) -> AppJob | None:
        """The job, or None when the workspace has no job of that name."""
        from azure.core.exceptions import ResourceNotFoundError
        from azure.core.rest import HttpRequest

        client = self._clients.arm_pipeline()
        path = f"{quote(workspace_id)}/jobs/{quote(name, safe='')}"
        request = HttpRequest("GET", client.format_url(path), params={"api-version": JOBS_API})
        response = client.send_request(request)
        if response.status_code != 200:
            try:
                raise_for_status(response)
            except ResourceNotFoundError:
                return None
        try:
            return app_job_from_arm(response.json())
        except (ValueError, AttributeError):
            raise UnexpectedResponseError(f"job {name}: the response is not a job") from None

    def submit(
        self,
        workspace_id: ArmId,
        *,
        name: str,
        component: ComponentRef,
        inputs: Mapping[str, Any],
        compute: str,
        experiment: str,
        tags: Mapping[str, str],
    ) -> str:
        """Submit a pipeline job named `name` that runs `component`; returns the job's name.

        Azure ML refuses a second job of the same name, so a retried submission cannot create a
        second job: the caller reads the job when this raises `ResourceExistsError`.
        """
        from azure.ai.ml.entities import PipelineJob

        ml = self._clients.ml_client(workspace_id)
        if component.version is not None:
            registered = ml.components.get(component.name, version=component.version)
        else:
            registered = ml.components.get(component.name, label=component.label)
        step = registered(**{key: _input(value) for key, value in inputs.items()})
        job = PipelineJob(
            name=name,
            display_name=name,
            experiment_name=experiment,
            tags=dict(tags),
            jobs={"retrain": step},
            compute=compute,
        )
        created = ml.jobs.create_or_update(job, experiment_name=experiment)
        return str(created.name)
