// What the app identity may do in one resource group (deployed into each resource group that
// holds an in-scope or scoring workspace, a Synapse workspace or workspace dependencies): the
// custom roles it needs here, defined here and assignable only here (resource-group
// assignableScopes: removing a workspace from scope never hits RoleScopeBeingRemovedContainsAssignments),
// and their assignments. Actions come from infra/permissions.json, where each is mapped to the
// code and the Azure call that needs it. No wildcard; no delete but the promoter's, of batch
// deployments only: tests/test_infra_security.py.
//
// - workspace policy, at every in-scope workspace: private endpoint connections (aml.py),
//   workspace and computes read and remediation writes (workspace_facts.py), role assignments
//   read (authorization.py). No job, no secret.
// - Contributor granter, at every in-scope workspace, with the ABAC condition below:
//   authorization.py AuthorizationAdapter.create, the identity wiring of DESIGN 3.2.
// - retrainer, only at RETRAIN_WORKSPACE_IDS: retraining_jobs.py.
// - promoter, only at RETRAIN_WORKSPACE_IDS when PROMOTION_METRIC is set: promotion.py (read
//   metrics, register a model version, create the new batch deployment, switch the endpoint's
//   default, delete the app's own deployments beyond PROMOTION_KEEP: its one delete action).
// - batch scorer, only at the workspaces of SCORING_ALLOWED_ENDPOINTS (and the retraining
//   workspaces when post-retrain scoring is on): batch_scoring.py, with Microsoft's list for
//   invoking a batch endpoint (its secret-reading actions included: the job runs as the caller).
// - dependency reader, at the resource group: workspace_facts.py, network.py.
// - Synapse reader, at each allow-listed Synapse workspace here: synapse.py get_workspace. Its
//   managed private endpoints list is Synapse RBAC (Synapse User), which ARM cannot grant:
//   main.bicep outputs the commands (SYNAPSE_ROLE_ASSIGNMENT_COMMANDS).

@description('Makes the role names unique in the tenant (role names are tenant-wide): <env>-<token>.')
param roleNameSuffix string

@description('Principal (object) ID of the app\'s user-assigned managed identity.')
param appPrincipalId string

@description('ARM IDs of the in-scope Azure ML workspaces (all of them: this module keeps its own).')
param mlWorkspaceIds array

@description('Resource group IDs (lower case) of ML_SCOPES: the workspace roles are assigned at the group, so a workspace created there later is covered.')
param scopeResourceGroupIds array

@description('ARM IDs of the workspaces where retraining runs.')
param retrainWorkspaceIds array

@description('ARM IDs of the retraining workspaces where a better model is promoted (PROMOTION_METRIC set; else empty).')
param promotionWorkspaceIds array = []

@description('ARM IDs of the workspaces where batch scoring runs.')
param scoringWorkspaceIds array

@description('ARM IDs of the allow-listed Synapse workspaces.')
param synapseWorkspaceIds array

@description('Resource group IDs (lower case) where the app reads workspace dependencies.')
param dependencyResourceGroupIds array

@description('Principal IDs of the allow-listed Synapse workspaces\' managed identities: the only principals the app may grant Contributor.')
param grantablePrincipalIds array

var permissions = loadJsonContent('../permissions.json')
var here = toLower(resourceGroup().id)
var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'

// The resource group of each workspace of a list: a workspace is acted on here when its group is
// this one (for-expressions rather than filter(): checkov's Bicep parser has no lambdas).
var policyGroups = [for id in mlWorkspaceIds: toLower('/subscriptions/${split(id, '/')[2]}/resourceGroups/${split(id, '/')[4]}')]
var retrainGroups = [for id in retrainWorkspaceIds: toLower('/subscriptions/${split(id, '/')[2]}/resourceGroups/${split(id, '/')[4]}')]
var promotionGroups = [for id in promotionWorkspaceIds: toLower('/subscriptions/${split(id, '/')[2]}/resourceGroups/${split(id, '/')[4]}')]
var scoringGroups = [for id in scoringWorkspaceIds: toLower('/subscriptions/${split(id, '/')[2]}/resourceGroups/${split(id, '/')[4]}')]
var synapseGroups = [for id in synapseWorkspaceIds: toLower('/subscriptions/${split(id, '/')[2]}/resourceGroups/${split(id, '/')[4]}')]
var readsDependencies = contains(dependencyResourceGroupIds, here)
var wholeGroupInScope = contains(scopeResourceGroupIds, here)
var actsOnWorkspaces = contains(policyGroups, here) || wholeGroupInScope

// Azure's delegation-condition example "Constrain roles and principals", with the principal type
// pinned too: a write is allowed only when all three hold. The role has no other action.
var grantable = join(grantablePrincipalIds, ', ')
var contributorForSynapseIdentitiesOnly = '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${contributor}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${grantable}}))'

var roleNameTail = '(${roleNameSuffix}, ${uniqueString(resourceGroup().id)})'

resource workspacePolicy 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (actsOnWorkspaces) {
  name: guid(resourceGroup().id, roleNameSuffix, 'workspacePolicy')
  properties: {
    roleName: '${permissions.customRoles.workspacePolicy.roleName} ${roleNameTail}'
    description: permissions.customRoles.workspacePolicy.description
    type: 'CustomRole'
    permissions: [
      {
        actions: permissions.customRoles.workspacePolicy.actions
        notActions: []
        dataActions: permissions.customRoles.workspacePolicy.dataActions
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource contributorGranter 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (actsOnWorkspaces) {
  name: guid(resourceGroup().id, roleNameSuffix, 'contributorGranter')
  properties: {
    roleName: '${permissions.customRoles.contributorGranter.roleName} ${roleNameTail}'
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
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource retrainer 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (contains(retrainGroups, here)) {
  name: guid(resourceGroup().id, roleNameSuffix, 'retrainer')
  properties: {
    roleName: '${permissions.customRoles.retrainer.roleName} ${roleNameTail}'
    description: permissions.customRoles.retrainer.description
    type: 'CustomRole'
    permissions: [
      {
        actions: permissions.customRoles.retrainer.actions
        notActions: []
        dataActions: permissions.customRoles.retrainer.dataActions
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource promoter 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (contains(promotionGroups, here)) {
  name: guid(resourceGroup().id, roleNameSuffix, 'promoter')
  properties: {
    roleName: '${permissions.customRoles.promoter.roleName} ${roleNameTail}'
    description: permissions.customRoles.promoter.description
    type: 'CustomRole'
    permissions: [
      {
        actions: permissions.customRoles.promoter.actions
        notActions: []
        dataActions: permissions.customRoles.promoter.dataActions
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource batchScorer 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (contains(scoringGroups, here)) {
  name: guid(resourceGroup().id, roleNameSuffix, 'batchScorer')
  properties: {
    roleName: '${permissions.customRoles.batchScorer.roleName} ${roleNameTail}'
    description: permissions.customRoles.batchScorer.description
    type: 'CustomRole'
    permissions: [
      {
        actions: permissions.customRoles.batchScorer.actions
        notActions: []
        dataActions: permissions.customRoles.batchScorer.dataActions
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource dependencyReader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (readsDependencies) {
  name: guid(resourceGroup().id, roleNameSuffix, 'dependencyReader')
  properties: {
    roleName: '${permissions.customRoles.dependencyReader.roleName} ${roleNameTail}'
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
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource synapseReader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (contains(synapseGroups, here)) {
  name: guid(resourceGroup().id, roleNameSuffix, 'synapseReader')
  properties: {
    roleName: '${permissions.customRoles.synapseReader.roleName} ${roleNameTail}'
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
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource policyTargets 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = [for id in mlWorkspaceIds: {
  name: last(split(id, '/'))
}]

resource retrainTargets 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = [for id in retrainWorkspaceIds: {
  name: last(split(id, '/'))
}]

resource promotionTargets 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = [for id in promotionWorkspaceIds: {
  name: last(split(id, '/'))
}]

resource scoringTargets 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = [for id in scoringWorkspaceIds: {
  name: last(split(id, '/'))
}]

resource synapseTargets 'Microsoft.Synapse/workspaces@2021-06-01' existing = [for id in synapseWorkspaceIds: {
  name: last(split(id, '/'))
}]

// An assignment names its role through the subscription (subscriptionResourceId), wherever the
// role's assignable scope is; the name makes the assignment wait for the definition.
resource workspacePolicyAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (id, i) in mlWorkspaceIds: if (policyGroups[i] == here) {
  name: guid(policyTargets[i].id, appPrincipalId, workspacePolicy.name)
  scope: policyTargets[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', workspacePolicy.name)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: approve private endpoint connections, remediate policy findings (infra/permissions.json).'
  }
}]

resource contributorGranterAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (id, i) in mlWorkspaceIds: if (policyGroups[i] == here) {
  name: guid(policyTargets[i].id, appPrincipalId, contributorGranter.name)
  scope: policyTargets[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributorGranter.name)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: grant the allow-listed Synapse workspace identities Contributor on this workspace, and nothing else.'
    conditionVersion: '2.0'
    condition: contributorForSynapseIdentitiesOnly
  }
}]

// A resource group of ML_SCOPES: the same two roles at the group (the condition holds there too),
// instead of one assignment per workspace.
resource workspacePolicyGroupAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (wholeGroupInScope) {
  name: guid(resourceGroup().id, appPrincipalId, workspacePolicy.name)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', workspacePolicy.name)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: approve private endpoint connections, remediate policy findings of the workspaces of this resource group (ML_SCOPES).'
  }
}

resource contributorGranterGroupAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (wholeGroupInScope) {
  name: guid(resourceGroup().id, appPrincipalId, contributorGranter.name)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributorGranter.name)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: grant the allow-listed Synapse workspace identities Contributor, and no other role, on the workspaces of this resource group (the condition cannot limit the scope: the app grants only at a workspace).'
    conditionVersion: '2.0'
    condition: contributorForSynapseIdentitiesOnly
  }
}

resource retrainerAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (id, i) in retrainWorkspaceIds: if (retrainGroups[i] == here) {
  name: guid(retrainTargets[i].id, appPrincipalId, retrainer.name)
  scope: retrainTargets[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', retrainer.name)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: submit and read retraining pipeline jobs (infra/permissions.json).'
  }
}]

resource promoterAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (id, i) in promotionWorkspaceIds: if (promotionGroups[i] == here) {
  name: guid(promotionTargets[i].id, appPrincipalId, promoter.name)
  scope: promotionTargets[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', promoter.name)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: promote a better retrained model behind the batch endpoint (infra/permissions.json).'
  }
}]

resource batchScorerAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (id, i) in scoringWorkspaceIds: if (scoringGroups[i] == here) {
  name: guid(scoringTargets[i].id, appPrincipalId, batchScorer.name)
  scope: scoringTargets[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', batchScorer.name)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: start and read batch scoring jobs (infra/permissions.json).'
  }
}]

resource dependencyReaderAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (readsDependencies) {
  name: guid(resourceGroup().id, appPrincipalId, dependencyReader.name)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dependencyReader.name)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: read workspace dependencies and their private endpoints.'
  }
}

resource synapseReaderAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (id, i) in synapseWorkspaceIds: if (synapseGroups[i] == here) {
  name: guid(synapseTargets[i].id, appPrincipalId, synapseReader.name)
  scope: synapseTargets[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', synapseReader.name)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Synapse-AML automation: read the workspace identity and managed network settings.'
  }
}]
