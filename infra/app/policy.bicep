// The app's rules as Azure Policy (README "Working with Azure Policy"): the custom definitions and
// the initiative that `python -m tools.cli export-policy` generates from the rule registry into
// infra/policy/ (tests/test_policy_export.py fails when they differ), and optionally the
// initiative's assignment, all at this subscription. The assignment's effects are chosen per rule
// (Audit, Deny or Disabled); its VM sizes and cluster size are the app's own settings.
targetScope = 'subscription'

@description('Assign the initiative at this subscription.')
param assign bool

@description('Name of the assignment (the app matches exemptions against its ID).')
param assignmentName string

@description('Effect per rule, by initiative parameter name, e.g. { computeLocalAuthEffect: \'Deny\' }.')
param effects object

@description('VM sizes computes may use (ALLOWED_COMPUTE_VM_SIZES).')
param allowedVmSizes array

@description('The highest maxNodeCount of a cluster (MAX_CLUSTER_NODES).')
param maxClusterNodes int

// The assignment's parameters: each effect named, then the app's own values.
var effectEntries = [for effect in items(effects): '"${effect.key}": {"value": "${effect.value}"}']
var definitions = loadJsonContent('../policy/definitions.json')
var initiative = loadJsonContent('../policy/initiative.json')
// The generated file names each definition under a placeholder scope: here, this subscription.
var references = [for entry in initiative.properties.policyDefinitions: {
  policyDefinitionReferenceId: entry.policyDefinitionReferenceId
  policyDefinitionId: subscriptionResourceId('Microsoft.Authorization/policyDefinitions', last(split(entry.policyDefinitionId, '/')))
  parameters: entry.parameters
}]

resource definition 'Microsoft.Authorization/policyDefinitions@2023-04-01' = [for item in definitions: {
  name: item.name
  properties: item.properties
}]

resource policySet 'Microsoft.Authorization/policySetDefinitions@2023-04-01' = {
  name: initiative.name
  properties: {
    displayName: initiative.properties.displayName
    description: initiative.properties.description
    policyType: 'Custom'
    metadata: initiative.properties.metadata
    parameters: initiative.properties.parameters
    policyDefinitions: references
  }
  dependsOn: [
    definition
  ]
}

resource assignment 'Microsoft.Authorization/policyAssignments@2022-06-01' = if (assign) {
  name: assignmentName
  properties: {
    displayName: initiative.properties.displayName
    description: 'The Synapse-AML automation app\'s rules, evaluated by Azure Policy (reference IDs are the app\'s rule IDs).'
    policyDefinitionId: policySet.id
    enforcementMode: 'Default'
    parameters: union(json('{${join(effectEntries, ',')}}'), {
      allowedVmSizes: { value: allowedVmSizes }
      maxClusterNodes: { value: maxClusterNodes }
    })
  }
}

output assignmentId string = assign ? assignment.id : ''
