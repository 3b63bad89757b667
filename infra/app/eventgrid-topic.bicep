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

// ARM evaluates only the branch of `if` that is taken, so an adopted topic is read only when it
// is adopted, and a created one only once it exists.
output name string = name
output id string = resourceId('Microsoft.EventGrid/systemTopics', name)
output principalId string = create ? createdTopic.identity.principalId : reference(resourceId('Microsoft.EventGrid/systemTopics', name), '2025-02-15', 'Full').identity.principalId
