"""Transient failures (DESIGN §5): retried by azure-core, then raised so the trigger runs again.

Every reconciler applies its writes the same way: in order, recording an outcome for each; a
transient failure stops the rest (they are recorded as not attempted) and is raised only after
everything was recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from azure.core.exceptions import AzureError

from shared.adapters.errors import describe

T = TypeVar("T")


class TransientAzureError(RuntimeError):
    """Azure stayed unavailable through the retries: raised so the trigger redelivers later."""


def for_workspace(workspace_id: str, error: AzureError) -> TransientAzureError:
    """The error to raise for a workspace whose reconcile hit a transient failure."""
    return TransientAzureError(f"workspace {workspace_id}: {describe(error)}")


def apply_in_order(
    items: Iterable[T], apply: Callable[[T], str]
) -> tuple[list[tuple[T, str]], AzureError | None]:
    """Apply each item; `apply` returns its outcome and raises only transient errors.

    Returns every item with an outcome, and the transient error that stopped the run, if any.
    """
    outcomes: list[tuple[T, str]] = []
    transient: AzureError | None = None
    for item in items:
        if transient is not None:
            outcomes.append((item, "not attempted: an earlier write failed transiently"))
            continue
        try:
            outcomes.append((item, apply(item)))
        except AzureError as error:
            transient = error
            outcomes.append((item, f"failed (will retry): {describe(error)}"))
    return outcomes, transient
