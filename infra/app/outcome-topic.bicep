// The Event Grid custom topic the app publishes its decisions and policy findings to
// (OUTCOME_TOPIC_ENDPOINT), so that a Logic App or any other subscriber can notify people.
// Publishing is identity-only (EventGrid Data Sender, app/rbac.bicep) and private: the app
// reaches the topic through a private endpoint (app/network.bicep). Subscribers are unaffected:
// delivery is outbound from Event Grid.

param name string
param location string = resourceGroup().location
param tags object = {}

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'EventGridSchema'
    disableLocalAuth: true
    publicNetworkAccess: 'Disabled'
    minimumTlsVersionAllowed: '1.2'
  }
}

output id string = topic.id
output name string = topic.name
output endpoint string = topic.properties.endpoint
// Dead-letters its subscriptions' undeliverable events (app/rbac.bicep gives it the container).
output principalId string = topic.identity.principalId
