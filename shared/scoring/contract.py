"""The HTTP scoring API's contract: its JSON schema definitions (`requests.check` applies them),
its RFC 9457 problem details, and its Swagger 2.0 description (what Logic Apps custom connectors
take), built from the same definitions."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from shared.arm import ML_NAME
from shared.bounds import redacted

MAX_BODY_BYTES = 64 * 1024
MAX_INPUT_PATH = 2048
INPUT_TYPES = ("uri_folder", "uri_file")
# Batch deployment and job names: letters, digits, '-' and '_' (what AML accepts).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"
# Every job started must be one the app can report on (Azure ML's names allow '.').
JOB_NAME_PATTERN = f"^{ML_NAME.pattern}$"


def field(summary: str, kind: str = "string", **schema: Any) -> dict[str, Any]:
    """A property's (or a parameter's) schema, with its caption for the Logic Apps designer."""
    return {"type": kind, **schema, "x-ms-summary": summary}


# What a started job and an ended one have in common.
_JOB = {
    "name": field("Job name"),
    "status": field("Status"),
    "endpoint": field("Batch endpoint ID"),
    "workspace": field("Workspace ID"),
}
DEFINITIONS: dict[str, dict[str, Any]] = {
    "ScoringRequest": {
        "type": "object",
        "description": "What to score: a batch endpoint, optionally a deployment, and the input.",
        "required": ["endpoint", "input"],
        "additionalProperties": False,
        "properties": {
            "endpoint": field(
                "Batch endpoint",
                minLength=1,
                maxLength=1024,
                description="A batch endpoint in SCORING_ALLOWED_ENDPOINTS: its ARM ID, or "
                "its name when exactly one allowed endpoint has it.",
            ),
            "deployment": field(
                "Deployment",
                minLength=1,
                maxLength=255,
                pattern=NAME_PATTERN,
                description="A deployment of the endpoint; the endpoint's default if absent.",
            ),
            "input": {"$ref": "#/definitions/ScoringInput"},
        },
    },
    "ScoringInput": {
        "type": "object",
        "description": "The data the job reads.",
        "required": ["type", "path"],
        "additionalProperties": False,
        "properties": {
            "type": field(
                "Input type", enum=list(INPUT_TYPES), description="A folder or a single file."
            ),
            "path": field(
                "Input path",
                minLength=1,
                maxLength=MAX_INPUT_PATH,
                pattern=r"^(azureml://datastores/|azureml:|https://)[^?#\s\\]+$",
                description="azureml://datastores/<datastore>/paths/<path> or https://"
                "<account>.blob.core.windows.net/<container>/<path> (or .dfs.), under a prefix "
                "of SCORING_ALLOWED_INPUTS (empty: a datastore of the endpoint's workspace); no "
                "query string (never a SAS token), no '..'.",
            ),
        },
    },
    "ScoringJobAccepted": {
        "type": "object",
        "description": "A scoring job that was started (or found again by its Idempotency-Key).",
        "required": ["name", "status", "endpoint", "workspace", "statusUrl"],
        "properties": _JOB | {"statusUrl": field("Status URL", format="uri")},
    },
    "ScoringJob": {
        "type": "object",
        "description": "A scoring job that has ended: Completed, Failed or Canceled.",
        "required": ["name", "status", "endpoint", "workspace"],
        "properties": _JOB
        | {
            "status": field("Status", enum=["Completed", "Failed", "Canceled"]),
            "deployment": field("Deployment"),
            "startTime": field("Start time"),
            "endTime": field("End time"),
            "outputs": field("Outputs", "object"),
            "error": field("Error"),
        },
    },
    "ScoringDryRun": {
        "type": "object",
        "description": "AUTOMATION_MODE=dry-run: what would have been submitted; nothing was.",
        "required": ["dryRun", "wouldSubmit"],
        "properties": {
            "dryRun": field("Dry run", "boolean"),
            "wouldSubmit": field("Would submit", "object"),
        },
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": field("Problem type"),
            "title": field("Title"),
            "status": field("HTTP status", "integer"),
            "detail": field("Detail"),
            "field": field("Field at fault"),
        },
    },
}

PROBLEM_CONTENT_TYPE = "application/problem+json"
_PRINCIPAL = "X-MS-CLIENT-PRINCIPAL-ID"
# Every refusal (`detail` never repeats a refused value: a SAS token is neither echoed nor
# stored): each kind, the last segment of its type, with its status and title.
KINDS: dict[str, tuple[int, str]] = {
    "invalid-request": (400, "The request is not valid"),
    "unauthenticated": (401, "No authenticated caller"),
    "forbidden": (403, "The caller is not allowed"),
    "not-found": (404, "No such scoring job"),
    "too-large": (413, "The request body is too large"),
    "unsupported-media-type": (415, "The request body must be JSON"),
    "not-allowed": (422, "The request names something not allowed or not found"),
    "idempotency-key-reused": (422, "The Idempotency-Key was used for a different request"),
    "internal-error": (500, "The app could not handle the request"),  # its log says why
    "azure-refused": (502, "Azure refused the request"),
    "unavailable": (503, "Azure is busy or unavailable; try again"),
    "authentication-not-configured": (503, "Authentication not configured"),
}


@dataclass(frozen=True)
class Problem:
    kind: str
    detail: str
    field: str | None = None
    retry_after: int | None = None

    @property
    def status(self) -> int:
        return KINDS[self.kind][0]

    @property
    def type(self) -> str:
        # Relative (RFC 9457 §3.1.1): resolves against the API's URL; the README documents them.
        return "/api/problems/" + self.kind

    def body(self) -> dict[str, Any]:
        title, detail = KINDS[self.kind][1], redacted(self.detail)  # it may repeat Azure's error
        body = {"type": self.type, "title": title, "status": self.status, "detail": detail}
        return body | ({"field": self.field} if self.field is not None else {})


UNAUTHENTICATED = Problem(
    "unauthenticated",
    "the request carries no caller identity; call through App Service authentication "
    "(Entra ID) with a token for this app",
    _PRINCIPAL,
)
FORBIDDEN = Problem(
    "forbidden", "the caller's object ID is not in SCORING_ALLOWED_CALLERS", _PRINCIPAL
)
NOT_STARTED_BY_YOU = Problem(
    "not-found", "no scoring job of that name was started by you", "job_name"
)
AUTH_NOT_CONFIGURED = Problem(
    "authentication-not-configured",
    "App Service authentication is not enabled for this app, so no caller can be "
    "identified: nothing is served until it is",
)


API_PREFIX = "/api"
JOBS_ROUTE = "scoring-jobs"
JOB_ROUTE = "scoring-jobs/{job_name}"
SPEC_ROUTE = "openapi.json"
RETRY_AFTER_SECONDS = 15

_PROBLEMS = {
    "400": "The body is not valid JSON, or a field is wrong (see `field`).",
    "401": "No authenticated caller.",
    "403": "The caller is not in SCORING_ALLOWED_CALLERS.",
    "404": "No job of that name was started through this API by this caller.",
    "413": "The body is larger than 64 KiB.",
    "415": "The body is not JSON.",
    "422": "The endpoint, deployment or input is not allowed or not found, or the "
    "Idempotency-Key was used for a different request.",
    "500": "The app failed (for example, its ledger refused it); its log says why.",
    "502": "Azure refused the request for a reason the caller cannot fix, or answered with "
    "something other than what was asked.",
    "503": "Azure throttled the request or is unavailable (retry after Retry-After seconds), "
    "or App Service authentication is not enabled for the app.",
}


_HEADERS = {
    "Location": {
        "type": "string",
        "description": "URL of the job's status: absolute on the app's host name, relative "
        "when the app has none configured.",
    },
    "Retry-After": {"type": "integer", "description": "Seconds to wait before asking again."},
}

# A 202's schema and headers: the job runs; where and when to ask again.
_RUNS = ("ScoringJobAccepted", "Location", "Retry-After")


def _response(description: str, definition: str, *headers: str) -> dict[str, Any]:
    response = {"description": description, "schema": {"$ref": "#/definitions/" + definition}}
    return response | ({"headers": {h: dict(_HEADERS[h]) for h in headers}} if headers else {})


def _problems(*statuses: str) -> dict[str, Any]:
    return {
        status: _response(_PROBLEMS[status], "Problem", *["Retry-After"] * (status == "503"))
        for status in statuses
    }


def build_spec(*, host: str | None) -> dict[str, Any]:
    """The Swagger 2.0 document of the API on `host`, the app's own host name (never the
    request's); without one, Swagger's default: the host serving the document."""
    spec: dict[str, Any] = {
        "swagger": "2.0",
        "info": {
            "title": "Synapse-AML automation: batch scoring",
            "version": "1.0",
            "description": "Start Azure ML batch scoring jobs on allowed endpoints and follow "
            "them to the end (202 with Location and Retry-After while a job runs, 200 when it "
            "has ended). Callers authenticate with Entra ID through App Service authentication.",
        },
        "basePath": API_PREFIX,
        # The app accepts HTTPS only (httpsOnly and requireHttps in infra/).
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json", "application/problem+json"],
        "securityDefinitions": {
            "oauth2_auth": {
                "type": "oauth2",
                "flow": "accessCode",
                "description": "Microsoft Entra ID (App Service authentication in front of "
                "the app).",
                "authorizationUrl": "https://login.microsoftonline.com/common/oauth2/authorize",
                "tokenUrl": "https://login.windows.net/common/oauth2/authorize",
                "scopes": {},
            }
        },
        "security": [{"oauth2_auth": []}],
        "paths": {
            "/" + JOBS_ROUTE: {
                "post": {
                    "operationId": "StartScoring",
                    "summary": "Start a batch scoring job",
                    "description": "Validates the request and starts a scoring job on an "
                    "allowed batch endpoint. The same Idempotency-Key within 24 hours returns "
                    "the first request's job and starts nothing.",
                    "x-ms-summary": "Start scoring",
                    "parameters": [
                        {"name": "Idempotency-Key", "in": "header", "required": False}
                        | field(
                            "Idempotency key",
                            maxLength=255,
                            description="Makes retries safe, e.g. @{workflow().run.name}.",
                        ),
                        {
                            "name": "body",
                            "in": "body",
                            "required": True,
                            "schema": {"$ref": "#/definitions/ScoringRequest"},
                            "x-ms-summary": "Scoring request",
                        },
                    ],
                    "responses": {
                        "202": _response(
                            "Started (or found again by its Idempotency-Key).", *_RUNS
                        ),
                        "200": _response(
                            "Dry run: validated and recorded, nothing started.", "ScoringDryRun"
                        ),
                        **_problems("400", "401", "403", "413", "415", "422", "500", "502", "503"),
                    },
                }
            },
            "/" + JOB_ROUTE: {
                "get": {
                    "operationId": "GetScoringJob",
                    "summary": "Get a scoring job's status",
                    "description": "202 while the job runs; 200 with its status (Completed, "
                    "Failed or Canceled), times and outputs or error once it has ended.",
                    "x-ms-summary": "Get scoring job",
                    "parameters": [
                        {"name": "job_name", "in": "path", "required": True}
                        | field(
                            "Job name",
                            pattern=JOB_NAME_PATTERN,
                            description="The job's name, as start_scoring returned it.",
                        )
                    ],
                    "responses": {
                        "200": _response("The job has ended.", "ScoringJob"),
                        "202": _response("The job is still running.", *_RUNS),
                        **_problems("404", "401", "403", "500", "502", "503"),
                    },
                }
            },
            "/" + SPEC_ROUTE: {
                "get": {
                    "operationId": "GetOpenApiSpec",
                    "summary": "This API's Swagger 2.0 description",
                    "x-ms-summary": "OpenAPI description",
                    "x-ms-visibility": "internal",
                    "produces": ["application/json"],
                    "responses": {
                        "200": {"description": "The description.", "schema": {"type": "object"}},
                        **_problems("401", "503"),
                    },
                }
            },
        },
        "definitions": copy.deepcopy(DEFINITIONS),
    }
    return {"host": host, **spec} if host else spec
