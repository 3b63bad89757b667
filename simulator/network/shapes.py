"""JSON bodies of private endpoints and of the resources an AML workspace depends on (storage
accounts, key vaults, container registries) with their private endpoint connections, each shaped
on the example under ``/work/shared/reference`` its docstring names."""

from __future__ import annotations

import copy

from ..shapes import (
    DEFAULT_LOCATION,
    JSON,
    connection_state,
    last_segment,
    now_iso,
    scope_of,
    stable_uuid,
)

PRIVATE_ENDPOINT_TYPE = "Microsoft.Network/privateEndpoints"
STORAGE_ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"
KEY_VAULT_TYPE = "Microsoft.KeyVault/vaults"
CONTAINER_REGISTRY_TYPE = "Microsoft.ContainerRegistry/registries"


def _short(name: str, fallback: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())[:24] or fallback


def private_endpoint(
    pe_id: str, service_id: str, group_ids: list[str], manual: bool, status: str | None = None
) -> JSON:
    """A private endpoint shaped on ``network_privateendpoints_get_manualapproval.json``: a manual
    connection starts Pending, an automatic one Approved (``network_privateendpoints_get.json``),
    unless ``status`` says otherwise."""
    name = last_segment(pe_id)
    sub, rg = scope_of(pe_id)
    collection = (
        "manualPrivateLinkServiceConnections" if manual else "privateLinkServiceConnections"
    )
    default = ("Pending", "Awaiting approval") if manual else ("Approved", "Auto-approved")
    if status is not None and status != default[0]:
        default = (status, "")
    state = connection_state(*default, "None")
    connection: JSON = {
        "id": f"{pe_id}/{collection}/{name}",
        "name": name,
        "properties": {
            "privateLinkServiceId": service_id,
            "groupIds": list(group_ids),
            "requestMessage": "Please approve my connection.",
            "privateLinkServiceConnectionState": state,
        },
    }
    nic_suffix = stable_uuid(pe_id, "nic").replace("-", "")[:8]
    network = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network"
    return {
        "name": name,
        "id": pe_id,
        "type": PRIVATE_ENDPOINT_TYPE,
        "location": DEFAULT_LOCATION,
        "properties": {
            "provisioningState": "Succeeded",
            "privateLinkServiceConnections": [] if manual else [connection],
            "manualPrivateLinkServiceConnections": [connection] if manual else [],
            "subnet": {"id": f"{network}/virtualNetworks/{name}-vnet/subnets/default"},
            "networkInterfaces": [
                {"id": f"{network}/networkInterfaces/{name}.nic.{nic_suffix}"},
            ],
            "customDnsConfigs": [],
            "applicationSecurityGroups": [],
            "ipConfigurations": [],
            "customNetworkInterfaceName": "",
        },
    }


def _resource(
    resource_id: str, resource_type: str, location: str, extra: JSON, properties: JSON
) -> JSON:
    name = last_segment(resource_id)
    body = {"id": resource_id, "name": name, "type": resource_type, "location": location}
    return {**body, **extra, "tags": {}, "properties": properties}


_NETWORK_ACLS: JSON = {
    "bypass": "AzureServices",
    "virtualNetworkRules": [],
    "ipRules": [],
    "defaultAction": "Allow",
}


def storage_account(
    resource_id: str, *, location: str = DEFAULT_LOCATION, properties_overrides: JSON | None = None
) -> JSON:
    """A minimal ``Microsoft.Storage/storageAccounts`` (StorageV2) as ARM's GET returns it."""
    host = _short(last_segment(resource_id), "sa")
    properties: JSON = {
        "provisioningState": "Succeeded",
        "creationTime": now_iso(),
        "primaryLocation": location,
        "statusOfPrimary": "available",
        "primaryEndpoints": {
            kind: f"https://{host}.{kind}.core.windows.net/"
            for kind in ("blob", "dfs", "file", "queue", "table", "web")
        },
        "accessTier": "Hot",
        "allowBlobPublicAccess": False,
        "minimumTlsVersion": "TLS1_2",
        "supportsHttpsTrafficOnly": True,
        "publicNetworkAccess": "Enabled",
        "networkAcls": copy.deepcopy(_NETWORK_ACLS),
        "encryption": {
            "keySource": "Microsoft.Storage",
            "services": {"blob": {"enabled": True}, "file": {"enabled": True}},
        },
        "privateEndpointConnections": [],
        **(properties_overrides or {}),
    }
    sku = {"kind": "StorageV2", "sku": {"name": "Standard_LRS", "tier": "Standard"}}
    return _resource(resource_id, STORAGE_ACCOUNT_TYPE, location, sku, properties)


def key_vault(
    resource_id: str,
    *,
    tenant_id: str,
    location: str = DEFAULT_LOCATION,
    properties_overrides: JSON | None = None,
) -> JSON:
    """A minimal ``Microsoft.KeyVault/vaults`` (RBAC authorization) as ARM's GET returns it."""
    properties: JSON = {
        "sku": {"family": "A", "name": "standard"},
        "tenantId": tenant_id,
        "accessPolicies": [],
        "enabledForDeployment": False,
        "enabledForDiskEncryption": False,
        "enabledForTemplateDeployment": False,
        "enableSoftDelete": True,
        "softDeleteRetentionInDays": 90,
        "enableRbacAuthorization": True,
        "enablePurgeProtection": True,
        "vaultUri": f"https://{last_segment(resource_id).lower()}.vault.azure.net/",
        "provisioningState": "Succeeded",
        "publicNetworkAccess": "Enabled",
        "networkAcls": copy.deepcopy(_NETWORK_ACLS),
        "privateEndpointConnections": [],
        **(properties_overrides or {}),
    }
    return _resource(resource_id, KEY_VAULT_TYPE, location, {}, properties)


def container_registry(
    resource_id: str, *, location: str = DEFAULT_LOCATION, properties_overrides: JSON | None = None
) -> JSON:
    """A minimal Premium ``Microsoft.ContainerRegistry/registries`` as ARM's GET returns it."""
    properties: JSON = {
        "loginServer": f"{_short(last_segment(resource_id), 'acr')}.azurecr.io",
        "creationDate": now_iso(),
        "provisioningState": "Succeeded",
        "adminUserEnabled": False,
        "publicNetworkAccess": "Enabled",
        "networkRuleBypassOptions": "AzureServices",
        "networkRuleSet": {"defaultAction": "Allow", "ipRules": []},
        "zoneRedundancy": "Disabled",
        "anonymousPullEnabled": False,
        "dataEndpointEnabled": False,
        "encryption": {"status": "disabled"},
        "privateEndpointConnections": [],
        **(properties_overrides or {}),
    }
    sku = {"sku": {"name": "Premium", "tier": "Premium"}}
    return _resource(resource_id, CONTAINER_REGISTRY_TYPE, location, sku, properties)


def dependency_connection(
    resource_id: str, resource_type: str, pe_id: str, status: str, description: str
) -> JSON:
    """A connection as a storage account, vault or registry embeds it: the AML one's layout
    (``aml_privateendpointconnections_get.json``), typed ``<type>/privateEndpointConnections``."""
    name = f"{last_segment(pe_id)}.{stable_uuid(resource_id, pe_id)}"
    return {
        "id": f"{resource_id}/privateEndpointConnections/{name}",
        "name": name,
        "type": f"{resource_type}/privateEndpointConnections",
        "properties": {
            "privateEndpoint": {"id": pe_id},
            "privateLinkServiceConnectionState": connection_state(status, description, "None"),
            "provisioningState": "Succeeded",
        },
    }
