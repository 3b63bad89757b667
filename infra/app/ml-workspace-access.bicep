// What the app identity may do on one in-scope Azure ML workspace (deployed in that workspace's
// resource group):
// - Contributor on the workspace: approve or reject private endpoint connections, remediate
//   policy findings, submit retraining and batch scoring jobs.
// - Role Based Access Control Administrator on the workspace, constrained by an ABAC condition:
//   it may create Contributor assignments only, and only for the managed identities of the
//   allow-listed Synapse workspaces (principal type ServicePrincipal); it may delete Contributor
//   assignments of service principals only (to withdraw a grant from a workspace taken off the
//   allow-list). That is exactly the identity wiring of DESIGN 3.2 and nothing more: no Owner, no
//   User Access Administrator, no user or group, no other identity.
// - Reader on the workspace's resource group: the policy rule dependencies-private-endpoints reads
//   the workspace's storage account, key vault and container registry and their private endpoint
//   connections. (Dependencies in other resource groups need Reader granted there.)

@description('Name of the Azure ML workspace (in this resource group).')
param workspaceName string

@description('Principal (object) ID of the app\'s user-assigned managed identity.')
param appPrincipalId string

@minLength(1)
@description('Principal IDs of the allow-listed Synapse workspaces\' managed identities: the only principals the app may grant Contributor.')
param grantablePrincipalIds array

var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'
var roleBasedAccessControlAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'
var reader = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'

// Azure's delegation-condition examples "Constrain roles and principal types" and "Constrain roles
// and principals", combined: create only Contributor, only for the given service principals;
// delete only Contributor assignments of service principals.
var grantable = join(grantablePrincipalIds, ', ')
var contributorForSynapseIdentitiesOnly = '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${contributor}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${grantable}})) AND ((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${contributor}} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'}))'

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

resource workspaceContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, appPrincipalId, contributor)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: approve private endpoint connections, remediate policy findings, run retraining and scoring jobs.'
  }
}

resource contributorGranter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, appPrincipalId, roleBasedAccessControlAdministrator)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleBasedAccessControlAdministrator)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: grant the allow-listed Synapse workspace identities Contributor on this workspace, and nothing else.'
    conditionVersion: '2.0'
    condition: contributorForSynapseIdentitiesOnly
  }
}

resource dependencyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, appPrincipalId, reader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', reader)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: read the workspace dependencies and their private endpoint connections.'
  }
}
