"""Event Grid events (pure): which ones the app acts on, and which resource each points at.
Type and operation are checked here (subscription filters get misconfigured); an event only says
*what to look at*: the reconcilers read the state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.arm import ArmId, is_arm_id, same_arm_id, top_level_resource
from shared.config import name_problem
from shared.policy.exemptions import within_scope

# Lower-cased: an event's operation name is compared case-insensitively.
_ML = "microsoft.machinelearningservices/workspaces"
WORKSPACE_OPERATIONS = frozenset({f"{_ML}/write", f"{_ML}/computes/write"})
PRIVATE_ENDPOINT_OPERATIONS = frozenset(
    {
        f"{_ML}/privateendpointconnections/write",
        f"{_ML}/privateendpointconnectionproxies/write",
        "microsoft.network/privateendpoints/write",
    }
)
NETWORK_PRIVATE_ENDPOINT_TYPE = ("Microsoft.Network", "privateEndpoints")


@dataclass(frozen=True)
class ResourceWrite:
    """A validated `ResourceWriteSuccess` event and the top-level resource it is about."""

    event_id: str
    operation_name: str
    resource_uri: str
    target_namespace: str
    target_type: str
    target_id: ArmId

    def targets(self, namespace_and_type: tuple[str, str]) -> bool:
        ours = (self.target_namespace, self.target_type)
        return [part.lower() for part in ours] == [part.lower() for part in namespace_and_type]


@dataclass(frozen=True)
class Ignored:
    event_id: str
    reason: str
    # False for a well-formed event that is simply not actionable (a failed operation).
    invalid: bool = True


def parse_resource_write(
    event_id: str,
    event_type: str,
    subject: str,
    data: object,
    operations: frozenset[str],
    topic: str | None = None,
) -> ResourceWrite | Ignored:
    # Imported with the first event, not when the host indexes the app (cold start).
    from azure.eventgrid import SystemEventNames

    if event_type != (expected := SystemEventNames.ResourceWriteSuccessEventName.value):
        return Ignored(event_id, f"event type {event_type!r} is not {expected}")
    if not isinstance(data, Mapping):
        return Ignored(event_id, "event has no data object")
    operation = data.get("operationName")
    if not isinstance(operation, str) or operation.lower() not in operations:
        return Ignored(event_id, f"operation {operation!r} is not one this function handles")
    status = data.get("status")
    if status is not None and (not isinstance(status, str) or status.lower() != "succeeded"):
        why = f"operation status is {status!r}, not Succeeded"
        return Ignored(event_id, why, invalid=not isinstance(status, str))
    # resourceUri is the resource written; subject carries the same for ResourceWriteSuccess.
    uri = subject if data.get("resourceUri") is None else data["resourceUri"]
    if not isinstance(uri, str) or not is_arm_id(uri):
        return Ignored(event_id, f"resource {uri!r} is not an ARM resource ID")
    # Azure's subject is the resource written, its topic the subscription or group holding it.
    if subject and not same_arm_id(subject, uri):
        return Ignored(event_id, f"subject {subject!r} is not the resource {uri!r}")
    if topic and not within_scope(uri, topic):
        return Ignored(event_id, f"resource {uri!r} is not under the event's topic {topic!r}")
    if (top := top_level_resource(uri)) is None:
        return Ignored(event_id, f"resource {uri!r} is not under a resource provider")
    # Its ID is what a reconciler reads: within Azure's naming rules, or no resource at all.
    if (problem := name_problem(top[2])) is not None:
        return Ignored(event_id, f"resource {top[2]!r}{problem}")
    return ResourceWrite(event_id, operation, uri, *top)
