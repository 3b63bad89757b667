"""The pure promotion planner: the decision rule (a property: never promotes a model not better
by at least the minimum in the chosen direction), versions, deployment names within Azure's
rules, the spec a new deployment takes, and which deployments go beyond PROMOTION_KEEP."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.config import Promotion
from shared.planning.promotion import (
    deployment_name,
    deployment_spec,
    judge,
    next_version,
    rollback,
    to_delete,
)


def rule(higher: bool, min_delta: float) -> Promotion:
    """PROMOTION_* for metric "m" (`judge` reads the metric, its direction and the minimum)."""
    return Promotion("m", higher, min_delta, "churn", keep=2, score_when_not_promoted=True)


# Azure ML's batch deployment name rule.
DEPLOYMENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,31}$")
values = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))


@given(
    candidate=values,
    current=values,
    higher=st.booleans(),
    min_delta=st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
def test_never_promotes_a_model_not_better_by_the_minimum(
    candidate: float | None, current: float | None, higher: bool, min_delta: float
) -> None:
    promote, reason = judge(candidate, current, rule(higher, min_delta))
    if promote:
        assert candidate is not None
        assert current is not None
        assert math.isfinite(candidate)
        assert math.isfinite(current)
        # The values as written (what a person reads in the metric and the setting), exactly.
        new, old, least = (Fraction(repr(v)) for v in (candidate, current, min_delta))
        gain = new - old if higher else old - new
        assert gain > 0
        assert gain >= least
    assert reason


@pytest.mark.parametrize(
    ("candidate", "current", "higher", "promote", "why"),
    [
        (0.9, 0.8, True, True, "better"),
        (0.8, 0.8, True, False, "equal"),
        (0.7, 0.8, True, False, "worse"),
        (0.4, 0.5, False, True, "better"),
        (0.6, 0.5, False, False, "worse"),
        (None, 0.5, True, False, "the retraining job logged no"),
        (0.5, None, True, False, "the current default's model has no"),
        (math.nan, 0.5, True, False, "the retraining job logged no"),
        (0.5, math.inf, True, False, "the current default's model has no"),
    ],
)
def test_the_rule(
    candidate: float | None, current: float | None, higher: bool, promote: bool, why: str
) -> None:
    promoted, reason = judge(candidate, current, rule(higher, 0))
    assert promoted is promote
    assert why in reason


@given(
    current=st.decimals(min_value=-(10**6), max_value=10**6, places=6),
    gain=st.decimals(min_value="0.000001", max_value=10**3, places=6),
    higher=st.booleans(),
)
def test_a_model_better_by_exactly_the_minimum_as_written_is_promoted(
    current: Decimal, gain: Decimal, higher: bool
) -> None:
    # 0.9 vs 0.8 with PROMOTION_MIN_DELTA=0.1: in floats 0.9 - 0.8 is 0.09999999999999998.
    candidate = current + gain if higher else current - gain
    promote, reason = judge(float(candidate), float(current), rule(higher, float(gain)))
    assert promote, reason
    promote, reason = judge(float(candidate), float(current), rule(higher, float(gain * 2)))
    assert not promote, reason


def test_a_gain_below_the_minimum_is_not_promoted() -> None:
    promote, reason = judge(0.805, 0.8, rule(True, 0.01))
    assert not promote
    assert "less than the minimum" in reason


@pytest.mark.parametrize(
    ("latest", "hint", "expected"),
    [(None, None, "1"), ("7", None, "8"), ("7", "9", "9"), ("v2", None, None), ("v2", "3", "3")],
)
def test_next_version(latest: str | None, hint: str | None, expected: str | None) -> None:
    assert next_version(latest, hint) == expected


# A version any workspace user registers: digits of any script, thousands of them.
version_texts = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.text(alphabet="0123456789\u00b2\u2463", min_size=1, max_size=8),
    st.integers(0, 6_000).map(lambda zeros: "0" * zeros + "7"),
    st.integers(19, 6_000).map(lambda digits: "9" * digits),
)


@given(version_texts, version_texts)
def test_the_next_version_is_a_bounded_number_or_none_whatever_azure_lists(
    latest: str | None, hint: str | None
) -> None:
    following = next_version(latest, hint)
    assert following is None or (following.isascii() and following.isdigit())
    assert following is None or len(following) <= 19


def test_leading_zeros_past_int_s_digit_limit_are_the_number() -> None:
    assert next_version("0" * 5_000 + "7", None) == "8"
    assert next_version("7", "0" * 5_000 + "9") == "9"


@given(
    endpoint=st.text(min_size=1, max_size=80),
    version=st.integers(min_value=1, max_value=10**12).map(str),
)
def test_deployment_names_keep_azures_rule_and_the_whole_version(
    endpoint: str, version: str
) -> None:
    name = deployment_name(endpoint, version)
    assert DEPLOYMENT_NAME.match(name), name
    assert name.endswith("-" + version)


def test_deployment_name_is_endpoint_dash_version_when_it_fits() -> None:
    assert deployment_name("churn-batch", "3") == "churn-batch-3"
    assert deployment_name("e" * 40, "12") == "e" * 29 + "-12"


def test_the_new_deployment_is_the_current_spec_with_the_new_model() -> None:
    current = {
        "id": "x",
        "name": "blue",
        "location": "eastus",
        "tags": {"team": "a"},
        "properties": {
            "model": {"referenceType": "Id", "assetId": "old"},
            "compute": "c",
            "provisioningState": "Succeeded",
        },
        "systemData": {},
    }
    spec = deployment_spec(current, "new")
    assert spec == {
        "location": "eastus",
        "tags": {"team": "a"},
        "properties": {"model": {"referenceType": "Id", "assetId": "new"}, "compute": "c"},
    }
    assert current["properties"]["model"]["assetId"] == "old"  # type: ignore[index]


def test_only_the_apps_own_deployments_beyond_keep_are_deleted() -> None:
    existing = ["blue", "green", "ep-1", "ep-2", "ep-3", "ep-4"]
    created = ["ep-1", "ep-2", "ep-3", "ep-4"]
    assert to_delete(existing, created, default="ep-4", previous="ep-3", keep=2) == [
        "ep-2",
        "ep-1",
    ]
    assert to_delete(existing, created, default="ep-4", previous="ep-3", keep=3) == ["ep-1"]
    # The previous default is another's: kept first, never deleted.
    assert to_delete(existing, ["ep-1"], default="ep-1", previous="blue", keep=2) == []


@given(
    names=st.lists(st.sampled_from(["a", "b", "c", "d", "e", "F"]), unique=True, min_size=1),
    data=st.data(),
    keep=st.integers(min_value=1, max_value=5),
)
def test_the_default_and_others_are_never_deleted(
    names: list[str], data: st.DataObject, keep: int
) -> None:
    created = data.draw(st.lists(st.sampled_from(names), unique=True))
    default = data.draw(st.sampled_from(names))
    previous = data.draw(st.one_of(st.none(), st.sampled_from(names)))
    doomed = to_delete(names, created, default=default, previous=previous, keep=keep)
    assert default not in doomed
    assert set(doomed) <= set(created)
    assert len(names) - len(doomed) >= min(keep, len(names))


def test_rollback_says_how_to_switch_back() -> None:
    assert rollback("churn-batch", "blue") == (
        "switch back: az ml batch-endpoint update --name churn-batch "
        "--set defaults.deployment_name=blue"
    )
