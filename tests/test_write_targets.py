"""Write targets are the configured workspace plus a plain child name, and a write's answer is
checked against what was asked."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.adapters.answers import (
    RefusedTargetError,
    UnexpectedAnswerError,
    check_answer,
    check_named,
    child_name,
)
from shared.adapters.authorization import assignment_mismatch
from shared.arm import ArmId
from shared.bounds import redacted
from shared.inventory import canonical_workspace
from shared.planning.role_assignments import contributor_role_definition_id
from shared.scope import Scope
from tests.credentials import leaked, placed

WORKSPACE = ArmId(
    "/subscriptions/6f1c7b9e-2d4a-4c3b-9a51-0e8d7f6a5b40/resourceGroups/rg-ml"
    "/providers/Microsoft.MachineLearningServices/workspaces/mlw-prod"
)
PRINCIPAL = "3d2f5c1a-8b7e-4f6d-9a0c-2b1e4d3c5a6f"


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "a/b", "../mlw-other", "a\\b", "a?b", "a#b", "a%2Fb", "a&b", "né", "a\nb"],
)
def test_a_child_name_that_could_move_the_url_is_refused(name: str) -> None:
    with pytest.raises(RefusedTargetError):
        child_name(name, "compute", WORKSPACE)


@settings(max_examples=300)
@given(st.text(max_size=30))
def test_an_accepted_child_name_is_one_plain_path_segment(name: str) -> None:
    try:
        accepted = child_name(name, "connection", WORKSPACE)
    except RefusedTargetError:
        return
    assert accepted == name
    assert name.isascii()
    assert name.isprintable()
    assert not set(name) & set("/\\?#%&")
    assert name not in ("", ".", "..")


def answer(scope: str, role: str, principal: str) -> SimpleNamespace:
    return SimpleNamespace(scope=scope, role_definition_id=role, principal_id=principal)


def test_a_role_assignment_answer_is_the_assignment_asked_for() -> None:
    role = contributor_role_definition_id(WORKSPACE)

    assert (
        assignment_mismatch(answer(WORKSPACE, role, PRINCIPAL), WORKSPACE, role, PRINCIPAL) is None
    )
    # ARM may answer in other casing.
    upper = answer(WORKSPACE.upper(), role.upper(), PRINCIPAL.upper())
    assert assignment_mismatch(upper, WORKSPACE, role, PRINCIPAL) is None


@pytest.mark.parametrize("field", ["scope", "role_definition_id", "principal_id"])
def test_a_role_assignment_answer_for_anything_else_is_a_mismatch(field: str) -> None:
    role = contributor_role_definition_id(WORKSPACE)
    given_answer = answer(WORKSPACE, role, PRINCIPAL)
    setattr(given_answer, field, "/subscriptions/other")

    problem = assignment_mismatch(given_answer, WORKSPACE, role, PRINCIPAL)

    assert problem is not None
    assert problem.startswith("ARM answered with another assignment")


@settings(max_examples=300)
@given(
    name=st.one_of(st.sampled_from(["mlw", "mlw-2", "MLW"]), st.text(max_size=40)),
    group=st.one_of(st.sampled_from(["rg-ml", "rg-ml2"]), st.text(max_size=20)),
    case_seed=st.integers(0, 2**32 - 1),
)
def test_a_workspace_from_an_event_or_a_listing_is_a_write_target_only_within_naming_rules(
    name: str, group: str, case_seed: int
) -> None:
    # With ML_SCOPES, workspace IDs come from events and ARM's listings, not only from the
    # settings: the ID writes are built from is rebuilt from its parts, and only names within
    # Azure's rules (plain URL segments) pass; the scope rule then holds for it.
    subscription = WORKSPACE.split("/")[2]
    provider = "Microsoft.MachineLearningServices/workspaces"
    raw = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{provider}/{name}"
    rnd = random.Random(case_seed)
    raw = "".join(c.upper() if rnd.random() < 0.5 else c for c in raw)
    canonical = canonical_workspace(raw)
    if canonical is None:
        return
    assert canonical.isascii()
    assert canonical.count("/") == raw.count("/") == 8
    for part in (group, name):
        assert not set(part) & set("/\\?#%&")
        assert part.strip() == part
        assert part not in (".", "..")
    assert canonical.lower() == raw.lower()
    in_group = Scope((WORKSPACE.rsplit("/providers/", 1)[0],))
    assert in_group.in_scope(canonical) is (group.lower() == "rg-ml")


WS = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"
    "/providers/Microsoft.MachineLearningServices/workspaces/ws"
)


@pytest.mark.parametrize(
    ("answered_id", "value", "refused"),
    [
        (WS, "Disabled", False),
        (WS.upper(), "Disabled", False),  # ARM's casing varies
        (WS + "2", "Disabled", True),  # an answer about another workspace
        ("", "Disabled", True),
        (WS, "Enabled", True),  # the write did not take
    ],
)
def test_a_write_answer_must_be_about_what_was_written_and_show_the_value(
    answered_id: str, value: str, refused: bool
) -> None:
    def judge() -> None:
        check_answer(answered_id, WS, "publicNetworkAccess", value, "Disabled")

    if refused:
        with pytest.raises(UnexpectedAnswerError):
            judge()
    else:
        judge()


@given(st.data())
def test_an_answer_about_another_shows_no_piece_of_a_credential_it_holds(
    data: st.DataObject,
) -> None:
    # Azure's answered ID is repeated cut to 300 characters, into reasons, logs and answers.
    answered, secret = data.draw(placed(300, before=8))
    with pytest.raises(UnexpectedAnswerError) as raised:
        check_named(answered, "/subscriptions/s/resourceGroups/g", "asked for g")
    # Every sink (ledger, log, output) redacts it: what the cut let through is what shows.
    assert leaked(secret, redacted(str(raised.value))) is None, str(raised.value)
