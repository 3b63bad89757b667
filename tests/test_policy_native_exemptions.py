"""Azure Policy's own exemptions count like POLICY_EXEMPTIONS: read from ARM at the workspace
(policyExemptions, API 2022-07-01-preview), only those of an assignment of the app's initiative
(POLICY_ASSIGNMENT_IDS), for the rules their reference IDs name, category Waiver or Mitigated,
until their expiry. End to end over the simulator, and the pure reading and the setting."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.bounds import redacted
from shared.config import SettingsError, load_settings
from shared.policy.exemptions import MAX_REASON, NO_EXPIRY, is_scope, native_exemptions
from shared.runtime import runtime
from simulator.permissions import Permissions
from tests.conftest import App, at_once
from tests.credentials import leaked, placed
from tests.test_ledger import ledger_fails_on, once_rows_age
from tests.test_policy_exemptions import BASE_ENV
from tests.test_policy_rules import DESIGN_RULE_IDS
from tests.test_remediation_e2e import patched_computes, sweep, workspace_event
from tools import cli, scene

SUBSCRIPTION = f"/subscriptions/{scene.ML_SUBSCRIPTION}"
ASSIGNMENT = f"{SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/synapse-aml"
OTHER_ASSIGNMENT = f"{SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/alz-ml"
RG = f"{SUBSCRIPTION}/resourceGroups/rg-ml"
CLUSTER = f"{scene.PROD}/computes/cpu-cluster"
LIST_ROUTE = "authz.pe.list"
READ = "Microsoft.Authorization/policyExemptions/read"


def at(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def exempt(app: App, scope: str, name: str = "load-test", **changes: Any) -> None:
    options: dict[str, Any] = {
        "assignment_id": ASSIGNMENT,
        "reference_ids": ["compute-max-nodes"],
        "expires_on": at(30),
        "description": "load test until the end of the month",
        **changes,
    }
    app.sim.authorization.add_policy_exemption(scope, name, **options)


def finding_rows(app: App, rule_id: str) -> list[dict[str, Any]]:
    return [
        row
        for row in app.ledger.actions(scene.PROD)
        if row["Kind"] == "policy-finding" and row["Evidence"] == rule_id
    ]


def remediate(app: App, **overrides: str) -> None:
    app.set_settings(POLICY_MODE="remediate", POLICY_ASSIGNMENT_IDS=ASSIGNMENT, **overrides)


# --- end to end -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("scope", [scene.PROD, RG, SUBSCRIPTION, CLUSTER])
def test_an_exemption_on_the_workspace_a_parent_or_the_compute_spares_the_finding(
    app: App, scope: str
) -> None:
    remediate(app)
    exempt(app, scope.upper() if scope == RG else scope)

    workspace_event(app, scene.PROD)

    assert patched_computes(app) == []  # never remediated
    (row,) = finding_rows(app, "compute-max-nodes")
    assert row["Verdict"] == "exempt"
    assert "Azure Policy exemption load-test (Waiver)" in row["Reason"]
    assert "load test until the end of the month" in row["Reason"]
    assert app.sim.count(LIST_ROUTE) == 1
    # Only the rule it names: public access is still remediated.
    assert app.sim.count("aml.workspace.patch") == 1


@pytest.mark.slow
def test_an_expired_exemption_counts_for_nothing_and_is_reported_once(app: App) -> None:
    remediate(app)
    exempt(app, RG, expires_on=at(-1))

    sweep()
    workspace_event(app, scene.PROD)

    assert patched_computes(app) == ["cpu-cluster"]
    reports = [r for r in app.ledger.actions(scene.PROD) if r["Kind"] == "policy-exemption"]
    assert [r["Verdict"] for r in reports] == ["expired"]
    assert "Azure Policy exemption load-test" in reports[0]["Reason"]


@pytest.mark.slow
def test_instances_meeting_an_expired_exemption_at_once_report_it_once(app: App) -> None:
    """Four instances read the expired exemption together, before any has recorded anything: only
    the ledger's create-only `first_time` row (its own race test is in test_ledger.py) holds them
    to one report."""
    app.set_settings(POLICY_ASSIGNMENT_IDS=ASSIGNMENT)  # audit: the report, not a remediation
    exempt(app, RG, expires_on=at(-1))

    delivered = at_once([functools.partial(workspace_event, app, scene.PROD)] * 4)

    events = [event for event in delivered if isinstance(event, dict)]
    assert len(events) == 4, delivered  # none raised
    assert len({event["id"] for event in events}) == 4
    reports = [r for r in app.ledger.actions(scene.PROD) if r["Kind"] == "policy-exemption"]
    assert [r["Verdict"] for r in reports] == ["expired"]


@pytest.mark.slow
def test_an_expiry_the_ledger_failed_to_record_is_reported_by_a_later_run(app: App) -> None:
    """The run that takes the report fails to record it (its ledger write fails, or it dies right
    then): once its lease lapses, a later run reports it, and only one."""
    app.set_settings(POLICY_ASSIGNMENT_IDS=ASSIGNMENT)
    exempt(app, RG, expires_on=at(-1))
    with ledger_fails_on(lambda r: r.kind == "policy-exemption"):
        workspace_event(app, scene.PROD)
    workspace_event(app, scene.PROD)  # within the lease of the run that took it: not yet

    once_rows_age(runtime().ledger.table, 1)
    workspace_event(app, scene.PROD)
    once_rows_age(runtime().ledger.table, 1)
    workspace_event(app, scene.PROD)

    reports = [r for r in app.ledger.actions(scene.PROD) if r["Kind"] == "policy-exemption"]
    assert [r["Verdict"] for r in reports] == ["expired"]


@pytest.mark.slow
def test_another_assignments_exemption_does_not_count(app: App) -> None:
    remediate(app)
    exempt(app, RG, assignment_id=OTHER_ASSIGNMENT)
    exempt(app, RG, "whole", assignment_id=OTHER_ASSIGNMENT, reference_ids=None)

    workspace_event(app, scene.PROD)

    assert patched_computes(app) == ["cpu-cluster"]
    assert [r["Verdict"] for r in finding_rows(app, "compute-max-nodes")] == ["non-compliant"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("changes", "spared"),
    [
        ({"category": "Mitigated"}, True),
        ({"category": "Waiver"}, True),
        ({"category": "Exempted"}, False),
        (
            {"resource_selectors": [{"name": "eu", "selectors": [{"kind": "resourceLocation"}]}]},
            False,
        ),
        ({"reference_ids": ["workspace-public-access"]}, False),
        ({"reference_ids": None, "expires_on": None}, True),  # the whole assignment, no end
    ],
)
def test_what_an_exemption_says_decides_whether_it_spares(
    app: App, changes: dict[str, Any], spared: bool
) -> None:
    remediate(app)
    exempt(app, scene.PROD, **changes)

    workspace_event(app, scene.PROD)

    assert patched_computes(app) == ([] if spared else ["cpu-cluster"])
    (row,) = finding_rows(app, "compute-max-nodes")
    assert row["Verdict"] == ("exempt" if spared else "non-compliant")
    if spared:
        assert f"({changes.get('category', 'Waiver')})" in row["Reason"]


@pytest.mark.slow
def test_a_sibling_workspaces_exemption_spares_nothing_here(app: App) -> None:
    remediate(app)
    exempt(app, scene.DEV, reference_ids=None)

    workspace_event(app, scene.PROD)

    assert patched_computes(app) == ["cpu-cluster"]


@pytest.mark.slow
def test_without_assignment_ids_no_exemption_is_read(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate")
    exempt(app, RG)

    workspace_event(app, scene.PROD)

    assert app.sim.count(LIST_ROUTE) == 0
    assert patched_computes(app) == ["cpu-cluster"]


@pytest.mark.slow
def test_without_the_read_action_the_policies_are_not_evaluated_and_say_why(app: App) -> None:
    remediate(app)
    exempt(app, RG)
    rbac: Permissions = app.sim.permissions
    saved = set(rbac.granted)
    rbac.revoke([READ])
    try:
        workspace_event(app, scene.PROD)
    finally:
        rbac.granted = saved

    assert patched_computes(app) == []  # nothing remediated on a guess
    (row,) = [r for r in app.ledger.actions(scene.PROD) if r["Verdict"] == "not-evaluated"]
    assert "AuthorizationFailed" in row["Reason"] or READ in row["Reason"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("policyDefinitionReferenceIds", 5),
        ("policyDefinitionReferenceIds", "compute-max-nodes"),
        ("policyDefinitionReferenceIds", {"compute-max-nodes": None}),
        ("policyDefinitionReferenceIds", ["compute-max-nodes", 5]),
        ("properties", ["compute-max-nodes"]),
    ],
)
def test_an_exemption_list_of_another_shape_is_not_evaluated_on_a_guess(
    app: App, field: str, value: object
) -> None:
    remediate(app)
    exempt(app, RG)

    def rewrite(body: dict[str, Any]) -> None:
        [item] = body["value"]
        (item if field == "properties" else item["properties"])[field] = value

    app.sim.rewrite_reply(LIST_ROUTE, rewrite)
    workspace_event(app, scene.PROD)

    assert patched_computes(app) == []  # neither spared nor remediated on a guess
    (row,) = [r for r in app.ledger.actions(scene.PROD) if r["Verdict"] == "not-evaluated"]
    assert f"MalformedResponseError: policy exemptions of {scene.PROD}" in row["Reason"]


@pytest.mark.slow
def test_plan_shows_a_native_exemption(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    remediate(app)
    exempt(app, SUBSCRIPTION)

    assert cli.main(["plan"]) == 0

    out = capsys.readouterr().out
    assert "Azure Policy exemption load-test (Waiver)" in out
    assert app.sim.writes() == []


@pytest.mark.slow
def test_an_exemption_without_expiry_reads_until_withdrawn_not_a_date(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    """Azure Policy's exemption without `expiresOn` never expires: no made-up date in year 9999."""
    remediate(app)
    exempt(app, RG, expires_on=None)

    assert cli.main(["plan"]) == 0
    workspace_event(app, scene.PROD)

    out = capsys.readouterr().out
    (row,) = finding_rows(app, "compute-max-nodes")
    for text in (out, row["Reason"], row["Outcome"]):
        assert "until withdrawn (no expiry)" in text
        assert "9999" not in text


@pytest.mark.slow
def test_plan_names_the_synapse_guardrail_conflict_and_what_to_exempt(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["plan"]) == 0

    (line,) = [line for line in capsys.readouterr().out.splitlines() if "conflict:" in line]
    assert "3484ce98-c0c5-4c83-994b-c5ac24785218" in line
    assert "Enforce-Guardrails-Synapse" in line
    assert "Deny-Synapse-Data-Traffic" in line
    assert "exemption" in line


# --- pure: reading ARM's list -----------------------------------------------------------------


def listed(scope: str, **properties: Any) -> dict[str, Any]:
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/policyExemptions/x",
        "name": "x",
        "properties": {
            "policyAssignmentId": ASSIGNMENT,
            "exemptionCategory": "Waiver",
            **properties,
        },
    }


def test_an_exemption_of_the_whole_assignment_covers_each_rule_with_a_definition() -> None:
    found = native_exemptions([listed(RG)], [ASSIGNMENT.upper()], scene.PROD)

    # Every rule but the two that stay in the app (they have no reference in the initiative).
    assert {e.rule_id for e in found} == set(DESIGN_RULE_IDS) - {
        "dependencies-private-endpoints",
        "synapse-no-exfiltration-protection",
    }
    assert {e.scope for e in found} == {RG}
    assert {e.expires for e in found} == {NO_EXPIRY}


def test_a_management_group_exemption_listed_at_the_workspace_applies_to_its_subscription() -> None:
    mg = "/providers/Microsoft.Management/managementGroups/platform"

    (found,) = native_exemptions(
        [listed(mg, policyDefinitionReferenceIds=["compute-subnet"])], [ASSIGNMENT], scene.PROD
    )

    assert found.scope == SUBSCRIPTION
    assert found.covers("compute-subnet", CLUSTER)


def test_an_unreadable_expiry_is_taken_as_past() -> None:
    (found,) = native_exemptions(
        [listed(RG, policyDefinitionReferenceIds=["compute-subnet"], expiresOn="soon")],
        [ASSIGNMENT],
        scene.PROD,
    )

    assert not found.in_force(datetime.now(UTC))


ARM_VALUES = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.lists(st.text(max_size=20), max_size=3),
    st.sampled_from(["Waiver", "Mitigated", "compute-subnet", RG, CLUSTER, at(1), at(-1)]),
)


def arm_items(assignments: st.SearchStrategy[object]) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Lists as ARM might send them: any shape, the assignment drawn from `assignments`."""
    properties = st.fixed_dictionaries(
        {"policyAssignmentId": assignments},
        optional={
            "exemptionCategory": ARM_VALUES,
            "policyDefinitionReferenceIds": ARM_VALUES,
            "expiresOn": ARM_VALUES,
            "resourceSelectors": ARM_VALUES,
        },
    )
    item = st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(
                ARM_VALUES,
                st.builds(
                    lambda s: s + "/providers/Microsoft.Authorization/policyExemptions/x",
                    st.sampled_from([RG, CLUSTER, SUBSCRIPTION]),
                ),
            ),
            "properties": st.one_of(properties, ARM_VALUES),
        },
    )
    return st.lists(item, max_size=4)


@given(arm_items(st.one_of(ARM_VALUES, st.just(OTHER_ASSIGNMENT))))
def test_only_the_apps_assignments_exemptions_count_whatever_arm_sends(
    items: list[dict[str, Any]],
) -> None:
    # Property: nothing that does not name one of the app's assignments ever spares a rule.
    assert native_exemptions(items, [ASSIGNMENT], scene.PROD) == ()


@given(
    arm_items(st.just(ASSIGNMENT)),
    st.builds(
        listed,
        st.sampled_from([RG, CLUSTER, SUBSCRIPTION]),
        exemptionCategory=st.sampled_from(["Waiver", "Mitigated"]),
        expiresOn=ARM_VALUES,
    ),
    st.integers(0, 4),
)
def test_what_counts_is_a_rule_with_a_definition_on_a_scope_arm_can_name(
    items: list[dict[str, Any]], counted: dict[str, Any], at: int
) -> None:
    # One exemption that counts among whatever else ARM lists: drawn items alone almost never
    # count, and then there is nothing found to check.
    exemptions = native_exemptions([*items[:at], counted, *items[at:]], [ASSIGNMENT], scene.PROD)
    assert exemptions
    for found in exemptions:
        assert found.rule_id in set(DESIGN_RULE_IDS) - {
            "dependencies-private-endpoints",
            "synapse-no-exfiltration-protection",
        }
        assert is_scope(found.scope)
        assert found.expires.tzinfo is not None


# --- the setting ------------------------------------------------------------------------------


def test_policy_assignment_ids_are_read_at_any_scope() -> None:
    mg = (
        "/providers/Microsoft.Management/managementGroups/alz/providers/"
        "Microsoft.Authorization/policyAssignments/Enforce-GR-ML"
    )
    settings = load_settings({**BASE_ENV, "POLICY_ASSIGNMENT_IDS": f"{ASSIGNMENT}, {mg}"})

    assert settings.policy_assignment_ids == (ASSIGNMENT, mg)
    assert load_settings(BASE_ENV).policy_assignment_ids == ()


@pytest.mark.parametrize(
    "value",
    [
        f"{SUBSCRIPTION}/providers/Microsoft.Authorization/policyExemptions/x",
        f"{ASSIGNMENT}/extra",
        "synapse-aml",
        f"{ASSIGNMENT},",
    ],
)
def test_a_bad_assignment_id_is_a_start_up_error_naming_the_setting(value: str) -> None:
    with pytest.raises(SettingsError, match="POLICY_ASSIGNMENT_IDS: item"):
        load_settings({**BASE_ENV, "POLICY_ASSIGNMENT_IDS": value})


@given(st.data())
def test_an_azure_exemptions_reason_holds_no_piece_of_a_credential(data: st.DataObject) -> None:
    # Its description (anyone who may exempt writes it) is cut to the reason's limit, then
    # recorded and announced with each finding it spares, where it is redacted.
    told = "Azure Policy exemption load-test (Waiver): "
    description, secret = data.draw(placed(MAX_REASON - len(told), before=8))
    item = {
        "id": f"{scene.PROD}/providers/Microsoft.Authorization/policyExemptions/load-test",
        "properties": {
            "policyAssignmentId": ASSIGNMENT,
            "exemptionCategory": "Waiver",
            "policyDefinitionReferenceIds": ["compute-max-nodes"],
            "displayName": "load-test",
            "description": description,
        },
    }
    (exemption,) = native_exemptions([item], [ASSIGNMENT], scene.PROD)
    assert leaked(secret, redacted(exemption.reason)) is None, exemption.reason
