"""`on_private_endpoint_event`: a private endpoint connection appeared or changed somewhere."""

from __future__ import annotations

import azure.functions as func
from azure.core.exceptions import AzureError

from shared.adapters.errors import describe, is_transient
from shared.arm import ArmId, is_resource_type
from shared.events import (
    ML_WORKSPACE_TYPE,
    NETWORK_PRIVATE_ENDPOINT_TYPE,
    PRIVATE_ENDPOINT_OPERATIONS,
    ResourceWrite,
)
from shared.intake import receive_resource_write, record, scope_workspaces
from shared.reconcilers.transient import TransientAzureError
from shared.reconcilers.workspace import Concern, reconcile_workspace, start_run
from shared.runtime import Runtime, runtime

FUNCTION = "on_private_endpoint_event"

bp = func.Blueprint()


def _affected_workspaces(rt: Runtime, write: ResourceWrite) -> list[str] | str:
    """AML workspaces the write concerns, or the reason there are none to look at."""
    if write.targets(ML_WORKSPACE_TYPE):
        return [write.target_id]
    if write.targets(NETWORK_PRIVATE_ENDPOINT_TYPE):
        # A private endpoint's ID does not name what it connects to: ask ARM.
        targets = rt.network.private_link_targets(ArmId(write.target_id))
        return [target for target in targets if is_resource_type(target, *ML_WORKSPACE_TYPE)]
    return f"resource {write.resource_uri} is not an AML workspace or a private endpoint"


@bp.function_name(FUNCTION)
@bp.event_grid_trigger(arg_name="event")
def on_private_endpoint_event(event: func.EventGridEvent) -> None:
    rt = runtime()
    write = receive_resource_write(
        rt, event, function=FUNCTION, operations=PRIVATE_ENDPOINT_OPERATIONS
    )
    if write is None:
        return
    try:
        affected = _affected_workspaces(rt, write)
    except AzureError as error:
        if is_transient(error):
            record(rt, event, FUNCTION, "failed", f"will be redelivered: {describe(error)}")
            raise
        record(rt, event, FUNCTION, "failed", f"private endpoint not readable: {describe(error)}")
        return
    if isinstance(affected, str):
        record(rt, event, FUNCTION, "invalid", affected)
        return
    workspaces = scope_workspaces(rt, event, FUNCTION, affected)
    if workspaces is None:
        return
    summaries = []
    for workspace_id in workspaces:
        try:
            # Connections; an Approved connection brings in the Synapse identity's role too.
            report = reconcile_workspace(
                rt,
                workspace_id,
                start_run(rt, f"event:{event.id}"),
                concerns=frozenset({Concern.CONNECTIONS}),
                focus=write.resource_uri,
            )
        except TransientAzureError as error:
            text = f"will be redelivered: {error}"
            record(rt, event, FUNCTION, "failed", text, workspace_id=workspace_id)
            raise
        summaries.append(report.summary())
    text = "; ".join(summaries)
    record(rt, event, FUNCTION, "reconciled", text, workspace_id=",".join(workspaces))
