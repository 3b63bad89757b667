"""The operation map of infra/permissions.json: every Azure call the app makes (its own and those
azure-ai-ml makes for it, as recorded) maps to actions a custom role holds, and the simulator
answers ARM's 403 to a call whose actions the app's roles lack, so a missing action fails a test.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.adapters.batch_scoring import BatchScoringAdapter, ScoringInput, ScoringJob
from shared.adapters.clients import clients_for
from shared.arm import ArmId
from shared.config import get_settings
from simulator import tokens
from simulator.permissions import ASSIGNMENT_WRITE, Permissions, template_pattern
from tests.conftest import App
from tests.test_infra_security import (
    PRINCIPALS,
    ROLE_IDS,
    SYNAPSE_PRINCIPALS,
    Request,
    evaluate,
    granter_condition,
    permissions,
)
from tools import scene

#: Recorded azure-ai-ml exchanges (see their README): ../shared/reference/recorded from /work/main.
RECORDED = next(
    (
        path
        for path in (
            Path(__file__).resolve().parents[2] / "shared" / "reference" / "recorded",
            Path(__file__).resolve().parents[3] / "shared" / "reference" / "recorded",
        )
        if path.is_dir()
    ),
    None,
)
#: Recorded calls the app never makes: the workspace's discovery document. (Run history's child
#: jobs, file 10, the app reads for a retraining job's metric: model promotion.)
NOT_THE_APPS = ("/discovery",)
ML_AUDIENCE = "https://ml.azure.com"


def recorded_calls() -> list[tuple[str, str, str]]:
    """(file, method, URL) of every request in the recorded exchanges."""
    assert RECORDED is not None
    found: list[tuple[str, str, str]] = []

    def walk(node: Any, file: str) -> None:
        if isinstance(node, dict):
            if "method" in node and isinstance(node.get("url"), str):
                found.append((file, node["method"], node["url"]))
            for value in node.values():
                walk(value, file)
        elif isinstance(node, list):
            for value in node:
                walk(value, file)

    for path in sorted(RECORDED.glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")), path.name)
    return found


def roles_holding(actions: tuple[str, ...]) -> list[str]:
    """Custom roles that hold every one of `actions`."""
    return [
        key
        for key, role in permissions()["customRoles"].items()
        if set(actions) <= set(role["actions"])
    ]


@pytest.mark.skipif(RECORDED is None, reason="the recorded azure-ai-ml exchanges are not here")
def test_every_recorded_call_the_app_makes_maps_to_actions_one_role_holds() -> None:
    table = Permissions.load()
    calls = [c for c in recorded_calls() if not any(p in c[2] for p in NOT_THE_APPS)]
    assert len(calls) > 20, "the recorded exchanges were not read"
    problems: list[str] = []
    for file, method, url in calls:
        split = urllib.parse.urlsplit(url)
        if split.hostname == "api.loganalytics.io":
            continue  # Log Analytics Reader, a built-in role (not an ARM action)
        audience = (
            ML_AUDIENCE if (split.hostname or "").endswith(".inference.ml.azure.com") else None
        )
        try:
            actions = table.actions_for(method, split.path, audience)
        except KeyError:
            problems.append(f"{file}: {method} {split.path} maps to no action")
            continue
        if not roles_holding(actions):
            problems.append(f"{file}: {method} {split.path} needs {actions}: no role holds them")
    assert not problems, "; ".join(problems)


def test_every_operation_is_allowed_by_one_role_and_every_role_action_by_a_call() -> None:
    table = permissions()
    operation_actions: set[str] = set()
    for operation in table["operations"]:
        assert operation["path"].startswith("/") or operation.get("audience"), operation
        if operation["actions"]:
            assert roles_holding(tuple(operation["actions"])), operation
        else:
            assert operation.get("note"), f"{operation['path']}: no action, and no reason why"
        operation_actions |= set(operation["actions"])
    granted = {a for role in table["customRoles"].values() for a in role["actions"]}
    assert granted == operation_actions, (
        f"role actions no call checks: {sorted(granted - operation_actions)}; "
        f"actions calls need that no role holds: {sorted(operation_actions - granted)}"
    )


def test_secret_reading_actions_are_only_where_a_call_needs_them_and_say_why() -> None:
    roles = permissions()["customRoles"]
    for key, role in roles.items():
        secrets = [
            a for a in role["actions"] if "secret" in a.lower() or "listkeys" in a.lower()
            or "liststorageaccountkeys" in a.lower()
        ]  # fmt: skip
        if secrets:
            assert key in {"retrainer", "batchScorer"}, f"{key} reads secrets: {secrets}"
            for action in secrets:
                assert action.split("/workspaces/")[-1] in role["secrets"], (key, action)
    for key in ("workspacePolicy", "contributorGranter", "dependencyReader", "synapseReader"):
        assert not any("secret" in a.lower() for a in roles[key]["actions"]), key


def test_template_pattern_matches_one_segment_per_placeholder_ignoring_case() -> None:
    pattern = template_pattern("/subscriptions/{s}/resourceGroups/{rg}/jobs/{name}")
    assert pattern.match("/subscriptions/1/resourcegroups/rg/JOBS/j1")
    assert not pattern.match("/subscriptions/1/resourceGroups/rg/jobs/j1/extra")
    assert not pattern.match("/subscriptions/1/x/resourceGroups/rg/jobs/j1")
    table = Permissions.from_table(
        {
            "customRoles": {"r": {"actions": ["a/read"]}},
            "operations": [
                {"method": "GET", "path": "/x/{id}", "actions": ["a/read"]},
                {"method": "POST", "path": "{uri}", "audience": ML_AUDIENCE, "actions": ["b"]},
            ],
        }
    )
    assert table.actions_for("get", "/x/1") == ("a/read",)
    assert table.actions_for("POST", "/anything/jobs", ML_AUDIENCE) == ("b",)
    with pytest.raises(KeyError):
        table.actions_for("POST", "/x/1")
    with pytest.raises(KeyError):
        table.actions_for("GET", "/x/1", ML_AUDIENCE)


ENDPOINT = ArmId(f"{scene.PROD}/batchEndpoints/churn-batch")
JOB_WRITE = "Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs/write"


@pytest.mark.parametrize(
    "revoked",
    [JOB_WRITE, "Microsoft.MachineLearningServices/workspaces/batchEndpoints/read"],
)
def test_the_simulator_refuses_a_call_whose_action_the_roles_lack(app: App, revoked: str) -> None:
    app.sim.ml.add_batch_endpoint(ENDPOINT, deployments=["blue"], default_deployment="blue")
    adapter = BatchScoringAdapter(clients_for(get_settings()))
    rbac: Permissions = app.sim.permissions  # the one table the server checks
    saved = set(rbac.granted)
    rbac.revoke([revoked])
    try:
        with pytest.raises(HttpResponseError) as refused:
            _score(adapter)
    finally:
        rbac.granted = saved
    assert refused.value.status_code == 403
    assert f"'{revoked}'" in str(refused.value)
    assert app.sim.ml.scoring_posts == []
    # With the roles as infra/ grants them, the same call goes through.
    assert _score(adapter).status == "NotStarted"


def _score(adapter: BatchScoringAdapter) -> ScoringJob:
    """Read the endpoint and start a scoring job, as the app does."""
    return adapter.invoke(
        adapter.get_endpoint(ENDPOINT),
        deployment=None,
        scoring_input=ScoringInput("uri_folder", "azureml://datastores/d/paths/in/"),
        tags={},
        request_id=str(uuid.uuid4()),
    )


ROLE_DEFINITIONS = "Microsoft.Authorization/roleDefinitions"
ASSIGNMENT = f"{scene.PROD}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"


@settings(max_examples=200)
@given(
    role=ROLE_IDS,
    kind=st.sampled_from(["ServicePrincipal", "serviceprincipal", "User", "Group"]),
    principal=PRINCIPALS,
)
def test_the_simulator_refuses_a_role_assignment_as_the_deployed_condition_does(
    role: str, kind: str, principal: str
) -> None:
    # The simulator's ARM answers a role assignment PUT as infra/app/access.bicep's condition,
    # deployed for the Synapse identities ARM reported then (`grantable`), evaluates it.
    table = Permissions.load()
    table.grantable = frozenset(p.lower() for p in SYNAPSE_PRINCIPALS)
    role_id = f"/subscriptions/{scene.ML_SUBSCRIPTION}/providers/{ROLE_DEFINITIONS}/{role}"
    body = {
        "properties": {"roleDefinitionId": role_id, "principalType": kind, "principalId": principal}
    }
    token = tokens.unsigned_jwt("https://management.azure.com", str(uuid.uuid4()), "oid", "app")
    headers = {"authorization": f"Bearer {token}"}

    refused = table.check("arm", "PUT", ASSIGNMENT, headers, json.dumps(body).encode())

    deployed = evaluate(granter_condition(), Request(ASSIGNMENT_WRITE, role, kind, principal))
    assert (refused is None) is deployed
    assert refused is None or refused.status == 403
