"""Least privilege, authentication and deployment shape of infra/ and azure.yaml, from source.

- infra/permissions.json is the table of what the app's identity may do: custom roles (their
  actions feed the Bicep through loadJsonContent), built-in roles, and `needs`: each Azure call of
  the code, the actions it needs and the role that grants them. Checked both ways: against the
  Bicep (every role granted is needed by a code path, every need is granted, no custom role action
  unused, none missing, no wildcard, no delete) and against the code (every Azure call in
  shared/adapters/ is in the table, every entry names code that makes that call).
- The ABAC condition of the Contributor granter is parsed and evaluated: it allows exactly
  Contributor, for service principals, for the allow-listed Synapse identities.
- App Service authentication (Entra ID) is on, unconditionally, in front of every HTTP function.
- Every Event Grid subscription has a retry policy and dead-lettering; private endpoint events come
  from the workspace side only.
- azure.yaml runs no nested azd command, states its azd version, and provisions after deploying.

The small parsers here are unit-tested on made-up input at the end, so that a parser bug cannot
make a check pass vacuously.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.test_infra import INFRA, REPO, registered_functions, strip_bicep_comments

PERMISSIONS = INFRA / "permissions.json"
ADAPTERS = REPO / "shared" / "adapters"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
_GUID = re.compile(r"'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'")

# Method names through which the adapters reach Azure (SDK operations, raw pipelines, publishers).
AZURE_CALL_NAMES = frozenset(
    {
        "list",
        "create",
        "create_or_update",
        "begin_update",
        "begin_create_or_update",
        "get_by_id",
        "list_for_scope",
        "send_request",
        "send",
        "query_workspace",
        # transport.ArmAdapter's requests, which every raw-ARM adapter makes through.
        "_arm",
        "_json",
        "_found",
        "_list",
    }
)
# `.get(...)` is an Azure call when made on one of these SDK operation groups (a dict's get is not).
SDK_OPERATION_GROUPS = frozenset(
    {
        "workspaces",
        "compute",
        "components",
        "jobs",
        "batch_endpoints",
        "batch_deployments",
        "private_endpoint_connections",
        "role_assignments",
        "resources",
    }
)


# Helpers that make requests for their caller (on a client it built for its own purpose, or a
# resource it names): the caller's entry in the table covers what the request needs.
GENERIC_HELPERS = frozenset(
    {
        "shared/adapters/transport.py:json_pages",
        "shared/adapters/transport.py:ArmAdapter._arm",
        "shared/adapters/transport.py:ArmAdapter._json",
        "shared/adapters/transport.py:ArmAdapter._found",
        "shared/adapters/transport.py:resource_properties",
    }
)
# Such helpers that are module functions: a call to one is an Azure call of its caller.
HELPER_FUNCTIONS = frozenset({"resource_properties"})


def permissions() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PERMISSIONS.read_text(encoding="utf-8"))
    return data


def bicep(relative: str) -> str:
    return strip_bicep_comments((INFRA / relative).read_text(encoding="utf-8"))


def all_bicep() -> dict[str, str]:
    return {
        str(path.relative_to(INFRA)): strip_bicep_comments(path.read_text(encoding="utf-8"))
        for path in sorted(INFRA.rglob("*.bicep"))
    }


def blocks(text: str, declaration: str) -> Iterator[tuple[str, str]]:
    """(symbolic name, body) of each `resource <name> '<type>@...' ... {` whose type starts with
    `declaration`, the body found by brace matching."""
    pattern = re.compile(r"resource\s+(\w+)\s+'" + re.escape(declaration) + r"[^']*'[^{]*\{")
    for match in pattern.finditer(text):
        yield match.group(1), braced(text, match.end())


def braced(text: str, start: int) -> str:
    """What follows `start` (just after a `{`) up to its matching `}`."""
    depth, i = 1, start
    while depth and i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[start : i - 1]


def workflow_actions(text: str) -> Iterator[tuple[str, str, str]]:
    """(name, type, body) of each trigger or action of a Logic Apps definition written in Bicep
    (`Name: { type: '<type>' ... }`), nested ones included."""
    for match in re.finditer(r"(\w+): \{(?=\s*type: '(\w+)')", text):
        yield match.group(1), match.group(2), braced(text, match.end())


# --- the permission table, against the Bicep ----------------------------------------------------


# The one delete any role holds: the promoter removes the app's own batch deployments beyond
# PROMOTION_KEEP (which ones is the ledger's word, never the default: planning/promotion.py).
ALLOWED_DELETES = {
    "promoter": ["Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments/delete"]
}


def test_custom_roles_have_no_wildcard_and_no_delete() -> None:
    roles = permissions()["customRoles"]
    assert roles, "no custom role in infra/permissions.json"
    for key, role in roles.items():
        actions = [*role["actions"], *role["dataActions"]]
        assert actions, f"custom role {key} grants nothing"
        wildcards = [a for a in actions if "*" in a]
        assert not wildcards, f"custom role {key} has wildcards: {wildcards}"
        deletes = [a for a in actions if a.lower().endswith("/delete")]
        assert deletes == ALLOWED_DELETES.get(key, []), f"custom role {key} may delete: {deletes}"
        assert len(set(actions)) == len(actions), f"custom role {key} repeats an action"


def test_custom_role_definitions_take_their_actions_from_the_table() -> None:
    text = bicep("app/access.bicep")
    assert "loadJsonContent('../permissions.json')" in text
    definitions = dict(blocks(text, "Microsoft.Authorization/roleDefinitions"))
    assert set(definitions) == set(permissions()["customRoles"]), (
        "app/access.bicep must define exactly the custom roles of infra/permissions.json"
    )
    for key, body in definitions.items():
        assert f"actions: permissions.customRoles.{key}.actions" in body, key
        assert f"dataActions: permissions.customRoles.{key}.dataActions" in body, key
        assert "notActions: []" in body, key
        assert "actions: [" not in body, f"{key}: an action list written in the Bicep itself"


def test_custom_roles_live_in_the_resource_group_they_are_assignable_in() -> None:
    # Resource IDs as assignable scopes are "not recommended" (removing one that holds
    # assignments fails with RoleScopeBeingRemovedContainsAssignments), and subscription-scope
    # definitions need roleDefinitions/write on the subscription: each role is defined in the
    # resource group where it is assigned, assignable there only, and the module that defines
    # it deploys at resource group scope.
    text = bicep("app/access.bicep")
    assert "targetScope" not in text or "targetScope = 'resourceGroup'" in text
    for key, body in blocks(text, "Microsoft.Authorization/roleDefinitions"):
        scopes = re.search(r"assignableScopes:\s*\[(.*?)\]", body, re.DOTALL)
        assert scopes, key
        assert scopes.group(1).split() == ["resourceGroup().id"], f"{key}: {scopes.group(1)}"
        assert "guid(resourceGroup().id," in body, f"{key}: its name must differ per group"
    # Nothing at a subscription defines or assigns a role; the one module main deploys there is
    # the Azure Policy initiative's, and only when asked (deployPolicyInitiative, off by default).
    for name, text in all_bicep().items():
        if "targetScope = 'subscription'" in text:
            assert "roleDefinitions" not in text, name
            assert "roleAssignments" not in text, name
    at_subscription = re.findall(
        r"^module (\w+) '([^']+)' = (if \(\w+\) )?\{\n  name: [^\n]+\n  scope: subscription\(\)",
        bicep("main.bicep"),
        flags=re.MULTILINE,
    )
    assert at_subscription == [("policy", "app/policy.bicep", "if (deployPolicyInitiative) ")]


def granted_custom_roles() -> set[str]:
    """Custom roles (keys) that some role assignment of app/access.bicep assigns."""
    assignments = dict(blocks(bicep("app/access.bicep"), "Microsoft.Authorization/roleAssignments"))
    return {
        found
        for body in assignments.values()
        for found in re.findall(r"roleDefinitions', (\w+)\.name\)", body)
    }


def granted_builtin_role_ids() -> dict[str, set[str]]:
    """Role GUIDs that role assignments reference, by file (GUID literals in the Bicep)."""
    found: dict[str, set[str]] = {}
    for name, text in all_bicep().items():
        guids = set(_GUID.findall(text)) - {ZERO_GUID}
        if guids:
            found[name] = guids
    return found


def test_every_role_granted_is_needed_and_every_need_is_granted() -> None:
    table = permissions()
    custom, builtin, needs = table["customRoles"], table["builtInRoles"], table["needs"]
    needed_roles = {need["role"] for need in needs}
    # Granted -> needed.
    assert granted_custom_roles() == set(custom), (
        f"custom roles assigned in main.bicep {sorted(granted_custom_roles())} differ from the "
        f"table {sorted(custom)}"
    )
    unneeded = sorted((set(custom) | set(builtin)) - needed_roles)
    assert not unneeded, f"roles granted that no code path needs: {unneeded}"
    builtin_ids = {role["id"]: key for key, role in builtin.items()}
    for file, guids in granted_builtin_role_ids().items():
        for guid in guids:
            if guid == CONTRIBUTOR:
                # The role the app grants to Synapse identities, inside the ABAC condition only.
                assert file == "app/access.bicep", f"Contributor appears in {file}"
                continue
            assert guid in builtin_ids, f"{file} grants role {guid}, which the table does not list"
    # Needed -> granted.
    granted_ids = set().union(*granted_builtin_role_ids().values())
    for key, role in builtin.items():
        assert role["id"] in granted_ids, f"built-in role {key} is in the table but never granted"
    out_of_band = needed_roles - set(custom) - set(builtin)
    # Granted by hand: Synapse RBAC (data plane), and Management Group Reader at a management
    # group of ML_SCOPES (this Bicep deploys at a resource group); the README says how.
    assert out_of_band == {"synapseUser", "managementGroupReader"}, (
        f"needs with roles nobody grants: {out_of_band}"
    )
    assert "Management Group Reader" in (REPO / "README.md").read_text(encoding="utf-8")
    assert '--role "Synapse User"' in bicep("main.bicep"), (
        "Synapse User (data plane) is granted by the commands main.bicep outputs"
    )
    # Action level: each need within its role, each custom role action needed by someone.
    for need in needs:
        if need["role"] in custom:
            missing = set(need["actions"]) - set(custom[need["role"]]["actions"])
            assert not missing, f"{need['code']} needs {sorted(missing)} beyond {need['role']}"
        else:
            assert not need["actions"], f"{need['code']}: actions listed for a built-in role"
    for key, role in custom.items():
        used = {a for need in needs if need["role"] == key for a in need["actions"]}
        unused = sorted(set(role["actions"]) - used)
        assert not unused, f"custom role {key} grants actions no code path uses: {unused}"


def test_the_ledger_role_is_scoped_to_the_ledger_table_and_the_queue_role_to_queues() -> None:
    text = bicep("app/rbac.bicep")
    assignments = dict(blocks(text, "Microsoft.Authorization/roleAssignments"))
    [ledger] = [b for b in assignments.values() if "roles.storageTableDataContributor" in b]
    assert re.search(r"\bscope:\s*ledgerTable\b", ledger)
    # The sweep's fan-out: queues of the app's storage only, the one queue role anywhere.
    [queue] = [b for b in assignments.values() if "Queue" in b]
    assert re.search(r"\bscope:\s*queueService\b", queue)
    assert "roles.storageQueueDataContributor" in queue
    queue_roles = [n for n, t in all_bicep().items() if "974c5e8b-45b9-4653-ba55-5f855dd0fb88" in t]
    assert queue_roles == ["app/rbac.bicep"]


def test_the_identity_jobs_read_with_has_no_role_on_the_host_storage() -> None:
    """Jobs the app starts read their input with the identity the app calls Azure with
    (AZURE_CLIENT_ID), and a datastore is a workspace object its users can point at any account,
    the host's included: that identity holds no role on the host's blobs or queues (host keys,
    the deployment package). The host reaches them with an identity of its own."""
    main, function = bicep("main.bicep"), bicep("app/function.bicep")
    rbac = dict(blocks(bicep("app/rbac.bicep"), "Microsoft.Authorization/roleAssignments"))
    identities = dict(blocks(main, "Microsoft.ManagedIdentity/userAssignedIdentities"))
    assert {"identity", "hostIdentity"} <= set(identities)
    setting = re.findall(r"name: 'AZURE_CLIENT_ID'\s*value: (\S+)", main)
    assert setting == ["identity.properties.clientId"]
    host_roles = ("roles.storageBlobDataOwner", "roles.storageQueueDataContributor")
    on_host = [b for b in rbac.values() if any(role in b for role in host_roles)]
    assert len(on_host) == 2
    assert all(re.search(r"principalId: hostPrincipalId\b", b) for b in on_host)
    # What the rbac module and the Function App are handed, by main.bicep.
    assert re.search(r"\bhostPrincipalId: hostIdentity\.properties\.principalId\b", main)
    assert re.search(r"\bappPrincipalId: identity\.properties\.principalId\b", main)
    assert re.search(r"\bhostIdentityClientId: hostIdentity\.properties\.clientId\b", main)
    assert re.search(r"\bhostIdentityId: hostIdentity\.id\b", main)
    # The host's storage settings and its deployment package use the host's identity.
    client = re.findall(r"name: 'AzureWebJobsStorage__clientId'\s*value: (\w+)", function)
    assert client == ["hostIdentityClientId"]
    assert re.findall(r"userAssignedIdentityResourceId: (\w+)", function) == ["hostIdentityId"]


# --- the permission table, against the code -----------------------------------------------------


def _receiver_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def azure_calls(source: str) -> dict[str, set[str]]:
    """Qualified function names of a module -> the Azure calls they make (AZURE_CALL_NAMES,
    `get` on an SDK operation group, and HELPER_FUNCTIONS)."""
    found: dict[str, set[str]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                for call in ast.walk(child):
                    if not isinstance(call, ast.Call):
                        continue
                    if isinstance(call.func, ast.Name) and call.func.id in HELPER_FUNCTIONS:
                        found.setdefault(name, set()).add(call.func.id)
                    if not isinstance(call.func, ast.Attribute):
                        continue
                    method = call.func.attr
                    receiver = _receiver_name(call.func.value)
                    if method in AZURE_CALL_NAMES or (
                        method == "get" and receiver in SDK_OPERATION_GROUPS
                    ):
                        found.setdefault(name, set()).add(method)

    visit(ast.parse(source), "")
    return found


def function_source(path: Path, qualname: str) -> str | None:
    """The source of `Class.method` or `function` in a module, or None."""
    source = path.read_text(encoding="utf-8")
    scope: ast.AST = ast.parse(source)
    for part in qualname.split("."):
        match = next(
            (
                node
                for node in ast.iter_child_nodes(scope)
                if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name == part
            ),
            None,
        )
        if match is None:
            return None
        scope = match
    return ast.get_source_segment(source, scope)


def test_every_azure_call_in_the_adapters_is_in_the_permission_table() -> None:
    listed = {need["code"] for need in permissions()["needs"]}
    modules = sorted(ADAPTERS.glob("*.py"))
    assert modules
    unlisted: list[str] = []
    for module in modules:
        relative = module.relative_to(REPO).as_posix()
        for function, calls in azure_calls(module.read_text(encoding="utf-8")).items():
            # A class's entry covers its methods (what the class needs, whichever makes it).
            owner = f"{relative}:{function.rpartition('.')[0]}"
            if f"{relative}:{function}" not in listed | GENERIC_HELPERS and owner not in listed:
                unlisted.append(f"{relative}:{function} ({', '.join(sorted(calls))})")
    assert not unlisted, (
        "Azure calls not in infra/permissions.json (add what they need, and grant it): "
        + "; ".join(unlisted)
    )


def test_every_permission_table_entry_names_code_that_makes_that_call() -> None:
    problems: list[str] = []
    for need in permissions()["needs"]:
        file, _, qualname = need["code"].partition(":")
        path = REPO / file
        if not path.exists():
            problems.append(f"{need['code']}: {file} does not exist")
            continue
        if file.endswith(".py"):
            text = function_source(path, qualname)
            if text is None:
                problems.append(f"{need['code']}: no {qualname} in {file}")
                continue
        else:
            text = path.read_text(encoding="utf-8")
            if qualname not in text:
                problems.append(f"{need['code']}: {file} has no {qualname}")
                continue
        token = need["call"].rsplit(".", 1)[-1]
        if token not in text:
            problems.append(f"{need['code']}: makes no {need['call']} call")
    assert not problems, "permission table entries without their code: " + "; ".join(problems)


# --- the ABAC condition --------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What ARM evaluates a role assignment condition against."""

    action: str
    role_definition_id: str
    principal_type: str
    principal_id: str


Node = tuple[Any, ...]
_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<not>!)|(?P<bool>AND|OR)\b"
    r"|(?P<action>ActionMatches\{'(?P<action_name>[^']*)'\})"
    r"|(?P<attr>@Request\[Microsoft\.Authorization/roleAssignments:(?P<attr_name>\w+)\])"
    r"\s+ForAnyOfAnyValues:(?P<op>GuidEquals|StringEqualsIgnoreCase)\s*\{(?P<values>[^}]*)\})"
)


def parse_condition(text: str) -> Node:
    """A role assignment condition (the subset Azure's delegation examples use) as a tree."""
    tokens: list[re.Match[str]] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"cannot parse condition at {text[position : position + 40]!r}")
        tokens.append(match)
        position = match.end()
    index = 0

    def peek(kind: str) -> bool:
        return index < len(tokens) and tokens[index].group(kind) is not None

    def expression() -> Node:
        nonlocal index
        node = term()
        while peek("bool") and tokens[index].group("bool") == "OR":
            index += 1
            node = ("or", node, term())
        return node

    def term() -> Node:
        nonlocal index
        node = factor()
        while peek("bool") and tokens[index].group("bool") == "AND":
            index += 1
            node = ("and", node, factor())
        return node

    def factor() -> Node:
        nonlocal index
        if peek("not"):
            index += 1
            return ("not", factor())
        if peek("open"):
            index += 1
            node = expression()
            if not peek("close"):
                raise ValueError("unbalanced parenthesis")
            index += 1
            return node
        if peek("action"):
            index += 1
            return ("action", tokens[index - 1].group("action_name"))
        if peek("attr"):
            token = tokens[index]
            index += 1
            values = tuple(
                v.strip().strip("'") for v in token.group("values").split(",") if v.strip()
            )
            return ("attr", token.group("attr_name"), token.group("op"), values)
        raise ValueError(f"unexpected token at {index}")

    tree = expression()
    if index != len(tokens):
        raise ValueError("trailing tokens")
    return tree


def evaluate(node: Node, request: Request) -> bool:
    kind = node[0]
    if kind == "or":
        return evaluate(node[1], request) or evaluate(node[2], request)
    if kind == "and":
        return evaluate(node[1], request) and evaluate(node[2], request)
    if kind == "not":
        return not evaluate(node[1], request)
    if kind == "action":
        return bool(request.action.lower() == node[1].lower())
    _, name, operator, values = node
    actual = {
        "RoleDefinitionId": request.role_definition_id,
        "PrincipalType": request.principal_type,
        "PrincipalId": request.principal_id,
    }[name]
    if operator == "GuidEquals":
        return any(uuid.UUID(actual) == uuid.UUID(value) for value in values)
    return any(actual.lower() == value.lower() for value in values)


SYNAPSE_PRINCIPALS = (
    "7c4f0b1e-6f0a-4d9a-9a4e-1f2f3a4b5c6d",
    "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
)


def granter_condition(principals: tuple[str, ...] = SYNAPSE_PRINCIPALS) -> Node:
    """The Contributor granter's condition as deployed for these Synapse principals."""
    text = bicep("app/access.bicep")
    template = re.search(r"var contributorForSynapseIdentitiesOnly = '(.*)'\n", text)
    assert template, "no contributorForSynapseIdentitiesOnly in app/access.bicep"
    assert "var grantable = join(grantablePrincipalIds, ', ')" in text
    assert f"var contributor = '{CONTRIBUTOR}'" in text
    condition = (
        template.group(1)
        .replace("\\'", "'")
        .replace("${contributor}", CONTRIBUTOR)
        .replace("${grantable}", ", ".join(principals))
    )
    assert "${" not in condition, "the condition interpolates something the test does not know"
    return parse_condition(condition)


def test_the_granter_assignment_carries_the_condition_and_its_role_cannot_delete() -> None:
    text = bicep("app/access.bicep")
    assignments = dict(blocks(text, "Microsoft.Authorization/roleAssignments"))
    granter = assignments["contributorGranterAssignments"]
    assert "conditionVersion: '2.0'" in granter
    assert "condition: contributorForSynapseIdentitiesOnly" in granter
    assert "contributorGranter.name" in granter
    actions = permissions()["customRoles"]["contributorGranter"]["actions"]
    assert actions == ["Microsoft.Authorization/roleAssignments/write"]
    # No other role carries a role assignment write at all.
    for key, role in permissions()["customRoles"].items():
        if key != "contributorGranter":
            assert not [
                a
                for a in role["actions"]
                if a.startswith("Microsoft.Authorization/") and not a.endswith("/read")
            ], key


ROLE_IDS = st.sampled_from(
    [
        CONTRIBUTOR,
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",  # User Access Administrator
        "f58310d9-a9f6-439a-9e8d-f62e7b41a168",  # RBAC Administrator
        CONTRIBUTOR.upper(),
    ]
)
PRINCIPALS = st.one_of(
    st.sampled_from(SYNAPSE_PRINCIPALS),
    st.sampled_from([p.upper() for p in SYNAPSE_PRINCIPALS]),
    st.uuids().map(str),
)


@given(
    action=st.sampled_from(
        [
            "Microsoft.Authorization/roleAssignments/write",
            "microsoft.authorization/roleassignments/WRITE",
            "Microsoft.Authorization/roleAssignments/delete",
        ]
    ),
    role=ROLE_IDS,
    principal_type=st.sampled_from(["ServicePrincipal", "serviceprincipal", "User", "Group"]),
    principal=PRINCIPALS,
)
def test_the_condition_allows_a_write_only_for_contributor_to_a_synapse_identity(
    action: str, role: str, principal_type: str, principal: str
) -> None:
    request = Request(action, role, principal_type, principal)
    allowed = evaluate(granter_condition(), request)
    is_write = action.lower().endswith("/write")
    wanted = (
        uuid.UUID(role) == uuid.UUID(CONTRIBUTOR)
        and principal_type.lower() == "serviceprincipal"
        and uuid.UUID(principal) in {uuid.UUID(p) for p in SYNAPSE_PRINCIPALS}
    )
    if is_write:
        assert allowed == wanted, request
    # A delete passes the condition (it constrains writes), but the role has no delete action:
    # test_the_granter_assignment_carries_the_condition_and_its_role_cannot_delete.


# --- authentication and Event Grid ---------------------------------------------------------------


def http_functions() -> dict[str, dict[str, Any]]:
    """Registered HTTP functions: name -> their HTTP trigger binding (raw JSON)."""
    found: dict[str, dict[str, Any]] = {}
    for name, function in registered_functions().items():
        for raw in function.get_raw_bindings():
            binding = json.loads(raw)
            if binding.get("type") == "httpTrigger":
                found[name] = binding
    return found


def test_app_service_authentication_is_on_for_every_http_function() -> None:
    text = bicep("app/function.bicep")
    configs = dict(blocks(text, "Microsoft.Web/sites/config"))
    [(name, body)] = [(n, b) for n, b in configs.items() if "'authsettingsV2'" in b]
    declaration = re.search(r"resource\s+" + name + r"\s+'[^']*'\s*=\s*(if\b)?", text)
    assert declaration, name
    assert declaration.group(1) is None, "authentication must not depend on a condition"
    for setting in (
        "requireAuthentication: true",
        "unauthenticatedClientAction: 'Return401'",
        "requireHttps: true",
    ):
        assert setting in body, setting
    assert re.search(r"azureActiveDirectory:\s*\{\s*enabled: true", body)
    assert "allowedAudiences:" in body
    assert "allowedApplications: allowedClientApplications" in body
    excluded = re.search(r"excludedPaths:\s*\[([^\]]*)\]", body)
    assert excluded
    excluded_paths = re.findall(r"'([^']*)'", excluded.group(1))
    assert sorted(excluded_paths) == ["/runtime/webhooks/EventGrid", "/runtime/webhooks/eventgrid"]
    for function, binding in http_functions().items():
        route = "/api/" + str(binding.get("route") or function)
        assert not any(route.startswith(path) for path in excluded_paths), function
        assert binding.get("authLevel") in ("anonymous", "ANONYMOUS", 0), (
            f"{function}: behind App Service authentication the function itself is anonymous"
        )


def test_the_scoring_logic_app_identity_is_an_allowed_caller_and_client() -> None:
    main = bicep("main.bicep")
    assert re.search(
        r"name: 'SCORING_ALLOWED_CALLERS'\s*value: join\(union\(\[scoringLogicAppIdentity"
        r"\.properties\.principalId\]",
        main,
    )
    assert (
        "union([scoringLogicAppIdentity.properties.clientId], apiAllowedClientApplications)" in main
    )
    logic = bicep("app/scoring-logic-app.bicep")
    assert "type: 'ManagedServiceIdentity'" in logic
    assert "/api/scoring-jobs" in logic
    assert "'Idempotency-Key'" in logic
    # The HTTP action follows 202 + Location itself unless told not to.
    assert "disableAsyncPattern" not in logic


def test_the_scoring_sample_runs_only_once_told_what_to_score() -> None:
    # Deployed with no endpoint or input (main.bicep passes neither), an enabled weekly sample
    # would fail every week with a 400: it stays disabled until both are set.
    logic = bicep("app/scoring-logic-app.bicep")
    for name in ("scoringEndpoint", "scoringInputPath"):
        assert re.search(rf"param {name} string = ''", logic)
    state = re.search(r"\n    state: (.+)\n", logic)
    assert state is not None
    assert state.group(1) == (
        "empty(scoringEndpoint) || empty(scoringInputPath) ? 'Disabled' : 'Enabled'"
    )


def test_event_subscriptions_retry_dead_letter_and_take_workspace_side_events_only() -> None:
    subscriptions = bicep("app/eventgrid-subscriptions.bicep")
    assert "retryPolicy:" in subscriptions
    assert "deadLetterWithResourceIdentity:" in subscriptions
    main = bicep("main.bicep")
    assert "Microsoft.Network/privateEndpoints/write" not in main, (
        "private endpoint writes of a whole subscription are mostly endpoints the app may not read"
    )
    for event_type in ("RunStatusChanged", "RunCompleted", "DatasetDriftDetected"):
        assert f"'Microsoft.MachineLearningServices.{event_type}'" in main, event_type
    assert "key: 'data.runStatus'" in main


def test_every_event_subscription_dead_letters_where_its_topic_may_write() -> None:
    """The app's subscriptions and the outcome topic's sample ones alike: an event Event Grid
    cannot deliver is kept in the dead-letter container, written with the topic's own identity,
    which holds a role on that container (app/rbac.bicep)."""
    found = []
    kinds = ("Microsoft.EventGrid/topics/eventSubscriptions", "Microsoft.EventGrid/systemTopics/")
    for path, text in all_bicep().items():
        for name, body in (b for kind in kinds for b in blocks(text, kind)):
            found.append(name)
            assert "retryPolicy:" in body, (path, name)
            assert re.search(
                r"deadLetterWithResourceIdentity: \{\s*identity: \{\s*type: 'SystemAssigned'", body
            ), (path, name)
            assert "blobContainerName: deadLetterContainerName" in body, (path, name)
    assert {"eventSubscriptions", "decisionsAndFindings", "failures"} <= set(found)
    rbac = bicep("app/rbac.bicep")
    assert re.search(
        r"var deadLetterWriters = concat\(armTopicPrincipalIds, mlTopicPrincipalIds, "
        r"\[outcomeTopicPrincipalId\]\)",
        rbac,
    )
    assert "outcomeTopicPrincipalId: outcomeTopic.outputs.principalId" in bicep("main.bicep")
    assert "output principalId string = topic.identity.principalId" in bicep(
        "app/outcome-topic.bicep"
    )


def test_event_topics_and_roles_follow_the_scope() -> None:
    main = bicep("main.bicep")
    # One subscription-wide system topic per subscription of ML_SCOPES and ML_WORKSPACE_IDS (and
    # those listed under management groups), each once.
    assert "var allScopes = union(mlScopes, mlWorkspaceIds)" in main
    assert re.search(
        r"var eventSourceSubscriptionIds = skip\(union\(\[''\], subscriptionScopes, "
        r"groupSubscriptionIds\), 1\)",
        main,
    )
    assert "for subscriptionId in eventSourceSubscriptionIds" in main
    # A subject filter per scope: a resource group's ends with '/' (rg-ml never takes rg-ml2's
    # events); none when a scope is a whole subscription or a management group.
    assert "? scope : '${scope}/']" in main
    assert "!contains(wholeSubscriptionScopes, true)" in main
    assert "values: scopeSubjectPrefixes" in main
    settings = dict(re.findall(r"name:\s*'([A-Z_]+)'\s*\n\s*value:\s*(.+)", main))
    assert settings["ML_SCOPES"] == "string(mlScopes)"
    assert settings["ML_SCOPE_EXCLUDE"] == "string(mlScopeExclude)"
    # The workspace roles at each resource group of ML_SCOPES, the granter with its condition.
    access = bicep("app/access.bicep")
    group_assignments = dict(blocks(access, "Microsoft.Authorization/roleAssignments"))
    granter = group_assignments["contributorGranterGroupAssignment"]
    assert "condition: contributorForSynapseIdentitiesOnly" in granter
    assert "workspacePolicyGroupAssignment" in group_assignments
    assert "scopeResourceGroupIds: scopeResourceGroupIds" in main
    # A workspace ML_SCOPES names itself is written to as any other: the roles of a listed one,
    # at it (and the dependency reader at its group), once when both settings name it.
    assert "var actedOnWorkspaceIds = concat(mlWorkspaceIds, skip(union([''], " in main
    candidates = re.search(r"var scopeWorkspaceCandidates = \[for scope in mlScopes: (.*)\]", main)
    assert candidates, "no scopeWorkspaceCandidates"
    assert "length(split(scope, '/')) == 9" in candidates.group(1)
    assert "'/providers/microsoft.machinelearningservices/workspaces/'" in candidates.group(1)
    assert "!contains(listedWorkspaceIds, toLower(scope))" in candidates.group(1)
    assert "var workspaceResourceGroupIds = [for id in actedOnWorkspaceIds:" in main


_GROUPS_OF = re.compile(
    r"^var (\w+) = \[for id in (\w+): toLower\('/subscriptions/\$\{split\(id, '/'\)\[2\]\}"
    r"/resourceGroups/\$\{split\(id, '/'\)\[4\]\}'\)\]$",
    re.MULTILINE,
)


def test_access_is_deployed_in_the_resource_group_of_every_workspace_it_grants_at() -> None:
    # app/access.bicep assigns a role at a workspace only when deployed in its resource group:
    # each list it assigns over must reach accessResourceGroupIds through that list's own groups,
    # whatever else is set (a retraining workspace in scope through a subscription of ML_SCOPES,
    # with no batch endpoint named, got no retrainer role: its retraining was refused, 403).
    lists = set(
        re.findall(r"resource \w+ '[^']+' = \[for \(id, i\) in (\w+):", bicep("app/access.bicep"))
    )
    main = bicep("main.bicep")
    module = re.search(
        r"\nmodule access 'app/access.bicep' = .*?\n  params: \{\n(.*?)\n  \}", main, re.S
    )
    assert module, "no access module in main.bicep"
    passed = dict(re.findall(r"^    (\w+): (.+)$", module.group(1), re.MULTILINE))
    variables = dict(re.findall(r"^var (\w+) = (.+)$", main, re.MULTILINE))
    groups_of = {source: name for name, source in _GROUPS_OF.findall(main)}
    reached, todo = set(), ["accessResourceGroupIds"]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += [w for w in re.findall(r"\w+", variables.get(name, "")) if w in variables]
    workspace_lists = set(re.findall(r"^param (\w+) array", main, re.MULTILINE)) | set(variables)
    assert len(lists) >= 5, f"access.bicep's assignment loops not read: {lists}"
    assert "accessResourceGroupIds" in variables
    problems = [
        f"{param} ({passed[param]}): no resource groups of {source} in accessResourceGroupIds"
        for param in sorted(lists)
        for source in sorted(set(re.findall(r"\w+", passed[param])) & workspace_lists)
        if groups_of.get(source) not in reached
    ]
    assert not problems, "; ".join(problems)


# --- azure.yaml ----------------------------------------------------------------------------------


def azure_yaml() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "azure.yaml").read_text(encoding="utf-8"))
    return data


def hook_scripts(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for hook, value in (data.get("hooks") or {}).items():
        variants = [value[k] for k in ("posix", "windows") if k in value] or [value]
        for variant in variants:
            yield hook, str(variant.get("run", ""))


def runs_azd(script: str) -> bool:
    """Whether a hook script invokes azd (outside comments and quoted text)."""
    for line in script.splitlines():
        code = re.sub(r"(\"[^\"]*\"|'[^']*')", "", line.split("#", 1)[0])
        if re.search(r"(^|[\s;&|(`$])azd(\.exe)?(\s|$)", code):
            return True
    return False


def test_azure_yaml_runs_no_nested_azd_and_provisions_after_deploying() -> None:
    data = azure_yaml()
    scripts = list(hook_scripts(data))
    assert scripts, "azure.yaml has no hooks"
    nested = [hook for hook, script in scripts if runs_azd(script)]
    assert not nested, f"hooks that run azd: {nested}"
    steps = [step["azd"] for step in data["workflows"]["up"]["steps"]]
    assert steps == ["provision", "deploy --all", "provision"]
    required = data["requiredVersions"]["azd"]
    match = re.fullmatch(r">=\s*(\d+)\.(\d+)\.(\d+)", required)
    assert match, required
    assert tuple(int(part) for part in match.groups()) >= (1, 23, 4)
    [preflight] = [s for hook, s in scripts if hook == "preprovision"][:1]
    assert "scripts/preflight.py" in preflight
    assert (REPO / "scripts" / "preflight.py").exists()
    # The second provision deploys the subscriptions because the first one said so.
    assert "output DEPLOY_EVENT_SUBSCRIPTIONS bool = true" in bicep("main.bicep")
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    assert parameters["parameters"]["deployEventSubscriptions"]["value"].startswith(
        "${DEPLOY_EVENT_SUBSCRIPTIONS"
    )


def test_the_postprovision_hook_prints_the_synapse_role_commands_ready_to_run(
    tmp_path: Path,
) -> None:
    """azd puts an array output into the environment as its JSON (`json.Marshal`, azd's
    provisioning manager): the hook must print each command as a shell line, `"Synapse User"`
    quoted, not the JSON text with its escaped quotes."""
    import os
    import shlex
    import shutil
    import subprocess

    [template] = re.findall(
        r"^output SYNAPSE_ROLE_ASSIGNMENT_COMMANDS array = \[for id in \w+: '(az .+)'\]$",
        bicep("main.bicep"),
        re.MULTILINE,
    )
    principal = str(uuid.uuid4())
    names = ["syn-a", "syn-b"]
    commands = [
        template.replace("${split(id, '/')[2]}", "1234")
        .replace("${last(split(id, '/'))}", name)
        .replace("${identity.properties.principalId}", principal)
        for name in names
    ]
    assert "${" not in "".join(commands), commands
    [script] = [s for hook, s in hook_scripts(azure_yaml()) if hook == "postprovision"][:1]
    env = {"PATH": os.environ["PATH"], "SYNAPSE_ROLE_ASSIGNMENT_COMMANDS": json.dumps(commands)}
    shell = shutil.which("sh") or "/bin/sh"  # azd runs a posix hook with `sh -c`
    done = subprocess.run(  # noqa: S603 - the hook under test, as azd runs it
        [shell, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    printed = [shlex.split(line) for line in done.stdout.splitlines() if line.startswith("az ")]
    assert [words[words.index("--workspace-name") + 1] for words in printed] == names
    for words in printed:
        assert words[words.index("--role") + 1] == "Synapse User"
        assert words[words.index("--assignee-object-id") + 1] == principal


# --- the parsers themselves ----------------------------------------------------------------------


def test_runs_azd_finds_azd_commands_and_ignores_mentions() -> None:
    assert runs_azd("azd provision --no-prompt")
    assert runs_azd('if [ "$X" != "true" ]; then azd env set X true && azd provision; fi')
    assert runs_azd("echo ok; azd deploy")
    assert runs_azd("$(azd env get-value X)")
    assert not runs_azd('echo "run azd up again"')
    assert not runs_azd("python3 scripts/preflight.py  # azd passes the environment")
    assert not runs_azd("echo $AZD_VALUE; ./azdx")


def test_azure_call_finder_and_function_source() -> None:
    source = """
class Adapter:
    def reads(self):
        return self._ml().workspaces.get("rg", "ws")
    def pure(self, properties):
        return properties.get("x")
    def raw(self, client):
        return client.send_request(request)
def helper(ops):
    return list(ops.list())
"""
    assert azure_calls(source) == {
        "Adapter.reads": {"get"},
        "Adapter.raw": {"send_request"},
        "helper": {"list"},
    }


def test_function_source_finds_methods(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("class A:\n    def b(self):\n        return 1\n", encoding="utf-8")
    assert function_source(module, "A.b") == "def b(self):\n        return 1"
    assert function_source(module, "A.c") is None


def test_condition_parser_and_evaluator() -> None:
    tree = parse_condition(
        "((!(ActionMatches{'X/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:"
        f"RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{CONTRIBUTOR}}} AND "
        "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] "
        "ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}))"
    )
    principal = str(uuid.uuid4())
    assert evaluate(tree, Request("X/read", "", "", ""))
    assert evaluate(tree, Request("X/write", CONTRIBUTOR, "serviceprincipal", principal))
    assert not evaluate(tree, Request("X/write", CONTRIBUTOR, "User", principal))
    assert not evaluate(tree, Request("X/write", ZERO_GUID, "ServicePrincipal", principal))
    with pytest.raises(ValueError, match="cannot parse"):
        parse_condition("(ActionMatches{'X'}) XOR (")
    with pytest.raises(ValueError, match="unbalanced"):
        parse_condition("((ActionMatches{'X'})")


def test_blocks_finds_resources_by_type() -> None:
    text = """
resource a 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: 'x'
  properties: { nested: { deeper: 1 } }
}
resource b 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'y'
}
resource c 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for p in ps: {
  name: p
}]
"""
    found = dict(blocks(text, "Microsoft.Authorization/roleAssignments"))
    assert set(found) == {"a", "c"}
    assert "deeper: 1" in found["a"]
    assert "name: p" in found["c"]


def test_workflow_actions_finds_nested_actions_with_their_types() -> None:
    text = """
actions: {
  Loop: {
    type: 'Foreach'
    actions: {
      Post: {
        type: 'Http'
        inputs: { uri: 'x' }
      }
    }
  }
  inputs: { schema: { type: 'array' } }
}
"""
    found = {name: (kind, body) for name, kind, body in workflow_actions(text)}
    assert {name: kind for name, (kind, _) in found.items()} == {
        "Loop": "Foreach",
        "Post": "Http",
        "schema": "array",
    }
    assert "uri: 'x'" in found["Post"][1]
    assert "Post:" in found["Loop"][1]


def test_the_notifications_sample_listens_for_types_the_app_publishes() -> None:
    # The sample's filters are strings in Bicep; the app's types come from its outcomes: a
    # confirmed approval, an unconfirmed one and a failed write must land where the sample says.
    from shared.adapters.outcomes import event_type
    from shared.ledger import ActionRecord
    from shared.outcome import RECORDED, Outcome, Status, noted

    text = bicep("app/notifications-logic-app.bicep")

    def record(outcome: Outcome) -> ActionRecord:
        return ActionRecord(
            target_id="/w",
            kind="private-endpoint-connection",
            verdict="approve",
            subject="/c",
            reason="verified",
            mode="enforce",
            outcome=outcome,
            trigger="event:1",
        )

    applied = event_type(record(Outcome(Status.APPLIED, "now Approved")))
    assert f"'{applied}'" in text
    assert "'SynapseAmlAutomation.PrivateEndpointConnection.Approve'" not in text
    # The key as Event Grid's filtering documentation spells it for its own schema.
    assert "key: 'EventType'" in text
    assert "operatorType: 'StringEndsWith'" in text
    ends = re.search(r"'StringEndsWith'\s+key: 'EventType'\s+values: \[([^\]]*)\]", text)
    assert ends is not None, "the failures subscription filters on how the type ends"
    endings = tuple(re.findall(r"'([^']+)'", ends.group(1)))
    for failure in (
        Outcome(Status.FAILED, "HTTP 403"),
        Outcome(Status.NOT_APPLIED, "ARM's answer shows Pending"),
    ):
        assert event_type(record(failure)).endswith(endings), failure
    # What Azure reported, not a write of the app's, yet on-call's to hear of: a retrain that
    # ended Failed or Canceled (a canceled scoring job is `BatchScoring.Failed` already) and a
    # drift gate held because its query failed (a gate closed by its reading is not published).
    for kind, verdict in (
        ("retraining", "failed"),
        ("retraining", "canceled"),
        ("drift-gate", "hold"),
    ):
        ended = replace(record(noted("nothing started")), kind=kind, verdict=verdict)
        assert event_type(ended).endswith(endings), event_type(ended)
    finding = ActionRecord(
        target_id="/w",
        kind="policy-finding",
        verdict="non-compliant",
        subject="/w",
        reason="public access",
        mode="audit",
        outcome=RECORDED,
        trigger="event:1",
    )
    assert f"'{event_type(finding)}'" in text
    # A scoring job the sweep stops following (its end left to its event): on-call's to hear of.
    unfollowed = replace(finding, kind="batch-scoring", verdict="unfollowed", outcome=noted("x"))
    assert f"'{event_type(unfollowed)}'" in text


def test_no_logic_app_sample_shows_a_secure_parameter_in_run_history() -> None:
    # A SecureString workflow parameter is hidden in the definition, not in run history: an HTTP
    # action's URI, headers and body are shown there as sent unless the action secures its
    # inputs. A Teams or Slack webhook URL is the webhook's credential.
    secured = r"runtimeConfiguration: \{\s*secureData: \{\s*properties: \[[^\]]*'inputs'"
    checked = []
    for path in ("app/notifications-logic-app.bicep", "app/scoring-logic-app.bicep"):
        text = bicep(path)
        secure = re.findall(r"(\w+): \{\s*type: 'Secure(?:String|Object)'", text)
        for name, kind, body in workflow_actions(text):
            if kind == "Http" and any(f"parameters(\\'{p}\\')" in body for p in secure):
                checked.append(name)
                hidden = re.search(secured, body)
                assert hidden, f"{path}: {name} shows a secure parameter in run history"
    assert checked == ["Post_to_webhook"]


def test_a_notification_names_the_workspace_its_event_is_about() -> None:
    # A job's events have its bare name as subject (a role assignment's, the Synapse workspace;
    # a drift gate's, Log Analytics): without the event's workspaceId, a message says a scoring
    # or a retrain failed and not in which of the workspaces.
    from shared.adapters.outcomes import event_data
    from shared.ledger import ActionRecord
    from shared.outcome import noted

    workspace = (
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"
    )
    ended = ActionRecord(
        workspace, "batch-scoring", "failed", "batchjob-1", "scoring job batchjob-1 ended Failed",
        "enforce", noted("ended Failed"), "event:1",
    )  # fmt: skip
    carried = event_data(ended)
    [message] = re.findall(r"^\s+text: '(.*)'$", bicep("app/notifications-logic-app.bicep"), re.M)
    posted = set(re.findall(r"\[\\'data\\'\]\?\[\\'(\w+)\\'\]", message))
    assert posted, message
    assert posted <= set(carried), f"not in the event's data: {posted - set(carried)}"
    shown = " ".join([ended.subject, *(carried[name] for name in posted)])
    assert workspace in shown, "the message does not say which workspace"


def test_jobs_and_scoring_are_granted_only_where_they_run() -> None:
    # Policy and approval on every in-scope workspace; retraining only on RETRAIN_WORKSPACE_IDS,
    # scoring only on the workspaces of SCORING_ALLOWED_ENDPOINTS (and the retraining ones when
    # post-retrain scoring is on). Each assignment loop runs over exactly its list.
    text = bicep("app/access.bicep")
    loops = dict(re.findall(r"resource (\w+) '[^']+' = \[for \(id, i\) in (\w+):", text))
    assert loops == {
        "workspacePolicyAssignments": "mlWorkspaceIds",
        "contributorGranterAssignments": "mlWorkspaceIds",
        "retrainerAssignments": "retrainWorkspaceIds",
        "batchScorerAssignments": "scoringWorkspaceIds",
        "synapseReaderAssignments": "synapseWorkspaceIds",
        "promoterAssignments": "promotionWorkspaceIds",
    }
    main = bicep("main.bicep")
    # Promotion (register, deploy, switch, delete) only on the retraining workspaces, and only
    # when PROMOTION_METRIC is set.
    assert re.search(
        r"\n    promotionWorkspaceIds: empty\(promotionMetric\) \? \[\] : retrainWorkspaceIds\n",
        main,
    ), "access gets the retraining workspaces as promotionWorkspaceIds, only with a metric"
    assert re.search(
        r"var scoringEndpointWorkspaceIds = \[for id in scoringAllowedEndpoints: "
        r"toLower\(join\(take\(split\(id, '/'\), 9\), '/'\)\)\]",
        main,
    ), "the scoring workspaces are the workspace part of each allowed endpoint's ID"
    assert re.search(
        r"var scoringWorkspaceIds = union\(scoringEndpointWorkspaceIds, "
        r"empty\(batchEndpointName\) \? \[\] : retrainWorkspaceIdsLower\)",
        main,
    )
    for param in ("retrainWorkspaceIds", "scoringWorkspaceIds"):
        assert re.search(rf"\n    {param}: {param}\n", main), f"access gets {param}"
    # Every workspace in scope by name: test_event_topics_and_roles_follow_the_scope.
    assert "\n    mlWorkspaceIds: actedOnWorkspaceIds\n" in main
    roles = permissions()["customRoles"]
    policy = set(roles["workspacePolicy"]["actions"])
    job_or_scoring = [
        a for a in policy if "/jobs/" in a or "batchEndpoints" in a or "components" in a
    ]
    assert not job_or_scoring, f"the role on every workspace runs jobs: {job_or_scoring}"
    assert not [a for a in roles["retrainer"]["actions"] if "batchEndpoints" in a]
