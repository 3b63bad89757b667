"""Role assignments (Microsoft.Authorization): read at a scope, create one."""

from __future__ import annotations

import time
from dataclasses import fields
from typing import Any

from azure.core.exceptions import HttpResponseError

from shared.adapters.answers import UnexpectedAnswerError
from shared.adapters.transport import ArmAdapter
from shared.arm import same_arm_id, subscription_of
from shared.planning.role_assignments import ExistingAssignment

# PrincipalNotFound right after an identity is created is Entra ID replication delay: retried.
PRINCIPAL_NOT_FOUND_WAITS = (1.0, 2.0, 4.0)


class AuthorizationAdapter(ArmAdapter):
    def _operations(self, scope: str) -> Any:
        return self._clients.authorization(subscription_of(scope)).role_assignments

    def list_at_scope(self, scope: str) -> list[ExistingAssignment]:
        """Assignments at `scope` and above it (`atScope()`); only those at `scope` count."""
        items = self._operations(scope).list_for_scope(scope, filter="atScope()")
        # ExistingAssignment's fields are named as the SDK's RoleAssignment names them.
        names = [field.name for field in fields(ExistingAssignment)]
        return [ExistingAssignment(*(str(getattr(i, n, None) or "") for n in names)) for i in items]

    def create(
        self,
        scope: str,
        name: str,
        role_definition_id: str,
        principal_id: str,
        description: str = "",
    ) -> str:
        """ "created" or "exists" (success too); `UnexpectedAnswerError` for another assignment."""
        from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

        parameters = RoleAssignmentCreateParameters(
            role_definition_id=role_definition_id,
            principal_id=principal_id,
            # Stated, so ARM does not look the principal up (what fails during replication).
            principal_type="ServicePrincipal",
            description=description or None,
        )
        waits = list(PRINCIPAL_NOT_FOUND_WAITS)
        while True:
            try:
                created = self._operations(scope).create(scope, name, parameters)
            except HttpResponseError as error:
                code = str(getattr(error.error, "code", None) or "")
                if error.status_code == 409 and code == "RoleAssignmentExists":
                    return "exists"
                if code == "PrincipalNotFound" and waits:
                    time.sleep(waits.pop(0))
                    continue
                raise
            if problem := assignment_mismatch(created, scope, role_definition_id, principal_id):
                raise UnexpectedAnswerError(problem)
            return "created"


def assignment_mismatch(
    created: Any, scope: str, role_definition_id: str, principal_id: str
) -> str | None:
    asked = {"scope": scope, "roleDefinitionId": role_definition_id, "principalId": principal_id}
    attributes = ("scope", "role_definition_id", "principal_id")
    answered = {
        k: str(getattr(created, a, "") or "") for k, a in zip(asked, attributes, strict=True)
    }
    wrong = [key for key in asked if not same_arm_id(answered[key], asked[key])]
    shown = ", ".join(f"{key} {answered[key]!r} (asked {asked[key]!r})" for key in wrong)
    return f"ARM answered with another assignment: {shown}" if wrong else None
