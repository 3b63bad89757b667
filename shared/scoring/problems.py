"""RFC 9457 problem details: every refusal of the HTTP scoring API, as data.

A `Problem` is what the caller reads (`application/problem+json`) and what the ledger records;
its `detail` never repeats an input value that was refused, so a SAS token sent by mistake is
neither echoed nor stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROBLEM_CONTENT_TYPE = "application/problem+json"
# Problem types are URIs (RFC 9457 §3.1.1); relative ones resolve against the API's own URL,
# where the README documents each of them.
_TYPE_BASE = "/api/problems/"


@dataclass(frozen=True)
class Problem:
    """One refusal: HTTP status, a stable type, a human title and detail, the field at fault."""

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
        """The JSON object of the response (RFC 9457 members plus the `field` extension)."""
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.field is not None:
            body["field"] = self.field
        return body


def bad_request(field: str, detail: str) -> Problem:
    return Problem(400, "invalid-request", "The request is not valid", detail, field)


def unprocessable(field: str, detail: str) -> Problem:
    return Problem(
        422, "not-allowed", "The request names something not allowed or not found", detail, field
    )


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "too-large",
        "The request body is too large",
        f"the body may hold at most {limit} bytes",
    )


def not_json(content_type: str | None) -> Problem:
    shown = (content_type or "none")[:100]
    return Problem(
        415,
        "unsupported-media-type",
        "The request body must be JSON",
        f"Content-Type is {shown!r}; expected application/json",
        "Content-Type",
    )


def unauthenticated() -> Problem:
    return Problem(
        401,
        "unauthenticated",
        "No authenticated caller",
        "the request carries no caller identity; call through App Service authentication "
        "(Entra ID) with a token for this app",
        "X-MS-CLIENT-PRINCIPAL-ID",
    )


def auth_not_configured() -> Problem:
    return Problem(
        503,
        "authentication-not-configured",
        "Authentication not configured",
        "App Service authentication is not enabled for this app, so no caller can be "
        "identified: nothing is served until it is",
    )


def forbidden() -> Problem:
    return Problem(
        403,
        "forbidden",
        "The caller is not allowed",
        "the caller's object ID is not in SCORING_ALLOWED_CALLERS",
        "X-MS-CLIENT-PRINCIPAL-ID",
    )


def not_found(detail: str) -> Problem:
    return Problem(404, "not-found", "No such scoring job", detail, "job_name")


def key_reused(detail: str) -> Problem:
    return Problem(
        422,
        "idempotency-key-reused",
        "The Idempotency-Key was used for a different request",
        detail,
        "Idempotency-Key",
    )


def unavailable(detail: str, retry_after: int) -> Problem:
    return Problem(
        503,
        "unavailable",
        "Azure is busy or unavailable; try again",
        detail,
        retry_after=retry_after,
    )


def bad_gateway(detail: str) -> Problem:
    return Problem(502, "azure-refused", "Azure refused the request", detail)


def internal(detail: str) -> Problem:
    """The app itself failed (its ledger refused it, or a fault): the operator must act; the
    details are in the app's log, not in the answer."""
    return Problem(500, "internal-error", "The app could not handle the request", detail)
