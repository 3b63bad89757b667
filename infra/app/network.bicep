// Private networking for the app: a VNet with one subnet for Flex Consumption VNet integration
// and one for private endpoints; private endpoints and DNS zones for the app's storage (blob,
// queue: the sweep's fan-out, and table) and for the outcome topic, so neither needs to accept public traffic from the app.

param name string
param location string = resourceGroup().location
param tags object = {}

@description('Address space of the VNet.')
param addressPrefix string = '10.20.0.0/16'

@description('Subnet for Flex Consumption VNet integration (delegated to Microsoft.App/environments).')
param appSubnetPrefix string = '10.20.1.0/24'

@description('Subnet for private endpoints.')
param privateEndpointSubnetPrefix string = '10.20.2.0/24'

@description('Resource ID of the app storage account.')
param storageAccountId string

@description('Resource ID of the Event Grid custom topic the app publishes outcomes to.')
param outcomeTopicId string

var storageSuffix = environment().suffixes.storage
// Event Grid's suffix in each cloud (environment() has none): its private DNS zone follows it.
var eventGridSuffix = environment().name == 'AzureChinaCloud' ? 'azure.cn' : environment().name == 'AzureUSGovernment' ? 'azure.us' : 'azure.net'
var privateEndpoints = [
  {
    name: 'blob'
    serviceId: storageAccountId
    groupId: 'blob'
    zone: 'privatelink.blob.${storageSuffix}'
  }
  {
    name: 'queue'
    serviceId: storageAccountId
    groupId: 'queue'
    zone: 'privatelink.queue.${storageSuffix}'
  }
  {
    name: 'table'
    serviceId: storageAccountId
    groupId: 'table'
    zone: 'privatelink.table.${storageSuffix}'
  }
  {
    name: 'outcomes'
    serviceId: outcomeTopicId
    groupId: 'topic'
    zone: 'privatelink.eventgrid.${eventGridSuffix}'
  }
]

resource appNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${name}-app'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource privateEndpointNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${name}-pe'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          networkSecurityGroup: {
            id: appNsg.id
          }
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          networkSecurityGroup: {
            id: privateEndpointNsg.id
          }
          privateEndpointNetworkPolicies: 'Enabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for pe in privateEndpoints: {
  name: pe.zone
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (pe, i) in privateEndpoints: {
  parent: zones[i]
  name: '${name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]

resource endpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [for pe in privateEndpoints: {
  name: 'pe-${name}-${pe.name}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: '${vnet.id}/subnets/private-endpoints'
    }
    privateLinkServiceConnections: [
      {
        name: pe.name
        properties: {
          privateLinkServiceId: pe.serviceId
          groupIds: [
            pe.groupId
          ]
        }
      }
    ]
  }
}]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (pe, i) in privateEndpoints: {
  parent: endpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: replace(pe.zone, '.', '-')
        properties: {
          privateDnsZoneId: zones[i].id
        }
      }
    ]
  }
}]

output appSubnetId string = '${vnet.id}/subnets/app'
output id string = vnet.id
