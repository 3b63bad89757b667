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


POLICY_EXEMPTION_TYPE = "Microsoft.Authorization/policyExemptions"


def policy_exemption(
    scope: str,
    name: str,
    *,
    assignment_id: str,
    category: str,
    reference_ids: list[str] | None = None,
    expires_on: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    resource_selectors: list[JSON] | None = None,
) -> JSON:
    """A policy exemption shaped on ``listPolicyExemptionsForResource.json`` (API
    2022-07-01-preview): no ``policyDefinitionReferenceIds`` means the whole assignment, no
    ``expiresOn`` no end."""
    properties: JSON = {
        "policyAssignmentId": assignment_id,
        "exemptionCategory": category,
        "displayName": display_name or name,
        "description": description or "",
        "metadata": {},
        "assignmentScopeValidation": "Default",
    }
    if reference_ids is not None:
        properties["policyDefinitionReferenceIds"] = reference_ids
    if expires_on is not None:
        properties["expiresOn"] = expires_on
    if resource_selectors is not None:
        properties["resourceSelectors"] = resource_selectors
    now = now_iso()
    return {
        "properties": properties,
        "systemData": {
            "createdBy": "platform-team@contoso.com",
            "createdByType": "User",
            "createdAt": now,
            "lastModifiedBy": "platform-team@contoso.com",
            "lastModifiedByType": "User",
            "lastModifiedAt": now,
        },
        "id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/policyExemptions/{name}",
        "type": POLICY_EXEMPTION_TYPE,
        "name": name,
    }
