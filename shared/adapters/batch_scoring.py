"""Batch endpoints and their scoring jobs, through azure-core: azure-ai-ml costs 1.1-2.5 s to
import and its `invoke` refuses `abfss://` inputs (recorded file 16). `POST <scoringUri>` with an
`https://ml.azure.com` token (recorded files 12-17): ARM's URI, checked before a token goes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from shared.adapters import transport
from shared.adapters.answers import UnexpectedAnswerError, check_named
from shared.arm import ML_NAME, ArmId, name_of, same_arm_id
from shared.bounds import excerpt, redacted, redacted_json
from shared.config import batch_endpoint_workspace
from shared.model import JudgedAnswerError

BATCH_ENDPOINTS_API = "2023-10-01"
JOBS_API = "2024-04-01"
# azure-ai-ml names a single input after its type (recorded files 12-14).
_INPUT_KEYS = {"uri_folder": "UriFolder", "uri_file": "UriFile"}


class ScoringUriRejectedError(JudgedAnswerError):
    """ARM returned a scoring URI that the app will not send a token to (permanent)."""


class UnexpectedResponseError(transport.MalformedResponseError):
    """Azure answered with a body of the wrong shape (permanent: recorded, not retried)."""


@dataclass(frozen=True)
class ScoringInput:
    kind: Literal["uri_folder", "uri_file"]
    path: str

    @classmethod
    def from_setting(cls, value: str) -> ScoringInput:
        return cls("uri_folder" if value.endswith("/") else "uri_file", value)


@dataclass(frozen=True)
class BatchEndpoint:
    id: ArmId
    workspace_id: ArmId
    name: str
    scoring_uri: str
    default_deployment: str | None


@dataclass(frozen=True)
class ScoringJob:
    name: str
    status: str
    deployment: str | None
    start_time: str | None = None
    end_time: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("Completed", "Failed", "Canceled")


def check_scoring_uri(uri: str, domain: str) -> str:
    """The origin (`https://host[:port]`) of a scoring URI that may receive a token, else
    `ScoringUriRejectedError`: under `domain` at a label boundary (`evilinference.` is not)."""
    shown = repr(redacted(uri))  # the refusal is answered and recorded: no credential in it
    try:
        parts = urlsplit(uri)
        host, port = parts.hostname, parts.port
    except ValueError as error:
        raise ScoringUriRejectedError(f"scoring URI {shown} is not a URL: {error}") from None
    if parts.scheme != "https":
        raise ScoringUriRejectedError(f"scoring URI {shown} is not HTTPS")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ScoringUriRejectedError(f"scoring URI of host {host!r} carries user info")
    if not host or not uri.isascii() or "\\" in uri or any(ch.isspace() for ch in uri):
        raise ScoringUriRejectedError(f"scoring URI {shown} has no plain ASCII host")
    domain = domain.lower()
    if host != domain and not host.endswith("." + domain):
        raise ScoringUriRejectedError(
            f"scoring URI host {host!r} is not under AML_INFERENCE_DOMAIN ({domain})"
        )
    return f"https://{host}" + (f":{port}" if port is not None else "")


def text_at(body: Any, *path: str) -> str | None:
    """The non-empty string at `path` in nested JSON objects, else None."""
    for key in path:
        body = body.get(key) if isinstance(body, dict) else None
    return body if isinstance(body, str) and body else None


def _require(body: Mapping[str, Any], name: str, what: str, kind: type = str) -> Any:
    """`body[name]`, a `kind` (a string: not empty), else `UnexpectedResponseError`."""
    value = body.get(name)
    if not isinstance(value, kind) or value == "":
        raise UnexpectedResponseError(f"{what}: no {name}")
    return value


def _optional(body: Mapping[str, Any], name: str, what: str, kind: type = str) -> Any:
    """`_require`'s answer, but None for no `body[name]` (null or empty text too)."""
    return None if body.get(name) in (None, "") else _require(body, name, what, kind)


class BatchScoringAdapter(transport.ArmAdapter):
    def get_endpoint(self, endpoint_id: ArmId) -> BatchEndpoint:
        what = f"batch endpoint {endpoint_id}"
        body = self._json("GET", quote(endpoint_id), BATCH_ENDPOINTS_API, what)
        properties = _require(body, "properties", what, dict)
        check_named(body.get("name"), name_of(endpoint_id), f"asked for {what}")
        check_named(body.get("id"), endpoint_id, f"asked for {what}")
        return BatchEndpoint(
            id=endpoint_id,
            workspace_id=batch_endpoint_workspace(endpoint_id) or endpoint_id,
            name=_require(body, "name", what),
            scoring_uri=_require(properties, "scoringUri", what),
            default_deployment=text_at(properties, "defaults", "deploymentName"),
        )

    def scoring_origin(self, endpoint: BatchEndpoint) -> str:
        """`check_scoring_uri` as `invoke` makes it, sending nothing (a dry-run refuses too)."""
        return check_scoring_uri(endpoint.scoring_uri, self._clients.settings.aml_inference_domain)

    def deployment_exists(self, endpoint_id: ArmId, deployment: str) -> bool:
        path = f"{quote(endpoint_id)}/deployments/{quote(deployment, safe='')}"
        what = f"batch deployment {deployment} of {endpoint_id}"
        about = f"{endpoint_id}/deployments/{deployment}"
        return self._found("GET", path, BATCH_ENDPOINTS_API, what, about) is not None

    def invoke(
        self,
        endpoint: BatchEndpoint,
        *,
        deployment: str | None,
        scoring_input: ScoringInput,
        tags: Mapping[str, str],
        request_id: str,
    ) -> ScoringJob:
        """Start a scoring job; a retried POST with the same `request_id` gets the first job."""
        from azure.core.rest import HttpRequest

        origin = self.scoring_origin(endpoint)
        key = _INPUT_KEYS[scoring_input.kind]
        inputs = {key: {"jobInputType": key, "uri": scoring_input.path}}
        body = {"properties": {"inputData": inputs, "tags": dict(tags)}}
        headers = {
            "Content-Type": "application/json",
            # OREP's header, and the spelling azure-ai-ml sends (recorded file 12).
            "Repeatability-Request-ID": request_id,
            "repeatability_request-id": request_id,
        } | ({"azureml-model-deployment": deployment} if deployment else {})
        request = HttpRequest("POST", endpoint.scoring_uri, headers=headers, json=body)
        # The repeatability ID makes the POST safe to retry on any transient status.
        client = self._clients.batch_scoring(origin)
        response = client.send_request(request, retry_on_methods=["POST"])
        if response.status_code not in (200, 201, 202):
            transport.raise_for_status(response)
        reply = transport.json_object(response, f"scoring job on {endpoint.name}")
        name = _require(reply, "name", f"scoring job on {endpoint.name}")
        properties = _require(reply, "properties", f"scoring job {name}", dict)
        status = _optional(properties, "status", f"scoring job {name}") or "NotStarted"
        used = _started_deployment(endpoint, name, str(reply.get("id") or ""))
        return ScoringJob(name, str(status), used or endpoint.default_deployment)

    def get_job(self, workspace_id: ArmId, job_name: str) -> ScoringJob:
        path = f"{quote(workspace_id)}/jobs/{quote(job_name, safe='')}"
        body = self._json("GET", path, JOBS_API, f"job {job_name}")
        job = job_from_arm(body)
        check_job(body, workspace_id, job_name)
        return job


def _started_deployment(endpoint: BatchEndpoint, name: str, job_id: str) -> str:
    """The deployment in the answered job's ID (`<endpoint>/deployments/<d>/jobs/<name>`), when
    it is a job of this endpoint with a plain name; else `UnexpectedAnswerError`."""
    # A job name becomes a URL segment and a ledger key: anything else is refused, not used.
    if not ML_NAME.fullmatch(name):
        raise UnexpectedAnswerError(
            f"scoring job name {excerpt(name, 100)!r} is not a plain job name"
        )
    prefix = f"{endpoint.id}/deployments/"
    parts = job_id[len(prefix) :].split("/") if same_arm_id(job_id[: len(prefix)], prefix) else []
    if len(parts) != 3 or parts[1].lower() != "jobs" or not same_arm_id(parts[2], name):
        shown = excerpt(job_id, 300)
        raise UnexpectedAnswerError(
            f"scoring job {name} was asked of {endpoint.id}; Azure answered ID {shown!r}"
        )
    return parts[0]


def job_parts(body: Mapping[str, Any]) -> tuple[str, dict[str, Any], str, str | None]:
    """An ARM job's name, properties and status (each required), and its error as text: the
    message, else the code, else the error object itself (cut), or None without one."""
    name = _require(body, "name", "job")
    properties = _require(body, "properties", f"job {name}", dict)
    error = properties.get("error")
    if isinstance(error, dict):
        message = error.get("message") or error.get("code")
        error = str(message) if message else json.dumps(redacted_json(error))[:500]
    # Answered to the job's caller too, who sent no credential: one in it is the datastore's.
    error = redacted(error) if isinstance(error, str) and error else None
    return name, properties, _require(properties, "status", f"job {name}"), error


def check_job(answered: Mapping[str, Any], workspace_id: str, name: str) -> None:
    """`UnexpectedAnswerError` unless Azure answered with `workspace_id`'s job `name`, by name and
    ID: a job of that name in another workspace is Azure's answer about something else."""
    doing = f"asked for job {name!r} of {workspace_id}"
    check_named(answered.get("name"), name, doing)
    check_named(answered.get("id"), f"{workspace_id}/jobs/{name}", doing)


def job_from_arm(body: Mapping[str, Any]) -> ScoringJob:
    name, properties, status, error = job_parts(body)
    what = f"job {name}"
    run = _optional(properties, "properties", what, dict) or {}
    return ScoringJob(
        name=name,
        status=status,
        deployment=_optional(run, "azureml.deploymentname", what),
        start_time=_optional(properties, "startTime", what),
        end_time=_optional(properties, "endTime", what),
        outputs=redacted_json(dict(_optional(properties, "outputs", what, dict) or {})),
        error=error,
    )
