"""Error classes (DESIGN §5): transient errors go up for redelivery, permanent ones are recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from shared.bounds import excerpt, redacted


def is_transient(error: BaseException) -> bool:
    """429, 5xx and connection failures: worth another delivery once the retries are spent."""
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return True
    # A token that could not be had (ClientAuthenticationError) is a configuration problem.
    if isinstance(error, ClientAuthenticationError) or not isinstance(error, HttpResponseError):
        return False
    return error.status_code == 429 or (error.status_code or 0) >= 500


T = TypeVar("T")


def read_back(write: Callable[[], T], read: Callable[[], T], holds: Callable[[T], bool]) -> T:
    """`write()`; if it failed transiently through the retries (a lost answer: it may have taken
    effect), what `read()` shows, when `holds` of it, is its answer. Else the write's error."""
    try:
        return write()
    except AzureError as error:
        if not is_transient(error):
            raise
        try:
            found = read()
        except AzureError:
            raise error from None
        if not holds(found):
            raise
        return found


def describe(error: BaseException) -> str:
    """A one-line description for the ledger and the log: status, error code, message."""
    # One raised on our side (a refused endpoint, a token not had) has no HTTP status to show.
    ours = isinstance(error, ClientAuthenticationError) and error.status_code is None
    if isinstance(error, HttpResponseError) and not ours:
        code = getattr(error.error, "code", None)
        message = getattr(error.error, "message", None) or str(error.message)
        # Redacted before it is cut (at a line's end, at the limit): cut, a credential is unseen.
        line = redacted(f"HTTP {error.status_code} {code or ''}: {message or ''}")
        return line.splitlines()[0].replace("  ", " ")[:500]
    text = error.message if isinstance(error, AzureError) else error
    return excerpt(f"{type(error).__name__}: {text}", 500)


def redact_in_place(error: BaseException) -> None:
    """`error`, the errors in its args and those it was raised from or while handling, redacted
    in place: args and text attributes (an AzureError's `message`); an HttpResponseError's body,
    which its `str` appends, moves into its args (its response dropped). A logged traceback, the
    span and the Functions host's record of a raised error format them as they read; type and
    traceback stay (the host's retries, on-call's frames). Only ever on the failure path."""
    pending: list[object] = [error]
    seen: set[int] = set()  # an error in its own args would loop
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, HttpResponseError):
            item.args, item.response = (str(item),), None
        item.args = tuple(redacted(arg) if isinstance(arg, str) else arg for arg in item.args)
        texts = vars(item)
        texts.update({name: redacted(v) for name, v in texts.items() if isinstance(v, str)})
        pending += [*item.args, item.__cause__, item.__context__]


class TransientAzureError(RuntimeError):
    """Azure stayed unavailable through the retries: raised so the trigger redelivers later."""


def for_workspace(workspace_id: str, error: BaseException) -> TransientAzureError:
    return TransientAzureError(f"workspace {workspace_id}: {describe(error)}")


def permanent(workspace_id: str, error: Exception) -> str:
    """What a permanent failure was, to record; a transient one is raised for the workspace. An
    answer the app refused (not Azure's error) is told in its own words."""
    if is_transient(error):
        raise for_workspace(workspace_id, error) from error
    return describe(error) if isinstance(error, AzureError) else str(error)
