"""Settings of the HTTP scoring API: allowed batch endpoints and allowed callers."""

from __future__ import annotations

import pytest

from shared.config import batch_endpoint_workspace
from tests.test_config import ML_1, ML_2, SUBSCRIPTION, load, refused

EP_1 = f"{ML_1}/batchEndpoints/churn-scoring"
EP_2 = f"{ML_2}/batchEndpoints/churn-scoring"
CALLER = "7f3c2b1a-0d4e-4f5a-8b6c-9d0e1f2a3b4c"


def test_by_default_no_endpoint_and_nobody_is_allowed() -> None:
    loaded = load()
    assert loaded.scoring_allowed_endpoints == ()
    assert loaded.scoring_allowed_callers == frozenset()


def test_allowed_endpoints_are_batch_endpoints_under_in_scope_workspaces() -> None:
    loaded = load(ML_WORKSPACE_IDS=f"{ML_1},{ML_2}", SCORING_ALLOWED_ENDPOINTS=f"{EP_1}, {EP_2}")
    assert loaded.scoring_allowed_endpoints == (EP_1, EP_2)


@pytest.mark.parametrize(
    "value",
    [
        ML_1,
        f"{ML_1}/onlineEndpoints/churn-scoring",
        f"{ML_1}/batchEndpoints/churn-scoring/deployments/blue",
        f"{ML_1}/batchEndpoints",
        "churn-scoring",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Web/sites/x/batchEndpoints/y",
    ],
)
def test_anything_but_a_batch_endpoint_id_is_refused(value: str) -> None:
    message = refused("SCORING_ALLOWED_ENDPOINTS", SCORING_ALLOWED_ENDPOINTS=value)
    assert "batch endpoint" in message


def test_an_endpoint_under_an_out_of_scope_workspace_is_refused() -> None:
    message = refused("SCORING_ALLOWED_ENDPOINTS", SCORING_ALLOWED_ENDPOINTS=EP_2)
    assert "not in scope" in message


def test_an_endpoint_listed_twice_is_refused() -> None:
    refused("SCORING_ALLOWED_ENDPOINTS", SCORING_ALLOWED_ENDPOINTS=f"{EP_1},{EP_1.upper()}")


def test_allowed_callers_are_object_ids_normalised_to_lower_case() -> None:
    loaded = load(SCORING_ALLOWED_CALLERS=f"{CALLER.upper()} ,{CALLER}")
    assert loaded.scoring_allowed_callers == frozenset({CALLER})


def test_a_caller_that_is_not_a_guid_is_refused() -> None:
    message = refused("SCORING_ALLOWED_CALLERS", SCORING_ALLOWED_CALLERS=f"{CALLER},logic-app")
    assert "item 2" in message


def test_the_workspace_of_a_batch_endpoint() -> None:
    assert batch_endpoint_workspace(EP_1) == ML_1
    assert batch_endpoint_workspace(EP_1.lower()) == ML_1.lower(), "as the setting spells it"
    assert batch_endpoint_workspace(ML_1) is None
    # Names are any names: a resource group and a workspace may be called batchEndpoints.
    named = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/batchEndpoints/providers/"
    workspace = f"{named}Microsoft.MachineLearningServices/workspaces/batchEndpoints"
    assert batch_endpoint_workspace(f"{workspace}/batchEndpoints/e") == workspace
    # An extension resource of the workspace is not its batch endpoint.
    assert batch_endpoint_workspace(f"{ML_1}/providers/Other.Provider/batchEndpoints/e") is None
