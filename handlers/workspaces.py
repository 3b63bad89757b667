"""`on_workspace_event`: an AML workspace or one of its computes was created or changed."""

from __future__ import annotations

import azure.functions as func

from shared.arm import ML_WORKSPACE_TYPE
from shared.events import WORKSPACE_OPERATIONS
from shared.intake import Delivery
from shared.reconcilers.workspace import Concern
from shared.telemetry import operation

FUNCTION = "on_workspace_event"

bp = func.Blueprint()


@bp.function_name(FUNCTION)
@bp.event_grid_trigger(arg_name="event")
@operation
def on_workspace_event(event: func.EventGridEvent) -> None:
    delivery = Delivery(event, FUNCTION)
    if (write := delivery.resource_write(WORKSPACE_OPERATIONS)) is not None:
        why = f"{write.resource_uri} is not an AML workspace"
        candidates = [write.target_id] if write.targets(ML_WORKSPACE_TYPE) else why
        delivery.reconcile(candidates, frozenset({Concern.ROLES, Concern.POLICIES}))
