"""scripts/preflight.py, the preprovision checks, run as azd runs it: a subprocess whose `az` is
a fake on PATH that answers from a table of canned az outputs and logs every call. No Azure.

Each scenario breaks one prerequisite of a healthy world and checks the one line that says what
to do, that every line is one line, and that the script only ever ran read commands.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scripts.preflight import (
    ACTION_GROUPS_WRITE,
    APP_GROUP_WRITES,
    EVENT_SUBSCRIPTIONS_WRITE,
    MONITORING_WRITES,
    POLICY_ASSIGNMENTS_WRITE,
    POLICY_WRITES,
    ROLE_ASSIGNMENTS_WRITE,
    ROLE_DEFINITIONS_WRITE,
    SYSTEM_TOPICS_WRITE,
    action_allowed,
    parse_arm_id,
    parse_list,
)

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "preflight.py"

TENANT = "11111111-1111-1111-1111-111111111111"
APP_SUB = "aaaaaaaa-0000-0000-0000-000000000001"
ML_SUB = "bbbbbbbb-0000-0000-0000-000000000002"
WORKSPACE = (
    f"/subscriptions/{ML_SUB}/resourceGroups/rg-ml/providers/"
    "Microsoft.MachineLearningServices/workspaces/mlw-churn"
)
SYNAPSE = (
    f"/subscriptions/{APP_SUB}/resourceGroups/rg-syn/providers/Microsoft.Synapse/workspaces/syn1"
)
SUB_TOPIC = (
    f"/subscriptions/{ML_SUB}/resourceGroups/rg-events/providers/"
    "Microsoft.EventGrid/systemTopics/team-arm-events"
)
OWNER = [{"actions": ["*"], "notActions": []}]
READ_ONLY_VERBS = {"show", "list", "exists", "get"}

FAKE_AZ = """#!{python}
import json, os, sys
args = [a for a in sys.argv[1:] if a not in ("--only-show-errors", "-o", "json")]
with open(os.environ["FAKE_AZ_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
table = json.load(open(os.environ["FAKE_AZ_TABLE"]))
key = " ".join(args)
if key not in table:
    sys.stderr.write("ERROR: (fake az) no answer for: " + key + "\\n")
    sys.exit(2)
answer = table[key]
if answer.get("exit", 0):
    sys.stderr.write(answer.get("stderr", "ERROR: failed") + "\\n")
    sys.exit(answer["exit"])
sys.stdout.write(json.dumps(answer["stdout"]))
"""


def permissions_url(scope: str) -> str:
    return (
        f"rest --method get --url {scope}/providers/Microsoft.Authorization/permissions"
        "?api-version=2022-04-01"
    )


def healthy_world() -> dict[str, Any]:
    """az's answers in a subscription pair where every prerequisite holds."""
    table: dict[str, Any] = {
        "account show": {"stdout": {"id": APP_SUB, "tenantId": TENANT}},
        f"account show --subscription {APP_SUB}": {"stdout": {"id": APP_SUB, "tenantId": TENANT}},
        f"account show --subscription {ML_SUB}": {"stdout": {"id": ML_SUB, "tenantId": TENANT}},
        f"eventgrid system-topic list --subscription {ML_SUB}": {"stdout": []},
        f"group exists --name rg-app --subscription {ML_SUB}": {"stdout": True},
        # The first provision: azd has not created the app's resource group yet.
        f"group exists --name rg-app --subscription {APP_SUB}": {"stdout": False},
    }
    for subscription in (APP_SUB, ML_SUB):
        for namespace in (
            "Microsoft.App",
            "Microsoft.Web",
            "Microsoft.EventGrid",
            "Microsoft.Storage",
            "Microsoft.Insights",
            "Microsoft.OperationalInsights",
            "Microsoft.ManagedIdentity",
            "Microsoft.Network",
            "Microsoft.Logic",
        ):
            table[f"provider show --namespace {namespace} --subscription {subscription}"] = {
                "stdout": {"namespace": namespace, "registrationState": "Registered"}
            }
    for scope in (
        f"/subscriptions/{APP_SUB}",
        f"/subscriptions/{APP_SUB}/resourceGroups/rg-app",
        f"/subscriptions/{APP_SUB}/resourceGroups/rg-syn",
        f"/subscriptions/{ML_SUB}/resourceGroups/rg-ml",
        f"/subscriptions/{ML_SUB}/resourceGroups/rg-app",
        f"/subscriptions/{ML_SUB}/resourceGroups/rg-events",
        SUB_TOPIC,
    ):
        table[permissions_url(scope)] = {"stdout": {"value": OWNER}}
    return table


def healthy_env() -> dict[str, str]:
    return {
        "AZURE_SUBSCRIPTION_ID": APP_SUB,
        "AZURE_RESOURCE_GROUP": "rg-app",
        "ML_WORKSPACE_IDS": json.dumps([WORKSPACE]),
        "SYNAPSE_WORKSPACE_IDS": json.dumps([SYNAPSE]),
    }


def run_hook(
    tmp_path: Path, table: dict[str, Any], env: dict[str, str], command: list[str]
) -> tuple[int, list[str], list[str], list[list[str]]]:
    """Run a hook as azd does (from the project folder) with the fake az first on PATH;
    (exit code, stdout lines, stderr lines, az calls)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "az"
    fake.write_text(FAKE_AZ.format(python=sys.executable), encoding="utf-8")
    fake.chmod(0o755)
    table_file = tmp_path / "table.json"
    table_file.write_text(json.dumps(table), encoding="utf-8")
    log = tmp_path / "az.log"
    log.write_text("", encoding="utf-8")
    completed = subprocess.run(  # noqa: S603 - the script under test, fixed arguments
        [sys.executable, *command],
        cwd=REPO,
        env={
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "FAKE_AZ_TABLE": str(table_file),
            "FAKE_AZ_LOG": str(log),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return (
        completed.returncode,
        completed.stdout.splitlines(),
        completed.stderr.splitlines(),
        calls,
    )


def run_preflight(
    tmp_path: Path, table: dict[str, Any], env: dict[str, str]
) -> tuple[int, list[str], list[list[str]]]:
    """Run the script with the fake az first on PATH; (exit code, stderr lines, az calls)."""
    code, _, stderr, calls = run_hook(tmp_path, table, env, [str(SCRIPT)])
    return code, stderr, calls


def problems(lines: list[str]) -> list[str]:
    """The failure lines, without the closing summary; each must be one `preflight:` line."""
    assert all(line.startswith("preflight: ") for line in lines), lines
    assert lines, "no output"
    assert lines[-1].endswith("nothing was created"), lines
    return lines[:-1]


def assert_read_only(calls: list[list[str]]) -> None:
    for call in calls:
        if call[0] == "rest":
            assert call[call.index("--method") + 1] == "get", call
        else:
            verbs = set(call) & READ_ONLY_VERBS
            assert verbs, f"preflight ran a command that is not a read: az {' '.join(call)}"


def test_a_healthy_world_passes_with_reads_only(tmp_path: Path) -> None:
    code, stderr, calls = run_preflight(tmp_path, healthy_world(), healthy_env())
    assert code == 0, stderr
    assert stderr == []
    assert calls, "the fake az was never called"
    assert_read_only(calls)


def test_not_signed_in_is_one_line_that_says_az_login(tmp_path: Path) -> None:
    table = healthy_world()
    table["account show"] = {"exit": 1, "stderr": "ERROR: Please run 'az login' to setup account."}
    code, stderr, _ = run_preflight(tmp_path, table, healthy_env())
    assert code == 1
    [line] = problems(stderr)
    assert "az login" in line


def test_an_unregistered_provider_names_the_register_command(tmp_path: Path) -> None:
    table = healthy_world()
    key = f"provider show --namespace Microsoft.EventGrid --subscription {ML_SUB}"
    table[key] = {"stdout": {"registrationState": "NotRegistered"}}
    code, stderr, calls = run_preflight(tmp_path, table, healthy_env())
    assert code == 1
    [line] = problems(stderr)
    assert f"az provider register --namespace Microsoft.EventGrid --subscription {ML_SUB}" in line
    assert_read_only(calls)


def test_a_subscription_of_another_tenant_is_refused(tmp_path: Path) -> None:
    table = healthy_world()
    other = "22222222-2222-2222-2222-222222222222"
    table[f"account show --subscription {ML_SUB}"] = {"stdout": {"id": ML_SUB, "tenantId": other}}
    code, stderr, _ = run_preflight(tmp_path, table, healthy_env())
    assert code == 1
    [line] = problems(stderr)
    assert ML_SUB in line
    assert other in line
    assert "one tenant" in line


CONTRIBUTOR = [
    {
        "actions": ["*"],
        "notActions": [
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
        ],
    }
]
USER_ACCESS_ADMINISTRATOR = [{"actions": ["*/read", "Microsoft.Authorization/*"]}]
RBAC_ADMINISTRATOR = [
    {"actions": ["Microsoft.Authorization/roleAssignments/write", "*/read"], "notActions": []}
]


def test_missing_rights_at_a_workspace_group_name_the_scope_the_actions_and_the_role(
    tmp_path: Path,
) -> None:
    rg_ml = f"/subscriptions/{ML_SUB}/resourceGroups/rg-ml"
    table = healthy_world()
    table[permissions_url(rg_ml)] = {"stdout": {"value": CONTRIBUTOR}}
    code, stderr, _ = run_preflight(tmp_path, table, healthy_env())
    assert code == 1
    [line] = problems(stderr)
    assert f" at {rg_ml} " in line
    assert (
        "you lack Microsoft.Authorization/roleDefinitions/write, "
        "Microsoft.Authorization/roleAssignments/write" in line
    )
    assert "ask for Owner, or User Access Administrator on it" in line

    # Role Based Access Control Administrator cannot define the custom roles.
    table[permissions_url(rg_ml)] = {"stdout": {"value": CONTRIBUTOR + RBAC_ADMINISTRATOR}}
    code, stderr, _ = run_preflight(tmp_path, table, healthy_env())
    [line] = problems(stderr)
    assert "you lack Microsoft.Authorization/roleDefinitions/write at" in line

    # User Access Administrator alone: no deployments/write, no topics.
    table[permissions_url(rg_ml)] = {"stdout": {"value": USER_ACCESS_ADMINISTRATOR}}
    code, stderr, _ = run_preflight(tmp_path, table, healthy_env())
    [line] = problems(stderr)
    assert (
        "you lack Microsoft.Resources/deployments/write, "
        "Microsoft.EventGrid/systemTopics/write, "
        "Microsoft.EventGrid/systemTopics/eventSubscriptions/write at" in line
    )
    assert "ask for Owner, or Contributor on it" in line

    table[permissions_url(rg_ml)] = {"stdout": {"value": CONTRIBUTOR + USER_ACCESS_ADMINISTRATOR}}
    code, stderr, _ = run_preflight(tmp_path, table, healthy_env())
    assert code == 0, stderr


def test_every_resource_group_a_module_deploys_to_is_checked_once(tmp_path: Path) -> None:
    """The contract with infra/ (README "Running it for real"): the custom roles live in the
    resource groups of the workspaces, Synapse workspaces, dependencies and scoring endpoints;
    topics in the workspaces' groups and the topics group; the drift workspace's group."""
    scoring_ws = f"/subscriptions/{ML_SUB}/resourceGroups/rg-score/providers/x/workspaces/mlw-s"
    drift = (
        f"/subscriptions/{ML_SUB}/resourceGroups/rg-logs/providers/"
        "Microsoft.OperationalInsights/workspaces/log-drift"
    )
    env = {
        **healthy_env(),
        "DEPENDENCY_RESOURCE_GROUP_IDS": json.dumps(
            [f"/subscriptions/{ML_SUB}/resourceGroups/rg-kv"]
        ),
        "SCORING_ALLOWED_ENDPOINTS": json.dumps([f"{scoring_ws}/batchEndpoints/ep"]),
        "DRIFT_LOG_ANALYTICS_WORKSPACE_RESOURCE_ID": drift,
    }
    table = healthy_world()
    for group in ("rg-kv", "rg-score", "rg-logs"):
        table[permissions_url(f"/subscriptions/{ML_SUB}/resourceGroups/{group}")] = {
            "stdout": {"value": CONTRIBUTOR}
        }
    code, stderr, calls = run_preflight(tmp_path, table, env)
    assert code == 1
    lines = problems(stderr)
    assert len(lines) == 3, lines
    by_group = {
        group: next(line for line in lines if f"/{group} (" in line)
        for group in ("rg-kv", "rg-score")
    }
    for line in by_group.values():
        assert "roleDefinitions/write" in line
        assert "the app's custom roles are defined and assigned here" in line
    [drift_line] = [line for line in lines if "/rg-logs (" in line]
    assert "you lack Microsoft.Authorization/roleAssignments/write at" in drift_line
    assert "roleDefinitions" not in drift_line
    asked = [
        call[-1].split("/providers/Microsoft.Authorization")[0]
        for call in calls
        if call[0] == "rest"
    ]
    assert len(asked) == len({scope.lower() for scope in asked}), "a scope was asked twice"
    # No right is needed on the subscription once the app's resource group exists.
    table[f"group exists --name rg-app --subscription {APP_SUB}"] = {"stdout": True}
    del table[permissions_url(f"/subscriptions/{APP_SUB}")]
    code, stderr, calls = run_preflight(tmp_path, table, env)
    assert len(problems(stderr)) == 3


def test_a_first_provision_needs_to_create_the_app_s_resource_group(tmp_path: Path) -> None:
    table = healthy_world()
    table[permissions_url(f"/subscriptions/{APP_SUB}")] = {
        "stdout": {"value": USER_ACCESS_ADMINISTRATOR}
    }
    code, stderr, _ = run_preflight(tmp_path, table, healthy_env())
    assert code == 1
    [line] = problems(stderr)
    assert f"at /subscriptions/{APP_SUB} (" in line
    assert "Microsoft.Resources/subscriptions/resourceGroups/write" in line
    assert "Microsoft.Web/sites/write" in line


MONITORING_CONTRIBUTOR = [{"actions": ["*/read", "Microsoft.Insights/*"], "notActions": []}]
RESOURCE_POLICY_CONTRIBUTOR = [
    {
        "actions": [
            "*/read",
            "Microsoft.Authorization/policyassignments/*",
            "Microsoft.Authorization/policydefinitions/*",
            "Microsoft.Authorization/policysetdefinitions/*",
        ],
        "notActions": [],
    }
]


def only_problem(tmp_path: Path, table: dict[str, Any], env: dict[str, str]) -> str:
    """The one failure line of a run that must fail."""
    code, stderr, _ = run_preflight(tmp_path, table, env)
    assert code == 1
    [line] = problems(stderr)
    return line


def test_the_on_call_workbook_and_alerts_need_their_writes_unless_turned_off(
    tmp_path: Path,
) -> None:
    app_group = f"/subscriptions/{APP_SUB}/resourceGroups/rg-app"
    table = healthy_world()
    table[f"group exists --name rg-app --subscription {APP_SUB}"] = {"stdout": True}
    # Every right of the app's resources but Azure Monitor's (Contributor, Insights denied).
    no_insights = [
        {
            **CONTRIBUTOR[0],
            "notActions": [*CONTRIBUTOR[0]["notActions"], "Microsoft.Insights/*/write"],
        }
    ]
    table[permissions_url(app_group)] = {"stdout": {"value": no_insights + RBAC_ADMINISTRATOR}}
    line = only_problem(tmp_path, table, healthy_env())
    assert f" at {app_group} (" in line
    assert "the on-call workbook and alerts are created there (DEPLOY_MONITORING)" in line
    for action in MONITORING_WRITES:
        assert action in line
    assert "Microsoft.Insights/components/write" in line  # the app's own App Insights, too
    assert ACTION_GROUPS_WRITE not in line  # no email: no action group
    env = {**healthy_env(), "ALERT_EMAIL_ADDRESS": "oncall@example.com"}
    assert ACTION_GROUPS_WRITE in only_problem(tmp_path, table, env)

    # Monitoring Contributor on top grants them; turned off, they are not needed.
    table[permissions_url(app_group)] = {
        "stdout": {"value": no_insights + RBAC_ADMINISTRATOR + MONITORING_CONTRIBUTOR}
    }
    code, stderr, _ = run_preflight(tmp_path, table, healthy_env())
    assert code == 0, stderr
    table[permissions_url(app_group)] = {"stdout": {"value": no_insights + RBAC_ADMINISTRATOR}}
    env = {**healthy_env(), "DEPLOY_MONITORING": "false", "ALERT_EMAIL_ADDRESS": "x@example.com"}
    line = only_problem(tmp_path, table, env)
    assert "DEPLOY_MONITORING" not in line
    assert "Microsoft.Insights/workbooks/write" not in line


def test_the_policy_initiative_needs_policy_writes_at_the_subscription(tmp_path: Path) -> None:
    subscription = f"/subscriptions/{APP_SUB}"
    table = healthy_world()
    table[f"group exists --name rg-app --subscription {APP_SUB}"] = {"stdout": True}
    table[permissions_url(subscription)] = {"stdout": {"value": CONTRIBUTOR}}
    code, stderr, _ = run_preflight(tmp_path, table, healthy_env())
    assert code == 0, stderr  # off by default: nothing asked of the subscription

    env = {**healthy_env(), "DEPLOY_POLICY_INITIATIVE": "true"}
    line = only_problem(tmp_path, table, env)
    assert f" at {subscription} (" in line
    assert "(DEPLOY_POLICY_INITIATIVE)" in line
    for action in POLICY_WRITES:
        assert action in line
    assert POLICY_ASSIGNMENTS_WRITE not in line
    assert "Resource Policy Contributor" in line

    assigned = {**env, "ASSIGN_POLICY_INITIATIVE": "true"}
    assert POLICY_ASSIGNMENTS_WRITE in only_problem(tmp_path, table, assigned)

    table[permissions_url(subscription)] = {
        "stdout": {"value": CONTRIBUTOR + RESOURCE_POLICY_CONTRIBUTOR}
    }
    code, stderr, _ = run_preflight(tmp_path, table, assigned)
    assert code == 0, stderr


def test_an_existing_subscription_topic_must_be_adopted_and_the_line_gives_the_value(
    tmp_path: Path,
) -> None:
    table = healthy_world()
    table[f"eventgrid system-topic list --subscription {ML_SUB}"] = {
        "stdout": [
            {
                "id": SUB_TOPIC,
                "source": f"/subscriptions/{ML_SUB}",
                "identity": {"type": "SystemAssigned"},
            }
        ]
    }
    code, stderr, _ = run_preflight(tmp_path, table, healthy_env())
    assert code == 1
    [line] = problems(stderr)
    assert f"azd env set EXISTING_SUBSCRIPTION_TOPIC_IDS '{json.dumps([SUB_TOPIC])}'" in line

    # Adopted: passes; adopted without a system-assigned identity: one line that says how.
    env = {**healthy_env(), "EXISTING_SUBSCRIPTION_TOPIC_IDS": json.dumps([SUB_TOPIC])}
    code, stderr, _ = run_preflight(tmp_path, table, env)
    assert code == 0, stderr
    no_identity = copy.deepcopy(table)
    no_identity[f"eventgrid system-topic list --subscription {ML_SUB}"]["stdout"][0]["identity"] = (
        None
    )
    code, stderr, _ = run_preflight(tmp_path, no_identity, env)
    assert code == 1
    [line] = problems(stderr)
    assert f"az eventgrid system-topic update --ids {SUB_TOPIC} --identity systemassigned" in line


def test_an_existing_workspace_topic_must_be_adopted(tmp_path: Path) -> None:
    table = healthy_world()
    topic = (
        f"/subscriptions/{ML_SUB}/resourceGroups/rg-ml/providers/"
        "Microsoft.EventGrid/systemTopics/mlw-churn-events"
    )
    table[f"eventgrid system-topic list --subscription {ML_SUB}"] = {
        "stdout": [{"id": topic, "source": WORKSPACE, "identity": {"type": "SystemAssigned"}}]
    }
    code, stderr, _ = run_preflight(tmp_path, table, healthy_env())
    assert code == 1
    [line] = problems(stderr)
    expected = json.dumps([{"workspaceId": WORKSPACE, "topicId": topic}])
    assert f"azd env set EXISTING_WORKSPACE_TOPICS '{expected}'" in line
    env = {**healthy_env(), "EXISTING_WORKSPACE_TOPICS": expected}
    # Adopted, but the deployer may only read the topic (another team's): one line.
    table[permissions_url(topic)] = {"stdout": {"value": [{"actions": ["*/read"]}]}}
    code, stderr, _ = run_preflight(tmp_path, table, env)
    assert code == 1
    [line] = problems(stderr)
    assert f"you lack Microsoft.EventGrid/systemTopics/eventSubscriptions/write at {topic}" in line
    table[permissions_url(topic)] = {"stdout": {"value": OWNER}}
    code, stderr, _ = run_preflight(tmp_path, table, env)
    assert code == 0, stderr


def test_the_topics_resource_group_must_exist_in_each_workspace_subscription(
    tmp_path: Path,
) -> None:
    table = healthy_world()
    table[f"group exists --name rg-app --subscription {ML_SUB}"] = {"stdout": False}
    code, stderr, _ = run_preflight(tmp_path, table, healthy_env())
    assert code == 1
    [line] = problems(stderr)
    assert f"az group create --name rg-app --location <region> --subscription {ML_SUB}" in line


def test_the_second_provision_needs_the_functions_deployed(tmp_path: Path) -> None:
    table = healthy_world()
    list_functions = "functionapp function list --name func-x --resource-group rg-app"
    table[list_functions] = {
        "stdout": [
            {"name": "func-x/on_private_endpoint_event"},
            {"name": "func-x/on_workspace_event"},
        ]
    }
    env = {
        **healthy_env(),
        "DEPLOY_EVENT_SUBSCRIPTIONS": "true",
        "AZURE_FUNCTION_APP_NAME": "func-x",
    }
    code, stderr, _ = run_preflight(tmp_path, table, env)
    assert code == 1
    [line] = problems(stderr)
    assert "on_ml_event" in line
    assert "azd deploy" in line
    table[list_functions]["stdout"].append({"name": "func-x/on_ml_event"})
    code, stderr, _ = run_preflight(tmp_path, table, env)
    assert code == 0, stderr


def test_malformed_scope_lists_are_reported_per_value(tmp_path: Path) -> None:
    env = {
        **healthy_env(),
        "ML_WORKSPACE_IDS": json.dumps([WORKSPACE, "mlw-by-name-only"]),
        "RETRAIN_WORKSPACE_IDS": json.dumps([WORKSPACE.replace("mlw-churn", "mlw-other")]),
    }
    code, stderr, _ = run_preflight(tmp_path, healthy_world(), env)
    assert code == 1
    lines = problems(stderr)
    assert len(lines) == 2, lines
    assert "'mlw-by-name-only' is not a Microsoft.MachineLearningServices/workspaces" in lines[0]
    assert "is not in ML_WORKSPACE_IDS" in lines[1]


# --- the pure parts ---------------------------------------------------------------------------


def test_permission_matching_honours_wildcards_and_not_actions() -> None:
    write = "Microsoft.Authorization/roleAssignments/write"
    assert action_allowed(write, OWNER)
    assert action_allowed(write, [{"actions": ["Microsoft.Authorization/roleAssignments/*"]}])
    assert not action_allowed(write, [{"actions": ["Microsoft.Authorization/*/read"]}])
    assert not action_allowed(
        write, [{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write"]}]
    )
    # A second entry can grant what the first one's notActions took away (ARM's union).
    assert action_allowed(
        write,
        [
            {"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write"]},
            {"actions": [write]},
        ],
    )
    assert not action_allowed(write, [])


@given(
    action=st.from_regex(
        r"Microsoft\.[A-Za-z]{1,12}/[a-z]{1,10}/(read|write|delete)", fullmatch=True
    )
)
def test_a_not_action_for_the_action_always_wins_within_its_entry(action: str) -> None:
    assert not action_allowed(action, [{"actions": ["*", action], "notActions": [action.upper()]}])
    assert action_allowed(action, [{"actions": [action.lower()], "notActions": []}])


def test_arm_id_and_list_parsing() -> None:
    parsed = parse_arm_id(WORKSPACE)
    assert parsed is not None
    assert (parsed.subscription, parsed.resource_group, parsed.name) == (
        ML_SUB,
        "rg-ml",
        "mlw-churn",
    )
    assert parsed.resource_group_id == f"/subscriptions/{ML_SUB}/resourceGroups/rg-ml"
    for bad in ("", "mlw", f"/subscriptions/{ML_SUB}/resourceGroups/rg", WORKSPACE + "/computes/c"):
        assert parse_arm_id(bad) is None
    assert parse_list('["a", "b"]') == ["a", "b"]
    assert parse_list("a, b,") == ["a", "b"]
    assert parse_list("") == []
    with pytest.raises(ValueError, match="not a JSON array"):
        parse_list('{"not": "a list"}')


def test_the_app_s_own_resource_group_is_left_to_azd(tmp_path: Path) -> None:
    # A workspace in the app's own subscription: its subscription topic goes to the app's
    # resource group, which azd creates; nothing asks whether it exists yet.
    local_workspace = WORKSPACE.replace(ML_SUB, APP_SUB)
    table = healthy_world()
    table[f"eventgrid system-topic list --subscription {APP_SUB}"] = {"stdout": []}
    table[permissions_url(local_workspace)] = {"stdout": {"value": OWNER}}
    table[permissions_url(f"/subscriptions/{APP_SUB}/resourceGroups/rg-ml")] = {
        "stdout": {"value": OWNER}
    }
    env = {**healthy_env(), "ML_WORKSPACE_IDS": json.dumps([local_workspace])}
    code, stderr, calls = run_preflight(tmp_path, table, env)
    assert code == 0, stderr
    assert [call for call in calls if call[:2] == ["group", "exists"]] == [
        ["group", "exists", "--name", "rg-app", "--subscription", APP_SUB]
    ], "only the app's own resource group is looked up (its rights come from the subscription)"
    # Elsewhere, a topics resource group must be named.
    code, stderr, _ = run_preflight(
        tmp_path, healthy_world(), {**healthy_env(), "AZURE_RESOURCE_GROUP": ""}
    )
    assert code == 1
    [line] = problems(stderr)
    assert "azd env set EVENT_TOPICS_RESOURCE_GROUP" in line


OWN_ARM_TOPIC = (
    f"/subscriptions/{ML_SUB}/resourceGroups/rg-app/providers/"
    "Microsoft.EventGrid/systemTopics/evgst-tok123-arm"
)
OWN_WORKSPACE_TOPIC = (
    f"/subscriptions/{ML_SUB}/resourceGroups/rg-ml/providers/"
    "Microsoft.EventGrid/systemTopics/evgst-tok123-mlw-churn"
)


def after_first_provision(environment: str = "dev") -> tuple[dict[str, Any], dict[str, str]]:
    """The world and the azd environment once `azd up`'s first provision and deploy ran: the
    app's own system topics exist (named and tagged as main.bicep names and tags them), the
    app's resource group exists, the functions are deployed, DEPLOY_EVENT_SUBSCRIPTIONS=true."""
    table = healthy_world()
    table[f"group exists --name rg-app --subscription {APP_SUB}"] = {"stdout": True}
    table[f"eventgrid system-topic list --subscription {ML_SUB}"] = {
        "stdout": [
            {
                "id": OWN_ARM_TOPIC,
                "source": f"/subscriptions/{ML_SUB}",
                "tags": {"azd-env-name": environment},
                "identity": {"type": "SystemAssigned"},
            },
            {
                "id": OWN_WORKSPACE_TOPIC,
                "source": WORKSPACE,
                "tags": {"azd-env-name": environment},
                "identity": {"type": "SystemAssigned"},
            },
        ]
    }
    table["functionapp function list --name func-tok123 --resource-group rg-app"] = {
        "stdout": [{"name": f"func-tok123/{name}"} for name in SUBSCRIBED]
    }
    env = {
        **healthy_env(),
        "AZURE_ENV_NAME": "dev",
        "AZURE_FUNCTION_APP_NAME": "func-tok123",
        "DEPLOY_EVENT_SUBSCRIPTIONS": "true",
    }
    return table, env


SUBSCRIBED = ("on_private_endpoint_event", "on_workspace_event", "on_ml_event")


def test_the_second_and_third_azd_up_recognise_the_app_s_own_topics(tmp_path: Path) -> None:
    table, env = after_first_provision()
    # Second provision of the first `azd up`, then every provision of a later `azd up`: the
    # world preflight sees is the same (the event subscriptions are not something it reads).
    for _ in ("second", "third"):
        code, stderr, calls = run_preflight(tmp_path, table, env)
        assert code == 0, stderr
        assert_read_only(calls)
    # The topics are updated in place, so the rights to write them are still checked.
    asked = {
        call[-1].split("/providers/Microsoft.Authorization")[0]
        for call in calls
        if call[0] == "rest"
    }
    assert f"/subscriptions/{ML_SUB}/resourceGroups/rg-app" in asked


def test_a_topic_is_the_app_s_own_only_by_its_name_and_this_environment_s_tag(
    tmp_path: Path,
) -> None:
    # Another azd environment's topic (same name, other tag): to be adopted, not overwritten.
    table, env = after_first_provision(environment="staging")
    code, stderr, _ = run_preflight(tmp_path, table, env)
    assert code == 1
    lines = problems(stderr)
    assert len(lines) == 2, lines
    assert "azd env set EXISTING_SUBSCRIPTION_TOPIC_IDS" in lines[0]
    assert "azd env set EXISTING_WORKSPACE_TOPICS" in lines[1]
    # This environment's tag on a topic main.bicep did not name (someone's copied tags).
    table, env = after_first_provision()
    table[f"eventgrid system-topic list --subscription {ML_SUB}"]["stdout"][1]["id"] = (
        OWN_WORKSPACE_TOPIC.replace("evgst-tok123-mlw-churn", "team-ml-events")
    )
    code, stderr, _ = run_preflight(tmp_path, table, env)
    [line] = problems(stderr)
    assert "workspace mlw-churn already has the system topic" in line
    # Without the function app's name (no provision yet), nothing is the app's own.
    env.pop("AZURE_FUNCTION_APP_NAME")
    table, _ = after_first_provision()
    code, stderr, _ = run_preflight(tmp_path, table, env)
    assert len(problems(stderr)) == 2


def test_preflight_checks_the_write_of_every_resource_type_infra_creates() -> None:
    declared = re.compile(r"^\s*resource\s+\w+\s+'([^'@]+)@[^']+'\s+(?!existing)", re.MULTILINE)
    types = {
        kind
        for path in (REPO / "infra").rglob("*.bicep")
        for kind in declared.findall(path.read_text(encoding="utf-8"))
    }
    assert "Microsoft.Web/sites" in types, "the parser found nothing"
    checked = {
        action.lower()
        for action in (
            *APP_GROUP_WRITES,
            *MONITORING_WRITES,
            ACTION_GROUPS_WRITE,
            *POLICY_WRITES,
            POLICY_ASSIGNMENTS_WRITE,
            ROLE_ASSIGNMENTS_WRITE,
            ROLE_DEFINITIONS_WRITE,
            SYSTEM_TOPICS_WRITE,
            EVENT_SUBSCRIPTIONS_WRITE,
            *POLICY_WRITES,
            POLICY_ASSIGNMENTS_WRITE,
        )
    }
    unchecked = sorted(kind for kind in types if f"{kind}/write".lower() not in checked)
    assert not unchecked, f"preflight does not check the right to write {unchecked}"


def test_ml_scopes_stand_in_for_ml_workspace_ids(tmp_path: Path) -> None:
    group = WORKSPACE.split("/providers/", 1)[0]
    env = {
        **healthy_env(),
        "ML_WORKSPACE_IDS": "[]",
        "ML_SCOPES": json.dumps([group]),
        "RETRAIN_WORKSPACE_IDS": json.dumps([WORKSPACE.replace("mlw-churn", "mlw-new")]),
    }
    code, stderr, _ = run_preflight(tmp_path, healthy_world(), env)
    assert "ML_WORKSPACE_IDS is empty" not in stderr
    assert "is not in ML_WORKSPACE_IDS" not in stderr
    assert code == 0, stderr
