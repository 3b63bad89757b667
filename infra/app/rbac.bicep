// Role assignments inside the app's own resource group, each at the narrowest scope that works
// and each mapped in infra/permissions.json to the code that needs it. Names are
// guid(scope, principal, role), so redeployments are no-ops.
//
// The one queue role is the sweep's fan-out (`reconcile_all` enqueues, `sweep_partition` reads,
// the host moves a message that keeps failing to `<queue>-poison`), at the queue service.

param storageAccountName string
param deadLetterContainerName string
param ledgerTableName string
param applicationInsightsName string
param outcomeTopicName string

@description('Principal (object) ID of the app\'s user-assigned managed identity.')
param appPrincipalId string

@description('Principal (object) ID of the identity the Functions host reaches its storage with.')
param hostPrincipalId string

@description('Principal IDs of the subscription system topics that dead-letter into this storage account.')
param armTopicPrincipalIds array

@description('Principal IDs of the Azure ML workspace system topics.')
param mlTopicPrincipalIds array

@description('Principal ID of the outcome topic, whose sample subscriptions dead-letter here too.')
param outcomeTopicPrincipalId string

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
}

var deadLetterWriters = concat(armTopicPrincipalIds, mlTopicPrincipalIds, [outcomeTopicPrincipalId])

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: deadLetterContainerName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource ledgerTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: tableService
  name: ledgerTableName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource outcomeTopic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: outcomeTopicName
}

// The Functions host (AzureWebJobsStorage__*, host.json): leases and timer schedules in blobs, and
// the Flex Consumption deployment package. Blob Data Owner is what the Functions docs require for
// an identity-based AzureWebJobsStorage. The host's identity, not the app's: jobs the app starts
// read their input with the app's, and a datastore can point at this account.
resource hostStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, hostPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: hostPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// handlers/sweep.py (reconcile_all's queue output, sweep_partition's queue trigger): the sweep's
// partitions and their poison queue, which the host creates; Queue Data Contributor is what the
// Functions docs require for an identity-based queue trigger.
resource hostSweepQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queueService.id, hostPrincipalId, roles.storageQueueDataContributor)
  scope: queueService
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: hostPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// shared/ledger.py (open_ledger, Ledger): the ledger's entities, in its one table only; also the
// retraining claim rows that live in the same table.
resource appLedger 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(ledgerTable.id, appPrincipalId, roles.storageTableDataContributor)
  scope: ledgerTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// shared/telemetry.py (azure-monitor-opentelemetry) and the Functions host send telemetry with the
// identity: Application Insights has local authentication off.
resource appTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// shared/adapters/outcomes.py Recorder.record_actions: outcome events, this topic only.
resource appOutcomes 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(outcomeTopic.id, appPrincipalId, roles.eventGridDataSender)
  scope: outcomeTopic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventGridDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// deadLetterWithResourceIdentity (app/eventgrid-subscriptions.bicep, the outcome topic's in
// app/notifications-logic-app.bicep): each topic writes undeliverable events into the dead-letter
// container, and nowhere else.
resource deadLetter 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in deadLetterWriters: {
  name: guid(deadLetterContainer.id, principalId, roles.storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]
