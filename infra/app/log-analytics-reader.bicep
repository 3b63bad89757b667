// Log Analytics Reader for the app on the one workspace its drift gate queries (DRIFT_QUERY through
// azure-monitor-query's LogsQueryClient.query_workspace in the scheduled_retrain path; see
// infra/permissions.json). Scoped to that workspace, not its resource group: the query API needs
// workspaces/read and analytics/query/action there, and this is the narrowest built-in role with
// both, deployed in that workspace's resource group. Outputs the workspace ID
// (customerId) that DRIFT_LOG_ANALYTICS_WORKSPACE_ID needs.

@description('Name of the Log Analytics workspace (in this resource group).')
param workspaceName string

@description('Principal (object) ID of the app\'s user-assigned managed identity.')
param appPrincipalId string

@description('Grant the role: only when the drift gate has a query to run (DRIFT_QUERY).')
param grant bool

var logAnalyticsReader = '73c42c96-874c-492b-b04d-ab87d138a893'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource queryAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grant) {
  name: guid(workspace.id, appPrincipalId, logAnalyticsReader)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReader)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output customerId string = workspace.properties.customerId
