// Sample: notify people of what the app decided. A Logic App (Consumption) subscribed to the
// outcome topic (OUTCOME_TOPIC_ENDPOINT) posts one message per event to a Teams or Slack incoming
// webhook (both accept {"text": ...}) for:
// - approvals Azure confirmed: SynapseAmlAutomation.PrivateEndpointConnection.Approve.Applied;
// - non-compliant policy findings: SynapseAmlAutomation.PolicyFinding.NonCompliant;
// - scoring jobs the sweep stops following (their end is left to their own event):
//   SynapseAmlAutomation.BatchScoring.Unfollowed;
// - failures: any outcome event whose type ends in ".Failed" (a write that failed, or whose
//   answer did not confirm it), a retrain Azure reports Canceled (".Canceled") and a drift gate
//   held because its query failed (".DriftGate.Hold": a gate its reading closed is not published).
// Each message names the event's workspace (a job's subject is its bare name).
// The webhook URL is a secure workflow parameter (hidden in the definition) and the action posting
// to it secures its inputs (else run history would show the URL).

param name string
param location string = resourceGroup().location
param tags object = {}

@secure()
@description('Teams or Slack incoming webhook URL.')
param webhookUrl string

@description('Name of the outcome topic (Event Grid custom topic, in this resource group).')
param outcomeTopicName string

@description('Storage account and container undeliverable notifications are kept in (the outcome topic\'s identity writes them).')
param deadLetterStorageAccountId string
param deadLetterContainerName string

@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int

@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int

resource outcomeTopic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: outcomeTopicName
}

resource workflow 'Microsoft.Logic/workflows@2019-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    state: 'Enabled'
    definition: {
      '$schema': 'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#'
      contentVersion: '1.0.0.0'
      parameters: {
        webhookUrl: {
          type: 'SecureString'
        }
      }
      triggers: {
        manual: {
          type: 'Request'
          kind: 'Http'
          inputs: {
            schema: {
              type: 'array'
            }
          }
        }
      }
      actions: {
        // Event Grid validates a webhook endpoint once, with a validation event whose code the
        // endpoint echoes back.
        Is_subscription_validation: {
          type: 'If'
          expression: {
            and: [
              {
                equals: [
                  '@first(triggerBody())?[\'eventType\']'
                  'Microsoft.EventGrid.SubscriptionValidationEvent'
                ]
              }
            ]
          }
          actions: {
            Answer_validation: {
              type: 'Response'
              kind: 'Http'
              inputs: {
                statusCode: 200
                body: {
                  validationResponse: '@first(triggerBody())?[\'data\']?[\'validationCode\']'
                }
              }
            }
          }
          else: {
            actions: {
              For_each_event: {
                type: 'Foreach'
                foreach: '@triggerBody()'
                actions: {
                  Post_to_webhook: {
                    type: 'Http'
                    inputs: {
                      method: 'POST'
                      uri: '@parameters(\'webhookUrl\')'
                      headers: {
                        'Content-Type': 'application/json'
                      }
                      body: {
                        text: '@{items(\'For_each_event\')?[\'eventType\']}: @{items(\'For_each_event\')?[\'subject\']}. @{items(\'For_each_event\')?[\'data\']?[\'reason\']} (workspace: @{items(\'For_each_event\')?[\'data\']?[\'workspaceId\']}, outcome: @{items(\'For_each_event\')?[\'data\']?[\'outcome\']}, mode: @{items(\'For_each_event\')?[\'data\']?[\'mode\']}, trigger: @{items(\'For_each_event\')?[\'data\']?[\'trigger\']})'
                      }
                    }
                    // A secure parameter is shown in run history as sent (the URI here): the
                    // webhook URL is its credential, so the action's inputs are hidden.
                    runtimeConfiguration: {
                      secureData: {
                        properties: [
                          'inputs'
                        ]
                      }
                    }
                    runAfter: {}
                  }
                }
                runAfter: {}
              }
              Accepted: {
                type: 'Response'
                kind: 'Http'
                inputs: {
                  statusCode: 200
                }
                runAfter: {
                  For_each_event: [
                    'Succeeded'
                  ]
                }
              }
            }
          }
          runAfter: {}
        }
      }
      outputs: {}
    }
    parameters: {
      webhookUrl: {
        value: webhookUrl
      }
    }
  }
}

// Event Grid delivers to the request trigger's callback URL (read at deployment time, never
// stored in a parameter or output) and validates it once with the validation event above.
resource decisionsAndFindings 'Microsoft.EventGrid/topics/eventSubscriptions@2025-02-15' = {
  parent: outcomeTopic
  name: 'notify-approvals-and-findings'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: listCallbackUrl('${workflow.id}/triggers/manual', '2019-05-01').value
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'SynapseAmlAutomation.PrivateEndpointConnection.Approve.Applied'
        'SynapseAmlAutomation.PolicyFinding.NonCompliant'
        'SynapseAmlAutomation.BatchScoring.Unfollowed'
      ]
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
}

resource failures 'Microsoft.EventGrid/topics/eventSubscriptions@2025-02-15' = {
  parent: outcomeTopic
  name: 'notify-failures'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: listCallbackUrl('${workflow.id}/triggers/manual', '2019-05-01').value
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      advancedFilters: [
        {
          operatorType: 'StringEndsWith'
          key: 'EventType'
          values: [
            '.Failed'
            '.Canceled'
            '.DriftGate.Hold'
          ]
        }
      ]
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
}
