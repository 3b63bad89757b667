"""Error classes (DESIGN §5): transient errors go up for redelivery, permanent ones are recorded."""

from __future__ import annotations

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)


def is_transient(error: BaseException) -> bool:
    """429, 5xx and connection failures: worth another delivery once the retries are spent."""
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return True
    if isinstance(error, ClientAuthenticationError):
        # A token that could not be had is a configuration problem, not a blip.
        return False
    if isinstance(error, HttpResponseError):
        status = error.status_code or 0
        return status == 429 or status >= 500
    return False


def describe(error: BaseException) -> str:
    """A one-line description for the ledger and the log: status, error code, message."""
    if isinstance(error, ClientAuthenticationError) and error.status_code is None:
        # Raised on our side (a refused endpoint, a token not had): no HTTP status to show.
        return f"{type(error).__name__}: {error.message}"[:500]
    if isinstance(error, HttpResponseError):
        code = getattr(error.error, "code", None) if error.error else None
        message = (getattr(error.error, "message", None) if error.error else None) or str(
            error.message
        )
        first_line = str(message).splitlines()[0] if message else ""
        return f"HTTP {error.status_code} {code or ''}: {first_line}".replace("  ", " ")[:500]
    if isinstance(error, AzureError):
        return f"{type(error).__name__}: {error.message}"[:500]
    return f"{type(error).__name__}: {error}"[:500]
