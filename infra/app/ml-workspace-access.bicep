// What the app identity may do on one in-scope Azure ML workspace (deployed in that workspace's
// resource group). Two custom roles (app/roles.bicep, actions from infra/permissions.json, where
// each is mapped to the code that calls it):
// - workspace operator: shared/adapters/aml.py (private endpoint connections read/write),
//   shared/adapters/workspace_facts.py (workspace and computes read; remediations write),
//   shared/adapters/authorization.py AuthorizationAdapter.list_at_scope (role assignments read),
//   shared/adapters/batch_scoring.py and the retraining path (components, jobs, batch endpoints,
//   the batch invocation's own list). No delete of anything.
// - Contributor granter: shared/adapters/authorization.py AuthorizationAdapter.create, the
//   identity wiring of DESIGN 3.2. The role holds roleAssignments/write only (no delete, so no
//   assignment can ever be removed by the app), and this assignment's ABAC condition lets it
//   create Contributor assignments only, only for the managed identities of the allow-listed
//   Synapse workspaces (principal type ServicePrincipal). Nothing else: no other role, no user or
//   group, no other identity.

@description('Name of the Azure ML workspace (in this resource group).')
param workspaceName string

@description('Principal (object) ID of the app\'s user-assigned managed identity.')
param appPrincipalId string

@description('GUID of the workspace operator custom role.')
param workspaceOperatorRoleId string

@description('GUID of the Contributor granter custom role.')
param contributorGranterRoleId string

@minLength(1)
@description('Principal IDs of the allow-listed Synapse workspaces\' managed identities: the only principals the app may grant Contributor.')
param grantablePrincipalIds array

var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'

// Azure's delegation-condition example "Constrain roles and principals", with the principal type
// pinned too: a write is allowed only when all three hold. The role has no other action.
var grantable = join(grantablePrincipalIds, ', ')
var contributorForSynapseIdentitiesOnly = '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${contributor}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${grantable}}))'

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

resource workspaceOperator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, appPrincipalId, workspaceOperatorRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', workspaceOperatorRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: approve private endpoint connections, remediate policy findings, run retraining and scoring jobs (infra/permissions.json).'
  }
}

resource contributorGranter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, appPrincipalId, contributorGranterRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributorGranterRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: grant the allow-listed Synapse workspace identities Contributor on this workspace, and nothing else.'
    conditionVersion: '2.0'
    condition: contributorForSynapseIdentitiesOnly
  }
}
