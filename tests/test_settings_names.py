"""The settings validator holds ARM IDs to Azure's naming rules: a Synapse workspace name is
also the host name of its data plane, so a name such as `x@evil.com#` must never get through."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config import SettingsError, load_settings

SUBSCRIPTION = "b7e2c9d1-5a3f-4e8b-8c6d-1f2a3b4c5d6e"
ML = (
    "/subscriptions/6f1c7b9e-2d4a-4c3b-9a51-0e8d7f6a5b40/resourceGroups/rg-ml"
    "/providers/Microsoft.MachineLearningServices/workspaces/mlw-prod"
)


def synapse(name: str, group: str = "rg-analytics", subscription: str = SUBSCRIPTION) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/Microsoft.Synapse/workspaces/{name}"
    )


def ml(name: str) -> str:
    return ML.rsplit("/", 1)[0] + "/" + name


def load(synapse_ids: str = synapse("syn-analytics"), ml_ids: str = ML) -> object:
    return load_settings(
        {
            "ML_WORKSPACE_IDS": ml_ids,
            "SYNAPSE_WORKSPACE_IDS": synapse_ids,
            "LEDGER_CONNECTION_STRING": "UseDevelopmentStorage=true",
        }
    )


@pytest.mark.parametrize(
    "name",
    [
        "x@evil.com#",
        "x@evil.com",
        "evil.com#",
        "syn analytics",
        "syn_analytics",
        "-syn",
        "syn-",
        "syn-ondemand",
        "a" * 51,
        "syn%2fother",
        "syn:443",
    ],
)
def test_a_synapse_name_that_azure_cannot_hold_is_refused(name: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load(synapse(name))

    message = str(raised.value)
    assert message.startswith("SYNAPSE_WORKSPACE_IDS: item 1")
    assert "is not a valid Microsoft.Synapse/workspaces name" in message


@pytest.mark.parametrize("name", ["syn-analytics", "a", "s1", "a" * 50, "Syn-Analytics"])
def test_valid_synapse_names_are_accepted(name: str) -> None:
    load(synapse(name))


SYNAPSE_NAME = r"[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?"


@settings(max_examples=300)
@given(st.text(alphabet=string.printable + "é\u212a", min_size=1, max_size=60))
def test_a_synapse_name_is_accepted_only_within_the_naming_rule(name: str) -> None:
    candidate = synapse(name)
    # Each list item is trimmed, and the name ends the ID.
    name = name.rstrip()
    valid = re.fullmatch(SYNAPSE_NAME, name.lower()) is not None and "-ondemand" not in name.lower()
    try:
        load(candidate)
    except SettingsError:
        accepted = False
    else:
        accepted = True
    assert not accepted or valid
    if accepted:
        # Whatever got through is safe in a host name: letters, digits, hyphens.
        assert all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in name)


@pytest.mark.parametrize("name", ["ab", "-mlw", "mlw@x", "a" * 34, "mlw prod", "ml.w"])
def test_an_aml_workspace_name_that_azure_cannot_hold_is_refused(name: str) -> None:
    with pytest.raises(SettingsError, match="ML_WORKSPACE_IDS: item 1"):
        load(ml_ids=ml(name))


@pytest.mark.parametrize("name", ["mlw", "mlw-prod", "mlw_prod", "a" * 33, "1mlw"])
def test_valid_aml_workspace_names_are_accepted(name: str) -> None:
    load(ml_ids=ml(name))


@pytest.mark.parametrize(
    ("group", "said"),
    [("rg.", "resource group"), ("rg@x", "resource group"), ("r" * 91, "resource group")],
)
def test_a_resource_group_name_that_azure_cannot_hold_is_refused(group: str, said: str) -> None:
    with pytest.raises(SettingsError, match=said):
        load(synapse("syn-analytics", group=group))


def test_resource_group_names_with_dots_and_parentheses_are_accepted() -> None:
    load(synapse("syn-analytics", group="rg.analytics(prod)_1"))


def test_a_subscription_that_is_no_guid_is_refused() -> None:
    with pytest.raises(SettingsError, match="subscription is not a GUID"):
        load(synapse("syn-analytics", subscription="not-a-guid"))
