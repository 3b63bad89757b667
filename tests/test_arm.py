"""ARM IDs: how two compare (case-insensitively, ASCII only) and what a child resolves to."""

from __future__ import annotations

import contextlib
import operator
import random
import string
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.arm import (
    MAX_ID_SEGMENTS,
    is_arm_id,
    is_guid,
    is_resource_type,
    name_of,
    resource_group_of,
    same_arm_id,
    subscription_of,
    top_level_resource,
)

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
WORKSPACE = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-1234/providers/"
    "Microsoft.MachineLearningServices/workspaces/testworkspace"
)
PRIVATE_ENDPOINT = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-1234/providers/"
    "Microsoft.Network/privateEndpoints/petest01"
)
ML = ("Microsoft.MachineLearningServices", "workspaces")

FAST = settings(max_examples=100)

segment = st.builds(
    operator.add,
    st.sampled_from(string.ascii_letters),
    st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=10),
)
# Child type and name segments; the words that parse_resource_id reads as structure are left out.
child_segment = segment.filter(
    lambda s: s.lower() not in {"providers", "subscriptions", "resourcegroups"}
)
arm_ids = st.builds(
    lambda sub, group, name: (
        f"/subscriptions/{sub}/resourceGroups/{group}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{name}"
    ),
    st.uuids().map(str),
    segment,
    segment,
)
ascii_text = st.text(alphabet=st.characters(max_codepoint=127), min_size=1)
non_ascii_char = st.characters(min_codepoint=128)
anything = st.one_of(st.none(), st.text(), arm_ids)


def recase(value: str, seed: int) -> str:
    rnd = random.Random(seed)
    return "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in value)


# --- same_arm_id -------------------------------------------------------------------------------


@FAST
@given(st.one_of(arm_ids, ascii_text))
def test_same_arm_id_is_reflexive_for_ascii(value: str) -> None:
    assert same_arm_id(value, value)


@FAST
@given(anything, anything)
def test_same_arm_id_is_symmetric(left: str | None, right: str | None) -> None:
    assert same_arm_id(left, right) == same_arm_id(right, left)


@FAST
@given(st.one_of(arm_ids, ascii_text), st.integers(min_value=0))
def test_same_arm_id_ignores_ascii_case(value: str, seed: int) -> None:
    assert same_arm_id(value, recase(value, seed))
    assert same_arm_id(value.upper(), value.lower())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@FAST
@given(json_values.filter(lambda v: not isinstance(v, str)), anything)
def test_same_arm_id_is_false_for_any_json_value_that_is_no_text(
    value: object, other: str | None
) -> None:
    # What an answer's `id` may hold instead of text: no ID, never an AttributeError.
    assert not same_arm_id(value, other)
    assert not same_arm_id(other, value)
    assert not same_arm_id(value, value)


@FAST
@given(arm_ids, st.data())
def test_same_arm_id_rejects_any_non_ascii(value: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(value)))
    char = data.draw(non_ascii_char)
    lookalike = value[:position] + char + value[position:]
    assert not same_arm_id(lookalike, lookalike)
    assert not same_arm_id(lookalike, value)
    assert not same_arm_id(value, lookalike)


@FAST
@given(arm_ids, st.data())
def test_same_arm_id_rejects_a_replaced_character_that_folds_to_ascii(
    value: str, data: st.DataObject
) -> None:
    # Each of these becomes ASCII under lower() or upper(): a naive casefold would match.
    folds = {"k": "\u212a", "K": "\u212a", "s": "\u017f", "i": "\u0131"}
    positions = [i for i, c in enumerate(value) if c in folds]
    position = data.draw(st.sampled_from(positions))
    lookalike = value[:position] + folds[value[position]] + value[position + 1 :]
    assert lookalike.lower() == value.lower() or lookalike.upper() == value.upper()
    assert not same_arm_id(lookalike, value)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (None, None),
        ("", ""),
        (None, WORKSPACE),
        ("", WORKSPACE),
        (WORKSPACE, None),
        (WORKSPACE, ""),
    ],
)
def test_same_arm_id_rejects_none_and_empty(left: str | None, right: str | None) -> None:
    assert not same_arm_id(left, right)


@pytest.mark.parametrize(
    "other",
    [
        WORKSPACE + "/",
        WORKSPACE + " ",
        " " + WORKSPACE,
        WORKSPACE.replace("rg-1234", "rg-12345"),
        WORKSPACE.replace(SUBSCRIPTION, SUBSCRIPTION.replace("4", "5")),
        WORKSPACE.replace("Microsoft", "Micro\u017foft"),
        WORKSPACE.replace("testworkspace", "testw\u043erkspace"),  # Cyrillic o
        WORKSPACE.replace("/", "\uff0f"),  # fullwidth solidus
    ],
)
def test_same_arm_id_loosens_nothing_but_case(other: str) -> None:
    assert not same_arm_id(WORKSPACE, other)
    assert same_arm_id(WORKSPACE, WORKSPACE.swapcase())


# --- is_arm_id, is_resource_type -------------------------------------------------------------


@FAST
@given(arm_ids)
def test_generated_ids_are_arm_ids_of_workspaces(value: str) -> None:
    assert is_arm_id(value)
    assert is_arm_id(value.upper())
    assert is_resource_type(value, *ML)
    assert is_resource_type(value, "microsoft.machinelearningservices", "WORKSPACES")
    assert not is_resource_type(value, "Microsoft.Synapse", "workspaces")


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        "",
        "workspaces/testworkspace",
        "subscriptions/" + SUBSCRIPTION,
        WORKSPACE.replace("testworkspace", "testw\u043erkspace"),
        "https://management.azure.com" + WORKSPACE,
        WORKSPACE + "/",
    ],
)
def test_is_arm_id_refuses(value: object) -> None:
    assert not is_arm_id(value)


@FAST
@given(arm_ids, st.integers(min_value=0, max_value=200), child_segment, segment)
def test_an_id_is_an_arm_id_up_to_the_segments_arm_nests(
    workspace: str, depth: int, kind: str, name: str
) -> None:
    # Deeper than any resource ARM holds, an ID is refused before it is parsed (in time that
    # grows with the square of its segments).
    value = workspace + f"/{kind}/{name}" * depth
    assert is_arm_id(value) == (value.count("/") <= MAX_ID_SEGMENTS)


def test_is_resource_type_refuses_children_and_other_types() -> None:
    assert is_resource_type(WORKSPACE, *ML)
    assert not is_resource_type(WORKSPACE + "/privateEndpointConnections/pec1", *ML)
    assert not is_resource_type(WORKSPACE + "/computes/cpu", *ML)
    assert not is_resource_type(PRIVATE_ENDPOINT, *ML)
    assert not is_resource_type(f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-1234", *ML)
    assert not is_resource_type("not an id", *ML)


# --- top_level_resource ------------------------------------------------------------------------


@FAST
@given(arm_ids, st.lists(st.tuples(child_segment, segment), min_size=1, max_size=4))
def test_nested_children_resolve_to_the_top_level_resource(
    workspace: str, children: list[tuple[str, str]]
) -> None:
    child = workspace + "".join(f"/{kind}/{name}" for kind, name in children)
    resolved = top_level_resource(child)
    assert resolved is not None
    namespace, type_name, top = resolved
    assert (namespace, type_name) == ML
    assert top == workspace
    assert same_arm_id(top, workspace)


@pytest.mark.parametrize(
    "child",
    [
        WORKSPACE,
        WORKSPACE + "/privateEndpointConnections/pec1",
        WORKSPACE + "/privateEndpointConnectionProxies/proxy1",
        WORKSPACE + "/computes/cpu-cluster",
        WORKSPACE + "/onlineEndpoints/ep/deployments/blue",
    ],
)
def test_top_level_resource_of_workspace_children(child: str) -> None:
    assert top_level_resource(child) == (*ML, WORKSPACE)


def test_top_level_resource_of_an_upper_cased_id_is_the_same_workspace() -> None:
    resolved = top_level_resource(WORKSPACE.upper() + "/PRIVATEENDPOINTCONNECTIONS/PEC1")
    assert resolved is not None
    assert same_arm_id(resolved[2], WORKSPACE)
    # The names keep the casing they were given; only the fixed keywords are rebuilt.
    assert resolved[2].endswith("/MICROSOFT.MACHINELEARNINGSERVICES/WORKSPACES/TESTWORKSPACE")


def test_top_level_resource_of_a_private_endpoint_is_itself() -> None:
    assert top_level_resource(PRIVATE_ENDPOINT) == (
        "Microsoft.Network",
        "privateEndpoints",
        PRIVATE_ENDPOINT,
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not an id",
        f"/subscriptions/{SUBSCRIPTION}",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-1234",
        WORKSPACE.replace("testworkspace", "testw\u043erkspace"),
        WORKSPACE + "/",
    ],
)
def test_top_level_resource_of_non_resources_is_none(value: str) -> None:
    assert top_level_resource(value) is None


def test_name_subscription_and_group_of() -> None:
    child = WORKSPACE + "/privateEndpointConnections/pec1"
    assert name_of(child) == "pec1"
    assert name_of(WORKSPACE) == "testworkspace"
    assert subscription_of(child) == SUBSCRIPTION
    assert resource_group_of(child) == "rg-1234"


@given(st.uuids(), st.sampled_from(["{%s}", "urn:uuid:%s", "\n%s", "%s\n", " %s", "%s "]))
def test_is_guid_takes_only_the_form_arm_writes(value: uuid.UUID, wrapping: str) -> None:
    # uuid.UUID also reads braces, `urn:uuid:`, no hyphens and surrounding whitespace: a value
    # that is logged, compared with systemData or built into a URL must be ARM's own form.
    assert is_guid(str(value))
    assert is_guid(str(value).upper())
    assert not is_guid(wrapping % value)
    assert not is_guid(value.hex)


@given(st.text(max_size=40))
def test_is_guid_holds_only_for_a_value_uuid_writes_back_the_same(value: str) -> None:
    canonical = False
    with contextlib.suppress(ValueError):
        canonical = str(uuid.UUID(value)) == value.lower()
    assert is_guid(value) == canonical
