"""The handlers of role assignments and policy exemptions, run with the simulator's lock held."""

from __future__ import annotations

import copy
import re
import uuid

from ..arm.exceptions import invalid_content
from ..arm.models import key as store_key
from ..server import Call, Reply, arm_error
from ..shapes import JSON
from . import shapes
from .exceptions import principal_not_found
from .models import (
    ROLE_DEFINITION_ID,
    Authorization,
    assignment_view,
    at_or_above,
    role_guid,
)


def _is_guid(value: str) -> bool:
    """Whether ``value`` is a GUID in its 36-character form."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


class AuthorizationResponses:
    def __init__(self, authorization: Authorization) -> None:
        self._store = authorization.sim.arm
        self._model = authorization

    def list_for_scope(self, call: Call) -> Reply:
        scope = store_key(call.group("scope"))
        at_scope = False
        principal: str | None = None
        raw_filter = call.query.get("$filter", "").strip()
        for term in filter(None, re.split(r"\s+and\s+", raw_filter, flags=re.IGNORECASE)):
            principal_match = re.fullmatch(
                r"(?:principalId\s+eq\s+'?([^'\s]+)'?|assignedTo\('([^']+)'\))",
                term.strip(),
                re.IGNORECASE,
            )
            if re.fullmatch(r"atScope\(\)", term.strip(), re.IGNORECASE):
                at_scope = True
            elif principal_match:
                principal = (principal_match.group(1) or principal_match.group(2)).lower()
            else:
                return arm_error(
                    400,
                    "UnsupportedFilterInSimulator",
                    f"The simulator does not understand the filter term '{term}'. It knows "
                    "atScope(), principalId eq '{id}' and assignedTo('{id}'), joined by 'and'.",
                )

        def wanted(properties: JSON) -> bool:
            candidate = store_key(str(properties["scope"]))
            # atScope(): at or above the scope; otherwise also below it.
            return (
                at_or_above(candidate, scope) or (not at_scope and at_or_above(scope, candidate))
            ) and principal in (None, str(properties.get("principalId", "")).lower())

        views = [v for _, v in self._model.assignment_items() if wanted(v["properties"])]
        return Reply(200, {"value": views})

    def list_policy_exemptions(self, call: Call) -> Reply:
        """Policy exemptions that apply at a scope (``exemptions.listed``)."""
        from .exemptions import UnsupportedFilterError, listed

        try:
            items = listed(
                self._store.resources, call.group("scope"), call.query.get("$filter", "")
            )
        except UnsupportedFilterError as term:
            return arm_error(
                400,
                "InvalidFilterInQueryString",
                f"The filter '{term}' is not supported. Valid values are 'atScope()', "
                "'atExactScope()', 'excludeExpired()' and 'policyAssignmentId eq '{value}''.",
            )
        return Reply(200, {"value": items})

    def get(self, call: Call) -> Reply:
        key = store_key(call.path)
        stored = self._store.resources.get(key)
        view = assignment_view(key, stored) if stored is not None else None
        if view is None:
            message = f"The role assignment '{call.group('name')}' is not found."
            return arm_error(404, "RoleAssignmentNotFound", message)
        return Reply(200, view)

    def put(self, call: Call) -> Reply:
        name = call.group("name")
        scope_path = call.group("scope") or "/"
        properties = call.at("properties")
        if not isinstance(properties, dict):
            return invalid_content("The request body must have a 'properties' object.")
        role_definition_id = properties.get("roleDefinitionId")
        principal_id = properties.get("principalId")
        principal_type = properties.get("principalType")
        if not isinstance(role_definition_id, str) or not isinstance(principal_id, str):
            return invalid_content(
                "properties.roleDefinitionId and properties.principalId are required."
            )
        if not _is_guid(name):
            return arm_error(
                400,
                "InvalidRoleAssignmentId",
                f"The role assignment ID '{name}' is not valid. The role assignment ID must be "
                "a GUID.",
            )
        if not ROLE_DEFINITION_ID.match(role_definition_id):
            message = f"The role definition ID '{role_definition_id}' is not valid."
            return arm_error(400, "InvalidRoleDefinitionId", message)
        key = principal_id.lower()
        delay = self._model.replication_delays.get(key, 0)
        if delay > 0:
            self._model.replication_delays[key] = delay - 1
        actual_type = self._model.principal_type(principal_id)
        if delay > 0 or actual_type is None:
            return principal_not_found(principal_id, self._model.sim.tenant_id)
        if principal_type is not None and principal_type != actual_type:
            return arm_error(
                400,
                "UnmatchedPrincipalType",
                f"The PrincipalId '{principal_id.replace('-', '')}' has type '{actual_type}' , "
                f"which is different from specified PrincipalType '{principal_type}'.",
            )
        scope = store_key(scope_path)
        role = role_guid(role_definition_id)
        assignments = self._model.assignment_items()
        for _, view in assignments:
            existing = view["properties"]
            if (
                store_key(str(existing["scope"])) == scope
                and str(existing.get("principalId", "")).lower() == key
                and role_guid(str(existing.get("roleDefinitionId", ""))) == role
            ):
                existing_name = str(view.get("name", "")).replace("-", "")
                return arm_error(
                    409,
                    "RoleAssignmentExists",
                    "The role assignment already exists. The ID of the existing role "
                    f"assignment is {existing_name}.",
                )
        if any(stored_key == store_key(call.path) for stored_key, _ in assignments):
            # The name is taken by an assignment of another principal or role.
            message = (
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated."
            )
            return arm_error(400, "RoleAssignmentUpdateNotPermitted", message)
        body = shapes.role_assignment(
            scope_path,
            name,
            principal_id=principal_id,
            role_definition_id=role_definition_id,
            principal_type=principal_type or actual_type,
            created_by=self._model.updated_by(),
            description=properties.get("description"),
            condition=properties.get("condition"),
            condition_version=properties.get("conditionVersion"),
        )
        self._store.resources[store_key(call.path)] = body
        return Reply(201, copy.deepcopy(body))
