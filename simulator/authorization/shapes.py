"""JSON bodies of role assignments, shaped on ``authz_roleassignments_get.json`` (API
2022-04-01)."""

from __future__ import annotations

from ..shapes import JSON, now_iso

ROLE_ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"


def role_assignment(
    scope: str,
    name: str,
    *,
    principal_id: str,
    role_definition_id: str,
    principal_type: str,
    updated_by: str,
    description: str | None = None,
    condition: str | None = None,
    condition_version: str | None = None,
) -> JSON:
    """A role assignment shaped on ``authz_roleassignments_create_resource.json`` (201 body), with
    the audit fields and nullable ``condition`` fields API 2022-04-01 also returns."""
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
            "createdBy": None,
            "updatedBy": updated_by,
            "delegatedManagedIdentityResourceId": None,
            "description": description,
        },
        "id": f"{prefix}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "type": ROLE_ASSIGNMENT_TYPE,
        "name": name,
    }
