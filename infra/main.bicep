// Secure Synapse <-> Azure ML automation on Azure Functions (Flex Consumption).
//
// The parts list: the app's identity, storage, monitoring, private network, outcome topic and
// Function App in this resource group; least-privilege role assignments (custom roles whose
// actions come from infra/permissions.json, each mapped there to the code that needs it) on every
// in-scope Azure ML workspace and allow-listed Synapse workspace; Event Grid system topics that
// route resource and Azure ML events to the app's functions (the function names are a contract
// with the code, see DESIGN.md section 2 and tests/test_infra.py); two Logic App samples.
//
// Deploy with `azd up`: azure.yaml's workflow provisions, deploys the code, and provisions again.
// Event Grid refuses a subscription whose destination function does not exist yet, so the
// subscriptions come with the second provision (deployEventSubscriptions, set from this template's
// own output DEPLOY_EVENT_SUBSCRIPTIONS after the first one: no hook, no nested azd command).

targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; seeds the unique names of all resources.')
param environmentName string

// The regions that offer Flex Consumption (the list of Microsoft's azd Functions templates,
// functions-quickstart-python-http-azd): azd offers only these, and a deployment elsewhere fails.
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'eastus2euap'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
@description('Region of the app\'s resources (the Flex Consumption plan\'s region).')
param location string = resourceGroup().location

// No @minLength: empty is valid when mlScopes names the scope (the app checks that one is set).
@description('ARM IDs of Azure ML workspaces in scope one by one (ML_WORKSPACE_IDS), added to mlScopes. Nothing outside the scope is ever written.')
param mlWorkspaceIds array = []

@description('ARM scopes whose Azure ML workspaces are in scope (ML_SCOPES): management groups, subscriptions, resource groups, workspaces. A workspace created under one is handled with no change here.')
param mlScopes array = []

@description('ARM scopes carved out of the scope (ML_SCOPE_EXCLUDE).')
param mlScopeExclude array = []

@description('Only workspaces carrying this tag, name=value (ML_SCOPE_TAG), as ARM reports it. Empty: no tag rule.')
param mlScopeTag string = ''

@description('Subscriptions under the management groups of mlScopes that get an Event Grid system topic (the deployment cannot list a management group: README, Scope).')
param managementGroupSubscriptionIds array = []

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

@description('Synapse data-plane endpoint template; {workspace} is replaced by the workspace name. Empty: the app takes the deployment cloud\'s (from ARM_ENDPOINT).')
param synapseDevEndpoint string = ''

@description('Token audience of the Synapse data plane. Empty: derived from synapseDevEndpoint\'s cloud.')
param synapseDevAudience string = ''

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

@minValue(1)
@description('At most this many policy remediations per event, sweep or CLI run.')
param maxRemediationsPerRun int = 10

@minValue(1)
@maxValue(1000)
@description('At most this many policy remediations per workspace in any hour, whatever the runs.')
param maxRemediationsPerHour int = 10

@minValue(1)
@description('ARM reads the app may make at once, per instance (ARM allows 250 per principal).')
param armReadsBurst int = 200

@minValue(1)
@description('ARM reads per second the app refills its budget with, per instance (ARM: 25).')
param armReadsPerSecond int = 20

@minValue(1)
@description('Over this many workspaces, the sweep fans out by subscription through a queue.')
param sweepFanOutWorkspaces int = 2000

// An array (object below), not a JSON string: azd parses an array or object parameter's value as
// JSON, but pastes a string parameter's value into JSON text unescaped (its quotes break it).
@description('Policy exemptions: [{ "rule", "scope", "reason", "expires" }].')
param policyExemptions array = []

@description('Deploy the rules as Azure Policy at this subscription: the custom definitions and initiative in infra/policy/ (generated by `python -m tools.cli export-policy`). Needs Resource Policy Contributor there.')
param deployPolicyInitiative bool = false

@description('Also assign that initiative at this subscription; its exemptions then count (POLICY_ASSIGNMENT_IDS). Needs deployPolicyInitiative.')
param assignPolicyInitiative bool = false

@description('The assignment\'s effect per rule, by initiative parameter, e.g. {"computeLocalAuthEffect": "Deny"}; a rule not named is Audit (workspace-hbi Disabled unless hbiRequired; compute-vm-size always Disabled without allowedComputeVmSizes).')
param policyEffects object = {}

@description('IDs of other assignments of the initiative (a platform team\'s, at a management group) whose policy exemptions count like policyExemptions.')
param policyAssignmentIds array = []

@description('ARM IDs of the workspaces where retraining and post-retrain scoring run (a subset of mlWorkspaceIds). Empty: retraining is off.')
param retrainWorkspaceIds array = []

@description('Registered pipeline component that retraining submits: name@label or name:version.')
param retrainComponent string = ''

@description('Inputs of the retraining pipeline job.')
param retrainInputs object = {}

@description('Compute (cluster name) the retraining job runs on.')
param retrainCompute string = ''

@description('Experiment the retraining jobs are filed under.')
param retrainExperiment string = 'retraining'

@minValue(0)
@maxValue(525600)
@description('No new retraining job within this many minutes of the last one.')
param retrainCooldownMinutes int = 360

@minValue(1)
@maxValue(8760)
@description('A retraining job of the app that has not ended this many hours after its claim holds retraining back no more.')
param retrainJobTimeoutHours int = 24

@description('ARM ID of the Log Analytics workspace the drift gate queries. Empty: the app\'s own workspace.')
param driftLogAnalyticsWorkspaceResourceId string = ''

// Off by default: nothing sends the ML workspaces' run events to a Log Analytics workspace unless
// you add diagnostic settings, and the AmlRunStatusChangedEvent table has no experiment column to
// tell a model monitor's runs apart. Set DRIFT_QUERY to a query over what your workspace holds.
@description('KQL whose first value, compared with driftThreshold, decides whether the scheduled retrain runs. Empty: the gate is off, retrain on schedule.')
param driftQuery string = ''

@description('Threshold the drift query\'s value is compared with (a number).')
param driftThreshold string = '1'

// Empty, not a cloud's URL: environment() has none for these data planes, and a cloud's host in
// the template is a linter warning (no-hardcoded-env-urls).
@description('Log Analytics query endpoint. Empty: the app takes the deployment cloud\'s (from ARM_ENDPOINT).')
param logsQueryEndpoint string = ''

@description('Batch endpoint (name, in the retraining workspace) that scores after a successful retrain.')
param batchEndpointName string = ''

@description('Deployment of that batch endpoint. Empty: the endpoint\'s default deployment.')
param batchDeploymentName string = ''

@description('Input of the post-retrain scoring job, e.g. azureml://datastores/<datastore>/paths/<path>.')
param scoringInput string = ''

@description('Metric a retrained model must improve to replace the batch endpoint\'s default deployment (e.g. accuracy). Empty: no promotion, scoring stays on the current deployment.')
param promotionMetric string = ''

@description('Which way the promotion metric is better: higher or lower. Empty: higher.')
param promotionDirection string = ''

@description('The least improvement that promotes a model (a number >= 0). Empty: 0.')
param promotionMinDelta string = ''

@description('Name the better model is registered under (required with promotionMetric).')
param promotionModelName string = ''

@description('Batch deployments kept after a promotion (the default and the previous one at least). Empty: 2.')
param promotionKeep string = ''

@description('Score after a retrain whose model was not promoted (on the current deployment): true or false. Empty: true.')
param scoreWhenNotPromoted string = ''

@description('The only host suffix a batch endpoint scoring URI read from ARM may have. Empty: the app takes the deployment cloud\'s (from ARM_ENDPOINT).')
param amlInferenceDomain string = ''

@description('Token audience of Azure ML\'s data plane. Empty: derived from the cloud of ARM and amlInferenceDomain; required for a host of no known cloud.')
param amlAudience string = ''

@description('ARM IDs of the batch endpoints that HTTP scoring requests may target.')
param scoringAllowedEndpoints array = []

@description('Entra object IDs allowed to call the HTTP scoring API, besides the scoring Logic App sample\'s identity.')
param scoringAllowedCallers array = []

@description('Prefixes of the data scoring and retraining jobs may read (azureml://datastores/<name>/, https://<account>.blob.<storage suffix>/<container>/). Empty: datastores of the job\'s own workspace only.')
param scoringAllowedInputs array = []

@description('Custom domain of the HTTP API, for Location and statusUrl. Empty: the app\'s default host name (WEBSITE_HOSTNAME).')
param apiHostname string = ''

@description('Application (client) ID of the Entra app registration that App Service authentication validates tokens for. Empty: every HTTP request is refused (401).')
param apiClientId string = ''

@description('Client IDs of the other applications (besides the scoring Logic App\'s identity) whose tokens App Service authentication accepts.')
param apiAllowedClientApplications array = []

@description('Table that holds the ledger.')
param ledgerTableName string = 'automationledger'

@description('Resource groups (ARM IDs) where workspace dependencies (storage, key vault, registry, their private endpoints) live, besides each workspace\'s own resource group.')
param dependencyResourceGroupIds array = []

@description('IDs of existing Event Grid system topics for whole subscriptions (topic type Microsoft.Resources.Subscriptions). Azure allows one system topic per source: for a subscription listed here only the event subscriptions are deployed, onto this topic. It needs a system-assigned identity (dead-lettering).')
param existingSubscriptionTopicIds array = []

@description('Existing Event Grid system topics of Azure ML workspaces, as [{ "workspaceId": "...", "topicId": "..." }]. Only the event subscriptions are deployed onto them.')
param existingWorkspaceTopics array = []

@description('Resource group, in each subscription that holds in-scope workspaces, for the subscription-wide system topics this template creates. Empty: the name of this deployment\'s resource group. Stable on purpose: reordering mlWorkspaceIds never moves a topic.')
param eventTopicsResourceGroupName string = ''

@description('Deploy the Event Grid subscriptions. Their destination functions must already be deployed (azd up\'s workflow provisions again after deploying).')
param deployEventSubscriptions bool = false

@minValue(1)
@maxValue(30)
@description('Event Grid delivery attempts before an event is dead-lettered.')
param eventMaxDeliveryAttempts int = 30

@minValue(1)
@maxValue(1440)
@description('Minutes Event Grid retries an event before it is dead-lettered.')
param eventTimeToLiveInMinutes int = 1440

@description('Deploy the on-call workbook and alert rules (failed actions, deferred remediations, workspaces not reconciled, no sweep ended, dead-lettered and dropped events and notifications) over the app\'s Application Insights, its system topics and its outcome topic.')
param deployMonitoring bool = true

@description('Email address the on-call alerts are sent to (an action group). Empty: the alerts fire in Azure Monitor only.')
param alertEmailAddress string = ''

// The windowSize values a log search alert takes (Azure Monitor's "Resource Manager template
// samples for log search alert rules"; the API types it as any ISO 8601 duration), from PT30M:
// the window must exceed RECONCILE_SCHEDULE's period (15 minutes by default), or the alert fires
// between two sweeps. Bicep cannot read the NCRONTAB: a longer schedule needs a longer window.
@allowed([
  'PT30M'
  'PT45M'
  'PT1H'
  'PT2H'
  'PT3H'
  'PT4H'
  'PT5H'
  'PT6H'
  'P1D'
  'P2D'
])
@description('The on-call alert "no sweep ended" fires when no sweep ended in this window (ISO 8601): longer than reconcileSchedule\'s period. Default: four 15-minute sweeps missed.')
param sweepSilenceWindow string = 'PT1H'

@secure()
@description('Teams or Slack incoming webhook URL for the notifications Logic App sample. Empty: the sample is not deployed.')
param notificationWebhookUrl string = ''

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
var topicsResourceGroupName = empty(eventTopicsResourceGroupName) ? resourceGroup().name : eventTopicsResourceGroupName

// ARM resource events come from one system topic per subscription that holds in-scope workspaces:
// an existing one (existingSubscriptionTopicIds) or one this template creates in the resource group
// topicsResourceGroupName of that subscription. Never "wherever the first workspace is".
// Every scope (ML_SCOPES and ML_WORKSPACE_IDS), and those that name a subscription (all but
// management groups, whose subscriptions are listed in managementGroupSubscriptionIds).
var allScopes = union(mlScopes, mlWorkspaceIds)
var subscriptionScopes = [for scope in allScopes: startsWith(toLower(scope), '/subscriptions/') ? toLower(split(scope, '/')[2]) : '']
var groupSubscriptionIds = [for id in managementGroupSubscriptionIds: toLower(id)]
// union keeps the order of first appearance: the blank of a management group, put first, is
// dropped by skip (checkov's Bicep parser has no lambdas for filter()).
var eventSourceSubscriptionIds = skip(union([''], subscriptionScopes, groupSubscriptionIds), 1)
var existingTopicSubscriptionIds = [for id in existingSubscriptionTopicIds: toLower(split(id, '/')[2])]
// One blank entry at the end, so that a lookup that finds nothing indexes a real element.
var existingSubscriptionTopicIdsOrBlank = concat(existingSubscriptionTopicIds, [''])
var armTopics = [for subscriptionId in eventSourceSubscriptionIds: {
  subscriptionId: subscriptionId
  create: !contains(existingTopicSubscriptionIds, subscriptionId)
  existingId: existingSubscriptionTopicIdsOrBlank[contains(existingTopicSubscriptionIds, subscriptionId) ? indexOf(existingTopicSubscriptionIds, subscriptionId) : length(existingSubscriptionTopicIds)]
}]

// Azure ML events (drift, job completion) come from each workspace's own system topic: an existing
// one (existingWorkspaceTopics) or one created in the workspace's own resource group.
var existingTopicWorkspaceIds = [for topic in existingWorkspaceTopics: toLower(topic.workspaceId)]
var existingWorkspaceTopicIdList = [for topic in existingWorkspaceTopics: topic.topicId]
var existingWorkspaceTopicIdsOrBlank = concat(existingWorkspaceTopicIdList, [''])
var mlTopics = [for id in mlWorkspaceIds: {
  workspaceId: id
  create: !contains(existingTopicWorkspaceIds, toLower(id))
  existingId: existingWorkspaceTopicIdsOrBlank[contains(existingTopicWorkspaceIds, toLower(id)) ? indexOf(existingTopicWorkspaceIds, toLower(id)) : length(existingWorkspaceTopics)]
  // Where the topic lives: the workspace's resource group, or the adopted topic's.
  homeId: contains(existingTopicWorkspaceIds, toLower(id)) ? existingWorkspaceTopicIdsOrBlank[indexOf(existingTopicWorkspaceIds, toLower(id))] : id
}]

// ResourceWriteSuccess operations each function reconciles (DESIGN.md section 2). The handlers
// check the operation again: filters are a cost optimization, not a security boundary.
//
// on_private_endpoint_event gets the AML workspace's side only. A Synapse managed private endpoint
// is a Microsoft.Network/privateEndpoints resource in the Synapse-managed virtual network, which
// lives in a Microsoft-managed subscription: its write is never an event of the customer's
// subscription. What the customer's subscription does emit when the endpoint connects is the
// write of the connection (privateEndpointConnectionProxies/write by the network resource
// provider, then privateEndpointConnections/write) on the workspace itself (Microsoft Learn: "Azure
// subscription as an Event Grid source": events for PUT/PATCH/POST/DELETE on resources in the
// subscription). Subscribing to Microsoft.Network/privateEndpoints/write as well would deliver
// every private endpoint of the subscription, mostly ones the app may not read: a 403 by design.
// The subject filter keeps events of in-scope workspaces only (Event Grid allows 25 filter values
// per subscription; beyond that the handler's own scope check does it, without an Azure call).
var privateEndpointOperations = [
  'Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/write'
  'Microsoft.MachineLearningServices/workspaces/privateEndpointConnectionProxies/write'
]
var workspaceOperations = [
  'Microsoft.MachineLearningServices/workspaces/write'
  'Microsoft.MachineLearningServices/workspaces/computes/write'
]
// One subject prefix per scope: a workspace, or everything below a resource group (with its
// trailing '/': rg-ml never takes rg-ml2's events). A subscription or management group scope
// takes every subject of its subscriptions: no filter then.
var wholeSubscriptionScopes = [for scope in allScopes: !contains(toLower(scope), '/resourcegroups/')]
var scopeSubjectPrefixes = [for scope in allScopes: contains(toLower(scope), '/providers/microsoft.machinelearningservices/') ? scope : '${scope}/']
var inScopeSubjectFilter = !contains(wholeSubscriptionScopes, true) && length(scopeSubjectPrefixes) <= 23 ? [
  {
    operatorType: 'StringBeginsWith'
    key: 'subject'
    values: scopeSubjectPrefixes
  }
] : []
var armEventSubscriptions = [
  {
    name: 'private-endpoint-events'
    functionResourceId: '${functionApp.outputs.id}/functions/on_private_endpoint_event'
    includedEventTypes: [
      'Microsoft.Resources.ResourceWriteSuccess'
    ]
    advancedFilters: concat([
      {
        operatorType: 'StringIn'
        key: 'data.operationName'
        values: privateEndpointOperations
      }
    ], inScopeSubjectFilter)
  }
  {
    name: 'workspace-events'
    functionResourceId: '${functionApp.outputs.id}/functions/on_workspace_event'
    includedEventTypes: [
      'Microsoft.Resources.ResourceWriteSuccess'
    ]
    advancedFilters: concat([
      {
        operatorType: 'StringIn'
        key: 'data.operationName'
        values: workspaceOperations
      }
    ], inScopeSubjectFilter)
  }
]

// on_ml_event (DESIGN.md sections 2 and 3.4) on each workspace's system topic. Run status changes
// only when the run ended (the model monitor's breach tag is set by an evaluate run that ends
// Completed or Failed; a retraining job is acted on when terminal); completions and v1 drift
// events as they come. The handler reads the job itself and never trusts the event's status.
var mlEventSubscriptions = [
  {
    name: 'ml-run-status-events'
    functionResourceId: '${functionApp.outputs.id}/functions/on_ml_event'
    includedEventTypes: [
      'Microsoft.MachineLearningServices.RunStatusChanged'
    ]
    advancedFilters: [
      {
        operatorType: 'StringIn'
        key: 'data.runStatus'
        values: [
          'Completed'
          'Failed'
          'Canceled'
        ]
      }
    ]
  }
  {
    name: 'ml-completion-and-drift-events'
    functionResourceId: '${functionApp.outputs.id}/functions/on_ml_event'
    includedEventTypes: [
      'Microsoft.MachineLearningServices.RunCompleted'
      'Microsoft.MachineLearningServices.DatasetDriftDetected'
    ]
    advancedFilters: []
  }
]

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
    name: 'ML_SCOPES'
    value: string(mlScopes)
  }
  {
    name: 'ML_SCOPE_EXCLUDE'
    value: string(mlScopeExclude)
  }
  {
    name: 'ML_SCOPE_TAG'
    value: mlScopeTag
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
    name: 'SYNAPSE_DEV_AUDIENCE'
    value: synapseDevAudience
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
    value: ledgerTableName
  }
  {
    // Empty: the table endpoint is this deployment's own storage, on a known cloud.
    name: 'LEDGER_TABLE_AUDIENCE'
    value: ''
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
    name: 'MAX_REMEDIATIONS_PER_RUN'
    value: string(maxRemediationsPerRun)
  }
  {
    name: 'MAX_REMEDIATIONS_PER_HOUR'
    value: string(maxRemediationsPerHour)
  }
  {
    name: 'ARM_READS_BURST'
    value: string(armReadsBurst)
  }
  {
    name: 'ARM_READS_PER_SECOND'
    value: string(armReadsPerSecond)
  }
  {
    name: 'SWEEP_FAN_OUT_WORKSPACES'
    value: string(sweepFanOutWorkspaces)
  }
  {
    name: 'POLICY_EXEMPTIONS'
    value: string(policyExemptions)
  }
  {
    name: 'POLICY_ASSIGNMENT_IDS'
    value: join(union(policyAssignmentIds, initiativeAssignmentIds), ',')
  }
  {
    name: 'RETRAIN_WORKSPACE_IDS'
    value: join(retrainWorkspaceIds, ',')
  }
  {
    name: 'RETRAIN_COMPONENT'
    value: retrainComponent
  }
  {
    name: 'RETRAIN_INPUTS'
    value: string(retrainInputs)
  }
  {
    name: 'RETRAIN_COMPUTE'
    value: retrainCompute
  }
  {
    name: 'RETRAIN_EXPERIMENT'
    value: retrainExperiment
  }
  {
    name: 'RETRAIN_COOLDOWN_MINUTES'
    value: string(retrainCooldownMinutes)
  }
  {
    name: 'RETRAIN_JOB_TIMEOUT_HOURS'
    value: string(retrainJobTimeoutHours)
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
    name: 'LOGS_QUERY_ENDPOINT'
    value: logsQueryEndpoint
  }
  {
    name: 'BATCH_ENDPOINT_NAME'
    value: batchEndpointName
  }
  {
    name: 'BATCH_DEPLOYMENT_NAME'
    value: batchDeploymentName
  }
  {
    name: 'SCORING_INPUT'
    value: scoringInput
  }
  {
    name: 'PROMOTION_METRIC'
    value: promotionMetric
  }
  {
    name: 'PROMOTION_DIRECTION'
    value: promotionDirection
  }
  {
    name: 'PROMOTION_MIN_DELTA'
    value: promotionMinDelta
  }
  {
    name: 'PROMOTION_MODEL_NAME'
    value: promotionModelName
  }
  {
    name: 'PROMOTION_KEEP'
    value: promotionKeep
  }
  {
    name: 'SCORE_WHEN_NOT_PROMOTED'
    value: scoreWhenNotPromoted
  }
  {
    name: 'AML_INFERENCE_DOMAIN'
    value: amlInferenceDomain
  }
  {
    name: 'AML_AUDIENCE'
    value: amlAudience
  }
  {
    name: 'SCORING_ALLOWED_ENDPOINTS'
    value: join(scoringAllowedEndpoints, ',')
  }
  {
    // The scoring Logic App sample's identity is always an allowed caller (issue 8, item 7).
    name: 'SCORING_ALLOWED_CALLERS'
    value: join(union([scoringLogicAppIdentity.properties.principalId], scoringAllowedCallers), ',')
  }
  {
    name: 'SCORING_ALLOWED_INPUTS'
    value: string(scoringAllowedInputs)
  }
  {
    name: 'API_HOSTNAME'
    value: apiHostname
  }
  {
    name: 'OUTCOME_TOPIC_ENDPOINT'
    value: outcomeTopic.outputs.endpoint
  }
  {
    // Empty: the topic is this deployment's own, on a known cloud.
    name: 'OUTCOME_TOPIC_AUDIENCE'
    value: ''
  }
]

// The app runs as this identity (AZURE_CLIENT_ID): ARM, Synapse, Log Analytics, the ledger,
// telemetry, and the jobs it starts, which read their input with it.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${resourceToken}'
  location: location
  tags: tags
}

// The Functions host reaches its storage (host keys, leases, the sweep's queue, the deployment
// package) with this one: a job's input is a datastore any workspace user can point at that
// account, and the app's identity has no role there to read it with.
resource hostIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${resourceToken}-host'
  location: location
  tags: tags
}

// The scoring Logic App sample runs as this identity: an allowed caller of the HTTP scoring API.
resource scoringLogicAppIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${resourceToken}-scoring'
  location: location
  tags: tags
}

// Read each in-scope workspace for its region: its system topic must be in the same one.
resource mlWorkspaces 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = [for id in mlWorkspaceIds: {
  name: last(split(id, '/'))
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
}]

// Read each allow-listed Synapse workspace for its managed identity: the only principals the app
// may grant Contributor on the in-scope workspaces (app/access.bicep).
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
    hostIdentityId: hostIdentity.id
    hostIdentityClientId: hostIdentity.properties.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    subnetId: network.outputs.appSubnetId
    appSettings: appSettings
    maximumInstanceCount: maximumInstanceCount
    apiClientId: apiClientId
    allowedClientApplications: union([scoringLogicAppIdentity.properties.clientId], apiAllowedClientApplications)
  }
}

// The rules as Azure Policy (off by default): definitions, initiative and, when asked, its
// assignment at this subscription, whose ID the app then matches exemptions against.
var policyAssignmentName = 'synapse-aml-automation'
var initiativeAssignmentIds = deployPolicyInitiative && assignPolicyInitiative ? [subscriptionResourceId('Microsoft.Authorization/policyAssignments', policyAssignmentName)] : []

module policy 'app/policy.bicep' = if (deployPolicyInitiative) {
  name: 'policy-${resourceToken}'
  scope: subscription()
  params: {
    assign: assignPolicyInitiative
    assignmentName: policyAssignmentName
    // Without VM sizes the app does not judge them, and neither may `vmSize notIn []`, which
    // would find (or with Deny, refuse) every cluster and instance, whatever policyEffects says.
    effects: union({ workspaceHbiEffect: hbiRequired ? 'Audit' : 'Disabled' }, policyEffects, empty(allowedComputeVmSizes) ? { computeVmSizeEffect: 'Disabled' } : {})
    allowedVmSizes: allowedComputeVmSizes
    maxClusterNodes: maxClusterNodes
  }
}

// Where the app may act, one resource group at a time: app/access.bicep defines the custom roles
// each resource group needs (assignable only there) and assigns them. Lower-cased before the
// unions: one resource group written two ways is still one.
// A workspace that ML_SCOPES names itself gets the roles of a listed one (the app writes to it as
// to any workspace in scope), unless ML_WORKSPACE_IDS lists it already.
var listedWorkspaceIds = [for id in mlWorkspaceIds: toLower(id)]
var scopeWorkspaceCandidates = [for scope in mlScopes: length(split(scope, '/')) == 9 && contains(toLower(scope), '/providers/microsoft.machinelearningservices/workspaces/') && !contains(listedWorkspaceIds, toLower(scope)) ? scope : '']
var actedOnWorkspaceIds = concat(mlWorkspaceIds, skip(union([''], scopeWorkspaceCandidates), 1))
var workspaceResourceGroupIds = [for id in actedOnWorkspaceIds: toLower('/subscriptions/${split(id, '/')[2]}/resourceGroups/${split(id, '/')[4]}')]
// Resource groups of ML_SCOPES, where the workspace roles are assigned at the group: a workspace
// created there later is covered. (Subscriptions and management groups: README, Scope.)
var scopeGroupCandidates = [for scope in mlScopes: contains(toLower(scope), '/resourcegroups/') && !contains(toLower(scope), '/providers/') ? toLower(scope) : '']
var scopeResourceGroupIds = skip(union([''], scopeGroupCandidates), 1)
var extraDependencyScopes = [for id in dependencyResourceGroupIds: toLower(id)]
var dependencyScopes = union(workspaceResourceGroupIds, scopeResourceGroupIds, extraDependencyScopes)
// The workspace part of each scoring endpoint's ID; post-retrain scoring runs in the retraining
// workspaces when an endpoint is named for it.
var scoringEndpointWorkspaceIds = [for id in scoringAllowedEndpoints: toLower(join(take(split(id, '/'), 9), '/'))]
var retrainWorkspaceIdsLower = [for id in retrainWorkspaceIds: toLower(id)]
var scoringWorkspaceIds = union(scoringEndpointWorkspaceIds, empty(batchEndpointName) ? [] : retrainWorkspaceIdsLower)
var scoringResourceGroupIds = [for id in scoringWorkspaceIds: toLower('/subscriptions/${split(id, '/')[2]}/resourceGroups/${split(id, '/')[4]}')]
var synapseResourceGroupIds = [for id in synapseWorkspaceIds: toLower('/subscriptions/${split(id, '/')[2]}/resourceGroups/${split(id, '/')[4]}')]
// The retraining workspaces' own: one in scope through a subscription or management group of
// ML_SCOPES is in none of the groups above, and its retrainer (and promoter) role is assigned here.
var retrainResourceGroupIds = [for id in retrainWorkspaceIds: toLower('/subscriptions/${split(id, '/')[2]}/resourceGroups/${split(id, '/')[4]}')]
var accessResourceGroupIds = union(dependencyScopes, scoringResourceGroupIds, synapseResourceGroupIds, retrainResourceGroupIds)

module access 'app/access.bicep' = [for (group, i) in accessResourceGroupIds: {
  name: 'access-${resourceToken}-${i}'
  scope: resourceGroup(split(group, '/')[2], split(group, '/')[4])
  params: {
    roleNameSuffix: '${environmentName}-${resourceToken}'
    appPrincipalId: identity.properties.principalId
    mlWorkspaceIds: actedOnWorkspaceIds
    scopeResourceGroupIds: scopeResourceGroupIds
    retrainWorkspaceIds: retrainWorkspaceIds
    promotionWorkspaceIds: empty(promotionMetric) ? [] : retrainWorkspaceIds
    scoringWorkspaceIds: scoringWorkspaceIds
    synapseWorkspaceIds: synapseWorkspaceIds
    dependencyResourceGroupIds: dependencyScopes
    grantablePrincipalIds: [for j in range(0, length(synapseWorkspaceIds)): synapseWorkspaces[j].identity.principalId]
  }
}]

module driftWorkspaceAccess 'app/log-analytics-reader.bicep' = {
  name: 'drift-workspace-access-${resourceToken}'
  scope: resourceGroup(split(driftWorkspaceId, '/')[2], split(driftWorkspaceId, '/')[4])
  dependsOn: [
    monitoring
  ]
  params: {
    workspaceName: last(split(driftWorkspaceId, '/'))
    appPrincipalId: identity.properties.principalId
    grant: !empty(driftQuery)
  }
}

module armEventTopics 'app/eventgrid-topic.bicep' = [for (topic, i) in armTopics: {
  name: 'arm-events-${resourceToken}-${i}'
  scope: resourceGroup(topic.subscriptionId, topic.create ? topicsResourceGroupName : split(topic.existingId, '/')[4])
  params: {
    create: topic.create
    name: topic.create ? 'evgst-${resourceToken}-arm' : last(split(topic.existingId, '/'))
    location: 'global'
    tags: tags
    source: '/subscriptions/${topic.subscriptionId}'
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}]

module mlEventTopics 'app/eventgrid-topic.bicep' = [for (topic, i) in mlTopics: {
  name: 'ml-events-${resourceToken}-${i}'
  scope: resourceGroup(split(topic.homeId, '/')[2], split(topic.homeId, '/')[4])
  params: {
    create: topic.create
    name: topic.create ? 'evgst-${resourceToken}-${last(split(topic.workspaceId, '/'))}' : last(split(topic.existingId, '/'))
    location: mlWorkspaces[i].location
    tags: tags
    source: topic.workspaceId
    topicType: 'Microsoft.MachineLearningServices.Workspaces'
  }
}]

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  params: {
    storageAccountName: storage.outputs.name
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    ledgerTableName: storage.outputs.ledgerTableName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    outcomeTopicName: outcomeTopic.outputs.name
    appPrincipalId: identity.properties.principalId
    hostPrincipalId: hostIdentity.properties.principalId
    armTopicPrincipalIds: [for i in range(0, length(armTopics)): armEventTopics[i].outputs.principalId]
    mlTopicPrincipalIds: [for i in range(0, length(mlTopics)): mlEventTopics[i].outputs.principalId]
    outcomeTopicPrincipalId: outcomeTopic.outputs.principalId
  }
}

module armEventSubscriptionsDeployment 'app/eventgrid-subscriptions.bicep' = [for (topic, i) in armTopics: if (deployEventSubscriptions) {
  name: 'arm-event-subscriptions-${resourceToken}-${i}'
  scope: resourceGroup(topic.subscriptionId, topic.create ? topicsResourceGroupName : split(topic.existingId, '/')[4])
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

module mlEventSubscriptionsDeployment 'app/eventgrid-subscriptions.bicep' = [for (topic, i) in mlTopics: if (deployEventSubscriptions) {
  name: 'ml-event-subscriptions-${resourceToken}-${i}'
  scope: resourceGroup(split(topic.homeId, '/')[2], split(topic.homeId, '/')[4])
  dependsOn: [
    rbac
  ]
  params: {
    systemTopicName: mlEventTopics[i].outputs.name
    subscriptions: mlEventSubscriptions
    deadLetterStorageAccountId: storage.outputs.id
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    maxDeliveryAttempts: eventMaxDeliveryAttempts
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
  }
}]

// On-call signals: a workbook and alert rules over the app's decision lines in Application
// Insights, alerts per system topic when events to the app's functions are dead-lettered or
// dropped, and when the outcome topic dead-letters or drops a notification (with or without the
// sample).
module onCall 'app/on-call.bicep' = if (deployMonitoring) {
  name: 'on-call'
  params: {
    namePrefix: resourceToken
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    armTopicIds: [for i in range(0, length(armTopics)): armEventTopics[i].outputs.id]
    mlTopicIds: [for i in range(0, length(mlTopics)): mlEventTopics[i].outputs.id]
    eventSubscriptions: concat(armEventSubscriptions, mlEventSubscriptions)
    outcomeTopicId: outcomeTopic.outputs.id
    storageAccountName: storage.outputs.name
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    alertEmailAddress: alertEmailAddress
    functionAppName: functionApp.outputs.name
    sweepSilenceWindow: sweepSilenceWindow
  }
}

// Sample: a Logic App (Consumption) that starts batch scoring over HTTP with its managed identity
// and follows the asynchronous 202/Location/Retry-After pattern to the end.
module scoringLogicApp 'app/scoring-logic-app.bicep' = {
  name: 'scoring-logic-app'
  params: {
    name: 'logic-${resourceToken}-scoring'
    location: location
    tags: tags
    identityId: scoringLogicAppIdentity.id
    functionAppHostName: functionApp.outputs.defaultHostName
    audience: empty(apiClientId) ? 'api://unset' : 'api://${apiClientId}'
  }
}

// Sample: a Logic App subscribed to the outcome topic that posts approvals, failures and
// non-compliant findings to a Teams or Slack incoming webhook (only with notificationWebhookUrl).
module notifications 'app/notifications-logic-app.bicep' = if (!empty(notificationWebhookUrl)) {
  name: 'notifications-logic-app'
  dependsOn: [
    rbac
  ]
  params: {
    name: 'logic-${resourceToken}-notify'
    location: location
    tags: tags
    webhookUrl: notificationWebhookUrl
    outcomeTopicName: outcomeTopic.outputs.name
    deadLetterStorageAccountId: storage.outputs.id
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    maxDeliveryAttempts: eventMaxDeliveryAttempts
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = 'https://${functionApp.outputs.defaultHostName}'
output APP_IDENTITY_CLIENT_ID string = identity.properties.clientId
output APP_IDENTITY_PRINCIPAL_ID string = identity.properties.principalId
output SCORING_LOGIC_APP_PRINCIPAL_ID string = scoringLogicAppIdentity.properties.principalId
output OUTCOME_TOPIC_ENDPOINT string = outcomeTopic.outputs.endpoint
output LEDGER_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output EVENT_SUBSCRIPTIONS_DEPLOYED bool = deployEventSubscriptions
// The custom roles' names end with (<this>, <hash of their resource group>): predown finds them so.
output APP_ROLE_NAME_SUFFIX string = '${environmentName}-${resourceToken}'
// The next provision deploys the Event Grid subscriptions. azd stores outputs in the environment,
// and main.parameters.json reads this one: azure.yaml's `up` workflow provisions, deploys the code,
// then provisions again, and that second pass finds the functions in place.
output DEPLOY_EVENT_SUBSCRIPTIONS bool = true

// Synapse RBAC is data plane: ARM cannot grant it. A Synapse Administrator runs these once.
output SYNAPSE_ROLE_ASSIGNMENT_COMMANDS array = [for id in synapseWorkspaceIds: 'az synapse role assignment create --subscription ${split(id, '/')[2]} --workspace-name ${last(split(id, '/'))} --role "Synapse User" --assignee-object-id ${identity.properties.principalId} --assignee-principal-type ServicePrincipal']
