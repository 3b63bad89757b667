"""scripts/predown.py, the predown hook, run as azd runs it with the fake az of
tests/test_preflight.py: it removes what this environment created outside the
app's resource group, found by the app identity's principal ID, main.bicep's names with the
environment's tag, and the role name suffix, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.test_preflight import APP_SUB, ML_SUB, REPO, SUB_TOPIC, SYNAPSE, WORKSPACE, run_hook

PRINCIPAL = "99999999-0000-0000-0000-00000000a999"
SYNAPSE_IDENTITY = "88888888-0000-0000-0000-00000000b888"
APP_GROUP = f"/subscriptions/{APP_SUB}/resourceGroups/rg-app"
FUNCTION = (
    f"{APP_GROUP}/providers/Microsoft.Web/sites/func-tok123/functions/on_private_endpoint_event"
)
RG_ML = f"/subscriptions/{ML_SUB}/resourceGroups/rg-ml"
RG_SYN = f"/subscriptions/{APP_SUB}/resourceGroups/rg-syn"
TOPIC_WHERE = [
    "--system-topic-name",
    "team-arm-events",
    "--resource-group",
    "rg-events",
    "--subscription",
    ML_SUB,
]


def topic(group: str, name: str, env: str) -> dict[str, Any]:
    return {
        "id": f"{group}/providers/Microsoft.EventGrid/systemTopics/{name}",
        "name": name,
        "tags": {"azd-env-name": env},
    }


def assignment(n: int, principal: str, scope: str, role: str) -> dict[str, Any]:
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/a{n}",
        "principalId": principal,
        "scope": scope,
        "roleDefinitionName": role,
    }


OWN_WORKSPACE_TOPIC = topic(RG_ML, "evgst-tok123-mlw-churn", "dev")
OTHER_ENV_TOPIC = topic(RG_ML, "evgst-tok123-mlw-other", "staging")
LOOKALIKE_TOPIC = topic(RG_ML, "team-ml-events", "dev")
OWN_TOPIC_IN_APP_GROUP = topic(APP_GROUP, "evgst-tok123-arm", "dev")
AT_WORKSPACE = assignment(1, PRINCIPAL, WORKSPACE, "workspace policy")
AT_SYNAPSE = assignment(2, PRINCIPAL, SYNAPSE, "Synapse reader")
IN_APP_GROUP = assignment(3, PRINCIPAL, f"{APP_GROUP}/providers/x/y/z", "Storage Blob Data Owner")
GRANTED_BY_THE_APP = assignment(4, SYNAPSE_IDENTITY, WORKSPACE, "Contributor")
OWN_ROLE = {"name": "r1", "roleName": "Synapse-AML automation workspace policy (dev-tok123, k2j)"}
OTHER_ROLE = {"name": "r2", "roleName": "Synapse-AML automation workspace policy (prod-zz9, k2j)"}
SYN_ROLE = {"name": "r3", "roleName": "Synapse-AML automation Synapse reader (dev-tok123, q7p)"}


def world() -> dict[str, Any]:
    listing = ["role", "assignment", "list", "--all", "--fill-principal-name", "false"]
    table: dict[str, Any] = {
        " ".join(["eventgrid", "system-topic", "event-subscription", "list", *TOPIC_WHERE]): {
            "stdout": [
                {"name": "private-endpoint-events", "destination": {"resourceId": FUNCTION}},
                {
                    "name": "team-events",
                    "destination": {"resourceId": FUNCTION.replace("func-tok123", "func-team")},
                },
            ]
        },
        f"eventgrid system-topic list --subscription {ML_SUB}": {
            "stdout": [OWN_WORKSPACE_TOPIC, OTHER_ENV_TOPIC, LOOKALIKE_TOPIC]
        },
        f"eventgrid system-topic list --subscription {APP_SUB}": {
            "stdout": [OWN_TOPIC_IN_APP_GROUP]
        },
        " ".join([*listing, "--subscription", ML_SUB]): {
            "stdout": [AT_WORKSPACE, GRANTED_BY_THE_APP]
        },
        " ".join([*listing, "--subscription", APP_SUB]): {"stdout": [AT_SYNAPSE, IN_APP_GROUP]},
        f"role definition list --custom-role-only true --scope {RG_ML}": {
            "stdout": [OWN_ROLE, OTHER_ROLE]
        },
        f"role definition list --custom-role-only true --scope {RG_SYN}": {"stdout": [SYN_ROLE]},
    }
    for delete in expected_deletes():
        table[" ".join(delete)] = {"stdout": None}
    return table


def expected_deletes() -> list[list[str]]:
    return [
        [
            "eventgrid",
            "system-topic",
            "event-subscription",
            "delete",
            "--name",
            "private-endpoint-events",
            *TOPIC_WHERE,
            "--yes",
        ],
        ["eventgrid", "system-topic", "delete", "--ids", OWN_WORKSPACE_TOPIC["id"], "--yes"],
        ["role", "assignment", "delete", "--ids", AT_WORKSPACE["id"]],
        ["role", "assignment", "delete", "--ids", AT_SYNAPSE["id"]],
        ["role", "definition", "delete", "--name", "r1", "--scope", RG_ML],
        ["role", "definition", "delete", "--name", "r3", "--scope", RG_SYN],
    ]


def environment() -> dict[str, str]:
    return {
        "AZURE_ENV_NAME": "dev",
        "AZURE_SUBSCRIPTION_ID": APP_SUB,
        "AZURE_RESOURCE_GROUP": "rg-app",
        "AZURE_FUNCTION_APP_NAME": "func-tok123",
        "APP_IDENTITY_PRINCIPAL_ID": PRINCIPAL,
        "APP_ROLE_NAME_SUFFIX": "dev-tok123",
        "ML_WORKSPACE_IDS": json.dumps([WORKSPACE]),
        "SYNAPSE_WORKSPACE_IDS": json.dumps([SYNAPSE]),
        "EXISTING_SUBSCRIPTION_TOPIC_IDS": json.dumps([SUB_TOPIC]),
    }


def run_predown(
    tmp_path: Path, table: dict[str, Any], env: dict[str, str]
) -> tuple[int, list[str], list[str], list[list[str]]]:
    return run_hook(tmp_path, table, env, ["-m", "scripts.predown"])


def writes(calls: list[list[str]]) -> list[list[str]]:
    return [call for call in calls if "list" not in call]


def test_predown_removes_exactly_what_this_environment_created_outside_its_group(
    tmp_path: Path,
) -> None:
    code, stdout, stderr, calls = run_predown(tmp_path, world(), environment())
    assert code == 0, stderr
    # Assignments go before the role definitions they use (ARM refuses the other order).
    assert writes(calls) == expected_deletes()
    assert stdout[-1] == "predown: 6 removed, 0 failed"
    assert len(stdout) == 7


def test_a_failed_removal_is_one_line_and_the_others_still_run(tmp_path: Path) -> None:
    table = world()
    table[" ".join(expected_deletes()[2])] = {
        "exit": 1,
        "stderr": "ERROR: (AuthorizationFailed) no roleAssignments/delete",
    }
    code, stdout, stderr, calls = run_predown(tmp_path, table, environment())
    assert code == 1
    assert writes(calls) == expected_deletes()
    [line] = stderr
    assert line.startswith(
        f"predown: could not remove role assignment of workspace policy at {WORKSPACE}"
    )
    assert "AuthorizationFailed" in line
    assert f"az role assignment delete --ids {AT_WORKSPACE['id']}" in line
    assert stdout[-1] == "predown: 5 removed, 1 failed"


def test_an_environment_never_provisioned_removes_nothing(tmp_path: Path) -> None:
    env = {"AZURE_ENV_NAME": "dev", "ML_WORKSPACE_IDS": json.dumps([WORKSPACE])}
    code, stdout, _, calls = run_predown(tmp_path, world(), env)
    assert code == 0
    assert calls == []
    assert stdout == ["predown: not provisioned in this environment; nothing to remove"]
    # Provisioned, but before main.bicep output the role suffix and the identity: only topics.
    env = {
        key: value
        for key, value in environment().items()
        if key not in ("APP_ROLE_NAME_SUFFIX", "APP_IDENTITY_PRINCIPAL_ID")
    }
    code, _, _, calls = run_predown(tmp_path, world(), env)
    assert code == 0
    assert writes(calls) == expected_deletes()[:2]


def test_azure_yaml_runs_it_before_azd_down() -> None:
    hooks = yaml.safe_load((REPO / "azure.yaml").read_text(encoding="utf-8"))["hooks"]
    predown = hooks["predown"]
    assert predown["posix"]["run"].strip() == "python3 -m scripts.predown"
    assert predown["windows"]["run"].strip() == "python -m scripts.predown"
    assert predown["posix"]["continueOnError"] is False
    assert predown["windows"]["continueOnError"] is False
