// The Function App on Flex Consumption (FC1), Python 3.11, with two user-assigned managed
// identities: the app's (AZURE_CLIENT_ID: Azure calls, the ledger, telemetry) and the host's (its
// storage and the deployment package). Jobs the app starts read their input with the app's
// identity, and a datastore can point at any account: the app's identity cannot read the host's.

param name string
param planName string
param location string = resourceGroup().location
param tags object = {}

@description('Resource ID of the user-assigned managed identity the app runs as.')
param identityId string

@description('Client ID of that identity (AZURE_CLIENT_ID, telemetry).')
param identityClientId string

@description('Resource ID of the identity the Functions host reaches its storage with.')
param hostIdentityId string

@description('Client ID of that identity (AzureWebJobsStorage__clientId).')
param hostIdentityClientId string

// The host keeps its state in blobs, and the sweep's partitions in a queue (`sweep_partition`'s
// trigger, `reconcile_all`'s output): no table service is configured for it (the ledger's table
// has its own setting and a table-scoped role).
param storageBlobEndpoint string
param storageQueueEndpoint string

@description('Blob container (in the same account) that holds the deployment package.')
param deploymentContainerName string

param applicationInsightsConnectionString string

@description('Subnet (delegated to Microsoft.App/environments) for outbound VNet integration.')
param subnetId string

@description('The app\'s own settings, as [{ name, value }].')
param appSettings array

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Application (client) ID of the Entra app registration whose tokens App Service authentication accepts. Empty: no token is valid, every HTTP request gets 401.')
param apiClientId string

@description('Client IDs of the applications (managed identities included) allowed to call the HTTP functions.')
param allowedClientApplications array

// Settings every identity-based Flex Consumption app needs; the app's own come after.
var hostSettings = [
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: hostIdentityClientId
  }
  {
    name: 'AzureWebJobsStorage__blobServiceUri'
    value: storageBlobEndpoint
  }
  {
    // The queue trigger and output of the sweep's fan-out (handlers/sweep.py), identity-based.
    name: 'AzureWebJobsStorage__queueServiceUri'
    value: storageQueueEndpoint
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: applicationInsightsConnectionString
  }
  {
    // Telemetry is sent with the managed identity: App Insights has local auth disabled.
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identityClientId};Authorization=AAD'
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy exists only in some regions and is fixed at plan creation; a zone outage delays events (Event Grid retries them for up to 24 h and the reconcile sweep catches up), it does not lose them
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_222: Event Grid pushes to the Azure Function destination and Logic Apps call the HTTP functions over the public endpoint; Event Grid authenticates with the extension's system key, HTTP callers with Entra ID tokens (App Service authentication below)
  //checkov:skip=CKV_AZURE_17: callers (Logic Apps, scripts, people) authenticate with Entra ID tokens through App Service authentication, not client certificates
  //checkov:skip=CKV_AZURE_212: numberOfWorkers is a dedicated-plan setting; Flex Consumption adds instances per trigger on demand
  //checkov:skip=CKV_AZURE_213: App Service health check calls the path without a function key, so it needs an anonymous endpoint, and this app exposes none; failed deliveries are retried by Event Grid and the reconcile sweep catches up
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
      '${hostIdentityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    virtualNetworkSubnetId: subnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(hostSettings, appSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: hostIdentityId
          }
        }
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
    }
  }
}

// No basic-auth publishing: deployments go through Entra ID (azd, az functionapp deploy).
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// App Service authentication (Entra ID) in front of the HTTP functions start_scoring,
// get_scoring_job and openapi_spec (DESIGN.md section 3.5), which are anonymous at function level:
// the built-in Logic Apps "Azure Functions" action does not support Python apps, and Microsoft's
// route without secrets is the HTTP action with the Logic App's managed identity against this.
// Every request needs a token for this API from an allowed client application; anonymous ones get
// 401. The app then authorizes X-MS-CLIENT-PRINCIPAL-ID against SCORING_ALLOWED_CALLERS.
// Deployed unconditionally: tests/test_infra.py fails if HTTP functions could ever run without it.
resource authentication 'Microsoft.Web/sites/config@2024-04-01' = {
  //checkov:skip=CKV_AZURE_13: this is authsettingsV2 with platform.enabled and globalValidation.requireAuthentication true; the check reads the v1 authsettings schema (properties.enabled) only
  //checkov:skip=CKV_AZURE_63: checkov applies its site-configuration checks to every Microsoft.Web/sites/config resource; this one holds authentication settings only (HTTP logging is a web config setting)
  //checkov:skip=CKV_AZURE_65: checkov applies its site-configuration checks to every Microsoft.Web/sites/config resource; this one holds authentication settings only (detailed errors are a web config setting)
  //checkov:skip=CKV_AZURE_66: checkov applies its site-configuration checks to every Microsoft.Web/sites/config resource; this one holds authentication settings only (request tracing is a web config setting)
  //checkov:skip=CKV_AZURE_80: checkov applies its site-configuration checks to every Microsoft.Web/sites/config resource; this one holds authentication settings only, and the app is Python, not .NET
  //checkov:skip=CKV_AZURE_88: checkov applies its site-configuration checks to every Microsoft.Web/sites/config resource; this one holds authentication settings only, and Flex Consumption has no Azure Files content share
  //checkov:skip=CKV_AZURE_222: checkov applies its site checks to every Microsoft.Web/sites/config resource; public network access is the site's setting, skipped there with its reason
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      // Event Grid delivers to the Event Grid trigger's own endpoint with the extension's system
      // key (the AzureFunction destination); it sends no Entra ID token. Microsoft documents the
      // path as /runtime/webhooks/EventGrid; the lowercase form is kept too, in case the
      // platform compares paths case-sensitively.
      excludedPaths: [
        '/runtime/webhooks/EventGrid'
        '/runtime/webhooks/eventgrid'
      ]
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: empty(apiClientId) ? '00000000-0000-0000-0000-000000000000' : apiClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: empty(apiClientId) ? [] : [
            'api://${apiClientId}'
            apiClientId
          ]
          defaultAuthorizationPolicy: {
            allowedApplications: allowedClientApplications
          }
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

output id string = functionApp.id
output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
