"""Policy exemptions (`POLICY_EXEMPTIONS`), pure: the format, scope matching and expiry.

A finding is exempt when its rule matches and its resource is the scope or lies under it: a
compute under its workspace, a workspace under its resource group or subscription. ARM IDs
compare case-insensitively and nothing looser: a group that merely shares a prefix is another
group. An exemption counts until its expiry, not at it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.bounds import redacted
from shared.config import SettingsError, load_settings
from shared.policy.engine import evaluate, remediations
from shared.policy.exemptions import (
    MAX_REASON,
    Exemption,
    apply_exemptions,
    is_scope,
    parse_exemptions,
    scopes_of,
    within_scope,
)
from shared.policy.facts import WorkspaceFacts
from shared.policy.rules import RULES, Status
from tests.credentials import leaked, placed
from tests.test_policy_rules import PARAMS, PROPERTY, cluster, recase, workspace, workspace_facts

SUB = "00000000-1111-2222-3333-444444444444"
OTHER_SUB = "99999999-1111-2222-3333-444444444444"
GROUP = f"/subscriptions/{SUB}/resourceGroups/ml-rg"
WS = f"{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/ws1"
COMPUTE = f"{WS}/computes/cpu-cluster"
EXPIRES = datetime(2027, 3, 31, tzinfo=UTC)


def exemption(scope: str, rule_id: str = "compute-max-nodes", **changes: Any) -> Exemption:
    values: dict[str, Any] = {
        "rule_id": rule_id,
        "scope": scope,
        "reason": "capacity review",
        "expires": EXPIRES,
    }
    return Exemption(**{**values, **changes})


def entry(**changes: Any) -> dict[str, Any]:
    return {
        "rule": "compute-max-nodes",
        "scope": GROUP,
        "reason": "capacity review until the quarter ends",
        "expires": "2027-03-31T00:00:00+00:00",
        **changes,
    }


# --- scope matching ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "what"),
    [
        (COMPUTE, "the resource itself"),
        (WS, "its parent workspace"),
        (GROUP, "its resource group"),
        (f"/subscriptions/{SUB}", "its subscription"),
        (COMPUTE.upper(), "the resource, in other casing"),
        (GROUP.lower(), "its resource group, in other casing"),
    ],
)
def test_an_exemption_covers_the_resource_and_what_it_lies_under(scope: str, what: str) -> None:
    assert exemption(scope).covers("compute-max-nodes", COMPUTE), what


@pytest.mark.parametrize(
    ("scope", "what"),
    [
        (f"/subscriptions/{SUB}/resourceGroups/ml", "a group whose name is a prefix of it"),
        (f"/subscriptions/{SUB}/resourceGroups/ml-rg-2", "a group that shares its prefix"),
        (f"{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/ws", "ws vs ws1"),
        (f"{WS}/computes/cpu", "a compute whose name is a prefix of it"),
        (f"{WS}/computes/cpu-cluster-2", "a sibling compute"),
        (f"/subscriptions/{OTHER_SUB}/resourceGroups/ml-rg", "the same group name elsewhere"),
        (f"/subscriptions/{SUB[:-1]}", "a subscription ID that is a prefix"),
    ],
)
def test_an_exemption_covers_nothing_that_merely_looks_alike(scope: str, what: str) -> None:
    assert not exemption(scope).covers("compute-max-nodes", COMPUTE), what


def test_an_exemption_covers_only_its_own_rule() -> None:
    assert not exemption(GROUP, rule_id="compute-vm-size").covers("compute-max-nodes", COMPUTE)


def test_a_workspace_does_not_lie_under_its_computes() -> None:
    assert not exemption(COMPUTE, rule_id="workspace-public-access").covers(
        "workspace-public-access", WS
    )


def test_scopes_of_a_compute_run_from_subscription_to_the_compute() -> None:
    assert scopes_of(COMPUTE) == [f"/subscriptions/{SUB}", GROUP, WS, COMPUTE]
    assert scopes_of("not an ARM ID") == []


group_names = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
suffixes = st.from_regex(r"[a-z0-9-]{1,6}", fullmatch=True)
masks = st.integers(min_value=0, max_value=2**64 - 1)


@PROPERTY
@given(group_names, masks, masks)
def test_scope_matching_ignores_case_at_every_level(group: str, mask: int, other: int) -> None:
    group_id = f"/subscriptions/{SUB}/resourceGroups/{group}"
    compute = f"{group_id}/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/c"
    for scope in scopes_of(compute):
        assert within_scope(recase(compute, mask), recase(scope, other))


@PROPERTY
@given(group_names, suffixes, masks)
def test_a_group_sharing_a_prefix_never_matches(group: str, suffix: str, mask: int) -> None:
    scope = f"/subscriptions/{SUB}/resourceGroups/{group}"
    lookalike = f"/subscriptions/{SUB}/resourceGroups/{group}{suffix}"
    resource = f"{lookalike}/providers/Microsoft.MachineLearningServices/workspaces/ws"

    assert not within_scope(recase(resource, mask), scope)
    assert not within_scope(f"{scope}/providers/Microsoft.MachineLearningServices/x/y", lookalike)


# Any text, or a scope of a compute in any casing, often with something glued on: two texts alone
# almost never match, and then what a match means would go unchecked.
scope_texts = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda scope, tail, mask: recase(scope + tail, mask),
        st.sampled_from(scopes_of(COMPUTE)),
        st.sampled_from(["", "", "", "/", "x", "/x", "/computes", " "]),
        masks,
    ),
)


@PROPERTY
@given(scope_texts, scope_texts)
def test_scope_matching_never_raises_and_is_at_least_as_strict_as_prefixes(
    target: str, scope: str
) -> None:
    # Whatever the text, a match means the scope is the resource or a segment-wise ancestor.
    if within_scope(target, scope):
        assert target.lower() == scope.lower() or target.lower().startswith(scope.lower() + "/")


# --- expiry -----------------------------------------------------------------------------------


def test_an_exemption_counts_until_its_expiry_not_at_it() -> None:
    findings = evaluate(workspace(computes=(cluster(id=COMPUTE, max_node_count=10),)), PARAMS)
    spare = exemption(GROUP)

    before = apply_exemptions(findings, [spare], EXPIRES - timedelta(microseconds=1))
    at = apply_exemptions(findings, [spare], EXPIRES)
    after = apply_exemptions(findings, [spare], EXPIRES + timedelta(days=1))

    (spared,) = [f for f in before.findings if f.rule_id == "compute-max-nodes"]
    assert spared.status is Status.EXEMPT
    assert spared.exemption == spare
    assert before.expired == ()
    for result in (at, after):
        (judged,) = [f for f in result.findings if f.rule_id == "compute-max-nodes"]
        assert judged.status is Status.NON_COMPLIANT
        assert judged.exemption is None
        assert result.expired == (spare,)


def test_expiry_compares_instants_whatever_the_offset() -> None:
    # 2027-03-31T02:00+02:00 is the same instant as midnight UTC.
    spare = exemption(GROUP, expires=datetime(2027, 3, 31, 2, tzinfo=timezone(timedelta(hours=2))))

    assert spare.in_force(EXPIRES - timedelta(seconds=1))
    assert not spare.in_force(EXPIRES)


def test_only_problems_become_exempt_and_other_rules_stay_judged() -> None:
    facts = workspace(
        public_network_access="Enabled", computes=(cluster(id=COMPUTE, max_node_count=2),)
    )
    findings = evaluate(facts, PARAMS)

    result = apply_exemptions(
        findings,
        [exemption(GROUP), exemption(f"/subscriptions/{OTHER_SUB}", "workspace-hbi")],
        EXPIRES - timedelta(days=1),
    )

    statuses = {(f.rule_id, f.target_id): f.status for f in result.findings}
    assert statuses[("compute-max-nodes", COMPUTE)] is Status.COMPLIANT  # nothing to spare
    assert statuses[("workspace-public-access", workspace().id)] is Status.NON_COMPLIANT
    assert Status.EXEMPT not in statuses.values()


# --- the format and its configuration errors ---------------------------------------------------


def test_a_valid_list_is_read() -> None:
    (read,) = parse_exemptions(json.dumps([entry(scope=WS, expires="2027-03-31T00:00:00Z")]))

    assert read == Exemption(
        "compute-max-nodes", WS, "capacity review until the quarter ends", EXPIRES
    )
    assert parse_exemptions("[]") == ()


@pytest.mark.parametrize(
    ("entries", "says"),
    [
        ([entry(), entry(rule="compute-max-node")], "entry 2 .*unknown rule 'compute-max-node'"),
        ([entry(scope=None)], "entry 1 .*lacks scope"),
        ([{k: v for k, v in entry().items() if k != "expires"}], "entry 1 .*lacks expires"),
        ([entry(reason="")], "entry 1 .*lacks reason"),
        ([entry(expires="next tuesday")], "entry 1 .*'next tuesday' is not an ISO 8601"),
        ([entry(expires="2027-03-31T00:00:00")], "entry 1 .*with an offset"),
        ([entry(expires="2027-03-31")], "entry 1 .*with an offset"),
        ([entry(scope="ml-rg")], "entry 1 .*scope 'ml-rg' is not an ARM ID"),
        ([entry(scope=f"{GROUP}/")], "entry 1 .*is not an ARM ID"),
        ([entry(scope=f"{GROUP}/providers/Microsoft.MachineLearningServices")], "not an ARM ID"),
        ([entry(), entry(), entry(until="2027")], "entry 3 .*unknown field.*until"),
        ([entry(), "compute-max-nodes"], "entry 2 .*is not an object"),
        (entry(), "expected a JSON array"),
    ],
)
def test_configuration_errors_name_the_entry(entries: object, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_exemptions(json.dumps(entries))


def test_malformed_json_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_exemptions('[{"rule": ')


def test_is_scope_accepts_subscriptions_groups_and_resources_only() -> None:
    assert all(is_scope(s) for s in (f"/subscriptions/{SUB}", GROUP, WS, COMPUTE))
    assert not any(is_scope(s) for s in ("", "/", "subscriptions/x", f"{GROUP}/", "/ünïcode"))


BASE_ENV = {
    "ML_WORKSPACE_IDS": WS,
    "SYNAPSE_WORKSPACE_IDS": f"{GROUP}/providers/Microsoft.Synapse/workspaces/syn1",
    "LEDGER_CONNECTION_STRING": "UseDevelopmentStorage=true",
}


def test_settings_default_to_ten_remediations_and_no_exemptions() -> None:
    settings = load_settings(BASE_ENV)

    assert settings.max_remediations_per_run == 10
    assert settings.policy_exemptions == ()


def test_a_fresh_interpreter_reads_exemptions_without_the_rules_imported_first() -> None:
    # The rules are declared on first use (not at index time): settings read before anything
    # imported them must still know every rule, or a valid entry would stop the app's start.
    env = {**BASE_ENV, "POLICY_EXEMPTIONS": json.dumps([entry()])}
    code = (
        "import json, sys\n"
        "from shared.config import load_settings\n"
        "assert 'shared.policy.checks' not in sys.modules\n"
        f"print(load_settings(json.loads({json.dumps(env)!r})).policy_exemptions[0].rule_id)"
    )
    completed = subprocess.run(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", code],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip() == "compute-max-nodes"


def test_settings_read_the_limit_and_the_exemptions() -> None:
    settings = load_settings(
        {
            **BASE_ENV,
            "MAX_REMEDIATIONS_PER_RUN": "3",
            "POLICY_EXEMPTIONS": json.dumps([entry()]),
        }
    )

    assert settings.max_remediations_per_run == 3
    assert settings.policy_exemptions == (
        Exemption("compute-max-nodes", GROUP, "capacity review until the quarter ends", EXPIRES),
    )
    hash(settings)  # settings stay hashable: the runtime is cached per settings value


@pytest.mark.parametrize("value", ["0", "-1", "ten", "2.5"])
def test_a_bad_limit_is_a_start_up_error_naming_the_setting(value: str) -> None:
    with pytest.raises(SettingsError, match="MAX_REMEDIATIONS_PER_RUN"):
        load_settings({**BASE_ENV, "MAX_REMEDIATIONS_PER_RUN": value})


def test_a_bad_exemption_is_a_start_up_error_naming_the_setting_and_entry() -> None:
    value = json.dumps([entry(), entry(rule="no-such-rule")])

    with pytest.raises(SettingsError, match=r"POLICY_EXEMPTIONS: entry 2 .*no-such-rule"):
        load_settings({**BASE_ENV, "POLICY_EXEMPTIONS": value})


@PROPERTY
@given(workspace_facts(), st.sampled_from(sorted(RULES)), st.booleans())
def test_an_exempt_finding_is_never_remediated(
    facts: WorkspaceFacts, rule_id: str, expired: bool
) -> None:
    # An exemption for one rule on the whole subscription: in force, nothing of that rule in it
    # is remediated and only its problems there are exempt; expired, it changes nothing at all.
    now = EXPIRES + timedelta(seconds=1) if expired else EXPIRES - timedelta(seconds=1)
    spare = exemption(f"/subscriptions/{SUB}", rule_id=rule_id)
    findings = evaluate(facts, PARAMS)

    result = apply_exemptions(findings, [spare], now)

    planned = remediations(result.findings, facts)
    if expired:
        assert result.findings == tuple(findings)
        return
    for candidate in planned:
        assert candidate.rule_id != rule_id or not within_scope(
            candidate.remediation.target_id, spare.scope
        )
    for before, after in zip(findings, result.findings, strict=True):
        if after.status is Status.EXEMPT:
            assert before.rule_id == rule_id
            assert within_scope(before.target_id, spare.scope)
            assert before.status in (Status.NON_COMPLIANT, Status.UNKNOWN)
        else:
            assert after == before


@pytest.mark.parametrize(
    ("scope", "says"),
    [
        ("/providers/Microsoft.Management/managementGroups/mg-ml", "management group"),
        (f"/subscriptions/{SUB}//resourceGroups/ml-rg", "not an ARM ID"),
        ("/subscriptions/not-a-guid", "not an ARM ID"),
        (f"/subscriptions/{SUB}/resourceGroups/ml rg", "not an ARM ID"),
        (f"{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/", "not an ARM ID"),
    ],
)
def test_scopes_that_could_match_nothing_are_configuration_errors(scope: str, says: str) -> None:
    # A scope no finding can ever lie under would exempt nothing, silently: refused, named.
    with pytest.raises(ValueError, match=f"entry 1 .*{says}"):
        parse_exemptions(json.dumps([entry(scope=scope)]))


def test_scopes_in_other_casing_are_read_and_match() -> None:
    upper = GROUP.upper().replace("SUBSCRIPTIONS", "subscriptions")

    (read,) = parse_exemptions(json.dumps([entry(scope=upper)]))

    assert read.covers("compute-max-nodes", COMPUTE)


@pytest.mark.parametrize("reason", ["   ", "\n\t", 7, None, ["why"]])
def test_a_blank_or_non_text_reason_is_a_configuration_error(reason: object) -> None:
    with pytest.raises(ValueError, match=r"entry 1 .*lacks reason"):
        parse_exemptions(json.dumps([entry(reason=reason)]))


def test_a_huge_reason_is_bounded_when_read() -> None:
    (read,) = parse_exemptions(json.dumps([entry(reason="why " * 100_000)]))

    assert len(read.reason) <= 1_000
    assert read.reason.startswith("why why")


def test_a_reason_over_several_lines_is_read_as_one() -> None:
    (read,) = parse_exemptions(json.dumps([entry(reason="capacity\nreview\r\n until Q2")]))

    assert read.reason == "capacity review until Q2"


@pytest.mark.parametrize(
    "expires",
    ["2016-12-31T23:59:60+00:00", "2027-02-30T00:00:00+00:00", "2027-03-31T00:00:00+24:00"],
)
def test_impossible_dates_are_configuration_errors(expires: str) -> None:
    with pytest.raises(ValueError, match=r"entry 1 .*not an ISO 8601 date-time with an offset"):
        parse_exemptions(json.dumps([entry(expires=expires)]))


def test_duplicate_entries_are_read_and_an_expiry_is_reported_once() -> None:
    spare = json.dumps([entry(scope=WS), entry(scope=WS)])
    findings = evaluate(workspace(computes=(cluster(max_node_count=10),)), PARAMS)

    result = apply_exemptions(findings, parse_exemptions(spare), EXPIRES)

    assert len(result.expired) == 1


@pytest.mark.parametrize("value", ["9" * 5000, "1" + "0" * 19])
def test_a_limit_too_large_to_be_a_count_is_a_start_up_error(value: str) -> None:
    with pytest.raises(SettingsError, match="MAX_REMEDIATIONS_PER_RUN"):
        load_settings({**BASE_ENV, "MAX_REMEDIATIONS_PER_RUN": value})


@pytest.mark.parametrize(("value", "limit"), [(" 10 ", 10), ("1", 1), ("007", 7)])
def test_a_limit_with_spaces_or_leading_zeros_is_read(value: str, limit: int) -> None:
    settings = load_settings({**BASE_ENV, "MAX_REMEDIATIONS_PER_RUN": value})

    assert settings.max_remediations_per_run == limit


@given(st.data())
def test_a_refused_exemption_shows_no_piece_of_a_credential(data: st.DataObject) -> None:
    # The entry is repeated as JSON cut to 200 characters: its rule here, after `{"rule": "`.
    text, secret = data.draw(placed(200 - len('{"rule": "'), before=8))
    with pytest.raises(SettingsError) as raised:
        load_settings({**BASE_ENV, "POLICY_EXEMPTIONS": json.dumps([{"rule": text}])})
    assert leaked(secret, str(raised.value)) is None, str(raised.value)


@given(st.data())
def test_an_exemptions_reason_holds_no_piece_of_a_credential(data: st.DataObject) -> None:
    # Cut to its limit once, here; recorded and announced with each finding it spares, redacted.
    reason, secret = data.draw(placed(MAX_REASON - 1, before=8))
    (exemption,) = parse_exemptions(json.dumps([entry(reason=reason)]))
    assert leaked(secret, redacted(exemption.reason)) is None, exemption.reason
