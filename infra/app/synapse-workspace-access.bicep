// The Synapse reader custom role (Microsoft.Synapse/workspaces/read only) on one allow-listed
// Synapse workspace (deployed in its resource group). Code: shared/adapters/synapse.py
// SynapseAdapter.get_workspace reads the workspace over ARM for its managed identity (identity.principalId), whether it has a managed
// virtual network, and whether data exfiltration protection is on.
//
// Listing the workspace's managed private endpoints is a Synapse data-plane call, authorized by
// Synapse RBAC, not Azure RBAC: no ARM/Bicep resource can grant it. The least built-in Synapse role
// that allows it is "Synapse User" (workspaces/read; there is no separate read action for managed
// private endpoints, and "Synapse Linked Data Manager" would add write and delete). Grant it once
// per workspace, as a Synapse Administrator:
//
//   az synapse role assignment create --workspace-name <synapse-workspace> \
//     --role "Synapse User" --assignee-object-id <app identity principal ID> \
//     --assignee-principal-type ServicePrincipal
//
// main.bicep outputs these commands, filled in, as SYNAPSE_ROLE_ASSIGNMENT_COMMANDS.

@description('Name of the Synapse workspace (in this resource group).')
param workspaceName string

@description('Principal (object) ID of the app\'s user-assigned managed identity.')
param appPrincipalId string

@description('GUID of the Synapse reader custom role.')
param synapseReaderRoleId string

resource workspace 'Microsoft.Synapse/workspaces@2021-06-01' existing = {
  name: workspaceName
}

resource workspaceReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, appPrincipalId, synapseReaderRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', synapseReaderRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: read the workspace identity and managed network settings.'
  }
}
