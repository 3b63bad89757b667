"""Azure Machine Learning workspaces: their private endpoint connections."""

from __future__ import annotations

from typing import Any

from shared.adapters.answers import check_answer, child_name
from shared.adapters.errors import read_back
from shared.adapters.transport import ArmAdapter
from shared.arm import ArmId
from shared.model import ConnectionStatus, PrivateEndpointConnection


class MachineLearningAdapter(ArmAdapter):
    def list_connections(self, workspace_id: ArmId) -> list[PrivateEndpointConnection]:
        client, group, name = self._ml(workspace_id)
        items = client.private_endpoint_connections.list(group, name)
        return [_connection(workspace_id, item) for item in items]

    def set_connection_state(
        self, workspace_id: ArmId, connection_name: str, status: ConnectionStatus, description: str
    ) -> PrivateEndpointConnection:
        from azure.mgmt.machinelearningservices import models

        name = child_name(connection_name, "connection", workspace_id)
        state = models.PrivateLinkServiceConnectionState(
            status=status.value, description=description, actions_required="None"
        )
        body = models.PrivateEndpointConnection(private_link_service_connection_state=state)
        client, group, workspace = self._ml(workspace_id)
        operations = client.private_endpoint_connections
        result = read_back(
            lambda: operations.create_or_update(group, workspace, name, body),
            lambda: operations.get(group, workspace, name),
            lambda found: _connection(workspace_id, found).status is status,
        )
        answered = _connection(workspace_id, result)
        asked = f"{workspace_id}/privateEndpointConnections/{name}"
        check_answer(answered.id, asked, "the connection", answered.status.value, status.value)
        return answered

    def workspace_tenant(self, workspace_id: ArmId) -> str | None:
        model = self.workspace(workspace_id)
        identity_tenant = getattr(getattr(model, "identity", None), "tenant_id", None)
        values = (getattr(model, "tenant_id", None), identity_tenant)
        return next((value for value in values if isinstance(value, str) and value), None)


def _connection(workspace_id: ArmId, item: Any) -> PrivateEndpointConnection:
    state = item.private_link_service_connection_state
    return PrivateEndpointConnection(
        id=str(item.id or ""),
        name=str(item.name or ""),
        workspace_id=workspace_id,
        private_endpoint_id=getattr(item.private_endpoint, "id", None),
        status=ConnectionStatus.parse(getattr(state, "status", None)),
        description=str(getattr(state, "description", "") or ""),
    )
