"""Event Grid `ResourceWriteSuccess` events: what the app acts on, and what it resolves them to."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from azure.eventgrid import SystemEventNames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.arm import ML_WORKSPACE_TYPE, is_arm_id, same_arm_id
from shared.events import (
    NETWORK_PRIVATE_ENDPOINT_TYPE,
    PRIVATE_ENDPOINT_OPERATIONS,
    WORKSPACE_OPERATIONS,
    Ignored,
    ResourceWrite,
    parse_resource_write,
)

FIXTURE = Path(__file__).parent / "fixtures" / "eventgrid_resources_resourcewritesuccess.json"

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
WORKSPACE = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-1234/providers/"
    "Microsoft.MachineLearningServices/workspaces/testworkspace"
)
CONNECTION = f"{WORKSPACE}/privateEndpointConnections/testworkspace.pe-1"
PROXY = f"{WORKSPACE}/privateEndpointConnectionProxies/proxy-1"
PRIVATE_ENDPOINT = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-1234/providers/"
    "Microsoft.Network/privateEndpoints/petest01"
)
PEC_WRITE = "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/write"
PROXY_WRITE = "Microsoft.MachineLearningServices/workspaces/privateEndpointConnectionProxies/write"
PE_WRITE = "Microsoft.Network/privateEndpoints/write"

RESOURCE_WRITE_SUCCESS = SystemEventNames.ResourceWriteSuccessEventName.value


def sample() -> dict[str, Any]:
    """The documented sample event, as Event Grid delivers it."""
    (event,) = json.loads(FIXTURE.read_text())
    assert isinstance(event, dict)
    return event


def write_event(resource: str = CONNECTION, operation: str = PEC_WRITE) -> dict[str, Any]:
    """The documented sample, adjusted to a write of `resource` by `operation`."""
    event = copy.deepcopy(sample())
    event["subject"] = resource
    event["data"]["resourceUri"] = resource
    event["data"]["authorization"]["scope"] = resource
    event["data"]["authorization"]["action"] = operation
    event["data"]["operationName"] = operation
    event["data"]["resourceProvider"] = operation.split("/", 1)[0]
    return event


def parse(
    event: dict[str, Any], operations: frozenset[str] = PRIVATE_ENDPOINT_OPERATIONS
) -> ResourceWrite | Ignored:
    return parse_resource_write(
        event_id=event.get("id", ""),
        event_type=event.get("eventType", ""),
        subject=event.get("subject", ""),
        data=event.get("data"),
        operations=operations,
    )


def accepted(event: dict[str, Any]) -> ResourceWrite:
    parsed = parse(event)
    assert isinstance(parsed, ResourceWrite), parsed
    return parsed


def ignored(event: dict[str, Any], *reason_parts: str) -> Ignored:
    parsed = parse(event)
    assert isinstance(parsed, Ignored), parsed
    assert parsed.event_id == event.get("id", "")
    assert parsed.reason
    for part in reason_parts:
        assert part in parsed.reason
    return parsed


# --- What is acted on --------------------------------------------------------------------------


def test_the_documented_sample_is_a_resource_write_success() -> None:
    event = sample()
    assert (
        event["eventType"] == RESOURCE_WRITE_SUCCESS == "Microsoft.Resources.ResourceWriteSuccess"
    )
    # As documented, it is a storage account write: not one this function handles.
    assert ignored(event, "Microsoft.Storage/storageAccounts/write").invalid


def test_private_endpoint_connection_write_resolves_to_the_workspace() -> None:
    parsed = accepted(write_event())
    assert parsed.event_id == "4db48cba-50a2-455a-93b4-de41a3b5b7f6"
    assert parsed.operation_name == PEC_WRITE
    assert parsed.resource_uri == CONNECTION
    assert parsed.target_id == WORKSPACE
    assert (parsed.target_namespace, parsed.target_type) == ML_WORKSPACE_TYPE
    assert parsed.targets(ML_WORKSPACE_TYPE)
    assert parsed.targets(("microsoft.machinelearningservices", "WORKSPACES"))
    assert not parsed.targets(NETWORK_PRIVATE_ENDPOINT_TYPE)


def test_private_endpoint_connection_proxy_write_resolves_to_the_workspace() -> None:
    parsed = accepted(write_event(PROXY, PROXY_WRITE))
    assert parsed.target_id == WORKSPACE
    assert parsed.targets(ML_WORKSPACE_TYPE)


def test_private_endpoint_write_resolves_to_the_private_endpoint() -> None:
    parsed = accepted(write_event(PRIVATE_ENDPOINT, PE_WRITE))
    assert parsed.target_id == PRIVATE_ENDPOINT
    assert parsed.targets(NETWORK_PRIVATE_ENDPOINT_TYPE)
    assert not parsed.targets(ML_WORKSPACE_TYPE)


def test_deeper_children_resolve_to_the_workspace() -> None:
    child = f"{CONNECTION}/somethingElse/x"
    assert accepted(write_event(child)).target_id == WORKSPACE


@pytest.mark.parametrize(
    "operation",
    [
        PEC_WRITE.lower(),
        PEC_WRITE.upper(),
        "microsoft.machinelearningservices/Workspaces/PrivateEndpointConnections/Write",
        PROXY_WRITE.swapcase(),
    ],
)
def test_operation_names_compare_case_insensitively(operation: str) -> None:
    parsed = accepted(write_event(CONNECTION, operation))
    assert parsed.operation_name == operation
    assert parsed.target_id == WORKSPACE


def test_upper_cased_resource_id_resolves_to_the_same_workspace() -> None:
    parsed = accepted(write_event(CONNECTION.upper()))
    assert same_arm_id(parsed.target_id, WORKSPACE)


def test_subject_is_used_when_resource_uri_is_missing() -> None:
    event = write_event()
    del event["data"]["resourceUri"]
    assert accepted(event).target_id == WORKSPACE


def test_a_subject_naming_another_resource_than_resource_uri_is_invalid() -> None:
    # Azure's subject is the resource written: an event that names two resources is no event
    # Azure sent, and neither is taken for the truth.
    event = write_event()
    event["subject"] = PRIVATE_ENDPOINT
    assert ignored(event, "subject", PRIVATE_ENDPOINT).invalid


_OTHER_SUBSCRIPTION = "99999999-8888-7777-6666-555555555555"
_NAMES = st.sampled_from(
    [
        CONNECTION,
        CONNECTION.upper(),
        CONNECTION.lower(),
        PROXY,
        WORKSPACE,
        CONNECTION.replace("testworkspace/", "testworkspace2/"),
        CONNECTION.replace("rg-1234", "rg-12345"),
        CONNECTION.replace(SUBSCRIPTION, _OTHER_SUBSCRIPTION),
        CONNECTION.replace("pe-1", "pe-2"),
    ]
)
_TOPICS = st.sampled_from(
    [
        f"/subscriptions/{SUBSCRIPTION}",
        f"/subscriptions/{SUBSCRIPTION.upper()}/resourcegroups/RG-1234",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-1234",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-123",
        f"/subscriptions/{_OTHER_SUBSCRIPTION}",
        f"/subscriptions/{_OTHER_SUBSCRIPTION}/resourceGroups/rg-1234",
        WORKSPACE,
        "/subscriptions",
        "",
    ]
)


@given(subject=_NAMES, resource=_NAMES, topic=_TOPICS)
def test_an_event_is_acted_on_only_when_subject_topic_and_resource_uri_agree(
    subject: str, resource: str, topic: str
) -> None:
    event = write_event(resource)
    event["subject"] = subject
    parsed = parse_resource_write(
        event["id"], event["eventType"], subject, event["data"], PRIVATE_ENDPOINT_OPERATIONS, topic
    )
    # The topic holds the resource: its subscription, resource group, workspace or itself.
    holders = ["/".join(resource.split("/")[:length]) for length in (3, 5, 9, 11)]
    agree = same_arm_id(subject, resource) and (
        not topic or any(same_arm_id(topic, holder) for holder in holders)
    )
    assert isinstance(parsed, ResourceWrite) == agree, parsed


@pytest.mark.parametrize("status", ["Succeeded", "succeeded", "SUCCEEDED", None])
def test_succeeded_or_absent_status_is_accepted(status: str | None) -> None:
    event = write_event()
    if status is None:
        del event["data"]["status"]
    else:
        event["data"]["status"] = status
    assert accepted(event).target_id == WORKSPACE


@pytest.mark.parametrize(
    ("resource", "operation"),
    [
        (WORKSPACE, "Microsoft.MachineLearningServices/workspaces/write"),
        (
            f"{WORKSPACE}/computes/cpu",
            "Microsoft.MachineLearningServices/workspaces/computes/write",
        ),
    ],
)
def test_workspace_operations_resolve_to_the_workspace(resource: str, operation: str) -> None:
    parsed = parse(write_event(resource, operation), WORKSPACE_OPERATIONS)
    assert isinstance(parsed, ResourceWrite)
    assert parsed.target_id == WORKSPACE
    # And the private endpoint function does not take them.
    assert isinstance(parse(write_event(resource, operation)), Ignored)


# --- What is ignored, and why ------------------------------------------------------------------


def test_missing_data_is_ignored() -> None:
    event = write_event()
    del event["data"]
    assert ignored(event, "no data object").invalid


@pytest.mark.parametrize("data", [None, [], ["resourceUri"], "data", 42, json.dumps({"a": 1})])
def test_data_that_is_not_an_object_is_ignored(data: object) -> None:
    event = write_event()
    event["data"] = data
    assert ignored(event, "no data object").invalid


@pytest.mark.parametrize(
    "event_type",
    [
        "Microsoft.Resources.ResourceDeleteSuccess",
        "Microsoft.Resources.ResourceActionSuccess",
        "Microsoft.Resources.ResourceWriteFailure",
        "Microsoft.EventGrid.SubscriptionValidationEvent",
        "",
    ],
)
def test_wrong_event_type_is_ignored(event_type: str) -> None:
    event = write_event()
    event["eventType"] = event_type
    ignored(event, "event type", RESOURCE_WRITE_SUCCESS)


@pytest.mark.parametrize(
    "operation",
    [
        "Microsoft.Storage/storageAccounts/write",
        "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/delete",
        "Microsoft.MachineLearningServices/workspaces/write",
        PEC_WRITE + " ",
        PEC_WRITE.replace("Services", "\u0405ervices"),  # Cyrillic capital dze
        "",
        None,
        42,
    ],
)
def test_unknown_operation_is_ignored(operation: object) -> None:
    event = write_event()
    event["data"]["operationName"] = operation
    ignored(event, "operation", "not one this function handles")


@pytest.mark.parametrize(
    "resource",
    [
        "not-an-arm-id",
        "testworkspace",
        "https://management.azure.com" + CONNECTION,
        CONNECTION.removeprefix("/"),
        CONNECTION + "/",
    ],
)
def test_resource_that_is_not_an_arm_id_is_ignored(resource: str) -> None:
    event = write_event(resource)
    assert ignored(event, "is not an ARM resource ID").invalid


def test_subject_that_is_not_an_arm_id_is_ignored_when_there_is_no_resource_uri() -> None:
    event = write_event()
    del event["data"]["resourceUri"]
    event["subject"] = "/blobServices/default/containers/x"
    assert ignored(event, "is not an ARM resource ID").invalid


@pytest.mark.parametrize("uri", [{"id": CONNECTION}, {}, [], 0, False, ""])
def test_resource_uri_that_is_not_a_string_is_ignored(uri: object) -> None:
    # Even an empty one: the subject stands in only for a resourceUri that is absent (or null).
    event = write_event()
    event["data"]["resourceUri"] = uri
    assert ignored(event, "is not an ARM resource ID").invalid


@pytest.mark.parametrize(
    "lookalike",
    [
        CONNECTION.replace("testworkspace", "testw\u043erkspace", 1),  # Cyrillic o
        CONNECTION.replace("workspaces", "wor\u212aspaces"),  # Kelvin sign
        CONNECTION.replace("subscriptions", "\u017fubscriptions"),  # long s
        CONNECTION.replace("/", "\uff0f"),  # fullwidth solidus
    ],
)
def test_non_ascii_lookalike_id_is_ignored(lookalike: str) -> None:
    assert ignored(write_event(lookalike), "is not an ARM resource ID").invalid


@pytest.mark.parametrize(
    "resource",
    [f"/subscriptions/{SUBSCRIPTION}", f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-1234"],
)
def test_resource_not_under_a_provider_is_ignored(resource: str) -> None:
    assert ignored(write_event(resource), "not under a resource provider").invalid


@pytest.mark.parametrize("status", ["Failed", "Canceled", "failed", ""])
def test_unsuccessful_status_is_ignored_but_not_invalid(status: str) -> None:
    event = write_event()
    event["data"]["status"] = status
    parsed = ignored(event, "status", repr(status))
    assert parsed.invalid is False


@pytest.mark.parametrize("status", [["Failed"], {"value": "Succeeded"}, 42, True, False])
def test_a_status_that_is_not_text_is_invalid(status: object) -> None:
    event = write_event()
    event["data"]["status"] = status
    assert ignored(event, "status", repr(status)).invalid


# --- Nothing raises ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
interesting_strings = st.one_of(
    st.text(max_size=40),
    st.sampled_from([CONNECTION, PROXY, PRIVATE_ENDPOINT, WORKSPACE, "", "/subscriptions/"]),
    st.sampled_from([CONNECTION, PRIVATE_ENDPOINT]).flatmap(
        lambda head: st.text(max_size=8).map(lambda tail: head + tail)
    ),
)
operation_names = st.one_of(st.sampled_from([PEC_WRITE, PROXY_WRITE, PE_WRITE]), json_values)
# Data objects shaped like the real one, with every field possibly wrong.
shaped_data = st.fixed_dictionaries(
    {},
    optional={
        "operationName": operation_names,
        "resourceUri": st.one_of(interesting_strings, json_values),
        "status": st.one_of(st.sampled_from(["Succeeded", "Failed"]), json_values),
        "resourceProvider": json_values,
    },
)
FAST = settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])


def check(result: ResourceWrite | Ignored, event_id: str) -> None:
    assert result.event_id == event_id
    if isinstance(result, Ignored):
        assert result.reason
        return
    # Whatever was accepted is an ASCII ARM ID resolved to a top-level resource.
    assert result.operation_name.lower() in PRIVATE_ENDPOINT_OPERATIONS
    assert is_arm_id(result.resource_uri)
    assert is_arm_id(result.target_id)
    assert result.target_id.isascii()


@FAST
@given(
    event_id=st.text(max_size=10),
    event_type=st.one_of(st.just(RESOURCE_WRITE_SUCCESS), st.text(max_size=40)),
    subject=interesting_strings,
    data=st.one_of(json_values, shaped_data),
)
def test_parse_never_raises(event_id: str, event_type: str, subject: str, data: object) -> None:
    result = parse_resource_write(
        event_id=event_id,
        event_type=event_type,
        subject=subject,
        data=data,
        operations=PRIVATE_ENDPOINT_OPERATIONS,
    )
    check(result, event_id)


@FAST
@given(subject=interesting_strings, data=shaped_data)
def test_parse_never_raises_on_well_typed_events(subject: str, data: dict[str, Any]) -> None:
    result = parse_resource_write(
        event_id="e1",
        event_type=RESOURCE_WRITE_SUCCESS,
        subject=subject,
        data=data,
        operations=PRIVATE_ENDPOINT_OPERATIONS,
    )
    check(result, "e1")
