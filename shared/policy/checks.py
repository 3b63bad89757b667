"""The twelve rules of the policy set (DESIGN §3.3), each a small declared check.

Every check is pure: `WorkspaceFacts` and `PolicyParameters` in, a list of findings out, one per
resource it judges (the workspace, one of its computes, a dependency, a Synapse workspace). A
check that finds nothing to judge returns no findings; the engine then reports the rule as not
applicable, so every rule still appears in every report. Docstrings become the rules'
descriptions in the documentation and the CLI.

Values ARM returns as strings (`Disabled`, `AmlCompute`, VM sizes) are compared ignoring case,
ASCII only: ARM's casing varies between API versions, while a non-ASCII lookalike of an expected
value is never that value (`str.lower()` would fold the Kelvin sign onto `k`).
"""

from __future__ import annotations

from typing import TypeGuard

from azure.mgmt.core.tools import parse_resource_id

from shared.arm import same_arm_id
from shared.policy.facts import (
    ComputeFacts,
    DependencyFacts,
    DependencyKind,
    PolicyParameters,
    WorkspaceFacts,
)
from shared.policy.rules import (
    RULES,
    AzurePolicy,
    BuiltIn,
    Finding,
    GuardVerdict,
    Remediation,
    RemediationKind,
    Severity,
    Status,
    rule,
)

DISABLED = "Disabled"

# Compute types as ARM spells them (`properties.computeType`).
AML_COMPUTE = "AmlCompute"
COMPUTE_INSTANCE = "ComputeInstance"
KUBERNETES_TYPES = ("AKS", "Kubernetes")

# How messages name each dependency.
DEPENDENCY_NAMES = {
    DependencyKind.STORAGE: "storage account",
    DependencyKind.KEY_VAULT: "key vault",
    DependencyKind.CONTAINER_REGISTRY: "container registry",
}

# The resource types Azure Policy evaluates, whose aliases the definitions below use.
WORKSPACES = "Microsoft.MachineLearningServices/workspaces"
COMPUTES = f"{WORKSPACES}/computes"
CLUSTERS_AND_INSTANCES = (AML_COMPUTE, COMPUTE_INSTANCE)


def _missing_or(alias: str, operator: str, value: object) -> dict[str, object]:
    """A property that is missing or meets `operator` (policy conditions ignore case)."""
    return {"anyOf": [{"field": alias, "exists": False}, {"field": alias, operator: value}]}


def _computes_of(types: tuple[str, ...], condition: dict[str, object]) -> dict[str, object]:
    """`condition`, on computes of the given types only."""
    kind = {"field": f"{COMPUTES}/computeType", "in": list(types)}
    return {"allOf": [kind, condition]}


# ARM's default for a cluster's `scaleSettings.minNodeCount` when it does not report one.
DEFAULT_MIN_NODES = 0


# --- workspace --------------------------------------------------------------------------------


@rule(
    "workspace-private-link",
    severity=Severity.HIGH,
    reads=("connections",),
    policy=AzurePolicy(
        WORKSPACES,
        {
            "count": {
                "field": f"{WORKSPACES}/privateEndpointConnections[*]",
                "where": {
                    "field": f"{WORKSPACES}/privateEndpointConnections[*]"
                    ".privateLinkServiceConnectionState.status",
                    "equals": "Approved",
                },
            },
            "less": 1,
        },
        BuiltIn(
            "40cec1dd-a100-4920-b15b-3024fe8901ab",
            "Azure Machine Learning workspaces should use private link",
        ),
        can_deny=False,
    ),
)
def workspace_private_link(facts: WorkspaceFacts, params: PolicyParameters) -> list[Finding]:
    """The AML workspace has at least one approved private endpoint connection.

    Without one, clients can only reach the workspace over its public endpoint, and the Synapse
    integration and private batch endpoints have no private path to it. Reported only: which
    endpoint to approve is the private endpoint reconciler's decision, not a policy's.
    """
    count = facts.approved_private_endpoint_connections
    status = Status.COMPLIANT if count >= 1 else Status.NON_COMPLIANT
    return [
        _finding(
            "workspace-private-link",
            facts.id,
            status,
            f"workspace {_name(facts.id)} has {count} approved private endpoint connection(s)",
        )
    ]


def private_path_exists(facts: WorkspaceFacts, remediation: Remediation) -> GuardVerdict:
    """Public network access is disabled only while people have a private path to the workspace:
    an approved connection from a private endpoint in a customer subscription. Without one,
    disabling it cuts off every user and pipeline at once. A managed private endpoint (the
    Synapse one the app approves) serves only its service, from a Microsoft-managed
    subscription: it is no path for people."""
    count = facts.customer_private_endpoint_connections
    approved = facts.approved_private_endpoint_connections
    name = _name(facts.id)
    if count >= 1:
        return GuardVerdict(
            True,
            f"workspace {name} has {count} approved private endpoint connection(s) from a "
            "subscription of ML_WORKSPACE_IDS",
        )
    if approved >= 1:
        return GuardVerdict(
            False,
            f"workspace {name} has {approved} approved private endpoint connection(s), none from "
            "a subscription of ML_WORKSPACE_IDS (a managed private endpoint, such as Synapse's, "
            "lives in a Microsoft-managed subscription and serves only its service): disabling "
            "public network access would cut off every user and pipeline",
        )
    return GuardVerdict(
        False,
        f"workspace {name} has no approved private endpoint connection: disabling public "
        "network access would cut off every user, pipeline and the Synapse integration",
    )


@rule(
    "workspace-public-access",
    severity=Severity.HIGH,
    reads=("workspace",),
    remediation=RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS,
    guard=private_path_exists,
    policy=AzurePolicy(
        WORKSPACES,
        _missing_or(f"{WORKSPACES}/publicNetworkAccess", "notEquals", DISABLED),
        BuiltIn(
            "438c38d2-3772-465a-a9cc-7a6666a275ce",
            "Azure Machine Learning workspaces should disable public network access",
        ),
    ),
)
def workspace_public_access(facts: WorkspaceFacts, params: PolicyParameters) -> list[Finding]:
    """The AML workspace's `publicNetworkAccess` is `Disabled`.

    A workspace reachable from the internet defeats its private endpoints. A workspace that does
    not report the property is non-compliant, because ARM's default is `Enabled`. In `remediate`
    mode the property is set to `Disabled`.
    """
    name = _name(facts.id)
    observed = facts.public_network_access
    if _is(observed, DISABLED):
        return [
            _finding(
                "workspace-public-access",
                facts.id,
                Status.COMPLIANT,
                f"workspace {name} has publicNetworkAccess {observed!r}",
            )
        ]
    if observed is None:
        message = (
            f"workspace {name} does not report publicNetworkAccess (ARM's default is 'Enabled')"
        )
    else:
        message = f"workspace {name} has publicNetworkAccess {observed!r}, not 'Disabled'"
    remediation = Remediation(
        kind=RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS,
        target_id=facts.id,
        value=DISABLED,
        description=f"set publicNetworkAccess of workspace {name} to 'Disabled'",
    )
    return [
        _finding("workspace-public-access", facts.id, Status.NON_COMPLIANT, message, remediation)
    ]


@rule(
    "workspace-user-assigned-identity",
    severity=Severity.MEDIUM,
    reads=("workspace",),
    policy=AzurePolicy(
        WORKSPACES,
        _missing_or("identity.type", "notContains", "UserAssigned"),
        BuiltIn(
            "5f0c7d88-c7de-45b8-ac49-db49e72eaa78",
            "Azure Machine Learning workspaces should use user-assigned managed identity",
        ),
    ),
)
def workspace_user_assigned_identity(
    facts: WorkspaceFacts, params: PolicyParameters
) -> list[Finding]:
    """The AML workspace has a user-assigned managed identity.

    The identity type must include `UserAssigned` and at least one identity must be attached. A
    user-assigned identity outlives the workspace and can be granted access before it exists,
    which the Cloud Adoption Framework recommends for landing zones.
    """
    name = _name(facts.id)
    observed = facts.identity_type
    # ARM writes combined types as "SystemAssigned,UserAssigned" (older APIs add a space).
    types = {part.strip().lower() for part in (observed or "").split(",") if part.isascii()}
    if observed is None:
        status, message = Status.NON_COMPLIANT, f"workspace {name} does not report identity.type"
    elif "userassigned" not in types:
        status = Status.NON_COMPLIANT
        message = f"workspace {name} has identity type {observed!r}, without 'UserAssigned'"
    elif not facts.user_assigned_identities:
        status = Status.NON_COMPLIANT
        message = f"workspace {name} has identity type {observed!r} but no user-assigned identity"
    else:
        status = Status.COMPLIANT
        message = (
            f"workspace {name} has identity type {observed!r} with "
            f"{len(facts.user_assigned_identities)} user-assigned identity(ies)"
        )
    return [_finding("workspace-user-assigned-identity", facts.id, status, message)]


@rule(
    "workspace-hbi",
    severity=Severity.MEDIUM,
    reads=("workspace",),
    policy=AzurePolicy(WORKSPACES, _missing_or(f"{WORKSPACES}/hbiWorkspace", "notEquals", True)),
)
def workspace_hbi(facts: WorkspaceFacts, params: PolicyParameters) -> list[Finding]:
    """The AML workspace has `hbiWorkspace` true, where `HBI_REQUIRED` says it must.

    A high business impact workspace limits the diagnostic data Microsoft collects and encrypts
    local scratch disks. It can only be chosen when the workspace is created, so this is
    reported, never remediated. Not applicable when `HBI_REQUIRED` is false.
    """
    name = _name(facts.id)
    observed = facts.hbi_workspace
    if not params.hbi_required:
        status = Status.NOT_APPLICABLE
        message = f"HBI_REQUIRED is false: hbiWorkspace of workspace {name} is not judged"
    elif observed is None:
        status, message = Status.NON_COMPLIANT, f"workspace {name} does not report hbiWorkspace"
    elif observed is True:
        status, message = Status.COMPLIANT, f"workspace {name} has hbiWorkspace true"
    else:
        status = Status.NON_COMPLIANT
        message = f"workspace {name} has hbiWorkspace {observed!r}, HBI_REQUIRED is true"
    return [_finding("workspace-hbi", facts.id, status, message)]


# --- computes ---------------------------------------------------------------------------------


@rule(
    "compute-local-auth",
    severity=Severity.MEDIUM,
    reads=("computes",),
    policy=AzurePolicy(
        COMPUTES,
        {"field": f"{COMPUTES}/disableLocalAuth", "notEquals": True},
        BuiltIn(
            "e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f",
            "Azure Machine Learning Computes should have local authentication methods disabled",
        ),
    ),
)
def compute_local_auth(facts: WorkspaceFacts, params: PolicyParameters) -> list[Finding]:
    """Every compute has `disableLocalAuth` true.

    Local (key-based) authentication bypasses Microsoft Entra ID and its audit trail. The
    property cannot be changed on an existing compute, so this is reported, never remediated.
    A compute that does not report it is non-compliant. No findings when the workspace has no
    computes (the engine reports the rule as not applicable).
    """
    findings = []
    for compute in facts.computes:
        observed = compute.disable_local_auth
        if observed is True:
            status, message = Status.COMPLIANT, f"{_label(compute)} has disableLocalAuth true"
        elif observed is None:
            status = Status.NON_COMPLIANT
            message = f"{_label(compute)} does not report disableLocalAuth"
        else:
            status = Status.NON_COMPLIANT
            message = f"{_label(compute)} has disableLocalAuth {observed!r}"
        findings.append(_finding("compute-local-auth", compute.id, status, message))
    return findings


@rule(
    "compute-subnet",
    severity=Severity.HIGH,
    reads=("computes",),
    policy=AzurePolicy(
        COMPUTES,
        _computes_of(
            CLUSTERS_AND_INSTANCES,
            _missing_or(f"{COMPUTES}/subnet.id", "equals", ""),
        ),
        BuiltIn(
            "7804b5c7-01dc-4723-969b-ae300cc07ff1",
            "Azure Machine Learning Computes should be in a virtual network",
        ),
    ),
)
def compute_subnet(facts: WorkspaceFacts, params: PolicyParameters) -> list[Finding]:
    """Every compute cluster (AmlCompute) and compute instance sits in a virtual network subnet.

    Without a subnet their nodes get public IPs and reach the workspace's dependencies over the
    internet. Other compute types (AKS, attached computes) bring their own network and are not
    judged.
    """
    findings = []
    for compute in facts.computes:
        if not _is_any(compute.compute_type, (AML_COMPUTE, COMPUTE_INSTANCE)):
            continue
        if compute.subnet_id:
            status = Status.COMPLIANT
            message = f"{_label(compute)} sits in subnet {compute.subnet_id!r}"
        else:
            status, message = Status.NON_COMPLIANT, f"{_label(compute)} reports no subnet"
        findings.append(_finding("compute-subnet", compute.id, status, message))
    return findings


@rule(
    "compute-vm-size",
    severity=Severity.MEDIUM,
    reads=("computes",),
    policy=AzurePolicy(
        COMPUTES,
        _computes_of(
            CLUSTERS_AND_INSTANCES,
            _missing_or(f"{COMPUTES}/vmSize", "notIn", "[parameters('allowedVmSizes')]"),
        ),
        parameters=("allowedVmSizes",),
    ),
)
def compute_vm_size(facts: WorkspaceFacts, params: PolicyParameters) -> list[Finding]:
    """Every compute's VM size is one of `ALLOWED_COMPUTE_VM_SIZES` (compared ignoring case).

    Keeps costly or unapproved SKUs (large GPU sizes) out of the workspace. Computes without a
    VM size of their own (AKS, Kubernetes, attached services) are not judged, but a cluster or
    instance that does not report one is non-compliant. A single not-applicable finding when
    `ALLOWED_COMPUTE_VM_SIZES` is unset.
    """
    allowed = params.allowed_vm_sizes
    if allowed is None:
        return [
            _finding(
                "compute-vm-size",
                facts.id,
                Status.NOT_APPLICABLE,
                f"ALLOWED_COMPUTE_VM_SIZES is unset: VM sizes in workspace {_name(facts.id)} "
                "are not judged",
            )
        ]
    allowed_lower = {size.lower() for size in allowed if size.isascii()}
    findings = []
    for compute in facts.computes:
        observed = compute.vm_size
        if observed is None:
            if not _is_any(compute.compute_type, (AML_COMPUTE, COMPUTE_INSTANCE)):
                continue
            status, message = Status.NON_COMPLIANT, f"{_label(compute)} does not report vmSize"
        elif observed.isascii() and observed.lower() in allowed_lower:
            status, message = Status.COMPLIANT, f"{_label(compute)} has VM size {observed!r}"
        else:
            status = Status.NON_COMPLIANT
            message = f"{_label(compute)} has VM size {observed!r}, not in ALLOWED_COMPUTE_VM_SIZES"
        findings.append(_finding("compute-vm-size", compute.id, status, message))
    return findings


def nodes_fit_the_new_maximum(facts: WorkspaceFacts, remediation: Remediation) -> GuardVerdict:
    """A cluster's maximum is lowered only when its current and target node counts are both at
    most the new maximum: a lower maximum must not take nodes away from running jobs. A cluster
    that does not report its node counts is left until it does."""
    compute = next((c for c in facts.computes if same_arm_id(c.id, remediation.target_id)), None)
    if compute is None:
        return GuardVerdict(False, f"compute {remediation.target_id!r} was not observed")
    label = _label(compute)
    maximum = remediation.value
    current, target = compute.current_node_count, compute.target_node_count
    if not _is_count(current) or not _is_count(target):
        # Missing, negative or of the wrong shape: not a count to judge by, so never a guess.
        return GuardVerdict(
            False,
            f"{label} does not report a valid currentNodeCount and targetNodeCount "
            f"({current!r}, {target!r}): deferred until it does",
        )
    counts = f"{label} has {current} current and {target} target node(s)"
    if isinstance(maximum, int) and current <= maximum and target <= maximum:
        return GuardVerdict(True, f"{counts}, within the new maximum {maximum}")
    return GuardVerdict(
        False, f"{counts}, above the new maximum {maximum}: deferred until it scales down"
    )


@rule(
    "compute-max-nodes",
    severity=Severity.MEDIUM,
    reads=("computes",),
    remediation=RemediationKind.LOWER_MAX_NODES,
    guard=nodes_fit_the_new_maximum,
    policy=AzurePolicy(
        COMPUTES,
        _computes_of(
            (AML_COMPUTE,),
            {
                "field": f"{COMPUTES}/scaleSettings.maxNodeCount",
                "greater": "[parameters('maxClusterNodes')]",
            },
        ),
        parameters=("maxClusterNodes",),
    ),
)
def compute_max_nodes(facts: WorkspaceFacts, params: PolicyParameters) -> list[Finding]:
    """Every compute cluster (AmlCompute) has `maxNodeCount` at most `MAX_CLUSTER_NODES`.

    Caps what a runaway job can spend. In `remediate` mode the cluster's maximum is lowered to
    `MAX_CLUSTER_NODES`, unless its `minNodeCount` is above that (Azure would reject a maximum
    below the minimum: then it is only reported). A cluster that does not report its maximum is
    unknown. A single not-applicable finding when `MAX_CLUSTER_NODES` is unset.
    """
    limit = params.max_cluster_nodes
    if limit is None:
        return [
            _finding(
                "compute-max-nodes",
                facts.id,
                Status.NOT_APPLICABLE,
                f"MAX_CLUSTER_NODES is unset: cluster sizes in workspace {_name(facts.id)} "
                "are not judged",
            )
        ]
    findings = []
    for compute in facts.computes:
        if not _is(compute.compute_type, AML_COMPUTE):
            continue
        label = _label(compute)
        observed = compute.max_node_count
        remediation = None
        if observed is None:
            status, message = Status.UNKNOWN, f"{label} does not report maxNodeCount"
        elif observed <= limit:
            status = Status.COMPLIANT
            message = f"{label} has maxNodeCount {observed} (limit {limit})"
        else:
            status = Status.NON_COMPLIANT
            message = f"{label} has maxNodeCount {observed}, above MAX_CLUSTER_NODES {limit}"
            minimum = (
                DEFAULT_MIN_NODES if compute.min_node_count is None else compute.min_node_count
            )
            if minimum > limit:
                message += (
                    f"; not lowered automatically: its minNodeCount {minimum} is above the limit"
                )
            else:
                remediation = Remediation(
                    kind=RemediationKind.LOWER_MAX_NODES,
                    target_id=compute.id,
                    value=limit,
                    description=f"lower maxNodeCount of {label} from {observed} to {limit}",
                )
        findings.append(_finding("compute-max-nodes", compute.id, status, message, remediation))
    return findings


@rule(
    "compute-remote-login",
    severity=Severity.MEDIUM,
    reads=("computes",),
    policy=AzurePolicy(
        COMPUTES,
        _computes_of(
            (AML_COMPUTE,),
            _missing_or(f"{COMPUTES}/remoteLoginPortPublicAccess", "notEquals", DISABLED),
        ),
    ),
)
def compute_remote_login(facts: WorkspaceFacts, params: PolicyParameters) -> list[Finding]:
    """Every compute cluster (AmlCompute) has `remoteLoginPortPublicAccess` `Disabled`.

    `Enabled` opens SSH on the nodes' public IPs; `NotSpecified` (and a missing value) leave it
    open whenever the cluster was created with SSH credentials, so they are non-compliant too.
    Can only be set when the cluster is created: reported, never remediated.
    """
    findings = []
    for compute in facts.computes:
        if not _is(compute.compute_type, AML_COMPUTE):
            continue
        observed = compute.remote_login_port_public_access
        if _is(observed, DISABLED):
            status = Status.COMPLIANT
            message = f"{_label(compute)} has remoteLoginPortPublicAccess {observed!r}"
        elif observed is None:
            status = Status.NON_COMPLIANT
            message = (
                f"{_label(compute)} does not report remoteLoginPortPublicAccess "
                "(public SSH may be open)"
            )
        else:
            status = Status.NON_COMPLIANT
            message = (
                f"{_label(compute)} has remoteLoginPortPublicAccess {observed!r}, not 'Disabled' "
                "(public SSH may be open)"
            )
        findings.append(_finding("compute-remote-login", compute.id, status, message))
    return findings


@rule(
    "compute-no-aks",
    severity=Severity.LOW,
    reads=("computes",),
    policy=AzurePolicy(
        COMPUTES, {"field": f"{COMPUTES}/computeType", "in": list(KUBERNETES_TYPES)}
    ),
)
def compute_no_aks(facts: WorkspaceFacts, params: PolicyParameters) -> list[Finding]:
    """No AKS or Kubernetes compute is attached to the workspace.

    An attached cluster has its own network, identity and upgrade story that the workspace's
    policies do not govern. One finding per attached cluster, or one compliant finding for the
    workspace when there is none.
    """
    findings = [
        _finding(
            "compute-no-aks",
            compute.id,
            Status.NON_COMPLIANT,
            f"{_label(compute)} is an attached Kubernetes cluster",
        )
        for compute in facts.computes
        if _is_any(compute.compute_type, KUBERNETES_TYPES)
    ]
    if findings:
        return findings
    return [
        _finding(
            "compute-no-aks",
            facts.id,
            Status.COMPLIANT,
            f"workspace {_name(facts.id)} has no AKS or Kubernetes compute attached",
        )
    ]


# --- dependencies and Synapse -----------------------------------------------------------------


@rule(
    "dependencies-private-endpoints",
    severity=Severity.HIGH,
    reads=("dependencies",),
    app_only=(
        "judges the private endpoint connections of other resources (the workspace's storage "
        "account, key vault and container registry): a policy definition evaluates one "
        "resource's own properties"
    ),
)
def dependencies_private_endpoints(
    facts: WorkspaceFacts, params: PolicyParameters
) -> list[Finding]:
    """The workspace's storage account (blob, file, dfs, queue, table), key vault (vault) and
    container registry (registry) each have approved private endpoints for every sub-resource.

    A private workspace whose dependencies are public still moves data over the internet. A
    workspace without a storage account or key vault is non-compliant; the container registry is
    optional for an AML workspace, so a missing one is not applicable. A dependency that could
    not be read is unknown.
    """
    return [_judge_dependency(facts, dependency) for dependency in facts.dependencies]


def _judge_dependency(facts: WorkspaceFacts, dependency: DependencyFacts) -> Finding:
    kind = dependency.kind
    noun = DEPENDENCY_NAMES[kind]
    if dependency.resource_id is None:
        if kind is DependencyKind.CONTAINER_REGISTRY:
            status = Status.NOT_APPLICABLE
            message = f"workspace {_name(facts.id)} has no {noun} (optional)"
        else:
            status, message = Status.NON_COMPLIANT, f"workspace {_name(facts.id)} has no {noun}"
        return _finding("dependencies-private-endpoints", facts.id, status, message)
    label = f"{noun} {_name(dependency.resource_id)}"
    if dependency.error is not None:
        status, message = Status.UNKNOWN, f"{label} could not be read: {dependency.error}"
    else:
        approved = {group.lower() for group in dependency.approved_groups if group.isascii()}
        missing = sorted(group for group in kind.required_groups if group not in approved)
        if missing:
            status = Status.NON_COMPLIANT
            message = f"{label} has no approved private endpoint for: {', '.join(missing)}"
        else:
            status = Status.COMPLIANT
            message = (
                f"{label} has approved private endpoints for: "
                f"{', '.join(sorted(kind.required_groups))}"
            )
    return _finding("dependencies-private-endpoints", dependency.resource_id, status, message)


@rule(
    "synapse-no-exfiltration-protection",
    severity=Severity.HIGH,
    reads=("synapse",),
    app_only=(
        "judges only the allow-listed Synapse workspaces (SYNAPSE_WORKSPACE_IDS, a list Azure "
        "Policy does not have) for the integration with this AML workspace, and asks for the "
        "opposite of the Landing Zones guardrail (see `plan`'s conflicts)"
    ),
)
def synapse_no_exfiltration_protection(
    facts: WorkspaceFacts, params: PolicyParameters
) -> list[Finding]:
    """Every allow-listed Synapse workspace has a managed virtual network and no data
    exfiltration protection.

    Synapse reaches Azure ML only through a managed private endpoint, which needs a managed
    virtual network; with data exfiltration protection on, the integration is unsupported. A
    Synapse workspace that could not be read is unknown (the finding then targets the AML
    workspace, as the error is all that is known).
    """
    findings = []
    for synapse in facts.synapse_workspaces:
        problems = []
        if not synapse.managed_virtual_network:
            problems.append("has no managed virtual network")
        if synapse.prevent_data_exfiltration:
            problems.append("has data exfiltration protection on")
        if problems:
            status = Status.NON_COMPLIANT
            message = f"Synapse workspace {_name(synapse.id)} {' and '.join(problems)}"
        else:
            status = Status.COMPLIANT
            message = (
                f"Synapse workspace {_name(synapse.id)} has a managed virtual network "
                "and no data exfiltration protection"
            )
        findings.append(_finding("synapse-no-exfiltration-protection", synapse.id, status, message))
    findings.extend(
        _finding(
            "synapse-no-exfiltration-protection",
            facts.id,
            Status.UNKNOWN,
            f"an allow-listed Synapse workspace could not be read: {error}",
        )
        for error in facts.synapse_errors
    )
    return findings


# --- helpers ----------------------------------------------------------------------------------


def _finding(
    rule_id: str,
    target_id: str,
    status: Status,
    message: str,
    remediation: Remediation | None = None,
) -> Finding:
    # The severity is declared once, on the rule; findings copy it for reports.
    return Finding(
        rule_id=rule_id,
        severity=RULES[rule_id].severity,
        target_id=target_id,
        status=status,
        message=message,
        remediation=remediation,
    )


def _is_count(value: object) -> TypeGuard[int]:
    """A node count: a whole number >= 0 (a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is(value: str | None, expected: str) -> bool:
    """Whether an ARM string value equals `expected`, ignoring case (ASCII only)."""
    return value is not None and value.isascii() and value.lower() == expected.lower()


def _is_any(value: str | None, expected: tuple[str, ...]) -> bool:
    return any(_is(value, candidate) for candidate in expected)


def _name(arm_id: str) -> str:
    """The resource's own name for messages, or the whole value when it is not an ARM ID."""
    name = parse_resource_id(arm_id).get("resource_name")
    return repr(name if isinstance(name, str) and name else arm_id)


def _label(compute: ComputeFacts) -> str:
    return f"{compute.compute_type} compute {compute.name!r}"
