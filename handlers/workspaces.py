"""`on_workspace_event`: an AML workspace or one of its computes was created or changed."""

from __future__ import annotations

import azure.functions as func

from shared.events import ML_WORKSPACE_TYPE, WORKSPACE_OPERATIONS
from shared.intake import receive_resource_write, record, scope_workspaces
from shared.reconcilers.transient import TransientAzureError
from shared.reconcilers.workspace import Concern, reconcile_workspace, start_run
from shared.runtime import runtime

FUNCTION = "on_workspace_event"

bp = func.Blueprint()


@bp.function_name(FUNCTION)
@bp.event_grid_trigger(arg_name="event")
def on_workspace_event(event: func.EventGridEvent) -> None:
    rt = runtime()
    write = receive_resource_write(rt, event, function=FUNCTION, operations=WORKSPACE_OPERATIONS)
    if write is None:
        return
    if not write.targets(ML_WORKSPACE_TYPE):
        record(rt, event, FUNCTION, "invalid", f"{write.resource_uri} is not an AML workspace")
        return
    workspaces = scope_workspaces(rt, event, FUNCTION, [write.target_id])
    if workspaces is None:
        return
    try:
        report = reconcile_workspace(
            rt,
            workspaces[0],
            start_run(rt, f"event:{event.id}"),
            concerns=frozenset({Concern.ROLES, Concern.POLICIES}),
        )
    except TransientAzureError as error:
        text = f"will be redelivered: {error}"
        record(rt, event, FUNCTION, "failed", text, workspace_id=workspaces[0])
        raise
    record(rt, event, FUNCTION, "reconciled", report.summary(), workspace_id=workspaces[0])
