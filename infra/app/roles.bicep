// The app identity's custom roles, defined once (subscription scope) with exactly the actions of
// infra/permissions.json, where each action is mapped to the code that calls it. No wildcard, no
// delete: tests/test_infra.py checks both. Each role is assignable only where it is assigned.

targetScope = 'subscription'

@description('Makes the role names unique in the tenant (role names are tenant-wide).')
param roleNameSuffix string

@description('ARM IDs of the in-scope Azure ML workspaces.')
param workspaceScopes array

@description('Resource groups where workspace dependencies and private endpoints live.')
param dependencyScopes array

@description('ARM IDs of the allow-listed Synapse workspaces.')
param synapseScopes array

var permissions = loadJsonContent('../permissions.json')

// shared/adapters/aml.py, workspace_facts.py, authorization.py (read), batch_scoring.py and the
// retraining path: see permissions.json "needs".
resource workspaceOperator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleNameSuffix, 'workspaceOperator')
  properties: {
    roleName: '${permissions.customRoles.workspaceOperator.roleName} (${roleNameSuffix})'
    description: permissions.customRoles.workspaceOperator.description
    type: 'CustomRole'
    permissions: [
      {
        actions: permissions.customRoles.workspaceOperator.actions
        notActions: []
        dataActions: permissions.customRoles.workspaceOperator.dataActions
        notDataActions: []
      }
    ]
    assignableScopes: workspaceScopes
  }
}

// shared/adapters/authorization.py AuthorizationAdapter.create, constrained by the assignment's
// ABAC condition (app/ml-workspace-access.bicep).
resource contributorGranter 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleNameSuffix, 'contributorGranter')
  properties: {
    roleName: '${permissions.customRoles.contributorGranter.roleName} (${roleNameSuffix})'
    description: permissions.customRoles.contributorGranter.description
    type: 'CustomRole'
    permissions: [
      {
        actions: permissions.customRoles.contributorGranter.actions
        notActions: []
        dataActions: permissions.customRoles.contributorGranter.dataActions
        notDataActions: []
      }
    ]
    assignableScopes: workspaceScopes
  }
}

// shared/adapters/workspace_facts.py WorkspaceFactsAdapter.dependency and _groups_of;
// shared/adapters/network.py NetworkAdapter.private_link_targets.
resource dependencyReader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleNameSuffix, 'dependencyReader')
  properties: {
    roleName: '${permissions.customRoles.dependencyReader.roleName} (${roleNameSuffix})'
    description: permissions.customRoles.dependencyReader.description
    type: 'CustomRole'
    permissions: [
      {
        actions: permissions.customRoles.dependencyReader.actions
        notActions: []
        dataActions: permissions.customRoles.dependencyReader.dataActions
        notDataActions: []
      }
    ]
    assignableScopes: dependencyScopes
  }
}

// shared/adapters/synapse.py SynapseAdapter.get_workspace.
resource synapseReader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleNameSuffix, 'synapseReader')
  properties: {
    roleName: '${permissions.customRoles.synapseReader.roleName} (${roleNameSuffix})'
    description: permissions.customRoles.synapseReader.description
    type: 'CustomRole'
    permissions: [
      {
        actions: permissions.customRoles.synapseReader.actions
        notActions: []
        dataActions: permissions.customRoles.synapseReader.dataActions
        notDataActions: []
      }
    ]
    assignableScopes: synapseScopes
  }
}

// The role GUIDs: an assignment references the role through its own subscription
// (subscriptionResourceId), wherever the workspace is.
output workspaceOperatorRoleId string = workspaceOperator.name
output contributorGranterRoleId string = contributorGranter.name
output dependencyReaderRoleId string = dependencyReader.name
output synapseReaderRoleId string = synapseReader.name
