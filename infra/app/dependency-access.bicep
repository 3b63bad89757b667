// Read access for the app identity in one resource group where workspace dependencies live
// (each in-scope workspace's own resource group, plus dependencyResourceGroupIds): the dependency
// reader custom role (storage account, key vault, container registry and private endpoint read).
// Code: shared/adapters/workspace_facts.py WorkspaceFactsAdapter.dependency and _groups_of (policy
// rule dependencies-private-endpoints), shared/adapters/network.py
// NetworkAdapter.private_link_targets.

@description('Principal (object) ID of the app\'s user-assigned managed identity.')
param appPrincipalId string

@description('GUID of the dependency reader custom role.')
param dependencyReaderRoleId string

resource dependencyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, appPrincipalId, dependencyReaderRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dependencyReaderRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: read workspace dependencies and their private endpoints.'
  }
}
