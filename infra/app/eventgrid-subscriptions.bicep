// Event subscriptions on one system topic, each delivering to a function of the app (the
// `azureFunction` destination: Event Grid invokes the function through its Event Grid trigger,
// no webhook URL or key to manage). Undeliverable events go to the dead-letter container, written
// with the system topic's own managed identity.
//
// Event Grid checks that the destination function exists when the subscription is created, so
// these are deployed only after the code is (deployEventSubscriptions in main.bicep).

@description('Name of the system topic (in this resource group).')
param systemTopicName string

@description('Subscriptions: [{ name, functionResourceId, includedEventTypes, advancedFilters }].')
param subscriptions array

@description('Resource ID of the storage account that receives dead-lettered events.')
param deadLetterStorageAccountId string

param deadLetterContainerName string

@description('Delivery attempts before an event is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int

@description('Minutes an event is retried before it is dead-lettered.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource eventSubscriptions 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = [for eventSubscription in subscriptions: {
  parent: systemTopic
  name: eventSubscription.name
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: eventSubscription.functionResourceId
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: eventSubscription.includedEventTypes
      advancedFilters: eventSubscription.advancedFilters
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}]
