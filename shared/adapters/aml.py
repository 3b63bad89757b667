"""Azure Machine Learning workspaces: their private endpoint connections."""

from __future__ import annotations

from typing import Any

from shared.adapters.clients import AzureClients
from shared.adapters.transport import malformed_is_permanent, read_all
from shared.arm import ArmId, name_of, resource_group_of, subscription_of
from shared.model import ConnectionStatus, PrivateEndpointConnection


class MachineLearningAdapter:
    """Reads and writes the private endpoint connections of AML workspaces."""

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    def _operations(self, workspace_id: str) -> Any:
        return self._clients.machine_learning(
            subscription_of(workspace_id)
        ).private_endpoint_connections

    @malformed_is_permanent
    def list_connections(self, workspace_id: ArmId) -> list[PrivateEndpointConnection]:
        """All private endpoint connections of a workspace, in one list call."""
        operations = self._operations(workspace_id)
        items = read_all(
            operations.list(resource_group_of(workspace_id), name_of(workspace_id)),
            what=f"private endpoint connections of {workspace_id}",
        )
        return [_connection(workspace_id, item) for item in items]

    @malformed_is_permanent
    def set_connection_state(
        self, workspace_id: ArmId, connection_name: str, status: ConnectionStatus, description: str
    ) -> PrivateEndpointConnection:
        """Approve or reject one connection; returns the connection as ARM reports it after."""
        from azure.mgmt.machinelearningservices.models import (
            PrivateEndpointConnection as ConnectionModel,
        )
        from azure.mgmt.machinelearningservices.models import PrivateLinkServiceConnectionState

        body = ConnectionModel(
            private_link_service_connection_state=PrivateLinkServiceConnectionState(
                status=status.value, description=description, actions_required="None"
            )
        )
        result = self._operations(workspace_id).create_or_update(
            resource_group_of(workspace_id), name_of(workspace_id), connection_name, body
        )
        return _connection(workspace_id, result)


def _connection(workspace_id: ArmId, item: Any) -> PrivateEndpointConnection:
    state = item.private_link_service_connection_state
    endpoint = item.private_endpoint
    return PrivateEndpointConnection(
        id=str(item.id or ""),
        name=str(item.name or ""),
        workspace_id=workspace_id,
        private_endpoint_id=getattr(endpoint, "id", None),
        status=ConnectionStatus.parse(getattr(state, "status", None)),
        description=str(getattr(state, "description", "") or ""),
    )
