// Signals for on-call: a workbook and alert rules over what the app logs to Application Insights
// (each decision line's custom dimensions, shared/logs.py) and what Event Grid reports.
//
// Every query comes from ../monitor/queries.json, which the README's "Observability" shows
// verbatim; tests/test_infra_monitoring.py keeps README, file and this template equal and checks
// that the queries read only custom dimensions the app logs.

param namePrefix string
param location string
param tags object = {}

@description('Resource ID of the Application Insights component the app sends telemetry to.')
param applicationInsightsId string

@description('The Event Grid system topics that deliver to the app (created or adopted), resource events then Azure ML events.')
param armTopicIds array
param mlTopicIds array

@description('The app\'s event subscriptions on those topics ([{ name, ... }]): only their dead letters alert (an adopted topic carries other teams\' subscriptions too).')
param eventSubscriptions array

@description('Resource ID of the outcome topic (Event Grid custom topic) the app publishes its decisions and failures to.')
param outcomeTopicId string

@description('The app\'s one storage account (app/storage.bicep: the host\'s state, the deployment package, the ledger, the dead letters) and its dead-letter container.')
param storageAccountName string
param deadLetterContainerName string

@description('Email address the alerts go to. Empty: no action group; the alerts still fire in Azure Monitor.')
param alertEmailAddress string = ''

@description('The Function App, named in the description of the alert that it went silent.')
param functionAppName string

@description('The window (ISO 8601 duration) over which no sweep ending means the app is silent: main.bicep\'s sweepSilenceWindow, which validates it.')
param sweepSilenceWindow string

var queries = loadJsonContent('../monitor/queries.json')
var topicIds = concat(armTopicIds, mlTopicIds)
var subscriptionNames = [for subscription in eventSubscriptions: subscription.name]
// Event Grid may report the EventSubscriptionName dimension upper-cased: both spellings match.
var upperSubscriptionNames = [for subscription in eventSubscriptions: toUpper(subscription.name)]
var appSubscriptions = union(subscriptionNames, upperSubscriptionNames)
var actionGroupName = 'ag-${namePrefix}-on-call'
var alertActions = empty(alertEmailAddress) ? [] : [resourceId('Microsoft.Insights/actionGroups', actionGroupName)]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmailAddress)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'aml-oncall'
    enabled: true
    emailReceivers: [
      {
        name: 'on-call'
        emailAddress: alertEmailAddress
        useCommonAlertSchema: true
      }
    ]
  }
}

// The workbook's sections, in order; each table reads the workbook's time range.
var sections = [
  {
    name: 'approvals'
    title: 'Private endpoint connections approved, and why'
    query: queries.approvals
  }
  {
    name: 'findings-by-rule'
    title: 'Policy findings by rule and status'
    query: queries.findingsByRule
  }
  {
    name: 'deferred-remediations'
    title: 'Remediations deferred (guard, run limit, hourly limit)'
    query: queries.deferredRemediations
  }
  {
    name: 'runs'
    title: 'Drift gate, retraining, promotion and scoring runs'
    query: queries.runs
  }
  {
    name: 'scoring-ended'
    title: 'Scoring runs that ended, failures first'
    query: queries.scoringEnded
  }
  {
    name: 'failed-actions'
    title: 'Failed actions, with the Azure call that failed'
    query: queries.failedActions
  }
  {
    name: 'not-reconciled'
    title: 'Workspaces and events not reconciled (a read failed), with the Azure call that failed'
    query: queries.notReconciled
  }
]
var queryItems = [for section in sections: {
  type: 3
  name: section.name
  content: {
    version: 'KqlItem/1.0'
    title: section.title
    query: section.query
    size: 0
    timeContextFromParameter: 'TimeRange'
    queryType: 0
    resourceType: 'microsoft.insights/components'
  }
}]
var timeRange = {
  type: 9
  name: 'parameters'
  content: {
    version: 'KqlParameterItem/1.0'
    style: 'pills'
    queryType: 0
    resourceType: 'microsoft.insights/components'
    parameters: [
      {
        id: guid(namePrefix, 'TimeRange')
        version: 'KqlParameterItem/1.0'
        name: 'TimeRange'
        label: 'Time range'
        type: 4
        isRequired: true
        value: {
          durationMs: 86400000
        }
        typeSettings: {
          selectableValues: [
            {
              durationMs: 3600000
            }
            {
              durationMs: 86400000
            }
            {
              durationMs: 604800000
            }
            {
              durationMs: 2592000000
            }
          ]
          allowCustom: true
        }
      }
    ]
  }
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name is a GUID: stable per environment, so a provision updates it in place.
  name: guid(resourceGroup().id, namePrefix, 'on-call-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Synapse-AML automation: on-call (${namePrefix})'
    category: 'workbook'
    sourceId: applicationInsightsId
    version: 'Notebook/1.0'
    serializedData: string({
      version: 'Notebook/1.0'
      items: concat([timeRange], queryItems)
      fallbackResourceIds: [
        applicationInsightsId
      ]
    })
  }
}

// Log alerts over the same queries as the workbook's tables (and one of their own): an alert
// fires when its query has a row in the window, and resolves by itself when it has none.
//
// The last one, no-sweep-ended, is a dead man's switch: every other alert needs the app to run,
// and a dead-lettered event takes Event Grid's whole retry time (a day by default) to show. Every
// sweep (reconcile_all, on RECONCILE_SCHEDULE) ends with a line of kind `sweep`: `done` or `retry`
// (handlers/sweep.py's _done, a partition's too), or, fanning out, `fan-out` or `retry`;
// `past-due` is written as a late run starts, so a sweep that hangs is not counted as ended. Its
// query counts those lines and keeps the count's row only when it is 0: `count` returns one row
// even over no rows at all, which is the case to catch (nothing arrives), so the rule fires on a
// row like the others (GreaterThan 0, one shared resource) and resolves on none. A threshold of
// "fewer than 1" instead would need a second operator in that resource, and would rest on how
// Azure Monitor counts a result with no rows, the very case this alert is for.
// (Checkov's Bicep parser fails on ten comment lines in a row inside an array's object.)
var logAlerts = [
  {
    name: 'failed-actions'
    title: 'An action of the app failed'
    description: 'A write the app attempted failed, or Azure\'s answer did not show it (workbook: Failed actions).'
    severity: 1
    frequency: 'PT5M'
    window: 'PT15M'
    query: queries.failedActions
  }
  {
    name: 'deferred-remediations'
    title: 'Policy remediations are deferred'
    description: 'Remediations were deferred by their guard, the run\'s limit or the hourly limit (workbook: Remediations deferred).'
    severity: 3
    frequency: 'PT1H'
    window: 'PT1H'
    query: queries.deferredRemediations
  }
  {
    // A read failing decides and writes nothing, so no failed action shows it: a role taken
    // away, or Synapse RBAC not granted, would otherwise leave every workspace silently alone.
    // An event whose resource could not be read is such a read too (the intake's `failed`).
    // So are a Synapse workspace's evidence not taken, a scope the sweep could not list, and a
    // workspace the sweep must retry (`incomplete`, `unread`, `retry`).
    name: 'not-reconciled'
    title: 'A workspace could not be reconciled'
    description: 'The app could not read what it judges a workspace by, or what an event names (its role lost, Azure refusing, or unavailable through the retries): nothing was decided there (workbook: Workspaces and events not reconciled).'
    severity: 2
    frequency: 'PT15M'
    window: 'PT1H'
    query: queries.notReconciled
  }
  {
    // The app silent (a dead man's switch): see above. Severity 1, as a failed action or a
    // dropped event: an app not running does nothing at all (events wait in Event Grid's retries, the scoring
    // API answers nobody), and nothing else says so sooner.
    name: 'no-sweep-ended'
    title: 'The app is silent: no sweep ended'
    description: 'No sweep of ${functionAppName} (reconcile_all, on RECONCILE_SCHEDULE) ended in the last ${sweepSilenceWindow}: no decision line of kind sweep reached Application Insights. The app is not running, its timer is not firing, or its telemetry is not arriving; not running, it handles no event (Event Grid retries them, then dead-letters them) and its scoring API answers nobody. Check first: the Function App\'s state (az functionapp show --name ${functionAppName} --resource-group ${resourceGroup().name} --query state: Running, not Stopped) and its host log (Diagnose and solve problems, and the host\'s own traces and exceptions in Application Insights: the host unable to start); the last deployment (azd deploy, the package in storage account ${storageAccountName}); the host storage (the AzureWebJobsStorage__* settings, account ${storageAccountName}, its firewall, and the host identity\'s Storage Blob Data Owner and Storage Queue Data Contributor there: infra/app/rbac.bicep); the identities themselves (both still assigned to the app; the app\'s, AZURE_CLIENT_ID, sends telemetry with Monitoring Metrics Publisher on Application Insights). If the Not reconciled alert fires too, the sweep runs but fails before its end (workbook: Workspaces and events not reconciled).'
    severity: 1
    frequency: 'PT15M'
    window: sweepSilenceWindow
    query: queries.noSweepEnded
  }
]

resource logAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for alert in logAlerts: {
  name: 'alert-${namePrefix}-${alert.name}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: alert.title
    description: alert.description
    severity: alert.severity
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: alert.frequency
    windowSize: alert.window
    criteria: {
      allOf: [
        {
          query: alert.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertActions
    }
  }
  dependsOn: [
    actionGroup
  ]
}]

// Metric alerts on what Event Grid reports of the events it gave up on (every retry spent, or
// refused outright), per event subscription:
// - DeadLetteredCount: it wrote the event to the dead-letter container, whose blob records it;
// - DroppedEventCount: it could not, so the event is lost with no record: the dead-letter
//   location unavailable for four hours (the container unreachable, or refusing the topic's
//   identity: infra/app/rbac.bicep), or a subscription with no dead-letter destination.
// A rule's criteria must all hold together (allOf), so each count is a rule of its own, and drops
// alert whatever their DropReason. Metrics, namespaces and dimensions: Azure Monitor's supported
// metrics for Microsoft.EventGrid/systemTopics and Microsoft.EventGrid/topics; when Event Grid
// drops an event: its "message delivery and retry" article.
//
// On the system topics, only the app's subscriptions (an adopted topic carries other teams'
// subscriptions too). A dropped event is severity 1, as a failed action: the event that should
// have set the app off is gone with no blob for tools.cli replay, and every event dead-lettering
// should keep is lost the same way until the container or the role is fixed. The timers catch up
// on the app's work (the sweep, scheduled_retrain); tools.cli apply does it at once.
var deadLetteredEvents = [for topicId in topicIds: {
  name: 'dead-lettered-${uniqueString(topicId)}'
  severity: 2
  description: 'Events for the app were dead-lettered by ${last(split(topicId, '/'))}: replay them with python -m tools.cli replay.'
  scope: topicId
  namespace: 'Microsoft.EventGrid/systemTopics'
  metric: 'DeadLetteredCount'
  subscriptions: appSubscriptions
}]
var droppedEvents = [for topicId in topicIds: {
  name: 'dropped-${uniqueString(topicId)}'
  severity: 1
  description: 'Events for the app were dropped by ${last(split(topicId, '/'))} (the event subscription this alert names): Event Grid could neither deliver nor dead-letter them, so they are gone, with no blob for tools.cli replay. The timers catch up (reconcile_all: resource events, a scoring job\'s end; scheduled_retrain: a completed retrain, drift); to reconcile now, run python -m tools.cli plan, then python -m tools.cli apply --workspace ID for the workspaces concerned (an Azure ML workspace\'s topic: that workspace; a subscription\'s: its workspaces). Then fix dead-lettering, or every event Event Grid gives up on is lost too: container ${deadLetterContainerName} of storage account ${storageAccountName} must let trusted Azure services through its firewall, and the topic\'s system-assigned identity must hold Storage Blob Data Contributor on it (infra/app/rbac.bicep).'
  scope: topicId
  namespace: 'Microsoft.EventGrid/systemTopics'
  metric: 'DroppedEventCount'
  subscriptions: appSubscriptions
}]

// On the outcome topic a notification that a subscriber never took means people were not told of
// a decision or a failure. Unlike the system topics above, the whole topic is watched, split by
// event subscription ('*': every current and future value, so the alert names the one concerned),
// rather than filtered to names:
// - the topic is the app's own, created here and carrying nothing but the app's outcomes, so every
//   subscription on it tells someone what the app did, the notifications sample's and any added
//   by hand alike, and none is another team's (the reason for the filter on adopted topics);
// - the sample's subscriptions exist only with notificationWebhookUrl: a list of their names
//   would be empty without it, an Include of no value that selects nothing (if ARM takes it).
// So both are deployed with or without the sample; with no subscription that gives up they never
// fire, which is expected, not a fault. A dropped notification is severity 2, as a dead-lettered
// one: the harm is the same (people not told; the app's work is done, and its ledger, written
// before each publish, keeps what it decided), only the blob saying which is missing; and a
// subscription added by hand without dead-lettering drops by its owner's choice.
var outcomeTopicName = last(split(outcomeTopicId, '/'))
var notificationAlerts = [
  {
    name: 'notifications-dead-lettered'
    severity: 2
    description: 'Outcome notifications of the app (its decisions and failures, published to ${outcomeTopicName}) were dead-lettered by the event subscription this alert names: its subscriber (the notifications Logic App, or one of yours) never took them, every retry spent or refused outright, so people were not told of them. They are not events for the app, whose work is done: tools.cli replay does not apply. The blobs, in container ${deadLetterContainerName} of storage account ${storageAccountName} under the topic\'s name, are the record of what people were not told: tell those concerned, then fix the subscriber (its webhook URL, its Logic App runs).'
    scope: outcomeTopicId
    namespace: 'Microsoft.EventGrid/topics'
    metric: 'DeadLetteredCount'
    subscriptions: [
      '*'
    ]
  }
  {
    name: 'notifications-dropped'
    severity: 2
    description: 'Outcome notifications of the app (its decisions and failures, published to ${outcomeTopicName}) were dropped by the event subscription this alert names: its subscriber never took them and Event Grid could not dead-letter them either (no dead-letter destination on it, or container ${deadLetterContainerName} of storage account ${storageAccountName} closed to trusted Azure services or to the topic\'s identity, whose Storage Blob Data Contributor role infra/app/rbac.bicep assigns). Lost with no record: people were not told, and no blob says of what. The app\'s work is done (tools.cli replay does not apply); its ledger and the on-call workbook show what it decided and did meanwhile: tell those concerned from there, then fix the subscriber and its dead-lettering.'
    scope: outcomeTopicId
    namespace: 'Microsoft.EventGrid/topics'
    metric: 'DroppedEventCount'
    subscriptions: [
      '*'
    ]
  }
]
var metricAlerts = concat(deadLetteredEvents, droppedEvents, notificationAlerts)

resource metricAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = [for alert in metricAlerts: {
  name: 'alert-${namePrefix}-${alert.name}'
  location: 'global'
  tags: tags
  properties: {
    description: alert.description
    severity: alert.severity
    enabled: true
    scopes: [
      alert.scope
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          name: alert.metric
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: alert.namespace
          metricName: alert.metric
          dimensions: [
            {
              name: 'EventSubscriptionName'
              operator: 'Include'
              values: alert.subscriptions
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    autoMitigate: true
    actions: [for actionGroupId in alertActions: {
      actionGroupId: actionGroupId
    }]
  }
  dependsOn: [
    actionGroup
  ]
}]

output workbookId string = workbook.id
