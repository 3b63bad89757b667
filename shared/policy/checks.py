"""The twelve rules of the policy set (DESIGN §3.3): pure checks, facts in, findings out.

A check with nothing to judge returns no findings (the engine reports the rule not applicable).
ARM strings are compared ignoring case, ASCII only: ARM's casing varies between API versions,
while a non-ASCII lookalike is never the expected value (`str.lower()` folds the Kelvin sign).
"""

from __future__ import annotations

from collections.abc import Iterable

from azure.mgmt.core.tools import parse_resource_id

from shared.arm import same_arm_id
from shared.policy.facts import (
    REQUIRED_GROUPS,
    ComputeFacts,
    DependencyKind,
    PolicyParameters,
    WorkspaceFacts,
    is_count,
)
from shared.policy.rules import (
    AzurePolicy,
    BuiltIn,
    Found,
    GuardVerdict,
    Remediation,
    RemediationKind,
    Rule,
    Severity,
    Status,
)

DISABLED = "Disabled"
AML_COMPUTE = "AmlCompute"
KUBERNETES_TYPES = ("AKS", "Kubernetes")
DEPENDENCY_NAMES = {
    DependencyKind.STORAGE: "storage account",
    DependencyKind.KEY_VAULT: "key vault",
    DependencyKind.CONTAINER_REGISTRY: "container registry",
}

# The resource types Azure Policy evaluates, whose aliases the definitions below use.
WORKSPACES = "Microsoft.MachineLearningServices/workspaces"
COMPUTES = f"{WORKSPACES}/computes"
CONNECTIONS = f"{WORKSPACES}/privateEndpointConnections[*]"
APPROVED = {
    "field": f"{CONNECTIONS}.privateLinkServiceConnectionState.status",
    "equals": "Approved",
}
CLUSTERS_AND_INSTANCES = (AML_COMPUTE, "ComputeInstance")


def _missing_or(alias: str, operator: str, value: object) -> dict[str, object]:
    """A property that is missing or meets `operator` (policy conditions ignore case)."""
    return {"anyOf": [{"field": alias, "exists": False}, {"field": alias, operator: value}]}


def _computes_of(types: tuple[str, ...], condition: dict[str, object]) -> dict[str, object]:
    kind = {"field": f"{COMPUTES}/computeType", "in": list(types)}
    return {"allOf": [kind, condition]}


_NC, _OK = Status.NON_COMPLIANT, Status.COMPLIANT


@Rule(
    "workspace-private-link",
    severity=Severity.HIGH,
    reads=("connections",),
    policy=AzurePolicy(
        WORKSPACES,
        {"count": {"field": CONNECTIONS, "where": APPROVED}, "less": 1},
        BuiltIn(
            "40cec1dd-a100-4920-b15b-3024fe8901ab",
            "Azure Machine Learning workspaces should use private link",
        ),
        can_deny=False,
    ),
)
def workspace_private_link(facts: WorkspaceFacts, params: PolicyParameters) -> Iterable[Found]:
    """The AML workspace has at least one approved private endpoint connection. Reported only:
    which endpoint to approve is the private endpoint reconciler's decision."""
    count = facts.approved_private_endpoint_connections
    return [(facts.id, _OK if count >= 1 else _NC, _approved(facts, count))]


def private_path_exists(facts: WorkspaceFacts, remediation: Remediation) -> GuardVerdict:
    """Public access is disabled only while people have a private path: an approved connection
    from a private endpoint in a customer subscription. A managed private endpoint (Synapse's)
    lives in a Microsoft-managed subscription and serves only its service."""
    ours = "a subscription of ML_WORKSPACE_IDS"
    if (count := facts.customer_private_endpoint_connections) >= 1:
        return GuardVerdict(True, f"{_approved(facts, count)} from {ours}")
    cut_off = "disabling public network access would cut off every user"
    if (approved := facts.approved_private_endpoint_connections) >= 1:
        return GuardVerdict(
            False,
            f"{_approved(facts, approved)}, none from {ours} (a "
            "managed private endpoint, such as Synapse's, lives in a Microsoft-managed "
            f"subscription and serves only its service): {cut_off} and pipeline",
        )
    message = f"workspace {_name(facts.id)} has no approved private endpoint connection"
    return GuardVerdict(False, f"{message}: {cut_off}, pipeline and the Synapse integration")


@Rule(
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
def workspace_public_access(facts: WorkspaceFacts, params: PolicyParameters) -> Iterable[Found]:
    """The AML workspace's `publicNetworkAccess` is `Disabled` (missing counts as ARM's default,
    `Enabled`). In `remediate` mode it is set to `Disabled`."""
    subject, observed = f"workspace {_name(facts.id)}", facts.public_network_access
    default, bad = " (ARM's default is 'Enabled')", ", not 'Disabled'"
    ok = _is(observed, DISABLED)
    found = _reported(facts.id, subject, "publicNetworkAccess", observed, ok, default, bad)
    kind = RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS
    description = f"set publicNetworkAccess of {subject} to 'Disabled'"
    return [found if ok else (*found, Remediation(kind, facts.id, DISABLED, description))]


@Rule(
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
) -> Iterable[Found]:
    """The AML workspace has a user-assigned managed identity: it outlives the workspace and can
    be granted access before the workspace exists (Cloud Adoption Framework landing zones)."""
    subject, observed = f"workspace {_name(facts.id)}", facts.identity_type
    count = len(facts.user_assigned_identities)
    # ARM writes combined types as "SystemAssigned,UserAssigned" (older APIs add a space).
    parts = (observed or "").split(",")
    status, has = _NC, f"{subject} has identity type {observed!r}"
    if observed is None:
        message = f"{subject} does not report identity.type"
    elif not any(part.isascii() and _is(part.strip(), "UserAssigned") for part in parts):
        message = f"{has}, without 'UserAssigned'"
    elif not count:
        message = f"{has} but no user-assigned identity"
    else:
        status, message = _OK, f"{has} with {count} user-assigned identity(ies)"
    return [(facts.id, status, message)]


@Rule(
    "workspace-hbi",
    severity=Severity.MEDIUM,
    reads=("workspace",),
    policy=AzurePolicy(WORKSPACES, _missing_or(f"{WORKSPACES}/hbiWorkspace", "notEquals", True)),
)
def workspace_hbi(facts: WorkspaceFacts, params: PolicyParameters) -> Iterable[Found]:
    """The AML workspace has `hbiWorkspace` true where `HBI_REQUIRED` says so. Chosen only at
    creation, so reported, never remediated."""
    name, observed = _name(facts.id), facts.hbi_workspace
    if not params.hbi_required:
        message = f"HBI_REQUIRED is false: hbiWorkspace of workspace {name} is not judged"
        return [(facts.id, Status.NOT_APPLICABLE, message)]
    subject, bad = f"workspace {name}", ", HBI_REQUIRED is true"
    return [_reported(facts.id, subject, "hbiWorkspace", observed, observed is True, bad=bad)]


@Rule(
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
def compute_local_auth(facts: WorkspaceFacts, params: PolicyParameters) -> Iterable[Found]:
    """Every compute has `disableLocalAuth` true: key-based auth bypasses Entra ID and its audit
    trail. Fixed at creation, so reported, never remediated."""
    for c in facts.computes:
        observed = c.disable_local_auth
        yield _reported(c.id, _label(c), "disableLocalAuth", observed, observed is True)


@Rule(
    "compute-subnet",
    severity=Severity.HIGH,
    reads=("computes",),
    policy=AzurePolicy(
        COMPUTES,
        _computes_of(CLUSTERS_AND_INSTANCES, _missing_or(f"{COMPUTES}/subnet.id", "equals", "")),
        BuiltIn(
            "7804b5c7-01dc-4723-969b-ae300cc07ff1",
            "Azure Machine Learning Computes should be in a virtual network",
        ),
    ),
)
def compute_subnet(facts: WorkspaceFacts, params: PolicyParameters) -> Iterable[Found]:
    """Every compute cluster and instance sits in a subnet; otherwise its nodes get public IPs.
    Other compute types bring their own network and are not judged."""
    return [
        (c.id, _OK, f"{_label(c)} sits in subnet {c.subnet_id!r}")
        if c.subnet_id
        else (c.id, _NC, f"{_label(c)} reports no subnet")
        for c in facts.computes
        if _is_any(c.compute_type, CLUSTERS_AND_INSTANCES)
    ]


@Rule(
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
def compute_vm_size(facts: WorkspaceFacts, params: PolicyParameters) -> Iterable[Found]:
    """Every compute's VM size is one of `ALLOWED_COMPUTE_VM_SIZES`, keeping costly or unapproved
    SKUs out. Computes without a VM size of their own (AKS, attached) are not judged."""
    allowed = params.allowed_vm_sizes
    if allowed is None:
        return [_unset(facts, "ALLOWED_COMPUTE_VM_SIZES", "VM sizes")]
    allowed_lower = {size.lower() for size in allowed if size.isascii()}
    bad = ", not in ALLOWED_COMPUTE_VM_SIZES"
    return [
        (c.id, _NC, f"{_label(c)} does not report vmSize")
        if c.vm_size is None
        else _reported(
            c.id, _label(c), "VM size", c.vm_size, _is_any(c.vm_size, allowed_lower), bad=bad
        )
        for c in facts.computes
        if c.vm_size is not None or _is_any(c.compute_type, CLUSTERS_AND_INSTANCES)
    ]


def nodes_fit_the_new_maximum(facts: WorkspaceFacts, remediation: Remediation) -> GuardVerdict:
    """A cluster's maximum is lowered only when its current and target node counts both fit:
    a lower maximum must not take nodes from running jobs. Unreported counts defer it."""
    compute = next((c for c in facts.computes if same_arm_id(c.id, remediation.target_id)), None)
    if compute is None:
        return GuardVerdict(False, f"compute {remediation.target_id!r} was not observed")
    label, maximum = _label(compute), remediation.value
    current, target = compute.current_node_count, compute.target_node_count
    if not is_count(current) or not is_count(target):
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


@Rule(
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
def compute_max_nodes(facts: WorkspaceFacts, params: PolicyParameters) -> Iterable[Found]:
    """Every compute cluster has `maxNodeCount` at most `MAX_CLUSTER_NODES`, capping what a
    runaway job spends. Remediated by lowering it, unless `minNodeCount` is above the limit."""
    limit = params.max_cluster_nodes
    if limit is None:
        yield _unset(facts, "MAX_CLUSTER_NODES", "cluster sizes")
        return
    for c in (c for c in facts.computes if _is(c.compute_type, AML_COMPUTE)):
        label, observed = _label(c), c.max_node_count
        # 0: ARM's default `scaleSettings.minNodeCount` when a cluster does not report one.
        minimum = c.min_node_count or 0
        message = f"{label} has maxNodeCount {observed}, above MAX_CLUSTER_NODES {limit}"
        if observed is None:
            yield c.id, Status.UNKNOWN, f"{label} does not report maxNodeCount"
        elif observed <= limit:
            yield c.id, _OK, f"{label} has maxNodeCount {observed} (limit {limit})"
        elif minimum > limit:
            # Azure rejects a maximum below the minimum: only reported.
            why = f"not lowered automatically: its minNodeCount {minimum} is above the limit"
            yield c.id, _NC, f"{message}; {why}"
        else:
            description = f"lower maxNodeCount of {label} from {observed} to {limit}"
            fix = Remediation(RemediationKind.LOWER_MAX_NODES, c.id, limit, description)
            yield c.id, _NC, message, fix


@Rule(
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
def compute_remote_login(facts: WorkspaceFacts, params: PolicyParameters) -> Iterable[Found]:
    """Every compute cluster has `remoteLoginPortPublicAccess` `Disabled`; `NotSpecified` or a
    missing value leave SSH open when created with credentials. Set only at creation."""
    ssh = " (public SSH may be open)"
    field, bad = "remoteLoginPortPublicAccess", f", not 'Disabled'{ssh}"
    for c in (c for c in facts.computes if _is(c.compute_type, AML_COMPUTE)):
        observed = c.remote_login_port_public_access
        yield _reported(c.id, _label(c), field, observed, _is(observed, DISABLED), ssh, bad)


@Rule(
    "compute-no-aks",
    severity=Severity.LOW,
    reads=("computes",),
    policy=AzurePolicy(
        COMPUTES, {"field": f"{COMPUTES}/computeType", "in": list(KUBERNETES_TYPES)}
    ),
)
def compute_no_aks(facts: WorkspaceFacts, params: PolicyParameters) -> Iterable[Found]:
    """No AKS or Kubernetes compute is attached: its network, identity and upgrades are outside
    the workspace's policies."""
    found = [
        (c.id, _NC, f"{_label(c)} is an attached Kubernetes cluster")
        for c in facts.computes
        if _is_any(c.compute_type, KUBERNETES_TYPES)
    ]
    message = f"workspace {_name(facts.id)} has no AKS or Kubernetes compute attached"
    return found or [(facts.id, _OK, message)]


@Rule(
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
) -> Iterable[Found]:
    """The workspace's storage account, key vault and (optional) container registry have
    approved private endpoints for every sub-resource; otherwise data crosses the internet."""
    for dependency in facts.dependencies:
        kind, target = dependency.kind, dependency.resource_id
        noun, required = DEPENDENCY_NAMES[kind], REQUIRED_GROUPS[kind]
        if target is None:
            message = f"workspace {_name(facts.id)} has no {noun}"
            if kind is DependencyKind.CONTAINER_REGISTRY:
                yield facts.id, Status.NOT_APPLICABLE, f"{message} (optional)"
            else:
                yield facts.id, _NC, message
            continue
        label = f"{noun} {_name(target)}"
        approved = {group.lower() for group in dependency.approved_groups if group.isascii()}
        missing = ", ".join(sorted(g for g in required if g not in approved))
        if dependency.error is not None:
            yield target, Status.UNKNOWN, f"{label} could not be read: {dependency.error}"
        elif missing:
            yield target, _NC, f"{label} has no approved private endpoint for: {missing}"
        else:
            groups = ", ".join(sorted(required))
            yield target, _OK, f"{label} has approved private endpoints for: {groups}"


@Rule(
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
) -> Iterable[Found]:
    """Every allow-listed Synapse workspace has a managed virtual network (its managed private
    endpoint needs one) and no data exfiltration protection (unsupported by the integration)."""
    for synapse in facts.synapse_workspaces:
        problems = []
        if not synapse.managed_virtual_network:
            problems.append("has no managed virtual network")
        if synapse.prevent_data_exfiltration:
            problems.append("has data exfiltration protection on")
        label = f"Synapse workspace {_name(synapse.id)}"
        if problems:
            yield synapse.id, _NC, f"{label} {' and '.join(problems)}"
        else:
            message = f"{label} has a managed virtual network and no data exfiltration protection"
            yield synapse.id, _OK, message
    # An unreadable Synapse workspace: the error is all that is known, so target the workspace.
    for error in facts.synapse_errors:
        message = f"an allow-listed Synapse workspace could not be read: {error}"
        yield facts.id, Status.UNKNOWN, message


def _reported(
    target: str, subject: str, field: str, seen: object, ok: bool, missing: str = "", bad: str = ""
) -> tuple[str, Status, str]:
    """A property compliant when `ok` (a bool shown as JSON writes it); missing, it is not."""
    if ok:
        return target, _OK, f"{subject} has {field} {'true' if seen is True else repr(seen)}"
    if seen is None:
        return target, _NC, f"{subject} does not report {field}{missing}"
    return target, _NC, f"{subject} has {field} {seen!r}{bad}"


def _approved(facts: WorkspaceFacts, count: int) -> str:
    return f"workspace {_name(facts.id)} has {count} approved private endpoint connection(s)"


def _unset(facts: WorkspaceFacts, setting: str, what: str) -> Found:
    message = f"{setting} is unset: {what} in workspace {_name(facts.id)} are not judged"
    return facts.id, Status.NOT_APPLICABLE, message


def _is(value: str | None, expected: str) -> bool:
    return value is not None and value.isascii() and value.lower() == expected.lower()


def _is_any(value: str | None, expected: Iterable[str]) -> bool:
    return any(_is(value, candidate) for candidate in expected)


def _name(arm_id: str) -> str:
    """The resource's name for messages, or the whole value when it is not an ARM ID."""
    name = parse_resource_id(arm_id).get("resource_name")
    return repr(name if isinstance(name, str) and name else arm_id)


def _label(compute: ComputeFacts) -> str:
    return f"{compute.compute_type} compute {compute.name!r}"
