"""RFC 9457 problem details: every refusal of the HTTP scoring API, as the caller reads it and the
ledger records it. `detail` never repeats a refused value: a SAS token is neither echoed nor
stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROBLEM_CONTENT_TYPE = "application/problem+json"
# Relative type URIs (RFC 9457 §3.1.1) resolve against the API's URL; the README documents them.
_TYPE_BASE = "/api/problems/"
_PRINCIPAL = "X-MS-CLIENT-PRINCIPAL-ID"


@dataclass(frozen=True)
class Problem:
    status: int
    kind: str
    title: str
    detail: str
    field: str | None = None
    retry_after: int | None = None

    @property
    def type(self) -> str:
        return _TYPE_BASE + self.kind

    def body(self) -> dict[str, Any]:
        body = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        return body if self.field is None else {**body, "field": self.field}


def bad_request(field: str, detail: str) -> Problem:
    return Problem(400, "invalid-request", "The request is not valid", detail, field)


def unprocessable(field: str, detail: str) -> Problem:
    title = "The request names something not allowed or not found"
    return Problem(422, "not-allowed", title, detail, field)


def too_large(limit: int) -> Problem:
    detail = f"the body may hold at most {limit} bytes"
    return Problem(413, "too-large", "The request body is too large", detail)


def not_json(content_type: str | None) -> Problem:
    detail = f"Content-Type is {(content_type or 'none')[:100]!r}; expected application/json"
    title = "The request body must be JSON"
    return Problem(415, "unsupported-media-type", title, detail, "Content-Type")


def unauthenticated() -> Problem:
    detail = (
        "the request carries no caller identity; call through App Service authentication "
        "(Entra ID) with a token for this app"
    )
    return Problem(401, "unauthenticated", "No authenticated caller", detail, _PRINCIPAL)


def auth_not_configured() -> Problem:
    detail = (
        "App Service authentication is not enabled for this app, so no caller can be "
        "identified: nothing is served until it is"
    )
    return Problem(503, "authentication-not-configured", "Authentication not configured", detail)


def forbidden() -> Problem:
    detail = "the caller's object ID is not in SCORING_ALLOWED_CALLERS"
    return Problem(403, "forbidden", "The caller is not allowed", detail, _PRINCIPAL)


def not_found(detail: str) -> Problem:
    return Problem(404, "not-found", "No such scoring job", detail, "job_name")


def key_reused(detail: str) -> Problem:
    title = "The Idempotency-Key was used for a different request"
    return Problem(422, "idempotency-key-reused", title, detail, "Idempotency-Key")


def unavailable(detail: str, retry_after: int) -> Problem:
    title = "Azure is busy or unavailable; try again"
    return Problem(503, "unavailable", title, detail, retry_after=retry_after)


def bad_gateway(detail: str) -> Problem:
    return Problem(502, "azure-refused", "Azure refused the request", detail)


def internal(detail: str) -> Problem:
    """The app itself failed: the operator must act; the details are in its log."""
    return Problem(500, "internal-error", "The app could not handle the request", detail)
