// An Event Grid system topic over an Azure event source (a subscription's resource events, or an
// Azure ML workspace), deployed in a resource group of the source's subscription. Its
// system-assigned identity dead-letters undeliverable events into the app's storage
// (Storage Blob Data Contributor on the dead-letter container, granted in app/rbac.bicep).
//
// Azure allows one system topic per source: if the source already has one (created in the
// portal or by another team), reuse it instead of deploying this module for it.

param name string
param location string
param tags object = {}

@description('Resource ID of the event source, e.g. /subscriptions/<id> or an AML workspace ID.')
param source string

@allowed([
  'Microsoft.Resources.Subscriptions'
  'Microsoft.Resources.ResourceGroups'
  'Microsoft.MachineLearningServices.Workspaces'
])
param topicType string

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: source
    topicType: topicType
  }
}

output name string = systemTopic.name
output principalId string = systemTopic.identity.principalId
