"""JSON bodies of role assignments (API 2022-04-01) and policy exemptions (API 2022-07-01-preview),
each shaped on the example its docstring names."""

from __future__ import annotations

from ..shapes import JSON, now_iso, system_data

ROLE_ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"


def role_assignment(
    scope: str,
    name: str,
    principal_id: str,
    role_definition_id: str,
    principal_type: str,
    created_by: str,
    description: str | None = None,
    condition: str | None = None,
    condition_version: str | None = None,
) -> JSON:
    """A role assignment shaped on ``authz_roleassignments_create_resource.json`` (201 body), with
    the audit fields (``createdBy``/``updatedBy``: the caller's object ID, set by ARM) and
    nullable ``condition`` fields API 2022-04-01 also returns."""
    now = now_iso()
    scope = "/" + scope.strip("/") if scope.strip("/") else "/"
    prefix = "" if scope == "/" else scope
    return {
        "properties": {
            "roleDefinitionId": role_definition_id,
            "principalId": principal_id,
            "principalType": principal_type,
            "scope": scope,
            "condition": condition,
            "conditionVersion": condition_version,
            "createdOn": now,
            "updatedOn": now,
            "createdBy": created_by,
            "updatedBy": created_by,
            "delegatedManagedIdentityResourceId": None,
            "description": description,
        },
        "id": f"{prefix}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "type": ROLE_ASSIGNMENT_TYPE,
        "name": name,
    }


def policy_exemption(
    scope: str,
    name: str,
    assignment_id: str,
    category: str,
    description: str | None,
    optional: JSON,
) -> JSON:
    """A policy exemption shaped on ``listPolicyExemptionsForResource.json``; the ``optional``
    properties that are None are left out (no reference IDs: the whole assignment; no
    ``expiresOn``: no end)."""
    properties: JSON = {
        "policyAssignmentId": assignment_id,
        "exemptionCategory": category,
        "displayName": name,
        "description": description or "",
        "metadata": {},
        "assignmentScopeValidation": "Default",
        **{key: value for key, value in optional.items() if value is not None},
    }
    return {
        "properties": properties,
        "systemData": system_data(("platform-team@contoso.com", "User")),
        "id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/policyExemptions/{name}",
        "type": "Microsoft.Authorization/policyExemptions",
        "name": name,
    }
