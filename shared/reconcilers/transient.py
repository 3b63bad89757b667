"""Transient failures (DESIGN §5): retried by azure-core, then raised (after `run.Run` recorded)."""

from __future__ import annotations

from azure.core.exceptions import AzureError

from shared.adapters.errors import describe, is_transient


class TransientAzureError(RuntimeError):
    """Azure stayed unavailable through the retries: raised so the trigger redelivers later."""


def for_workspace(workspace_id: str, error: BaseException) -> TransientAzureError:
    return TransientAzureError(f"workspace {workspace_id}: {describe(error)}")


def permanent(workspace_id: str, error: AzureError) -> str:
    """What a permanent failure was, to record; a transient one is raised for the workspace."""
    if is_transient(error):
        raise for_workspace(workspace_id, error) from error
    return describe(error)
