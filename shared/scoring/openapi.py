"""The Swagger 2.0 description (what Logic Apps custom connectors take) of the HTTP scoring API,
built from the very definitions request bodies are validated with."""

from __future__ import annotations

import copy
from typing import Any

from shared.scoring.contract import DEFINITIONS, JOB_NAME_PATTERN, field

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
