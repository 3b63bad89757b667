// Sample: a Logic App (Consumption) that starts batch scoring through the app's HTTP API and
// follows it to the end, without a secret anywhere.
//
// - It runs as a user-assigned managed identity (main.bicep puts the identity's object ID into
//   SCORING_ALLOWED_CALLERS and its client ID into App Service authentication's allowed client
//   applications), and its HTTP action authenticates with that identity against the app's Entra ID
//   audience (the built-in "Azure Functions" action does not support Python apps).
// - POST /api/scoring-jobs answers 202 with an absolute Location and Retry-After; the HTTP action's
//   asynchronous pattern (on by default) polls Location, waiting Retry-After each time, until the
//   job has ended (200), so "Start_scoring" finishes when scoring does.
// - Idempotency-Key is the run's name: Logic Apps retries a POST after a 5xx or a timeout, and the
//   app returns the first request's job instead of submitting a second.
// - The trigger is a weekly recurrence (run it on demand with "Run trigger"): no request URL with
//   a SAS signature to keep. Deployed disabled until scoringEndpoint and scoringInputPath are set.

param name string
param location string = resourceGroup().location
param tags object = {}

@description('Resource ID of the user-assigned identity the workflow runs as.')
param identityId string

@description('Default host name of the function app.')
param functionAppHostName string

@description('Audience of the app\'s Entra ID registration (App Service authentication), e.g. api://<client id>.')
param audience string

@description('Batch endpoint to score on: an ARM ID from SCORING_ALLOWED_ENDPOINTS, or its name.')
param scoringEndpoint string = ''

@description('Input of the scoring job, e.g. azureml://datastores/<datastore>/paths/<path>.')
param scoringInputPath string = ''

resource workflow 'Microsoft.Logic/workflows@2019-05-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    // Until told what to score, disabled: its weekly run would fail with a 400 every week.
    state: empty(scoringEndpoint) || empty(scoringInputPath) ? 'Disabled' : 'Enabled'
    definition: {
      '$schema': 'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#'
      contentVersion: '1.0.0.0'
      parameters: {
        apiBaseUrl: {
          type: 'String'
        }
        audience: {
          type: 'String'
        }
        identityId: {
          type: 'String'
        }
        scoringEndpoint: {
          type: 'String'
        }
        scoringInputPath: {
          type: 'String'
        }
      }
      triggers: {
        Weekly: {
          type: 'Recurrence'
          recurrence: {
            frequency: 'Week'
            interval: 1
          }
        }
      }
      actions: {
        Start_scoring: {
          type: 'Http'
          inputs: {
            method: 'POST'
            uri: '@{parameters(\'apiBaseUrl\')}/api/scoring-jobs'
            headers: {
              'Content-Type': 'application/json'
              'Idempotency-Key': '@{workflow()[\'run\'][\'name\']}'
            }
            body: {
              endpoint: '@parameters(\'scoringEndpoint\')'
              input: {
                type: 'uri_folder'
                path: '@parameters(\'scoringInputPath\')'
              }
            }
            authentication: {
              type: 'ManagedServiceIdentity'
              identity: '@parameters(\'identityId\')'
              audience: '@parameters(\'audience\')'
            }
          }
          // Poll until the job ends (batch scoring can take hours), retry 5xx/429 a few times.
          limit: {
            timeout: 'PT23H'
          }
          retryPolicy: {
            type: 'exponential'
            count: 4
            interval: 'PT30S'
          }
          runAfter: {}
        }
        Scoring_completed: {
          type: 'If'
          expression: {
            and: [
              {
                equals: [
                  '@body(\'Start_scoring\')?[\'status\']'
                  'Completed'
                ]
              }
            ]
          }
          actions: {}
          else: {
            actions: {
              Scoring_did_not_complete: {
                type: 'Terminate'
                inputs: {
                  runStatus: 'Failed'
                  runError: {
                    code: '@{body(\'Start_scoring\')?[\'status\']}'
                    message: '@{body(\'Start_scoring\')?[\'error\']}'
                  }
                }
              }
            }
          }
          runAfter: {
            Start_scoring: [
              'Succeeded'
            ]
          }
        }
      }
      outputs: {}
    }
    parameters: {
      apiBaseUrl: {
        value: 'https://${functionAppHostName}'
      }
      audience: {
        value: audience
      }
      identityId: {
        value: identityId
      }
      scoringEndpoint: {
        value: scoringEndpoint
      }
      scoringInputPath: {
        value: scoringInputPath
      }
    }
  }
}

output id string = workflow.id
