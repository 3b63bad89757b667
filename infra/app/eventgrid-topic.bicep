// An Event Grid system topic over an Azure event source (a subscription's resource events, or an
// Azure ML workspace), in a resource group of the source's subscription: created here, or adopted.
//
// Azure allows one system topic per source. A source that already has one (made in the portal or
// by another team) is adopted (create = false): nothing about the topic is changed, only its
// event subscriptions are deployed (app/eventgrid-subscriptions.bicep). Its system-assigned
// identity dead-letters undeliverable events into the app's storage (Storage Blob Data
// Contributor on the dead-letter container, granted in app/rbac.bicep); scripts/preflight.py
// checks before provisioning that an adopted topic has one.

@description('Create the topic (true), or adopt the existing topic of this name (false).')
param create bool

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

resource createdTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (create) {
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

// One read for both cases (what Bicep emits for createdTopic.identity too): ARM evaluates the
// outputs once the resources are deployed, so a created topic exists by then and an adopted one
// already did. Through a variable: reading the conditional createdTopic is a linter warning
// (BCP318), and so is reference(resourceId(...)) of it (use-resource-symbol-reference).
var topicId = resourceId('Microsoft.EventGrid/systemTopics', name)

output name string = name
output id string = topicId
output principalId string = reference(topicId, '2025-02-15', 'Full').identity.principalId
