"""`on_private_endpoint_event`: a private endpoint connection appeared or changed somewhere."""

from __future__ import annotations

import azure.functions as func
from azure.core.exceptions import AzureError, ResourceNotFoundError

from shared.adapters.errors import describe
from shared.arm import ML_WORKSPACE_TYPE, ArmId, is_workspace
from shared.events import NETWORK_PRIVATE_ENDPOINT_TYPE, PRIVATE_ENDPOINT_OPERATIONS
from shared.intake import Delivery
from shared.model import JudgedAnswerError
from shared.reconcilers.workspace import Concern
from shared.telemetry import operation

FUNCTION = "on_private_endpoint_event"

bp = func.Blueprint()


@bp.function_name(FUNCTION)
@bp.event_grid_trigger(arg_name="event")
@operation
def on_private_endpoint_event(event: func.EventGridEvent) -> None:
    delivery = Delivery(event, FUNCTION)
    if (write := delivery.resource_write(PRIVATE_ENDPOINT_OPERATIONS)) is None:
        return
    # The AML workspaces the write concerns, or the reason there are none to look at.
    affected: list[str] | str = [write.target_id]
    if write.targets(NETWORK_PRIVATE_ENDPOINT_TYPE):
        # A private endpoint's ID does not name what it connects to: ask ARM.
        try:
            targets = delivery.rt.network.private_link_targets(ArmId(write.target_id))
        except ResourceNotFoundError as error:  # deleted since: nothing to reconcile, no failure
            delivery.record("ignored", f"private endpoint {write.target_id}: {describe(error)}")
            return
        except (AzureError, JudgedAnswerError) as error:  # the latter: an answer about another
            delivery.read_failed(error, "private endpoint not readable")
            return
        if not (affected := [target for target in targets if is_workspace(target)]):
            why = f"private endpoint {write.target_id} connects to no AML workspace"
            delivery.record("ignored", why)
            return
    elif not write.targets(ML_WORKSPACE_TYPE):
        affected = f"resource {write.resource_uri} is not an AML workspace or a private endpoint"
    # Connections; an Approved connection brings in the Synapse identity's role too.
    delivery.reconcile(affected, frozenset({Concern.CONNECTIONS}), focus=write.resource_uri)
