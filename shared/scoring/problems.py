"""RFC 9457 problem details: every refusal of the HTTP scoring API, as the caller reads it and the
ledger records it. `detail` never repeats a refused value: a SAS token is neither echoed nor
stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROBLEM_CONTENT_TYPE = "application/problem+json"
_PRINCIPAL = "X-MS-CLIENT-PRINCIPAL-ID"
# Each kind of refusal (the last segment of its type) with its status and title.
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
        body = {"type": self.type, "title": KINDS[self.kind][1], "status": self.status}
        return (
            body
            | {"detail": self.detail}
            | ({"field": self.field} if self.field is not None else {})
        )


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
