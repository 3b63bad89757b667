"""scripts/preflight.py, the preprovision checks, run as azd runs it: a subprocess whose `az` is
a fake on PATH that answers from a table of canned az outputs and logs every call. No Azure.

Each scenario breaks one prerequisite of a healthy world and checks the one line that says what
to do, that every line is one line, and that the script only ever ran read commands.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scripts.preflight import action_allowed, parse_arm_id, parse_list

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
        WORKSPACE,
        SYNAPSE,
        f"/subscriptions/{ML_SUB}/resourceGroups/rg-ml",
        f"/subscriptions/{ML_SUB}/resourceGroups/rg-app",
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


def run_preflight(
    tmp_path: Path, table: dict[str, Any], env: dict[str, str]
) -> tuple[int, list[str], list[list[str]]]:
    """Run the script with the fake az first on PATH; (exit code, stderr lines, az calls)."""
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
        [sys.executable, str(SCRIPT)],
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
    return completed.returncode, completed.stderr.splitlines(), calls


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


def test_missing_rights_at_a_workspace_name_the_scope_and_the_action(tmp_path: Path) -> None:
    table = healthy_world()
    # Contributor-like: everything but authorization writes.
    table[permissions_url(WORKSPACE)] = {
        "stdout": {
            "value": [
                {
                    "actions": ["*"],
                    "notActions": [
                        "Microsoft.Authorization/*/Write",
                        "Microsoft.Authorization/*/Delete",
                    ],
                }
            ]
        }
    }
    code, stderr, _ = run_preflight(tmp_path, table, healthy_env())
    assert code == 1
    [line] = problems(stderr)
    assert WORKSPACE in line
    assert "Microsoft.Authorization/roleAssignments/write" in line
    assert "Owner or User Access Administrator" in line


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
    assert not [call for call in calls if call[:2] == ["group", "exists"]]
    # Elsewhere, a topics resource group must be named.
    code, stderr, _ = run_preflight(
        tmp_path, healthy_world(), {**healthy_env(), "AZURE_RESOURCE_GROUP": ""}
    )
    assert code == 1
    [line] = problems(stderr)
    assert "azd env set EVENT_TOPICS_RESOURCE_GROUP" in line


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
