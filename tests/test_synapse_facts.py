"""Reading a Synapse workspace's ARM answer fail-closed: what counts as a managed virtual network,
as exfiltration protection off, and as the workspace whose data plane the app asks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.adapters.errors import describe
from shared.adapters.synapse import _endpoint
from shared.adapters.transport import MalformedResponseError
from shared.arm import ArmId
from shared.model import (
    ConnectionStatus,
    ManagedPrivateEndpoint,
    PrivateEndpointConnection,
    SynapseEvidence,
    Verdict,
)
from shared.planning.private_endpoints import ApprovalRules, plan_connections
from shared.planning.synapse_facts import (
    SynapseAnswerError,
    data_plane_mismatch,
    exfiltration_protection,
    managed_virtual_network,
    read_synapse_workspace,
)
from shared.scope import Scope
from tests.credentials import leaked, placed

SYNAPSE = ArmId(
    "/subscriptions/b7e2c9d1-5a3f-4e8b-8c6d-1f2a3b4c5d6e/resourceGroups/rg-analytics"
    "/providers/Microsoft.Synapse/workspaces/syn-analytics"
)
ML = ArmId(
    "/subscriptions/6f1c7b9e-2d4a-4c3b-9a51-0e8d7f6a5b40/resourceGroups/rg-ml"
    "/providers/Microsoft.MachineLearningServices/workspaces/mlw-prod"
)
PE = (
    "/subscriptions/0d8e3f5a-7b1c-4d2e-9f6a-3c4b5a6d7e8f/resourceGroups/managed"
    "/providers/Microsoft.Network/privateEndpoints/syn-analytics.mpe-aml"
)
UID = "999b999a-b888-4b44-bacd-2c222cc2222d"
ENDPOINT = "https://syn-analytics.dev.azuresynapse.net"


def body(**properties: Any) -> dict[str, Any]:
    """An ARM answer shaped on the GetWorkspace example, with `properties` replaced."""
    base: dict[str, Any] = {
        "managedVirtualNetwork": "default",
        "managedVirtualNetworkSettings": {"preventDataExfiltration": False},
        "workspaceUID": UID,
        "connectivityEndpoints": {"dev": ENDPOINT},
    }
    base.update(properties)
    return {
        "id": SYNAPSE,
        "name": "syn-analytics",
        "type": "Microsoft.Synapse/workspaces",
        "identity": {
            "type": "SystemAssigned",
            "principalId": "3d2f5c1a-8b7e-4f6d-9a0c-2b1e4d3c5a6f",
            "tenantId": "72f988bf-0000-41af-91ab-2d7cd011db47",
        },
        "properties": {key: value for key, value in base.items() if value is not ...},
    }


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=False),
    st.sampled_from(["", "false", "False", "true", "0", "no", "off", "default", "Default"]),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
flag_keys = st.sampled_from(
    [
        "preventDataExfiltration",
        "PreventDataExfiltration",
        "preventdataexfiltration",
        "preventDataExfiltration ",
        "prevent_data_exfiltration",
    ]
)


@st.composite
def settings_blocks(draw: st.DrawFn) -> object:
    """`managedVirtualNetworkSettings` in any shape: absent, null, not an object, an object with
    the flag under any casing and with any JSON value (JSON false included, often)."""
    if draw(st.integers(0, 5)) == 0:
        return draw(json_values)
    block = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2))
    for _ in range(draw(st.integers(0, 2))):
        block[draw(flag_keys)] = draw(st.one_of(st.just(False), json_values))
    return block


@settings(max_examples=500)
@given(settings_blocks())
def test_exfiltration_protection_is_off_only_when_the_flag_is_exactly_json_false(
    block: object,
) -> None:
    on, note = exfiltration_protection({"managedVirtualNetworkSettings": block})

    exactly_false = (
        isinstance(block, dict)
        and "preventDataExfiltration" in block
        and block["preventDataExfiltration"] is False
    )
    assert on is not exactly_false
    # Assumed (not stated as JSON true): the reason says so.
    stated = isinstance(block, dict) and block.get("preventDataExfiltration") is True
    assert (note is None) == (exactly_false or stated)


@settings(max_examples=300)
@given(st.one_of(json_values, st.just(...)))
def test_a_managed_virtual_network_counts_only_when_it_is_exactly_default(value: object) -> None:
    properties = {} if value is ... else {"managedVirtualNetwork": value}

    has_one, note = managed_virtual_network(properties)

    assert has_one is (value == "default" and isinstance(value, str))
    if not has_one and value not in (None, "", ...):
        assert note is not None
        assert "not 'default'" in note


def test_a_properties_block_that_is_no_object_means_no_managed_network_and_protection_on() -> None:
    not_objects: list[object] = [None, [], "default", 1]
    for properties in not_objects:
        assert managed_virtual_network(properties) == (False, None)
        assert exfiltration_protection(properties)[0] is True


@settings(max_examples=200)
@given(settings_blocks(), st.one_of(json_values, st.just("default")))
def test_unclear_flags_never_approve(block: object, vnet: object) -> None:
    """Whatever the shapes, a connection is approved only on exactly "default" and JSON false,
    and a connection left pending says why."""
    workspace = read_synapse_workspace(
        SYNAPSE, body(managedVirtualNetworkSettings=block, managedVirtualNetwork=vnet)
    )
    evidence = SynapseEvidence(SYNAPSE, workspace, (ManagedPrivateEndpoint("mpe-aml", ML, PE),))
    connection = PrivateEndpointConnection(
        f"{ML}/privateEndpointConnections/pec", "pec", ML, PE, ConnectionStatus.PENDING
    )

    (decision,) = plan_connections(
        ML, [connection], [evidence], ApprovalRules(Scope((ML,)), (SYNAPSE,), False)
    ).decisions

    clear = (
        vnet == "default"
        and isinstance(block, dict)
        and block.get("preventDataExfiltration", None) is False
        and "preventDataExfiltration" in block
    )
    assert (decision.verdict is Verdict.APPROVE) is clear
    if not clear:
        assert decision.verdict is Verdict.LEAVE_PENDING
        assert "managed virtual network" in decision.reason or "exfiltration" in decision.reason


def test_a_string_true_is_protection_on_and_the_reason_says_so() -> None:
    workspace = read_synapse_workspace(
        SYNAPSE, body(managedVirtualNetworkSettings={"preventDataExfiltration": "true"})
    )
    assert workspace.prevent_data_exfiltration
    assert workspace.network_note is not None
    assert "'true' (str), not a JSON boolean" in workspace.network_note


def test_the_answer_must_be_about_the_workspace_asked_for() -> None:
    other = dict(body(), id=SYNAPSE.replace("rg-analytics", "rg-other"))
    answers: list[object] = [other, [], "workspace", None, dict(body(), id=None)]
    for answer in answers:
        with pytest.raises(SynapseAnswerError):
            read_synapse_workspace(SYNAPSE, answer)
    # ARM IDs compare case-insensitively.
    assert read_synapse_workspace(SYNAPSE, dict(body(), id=SYNAPSE.upper())).id == SYNAPSE


def test_identity_and_incarnation_are_read() -> None:
    workspace = read_synapse_workspace(SYNAPSE, body())

    assert workspace.identity_type == "SystemAssigned"
    assert workspace.has_system_identity
    assert workspace.tenant_id == "72f988bf-0000-41af-91ab-2d7cd011db47"
    assert workspace.workspace_uid == UID
    assert workspace.dev_endpoint == ENDPOINT


@pytest.mark.parametrize(
    "reported",
    [ENDPOINT, "syn-analytics.dev.azuresynapse.net", "HTTPS://SYN-ANALYTICS.dev.azuresynapse.net/"],
)
def test_the_data_plane_is_taken_when_arm_reports_the_configured_endpoint(reported: str) -> None:
    workspace = read_synapse_workspace(
        SYNAPSE, body(connectivityEndpoints={"dev": reported, "sql": "x"})
    )
    assert data_plane_mismatch(workspace, ENDPOINT) is None


@pytest.mark.parametrize(
    ("properties", "said"),
    [
        ({"workspaceUID": ...}, "no workspaceUID"),
        ({"workspaceUID": "not-a-guid"}, "no workspaceUID"),
        ({"connectivityEndpoints": {}}, "no data-plane endpoint"),
        ({"connectivityEndpoints": {"dev": "https://evil.example"}}, "not at the configured"),
        (
            {"connectivityEndpoints": {"dev": "https://syn-analytics.dev.azuresynapse.net:8443"}},
            "not at the configured",
        ),
        (
            {"connectivityEndpoints": {"dev": "https://x@syn-analytics.dev.azuresynapse.net"}},
            "not at the configured",
        ),
        (
            {"connectivityEndpoints": {"dev": "http://syn-analytics.dev.azuresynapse.net"}},
            "not at the configured",
        ),
    ],
)
def test_a_data_plane_that_may_not_be_this_workspaces_is_refused(
    properties: dict[str, Any], said: str
) -> None:
    workspace = read_synapse_workspace(SYNAPSE, body(**properties))

    problem = data_plane_mismatch(workspace, ENDPOINT)

    assert problem is not None
    assert said in problem


@settings(max_examples=300)
@given(st.from_regex(r"[a-z0-9.-]{1,30}", fullmatch=True), st.integers(1, 65535))
def test_any_other_host_or_port_is_refused(host: str, port: int) -> None:
    reported = f"https://{host}:{port}"
    workspace = read_synapse_workspace(SYNAPSE, body(connectivityEndpoints={"dev": reported}))

    same = host == "syn-analytics.dev.azuresynapse.net" and port == 443
    assert (data_plane_mismatch(workspace, ENDPOINT) is None) is same


@given(credential=placed(100, before=8))
def test_a_malformed_endpoint_is_described_with_no_piece_of_a_credential_in_its_name(
    credential: tuple[str, str],
) -> None:
    # Its name (Azure's) is told cut to 100 characters; the ledger and the log redact after.
    name, secret = credential
    with pytest.raises(MalformedResponseError) as raised:
        _endpoint({"name": name, "properties": ["not", "an", "object"]})
    assert leaked(secret, describe(raised.value)) is None, describe(raised.value)
