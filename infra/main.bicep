// Secure Synapse <-> Azure ML automation on Azure Functions (Flex Consumption).
//
// The parts list: the app's identity, storage, monitoring, private network, outcome topic and
// Function App in this resource group; scoped role assignments on every in-scope Azure ML
// workspace and allow-listed Synapse workspace; Event Grid system topics that route resource and
// Azure ML events to the app's functions (the function names are a contract with the code, see
// DESIGN.md section 2 and tests/test_infra.py).
//
// Deploy with `azd up`. Event Grid refuses a subscription whose destination function does not exist
// yet, so the subscriptions are deployed by a second provision after the code
// (deployEventSubscriptions; azure.yaml's postdeploy hook does it).

targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; seeds the unique names of all resources.')
param environmentName string

@description('Region of the app\'s resources.')
param location string = resourceGroup().location

@minLength(1)
@description('ARM IDs of the Azure ML workspaces in scope (ML_WORKSPACE_IDS). Nothing else is ever written.')
param mlWorkspaceIds array

@minLength(1)
@description('ARM IDs of the allow-listed Synapse workspaces (SYNAPSE_WORKSPACE_IDS).')
param synapseWorkspaceIds array

@allowed(['enforce', 'dry-run'])
@description('enforce: apply plans. dry-run: plan and record, write nothing to Azure. A new deployment starts in dry-run: read the ledger, then switch.')
param automationMode string = 'dry-run'

@allowed(['audit', 'remediate'])
@description('audit: record policy findings. remediate: also fix what can be fixed.')
param policyMode string = 'audit'

@description('Reject, rather than leave pending, private endpoint connections that fail verification.')
param rejectUnverified bool = false

@description('Synapse data-plane endpoint template; {workspace} is replaced by the workspace name.')
param synapseDevEndpoint string = 'https://{workspace}.dev.azuresynapse.net'

@description('NCRONTAB (6 fields) of the reconcile sweep, the backstop for lost or late events.')
param reconcileSchedule string = '0 */15 * * * *'

@description('NCRONTAB (6 fields) of the scheduled retrain check.')
param retrainSchedule string = '0 0 2 * * 0'

@description('VM sizes allowed for Azure ML computes (policy compute-vm-size).')
param allowedComputeVmSizes array = [
  'Standard_DS3_v2'
  'Standard_DS4_v2'
  'Standard_D4s_v3'
  'Standard_D8s_v3'
  'Standard_E4s_v3'
]

@minValue(1)
@description('Highest maxNodeCount allowed for an Azure ML cluster (policy compute-max-nodes).')
param maxClusterNodes int = 4

@description('Require hbiWorkspace on in-scope workspaces (policy workspace-hbi).')
param hbiRequired bool = false

@description('Registered pipeline component that retraining submits, e.g. azureml:retrain_pipeline:1.')
param retrainComponent string = ''

@minValue(0)
@description('No new retraining job within this many minutes of the last one.')
param retrainCooldownMinutes int = 360

@description('ARM ID of the Log Analytics workspace the drift gate queries. Empty: the app\'s own workspace.')
param driftLogAnalyticsWorkspaceResourceId string = ''

@description('KQL whose first value, compared with driftThreshold, decides whether the scheduled retrain runs.')
param driftQuery string = 'AmlRunStatusChangedEvent | where TimeGenerated > ago(7d) | where Status == "Failed" and ExperimentName has "monitor" | summarize breaches = count()'

@description('Threshold the drift query\'s value is compared with (a number).')
param driftThreshold string = '1'

@description('Batch endpoint that scores after a successful retrain.')
param batchEndpointName string = ''

@description('Batch endpoints that HTTP scoring requests may target.')
param scoringAllowedEndpoints array = []

@description('Table that holds the ledger.')
param ledgerTableName string = 'automationledger'

@description('Deploy the Event Grid subscriptions. Their destination functions must already be deployed.')
param deployEventSubscriptions bool = false

@minValue(1)
@maxValue(30)
@description('Event Grid delivery attempts before an event is dead-lettered.')
param eventMaxDeliveryAttempts int = 30

@minValue(1)
@maxValue(1440)
@description('Minutes Event Grid retries an event before it is dead-lettered.')
param eventTimeToLiveInMinutes int = 1440

@minValue(1)
@maxValue(1000)
@description('Flex Consumption scale-out limit.')
param maximumInstanceCount int = 40

var tags = {
  'azd-env-name': environmentName
}
var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var functionAppName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var deadLetterContainerName = 'event-deadletter'
var armEndpoint = endsWith(environment().resourceManager, '/') ? substring(environment().resourceManager, 0, length(environment().resourceManager) - 1) : environment().resourceManager
var driftWorkspaceId = empty(driftLogAnalyticsWorkspaceResourceId) ? resourceId('Microsoft.OperationalInsights/workspaces', 'log-${resourceToken}') : driftLogAnalyticsWorkspaceResourceId

// ARM resource events come from one system topic per subscription that holds in-scope workspaces.
// It lives in this resource group when the subscription is this one, otherwise in the resource
// group of the first in-scope workspace of that subscription.
var workspaceSubscriptionIds = [for id in mlWorkspaceIds: toLower(split(id, '/')[2])]
var eventSourceSubscriptionIds = union(workspaceSubscriptionIds, [])
var armTopics = [for subscriptionId in eventSourceSubscriptionIds: {
  subscriptionId: subscriptionId
  resourceGroupName: subscriptionId == toLower(subscription().subscriptionId) ? resourceGroup().name : split(mlWorkspaceIds[indexOf(workspaceSubscriptionIds, subscriptionId)], '/')[4]
}]

// ResourceWriteSuccess operations each function reconciles (DESIGN.md section 2). The handlers
// check the operation again: filters are a cost optimization, not a security boundary.
var armEventSubscriptions = [
  {
    name: 'private-endpoint-events'
    functionResourceId: '${functionApp.outputs.id}/functions/on_private_endpoint_event'
    includedEventTypes: [
      'Microsoft.Resources.ResourceWriteSuccess'
    ]
    advancedFilters: [
      {
        operatorType: 'StringIn'
        key: 'data.operationName'
        values: [
          'Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/write'
          'Microsoft.MachineLearningServices/workspaces/privateEndpointConnectionProxies/write'
          'Microsoft.Network/privateEndpoints/write'
        ]
      }
    ]
  }
  {
    name: 'workspace-events'
    functionResourceId: '${functionApp.outputs.id}/functions/on_workspace_event'
    includedEventTypes: [
      'Microsoft.Resources.ResourceWriteSuccess'
    ]
    advancedFilters: [
      {
        operatorType: 'StringIn'
        key: 'data.operationName'
        values: [
          'Microsoft.MachineLearningServices/workspaces/write'
          'Microsoft.MachineLearningServices/workspaces/computes/write'
        ]
      }
    ]
  }
]

// The Azure ML system topics and their subscription to `on_ml_event` (drift, retraining) come
// with that function: Event Grid refuses a subscription to a function the app does not have.

// Every setting the app reads (DESIGN.md section 4). No secrets: every connection is identity-based.
var appSettings = [
  {
    name: 'ML_WORKSPACE_IDS'
    value: join(mlWorkspaceIds, ',')
  }
  {
    name: 'SYNAPSE_WORKSPACE_IDS'
    value: join(synapseWorkspaceIds, ',')
  }
  {
    name: 'AUTOMATION_MODE'
    value: automationMode
  }
  {
    name: 'POLICY_MODE'
    value: policyMode
  }
  {
    name: 'REJECT_UNVERIFIED'
    value: rejectUnverified ? 'true' : 'false'
  }
  {
    name: 'ARM_ENDPOINT'
    value: armEndpoint
  }
  {
    name: 'SYNAPSE_DEV_ENDPOINT'
    value: synapseDevEndpoint
  }
  {
    // azure-identity's own setting: DefaultAzureCredential uses this user-assigned identity.
    name: 'AZURE_CLIENT_ID'
    value: identity.properties.clientId
  }
  {
    name: 'LEDGER_TABLE_ENDPOINT'
    value: storage.outputs.tableEndpoint
  }
  {
    name: 'LEDGER_TABLE_NAME'
    value: storage.outputs.ledgerTableName
  }
  {
    name: 'RECONCILE_SCHEDULE'
    value: reconcileSchedule
  }
  {
    name: 'RETRAIN_SCHEDULE'
    value: retrainSchedule
  }
  {
    name: 'ALLOWED_COMPUTE_VM_SIZES'
    value: join(allowedComputeVmSizes, ',')
  }
  {
    name: 'MAX_CLUSTER_NODES'
    value: string(maxClusterNodes)
  }
  {
    name: 'HBI_REQUIRED'
    value: hbiRequired ? 'true' : 'false'
  }
  {
    name: 'RETRAIN_COMPONENT'
    value: retrainComponent
  }
  {
    name: 'RETRAIN_COOLDOWN_MINUTES'
    value: string(retrainCooldownMinutes)
  }
  {
    name: 'DRIFT_LOG_ANALYTICS_WORKSPACE_ID'
    value: driftWorkspaceAccess.outputs.customerId
  }
  {
    name: 'DRIFT_QUERY'
    value: driftQuery
  }
  {
    name: 'DRIFT_THRESHOLD'
    value: driftThreshold
  }
  {
    name: 'BATCH_ENDPOINT_NAME'
    value: batchEndpointName
  }
  {
    name: 'SCORING_ALLOWED_ENDPOINTS'
    value: join(scoringAllowedEndpoints, ',')
  }
  {
    name: 'OUTCOME_TOPIC_ENDPOINT'
    value: outcomeTopic.outputs.endpoint
  }
]

// The app runs as this identity everywhere: host storage, telemetry, ARM, Synapse, Log Analytics.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${resourceToken}'
  location: location
  tags: tags
}

// Read each in-scope workspace for its region: its system topic must be in the same one.
resource mlWorkspaces 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = [for id in mlWorkspaceIds: {
  name: last(split(id, '/'))
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
}]

// Read each allow-listed Synapse workspace for its managed identity: the only principals the app
// may grant Contributor on the in-scope workspaces (app/ml-workspace-access.bicep).
resource synapseWorkspaces 'Microsoft.Synapse/workspaces@2021-06-01' existing = [for id in synapseWorkspaceIds: {
  name: last(split(id, '/'))
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
}]

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    ledgerTableName: ledgerTableName
  }
}

module outcomeTopic 'app/outcome-topic.bicep' = {
  name: 'outcome-topic'
  params: {
    name: 'evgt-${resourceToken}-outcomes'
    location: location
    tags: tags
  }
}

module network 'app/network.bicep' = {
  name: 'network'
  params: {
    name: 'vnet-${resourceToken}'
    location: location
    tags: tags
    storageAccountId: storage.outputs.id
    outcomeTopicId: outcomeTopic.outputs.id
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    subnetId: network.outputs.appSubnetId
    appSettings: appSettings
    maximumInstanceCount: maximumInstanceCount
  }
}

module driftWorkspaceAccess 'app/log-analytics-reader.bicep' = {
  name: 'drift-workspace-access-${resourceToken}'
  scope: resourceGroup(split(driftWorkspaceId, '/')[2], split(driftWorkspaceId, '/')[4])
  dependsOn: [
    monitoring
  ]
  params: {
    workspaceName: last(split(driftWorkspaceId, '/'))
    appPrincipalId: identity.properties.principalId
  }
}

module mlWorkspaceAccess 'app/ml-workspace-access.bicep' = [for (id, i) in mlWorkspaceIds: {
  name: 'ml-workspace-access-${resourceToken}-${i}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    workspaceName: last(split(id, '/'))
    appPrincipalId: identity.properties.principalId
    grantablePrincipalIds: [for j in range(0, length(synapseWorkspaceIds)): synapseWorkspaces[j].identity.principalId]
  }
}]

module synapseWorkspaceAccess 'app/synapse-workspace-access.bicep' = [for (id, i) in synapseWorkspaceIds: {
  name: 'synapse-workspace-access-${resourceToken}-${i}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    workspaceName: last(split(id, '/'))
    appPrincipalId: identity.properties.principalId
  }
}]

module armEventTopics 'app/eventgrid-topic.bicep' = [for (topic, i) in armTopics: {
  name: 'arm-events-${resourceToken}-${i}'
  scope: resourceGroup(topic.subscriptionId, topic.resourceGroupName)
  params: {
    name: 'evgst-${resourceToken}-arm'
    location: 'global'
    tags: tags
    source: '/subscriptions/${topic.subscriptionId}'
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}]

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  params: {
    storageAccountName: storage.outputs.name
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    outcomeTopicName: outcomeTopic.outputs.name
    appPrincipalId: identity.properties.principalId
    armTopicPrincipalIds: [for i in range(0, length(armTopics)): armEventTopics[i].outputs.principalId]
    mlTopicPrincipalIds: []
  }
}

module armEventSubscriptionsDeployment 'app/eventgrid-subscriptions.bicep' = [for (topic, i) in armTopics: if (deployEventSubscriptions) {
  name: 'arm-event-subscriptions-${resourceToken}-${i}'
  scope: resourceGroup(topic.subscriptionId, topic.resourceGroupName)
  dependsOn: [
    rbac
  ]
  params: {
    systemTopicName: armEventTopics[i].outputs.name
    subscriptions: armEventSubscriptions
    deadLetterStorageAccountId: storage.outputs.id
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    maxDeliveryAttempts: eventMaxDeliveryAttempts
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
  }
}]

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = 'https://${functionApp.outputs.defaultHostName}'
output APP_IDENTITY_CLIENT_ID string = identity.properties.clientId
output APP_IDENTITY_PRINCIPAL_ID string = identity.properties.principalId
output OUTCOME_TOPIC_ENDPOINT string = outcomeTopic.outputs.endpoint
output LEDGER_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output EVENT_SUBSCRIPTIONS_DEPLOYED bool = deployEventSubscriptions

// Synapse RBAC is data plane: ARM cannot grant it. A Synapse Administrator runs these once.
output SYNAPSE_ROLE_ASSIGNMENT_COMMANDS array = [for id in synapseWorkspaceIds: 'az synapse role assignment create --subscription ${split(id, '/')[2]} --workspace-name ${last(split(id, '/'))} --role "Synapse User" --assignee-object-id ${identity.properties.principalId} --assignee-principal-type ServicePrincipal']
