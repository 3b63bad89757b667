// Role assignments inside the app's own resource group: what the app identity needs to run
// (host storage, ledger, telemetry, outcome events) and what the Event Grid system topics need to
// dead-letter. Names are guid(scope, principal, role), so redeployments are no-ops.

param storageAccountName string
param deadLetterContainerName string
param applicationInsightsName string
param outcomeTopicName string

@description('Principal (object) ID of the app\'s user-assigned managed identity.')
param appPrincipalId string

@description('Principal IDs of the system topics that dead-letter into this storage account.')
param armTopicPrincipalIds array

@description('Principal IDs of the Azure ML workspace system topics.')
param mlTopicPrincipalIds array

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
}

// The host keeps leases and timer schedules in blobs (Blob Data Owner, as the Functions docs
// require for AzureWebJobsStorage); queues for host coordination; tables for the ledger.
var appStorageRoles = [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
]

var deadLetterWriters = concat(armTopicPrincipalIds, mlTopicPrincipalIds)

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

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource outcomeTopic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: outcomeTopicName
}

resource appStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in appStorageRoles: {
  name: guid(storage.id, appPrincipalId, role)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

resource appTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appOutcomes 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(outcomeTopic.id, appPrincipalId, roles.eventGridDataSender)
  scope: outcomeTopic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventGridDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource deadLetter 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in deadLetterWriters: {
  name: guid(deadLetterContainer.id, principalId, roles.storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]
