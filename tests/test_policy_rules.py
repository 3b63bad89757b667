"""The policy set (DESIGN §3.3): each rule's verdicts, the engine, and properties over any facts.

Per rule: a compliant case, a non-compliant one, and a missing property (what ARM does when it
leaves a value out). For the two remediable rules, the remediation is applied to the facts and
the workspace evaluated again: it must then be compliant with nothing left to do (idempotence,
DESIGN §5). Hypothesis checks that remediations stay within the two allowed writes on the
workspace and its own computes, and that no facts, however odd, make the engine raise.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.arm import ArmId
from shared.model import SynapseWorkspace
from shared.policy.engine import evaluate, ordered_rules, remediations
from shared.policy.facts import (
    REQUIRED_GROUPS,
    ComputeFacts,
    DependencyFacts,
    DependencyKind,
    PolicyParameters,
    WorkspaceFacts,
)
from shared.policy.rules import (
    RULES,
    Finding,
    Remediation,
    RemediationKind,
    Severity,
    Status,
)

REFERENCE = Path("/work/shared/reference")

# Copied from DESIGN §3.3's table, in its order: the registry must match it exactly.
DESIGN_RULE_IDS = (
    "workspace-private-link",
    "workspace-public-access",
    "workspace-user-assigned-identity",
    "workspace-hbi",
    "compute-local-auth",
    "compute-subnet",
    "compute-vm-size",
    "compute-max-nodes",
    "compute-remote-login",
    "compute-no-aks",
    "dependencies-private-endpoints",
    "synapse-no-exfiltration-protection",
)

SUB = "00000000-1111-2222-3333-444444444444"
RG = f"/subscriptions/{SUB}/resourceGroups/ml-rg"
WS = ArmId(f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws1")
SUBNET = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/compute"
UAI = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ws1-identity"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/ws1storage"
KEY_VAULT = f"{RG}/providers/Microsoft.KeyVault/vaults/ws1-kv"
REGISTRY = f"{RG}/providers/Microsoft.ContainerRegistry/registries/ws1acr"
SYNAPSE = ArmId(f"{RG}/providers/Microsoft.Synapse/workspaces/syn1")

PARAMS = PolicyParameters(
    allowed_vm_sizes=frozenset({"Standard_DS3_v2", "Standard_E4ds_v4"}),
    max_cluster_nodes=4,
    hbi_required=True,
)

PROPERTY = settings(
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- facts that pass every rule, and the helpers the tests vary them with ----------------------


def compute_id(name: str, workspace: str = WS) -> str:
    return f"{workspace}/computes/{name}"


def cluster(name: str = "cpu-cluster", **changes: Any) -> ComputeFacts:
    """A compliant AmlCompute cluster; `changes` make it otherwise."""
    compliant = ComputeFacts(
        id=compute_id(name),
        name=name,
        compute_type="AmlCompute",
        vm_size="Standard_DS3_v2",
        subnet_id=SUBNET,
        disable_local_auth=True,
        max_node_count=4,
        min_node_count=0,
        remote_login_port_public_access="Disabled",
    )
    return replace(compliant, **changes)


def instance(name: str = "ci-alice", **changes: Any) -> ComputeFacts:
    """A compliant compute instance."""
    compliant = ComputeFacts(
        id=compute_id(name),
        name=name,
        compute_type="ComputeInstance",
        vm_size="Standard_E4ds_v4",
        subnet_id=SUBNET,
        disable_local_auth=True,
    )
    return replace(compliant, **changes)


def aks(name: str = "aks-inference", compute_type: str = "AKS") -> ComputeFacts:
    return ComputeFacts(
        id=compute_id(name), name=name, compute_type=compute_type, disable_local_auth=True
    )


def dependencies(**changes: DependencyFacts) -> tuple[DependencyFacts, ...]:
    """Storage, key vault and registry, each fully private; keyword = kind value to replace."""
    compliant = {
        kind: DependencyFacts(
            kind=kind, resource_id=resource_id, approved_groups=REQUIRED_GROUPS[kind]
        )
        for kind, resource_id in (
            (DependencyKind.STORAGE, STORAGE),
            (DependencyKind.KEY_VAULT, KEY_VAULT),
            (DependencyKind.CONTAINER_REGISTRY, REGISTRY),
        )
    }
    return tuple(changes.get(kind.value, facts) for kind, facts in compliant.items())


def synapse(**changes: Any) -> SynapseWorkspace:
    compliant = SynapseWorkspace(
        id=SYNAPSE,
        principal_id="p-1",
        managed_virtual_network=True,
        prevent_data_exfiltration=False,
    )
    return replace(compliant, **changes)


def workspace(**changes: Any) -> WorkspaceFacts:
    """A workspace on which every rule of the policy set is compliant."""
    compliant = WorkspaceFacts(
        id=WS,
        public_network_access="Disabled",
        hbi_workspace=True,
        identity_type="SystemAssigned,UserAssigned",
        user_assigned_identities=(UAI,),
        approved_private_endpoint_connections=1,
        customer_private_endpoint_connections=1,
        computes=(cluster(), instance()),
        dependencies=dependencies(),
        synapse_workspaces=(synapse(),),
    )
    return replace(compliant, **changes)


def judge(rule_id: str, facts: WorkspaceFacts, params: PolicyParameters = PARAMS) -> list[Finding]:
    return evaluate(facts, params, [rule_id])


def statuses(findings: list[Finding]) -> list[Status]:
    return [finding.status for finding in findings]


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def apply(facts: WorkspaceFacts, remediation: Remediation) -> WorkspaceFacts:
    """What Azure looks like after the remediation was written: the facts with the new value."""
    if remediation.kind is RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS:
        assert remediation.target_id.lower() == facts.id.lower()
        return replace(facts, public_network_access=str(remediation.value))
    assert isinstance(remediation.value, int)
    computes = tuple(
        replace(compute, max_node_count=remediation.value)
        if compute.id.lower() == remediation.target_id.lower()
        else compute
        for compute in facts.computes
    )
    return replace(facts, computes=computes)


def fixes(findings: list[Finding], facts: WorkspaceFacts) -> list[Remediation]:
    """The writes the engine plans for `findings`, whatever their guards say."""
    return [candidate.remediation for candidate in remediations(findings, facts)]


def summarize(findings: list[Finding]) -> dict[str, int]:
    """How many findings have each status, every status counted."""
    counts = Counter(finding.status for finding in findings)
    return {status.value: counts[status] for status in Status}


def rule_table() -> list[tuple[str, str, str, str]]:
    """(id, severity, what it reads, remediation or "none") per rule, in the registry's order."""
    return [
        (rule.id, rule.severity.value, ", ".join(rule.reads), str(rule.remediation or "none"))
        for rule in ordered_rules()
    ]


def test_the_baseline_workspace_is_compliant_with_every_rule() -> None:
    findings = evaluate(workspace(), PARAMS)

    assert {finding.rule_id for finding in findings} == set(DESIGN_RULE_IDS)
    assert set(statuses(findings)) == {Status.COMPLIANT}
    assert fixes(findings, workspace()) == []


# --- workspace rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "expected"), [(1, Status.COMPLIANT), (3, Status.COMPLIANT)])
def test_private_link_is_compliant_with_an_approved_connection(
    count: int, expected: Status
) -> None:
    finding = only(
        judge("workspace-private-link", workspace(approved_private_endpoint_connections=count))
    )

    assert finding.status is expected
    assert finding.target_id == WS
    assert f"{count} approved" in finding.message


def test_private_link_without_approved_connection_is_non_compliant_and_not_remediated() -> None:
    # The connections' facts default to none: the same as ARM listing nothing.
    finding = only(judge("workspace-private-link", WorkspaceFacts(id=WS)))

    assert finding.status is Status.NON_COMPLIANT
    assert "ws1" in finding.message
    assert "0 approved" in finding.message
    assert finding.remediation is None


@pytest.mark.parametrize("observed", ["Disabled", "disabled", "DISABLED"])
def test_public_access_disabled_in_any_casing_is_compliant(observed: str) -> None:
    finding = only(judge("workspace-public-access", workspace(public_network_access=observed)))

    assert finding.status is Status.COMPLIANT
    assert finding.remediation is None


@pytest.mark.parametrize("observed", ["Enabled", "enabled", "SecuredByPerimeter", "D\u0131sabled"])
def test_public_access_otherwise_is_non_compliant_and_remediable(observed: str) -> None:
    # "D\u0131sabled" has a dotless i: a lookalike is not the value.
    finding = only(judge("workspace-public-access", workspace(public_network_access=observed)))

    assert finding.status is Status.NON_COMPLIANT
    assert repr(observed) in finding.message
    fix = finding.remediation
    assert fix is not None
    assert (fix.kind, fix.target_id, fix.value) == (
        RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS,
        WS,
        "Disabled",
    )
    assert "'ws1'" in fix.description


def test_public_access_missing_is_non_compliant_because_arm_defaults_to_enabled() -> None:
    finding = only(judge("workspace-public-access", workspace(public_network_access=None)))

    assert finding.status is Status.NON_COMPLIANT
    assert "does not report publicNetworkAccess" in finding.message
    assert finding.remediation is not None
    assert finding.remediation.kind is RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS


@pytest.mark.parametrize("observed", ["Enabled", None])
def test_public_access_remediation_applied_once_then_nothing_left_to_do(
    observed: str | None,
) -> None:
    facts = workspace(public_network_access=observed)
    planned = fixes(evaluate(facts, PARAMS), facts)
    assert [item.kind for item in planned] == [RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS]

    after = apply(facts, planned[0])
    findings = evaluate(after, PARAMS)

    assert only(judge("workspace-public-access", after)).status is Status.COMPLIANT
    assert fixes(findings, after) == []


@pytest.mark.parametrize(
    "identity_type", ["UserAssigned", "SystemAssigned,UserAssigned", "systemassigned, userassigned"]
)
def test_user_assigned_identity_is_compliant_when_typed_and_attached(identity_type: str) -> None:
    finding = only(
        judge("workspace-user-assigned-identity", workspace(identity_type=identity_type))
    )

    assert finding.status is Status.COMPLIANT
    assert repr(identity_type) in finding.message


@pytest.mark.parametrize(
    ("identity_type", "identities", "says"),
    [
        ("SystemAssigned", (), "without 'UserAssigned'"),
        ("SystemAssigned", (UAI,), "without 'UserAssigned'"),
        ("None", (), "without 'UserAssigned'"),
        ("UserAssigned", (), "no user-assigned identity"),
    ],
)
def test_user_assigned_identity_otherwise_is_non_compliant(
    identity_type: str, identities: tuple[str, ...], says: str
) -> None:
    facts = workspace(identity_type=identity_type, user_assigned_identities=identities)
    finding = only(judge("workspace-user-assigned-identity", facts))

    assert finding.status is Status.NON_COMPLIANT
    assert says in finding.message
    assert finding.remediation is None


def test_user_assigned_identity_missing_type_is_non_compliant() -> None:
    finding = only(judge("workspace-user-assigned-identity", workspace(identity_type=None)))

    assert finding.status is Status.NON_COMPLIANT
    assert "does not report identity.type" in finding.message


def test_hbi_is_compliant_when_required_and_on() -> None:
    assert only(judge("workspace-hbi", workspace(hbi_workspace=True))).status is Status.COMPLIANT


@pytest.mark.parametrize(
    ("observed", "says"), [(False, "hbiWorkspace False"), (None, "does not report")]
)
def test_hbi_off_or_missing_is_non_compliant_when_required(
    observed: bool | None, says: str
) -> None:
    finding = only(judge("workspace-hbi", workspace(hbi_workspace=observed)))

    assert finding.status is Status.NON_COMPLIANT
    assert says in finding.message
    assert finding.remediation is None


@pytest.mark.parametrize("observed", [True, False, None])
def test_hbi_is_not_applicable_unless_required(observed: bool | None) -> None:
    params = replace(PARAMS, hbi_required=False)
    finding = only(judge("workspace-hbi", workspace(hbi_workspace=observed), params))

    assert finding.status is Status.NOT_APPLICABLE
    assert "HBI_REQUIRED is false" in finding.message


# --- compute rules -----------------------------------------------------------------------------


def test_local_auth_judges_every_compute() -> None:
    facts = workspace(
        computes=(
            cluster(),
            instance(disable_local_auth=False),
            cluster("gpu", disable_local_auth=None),
            aks(),
        )
    )
    findings = judge("compute-local-auth", facts)

    assert [(f.target_id, f.status) for f in findings] == [
        (compute_id("cpu-cluster"), Status.COMPLIANT),
        (compute_id("ci-alice"), Status.NON_COMPLIANT),
        (compute_id("gpu"), Status.NON_COMPLIANT),
        (compute_id("aks-inference"), Status.COMPLIANT),
    ]
    assert "'ci-alice' has disableLocalAuth False" in findings[1].message
    assert "'gpu' does not report disableLocalAuth" in findings[2].message
    assert all(finding.remediation is None for finding in findings)


def test_local_auth_without_computes_is_not_applicable_through_the_engine() -> None:
    finding = only(judge("compute-local-auth", workspace(computes=())))

    assert finding.status is Status.NOT_APPLICABLE
    assert finding.target_id == WS
    assert "no computes" in finding.message


def test_subnet_judges_clusters_and_instances_only() -> None:
    facts = workspace(
        computes=(
            cluster(),
            instance(compute_type="computeinstance"),
            cluster("no-vnet", subnet_id=None),
            instance("ci-empty", subnet_id=""),
            aks(),
        )
    )
    findings = judge("compute-subnet", facts)

    assert [(f.target_id, f.status) for f in findings] == [
        (compute_id("cpu-cluster"), Status.COMPLIANT),
        (compute_id("ci-alice"), Status.COMPLIANT),
        (compute_id("no-vnet"), Status.NON_COMPLIANT),
        (compute_id("ci-empty"), Status.NON_COMPLIANT),
    ]
    assert "'no-vnet' reports no subnet" in findings[2].message


def test_subnet_with_only_attached_computes_is_not_applicable() -> None:
    finding = only(judge("compute-subnet", workspace(computes=(aks(), aks("k8s", "Kubernetes")))))

    assert finding.status is Status.NOT_APPLICABLE


def test_vm_size_compares_ignoring_case_and_skips_computes_without_a_size() -> None:
    facts = workspace(
        computes=(
            cluster(vm_size="STANDARD_DS3_V2"),
            instance(vm_size="Standard_NC24ads_A100_v4"),
            cluster("no-size", vm_size=None),
            aks(),
        )
    )
    findings = judge("compute-vm-size", facts)

    assert [(f.target_id, f.status) for f in findings] == [
        (compute_id("cpu-cluster"), Status.COMPLIANT),
        (compute_id("ci-alice"), Status.NON_COMPLIANT),
        (compute_id("no-size"), Status.NON_COMPLIANT),
    ]
    assert "'Standard_NC24ads_A100_v4', not in ALLOWED_COMPUTE_VM_SIZES" in findings[1].message
    assert "does not report vmSize" in findings[2].message


def test_vm_size_unset_parameter_is_one_not_applicable_finding() -> None:
    params = replace(PARAMS, allowed_vm_sizes=None)
    finding = only(judge("compute-vm-size", workspace(), params))

    assert finding.status is Status.NOT_APPLICABLE
    assert finding.target_id == WS
    assert "ALLOWED_COMPUTE_VM_SIZES is unset" in finding.message


def test_max_nodes_judges_clusters_only() -> None:
    facts = workspace(
        computes=(cluster(max_node_count=4), cluster("big", max_node_count=10), instance())
    )
    findings = judge("compute-max-nodes", facts)

    assert statuses(findings) == [Status.COMPLIANT, Status.NON_COMPLIANT]
    assert "'big' has maxNodeCount 10, above MAX_CLUSTER_NODES 4" in findings[1].message
    assert findings[1].remediation is not None
    assert findings[1].remediation.kind is RemediationKind.LOWER_MAX_NODES
    assert findings[1].remediation.target_id == compute_id("big")
    assert findings[1].remediation.value == 4


def test_max_nodes_missing_is_unknown_and_not_remediated() -> None:
    finding = only(judge("compute-max-nodes", workspace(computes=(cluster(max_node_count=None),))))

    assert finding.status is Status.UNKNOWN
    assert "does not report maxNodeCount" in finding.message
    assert finding.remediation is None


def test_max_nodes_is_not_lowered_below_the_cluster_minimum() -> None:
    # Azure rejects maxNodeCount < minNodeCount: such a write would only fail.
    facts = workspace(computes=(cluster(max_node_count=10, min_node_count=6),))
    finding = only(judge("compute-max-nodes", facts))

    assert finding.status is Status.NON_COMPLIANT
    assert finding.remediation is None
    assert "minNodeCount 6 is above the limit" in finding.message


def test_max_nodes_unset_parameter_is_one_not_applicable_finding() -> None:
    params = replace(PARAMS, max_cluster_nodes=None)
    finding = only(
        judge("compute-max-nodes", workspace(computes=(cluster(max_node_count=99),)), params)
    )

    assert finding.status is Status.NOT_APPLICABLE
    assert "MAX_CLUSTER_NODES is unset" in finding.message


@pytest.mark.parametrize("minimum", [0, 4, None])
def test_max_nodes_remediation_applied_once_then_nothing_left_to_do(minimum: int | None) -> None:
    facts = workspace(
        computes=(cluster("big", max_node_count=10, min_node_count=minimum), instance())
    )
    planned = fixes(evaluate(facts, PARAMS), facts)
    assert [(item.kind, item.target_id, item.value) for item in planned] == [
        (RemediationKind.LOWER_MAX_NODES, compute_id("big"), 4)
    ]

    after = apply(facts, planned[0])

    assert statuses(judge("compute-max-nodes", after)) == [Status.COMPLIANT]
    assert fixes(evaluate(after, PARAMS), after) == []


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        ("Disabled", Status.COMPLIANT),
        ("disabled", Status.COMPLIANT),
        ("Enabled", Status.NON_COMPLIANT),
        ("NotSpecified", Status.NON_COMPLIANT),
    ],
)
def test_remote_login(observed: str, expected: Status) -> None:
    facts = workspace(computes=(cluster(remote_login_port_public_access=observed), instance()))
    finding = only(judge("compute-remote-login", facts))

    assert finding.status is expected
    assert repr(observed) in finding.message
    assert finding.remediation is None


def test_remote_login_missing_is_non_compliant_as_ssh_may_be_open() -> None:
    facts = workspace(computes=(cluster(remote_login_port_public_access=None),))
    finding = only(judge("compute-remote-login", facts))

    assert finding.status is Status.NON_COMPLIANT
    assert "does not report remoteLoginPortPublicAccess" in finding.message
    assert "public SSH may be open" in finding.message


def test_no_aks_is_one_compliant_finding_for_the_workspace() -> None:
    finding = only(judge("compute-no-aks", workspace()))

    assert finding.status is Status.COMPLIANT
    assert finding.target_id == WS


def test_no_aks_reports_each_attached_cluster_in_any_casing() -> None:
    facts = workspace(computes=(cluster(), aks(), aks("k8s", "kubernetes"), aks("k2", "aks")))
    findings = judge("compute-no-aks", facts)

    assert [(f.target_id, f.status) for f in findings] == [
        (compute_id("aks-inference"), Status.NON_COMPLIANT),
        (compute_id("k8s"), Status.NON_COMPLIANT),
        (compute_id("k2"), Status.NON_COMPLIANT),
    ]
    assert "'k8s' is an attached Kubernetes cluster" in findings[1].message


def test_no_aks_without_computes_is_compliant() -> None:
    assert only(judge("compute-no-aks", workspace(computes=()))).status is Status.COMPLIANT


# --- dependencies and Synapse --------------------------------------------------------------------


def test_dependencies_are_compliant_when_every_group_is_approved_in_any_casing() -> None:
    storage = DependencyFacts(
        DependencyKind.STORAGE, STORAGE, frozenset({"Blob", "FILE", "dfs", "queue", "table"})
    )
    findings = judge(
        "dependencies-private-endpoints", workspace(dependencies=dependencies(storage=storage))
    )

    assert [(f.target_id, f.status) for f in findings] == [
        (STORAGE, Status.COMPLIANT),
        (KEY_VAULT, Status.COMPLIANT),
        (REGISTRY, Status.COMPLIANT),
    ]


def test_dependencies_missing_groups_are_listed() -> None:
    storage = DependencyFacts(DependencyKind.STORAGE, STORAGE, frozenset({"blob", "file"}))
    vault = DependencyFacts(DependencyKind.KEY_VAULT, KEY_VAULT)
    facts = workspace(dependencies=dependencies(storage=storage, keyvault=vault))
    findings = judge("dependencies-private-endpoints", facts)

    assert statuses(findings) == [Status.NON_COMPLIANT, Status.NON_COMPLIANT, Status.COMPLIANT]
    assert findings[0].message.endswith("no approved private endpoint for: dfs, queue, table")
    assert "'ws1storage'" in findings[0].message
    assert findings[1].message.endswith("no approved private endpoint for: vault")
    assert all(finding.remediation is None for finding in findings)


def test_dependencies_missing_resources() -> None:
    missing = {
        kind.value: DependencyFacts(kind, None)
        for kind in (
            DependencyKind.STORAGE,
            DependencyKind.KEY_VAULT,
            DependencyKind.CONTAINER_REGISTRY,
        )
    }
    findings = judge(
        "dependencies-private-endpoints", workspace(dependencies=dependencies(**missing))
    )

    # A registry is optional for an AML workspace; storage and key vault are not.
    assert [(f.target_id, f.status) for f in findings] == [
        (WS, Status.NON_COMPLIANT),
        (WS, Status.NON_COMPLIANT),
        (WS, Status.NOT_APPLICABLE),
    ]
    assert "has no storage account" in findings[0].message
    assert "has no key vault" in findings[1].message
    assert "has no container registry" in findings[2].message


def test_dependency_that_could_not_be_read_is_unknown() -> None:
    vault = DependencyFacts(DependencyKind.KEY_VAULT, KEY_VAULT, error="403 AuthorizationFailed")
    findings = judge(
        "dependencies-private-endpoints", workspace(dependencies=dependencies(keyvault=vault))
    )

    assert findings[1].status is Status.UNKNOWN
    assert findings[1].target_id == KEY_VAULT
    assert "403 AuthorizationFailed" in findings[1].message


def test_no_dependencies_reported_is_not_applicable() -> None:
    finding = only(judge("dependencies-private-endpoints", workspace(dependencies=())))

    assert finding.status is Status.NOT_APPLICABLE
    assert "no dependencies reported" in finding.message


@pytest.mark.parametrize(
    ("vnet", "exfiltration", "expected", "says"),
    [
        (True, False, Status.COMPLIANT, "has a managed virtual network"),
        (False, False, Status.NON_COMPLIANT, "has no managed virtual network"),
        (True, True, Status.NON_COMPLIANT, "has data exfiltration protection on"),
        (False, True, Status.NON_COMPLIANT, "no managed virtual network and has data exfiltration"),
    ],
)
def test_synapse(vnet: bool, exfiltration: bool, expected: Status, says: str) -> None:
    facts = workspace(
        synapse_workspaces=(
            synapse(managed_virtual_network=vnet, prevent_data_exfiltration=exfiltration),
        )
    )
    finding = only(judge("synapse-no-exfiltration-protection", facts))

    assert finding.status is expected
    assert finding.target_id == SYNAPSE
    assert "'syn1'" in finding.message
    assert says in finding.message


def test_synapse_that_could_not_be_read_is_unknown() -> None:
    facts = workspace(synapse_errors=("syn2: 404 ResourceNotFound",))
    findings = judge("synapse-no-exfiltration-protection", facts)

    assert statuses(findings) == [Status.COMPLIANT, Status.UNKNOWN]
    assert "404 ResourceNotFound" in findings[1].message


def test_no_synapse_workspace_is_not_applicable() -> None:
    finding = only(judge("synapse-no-exfiltration-protection", workspace(synapse_workspaces=())))

    assert finding.status is Status.NOT_APPLICABLE


# --- real ARM shapes (reference/) ----------------------------------------------------------------


def reference_body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((REFERENCE / name).read_text())["responses"]["200"]["body"]
    return body


def compute_from_arm(resource: dict[str, Any]) -> ComputeFacts:
    """The few fields the rules read, as an adapter would take them from ARM's compute JSON."""
    outer = resource["properties"]
    inner = outer.get("properties") or {}
    scale = inner.get("scaleSettings") or {}
    return ComputeFacts(
        id=resource["id"],
        name=resource["name"],
        compute_type=outer["computeType"],
        vm_size=inner.get("vmSize"),
        subnet_id=(inner.get("subnet") or {}).get("id"),
        disable_local_auth=outer.get("disableLocalAuth"),
        max_node_count=scale.get("maxNodeCount"),
        min_node_count=scale.get("minNodeCount"),
        remote_login_port_public_access=inner.get("remoteLoginPortPublicAccess"),
    )


def test_reference_workspace_values() -> None:
    body = reference_body("aml_workspaces_get.json")
    facts = WorkspaceFacts(
        id=ArmId(body["id"]),
        public_network_access=body["properties"]["publicNetworkAccess"],
        hbi_workspace=body["properties"]["hbiWorkspace"],
        identity_type=body["identity"]["type"],
        user_assigned_identities=tuple(body["identity"]["userAssignedIdentities"]),
    )
    by_rule = {f.rule_id: f for f in evaluate(facts, PARAMS)}

    assert by_rule["workspace-public-access"].status is Status.COMPLIANT
    assert by_rule["workspace-user-assigned-identity"].status is Status.COMPLIANT
    assert by_rule["workspace-hbi"].status is Status.NON_COMPLIANT


def test_reference_computes() -> None:
    cluster_facts = compute_from_arm(reference_body("aml_compute_get_amlcompute.json"))
    attached = [compute_from_arm(item) for item in reference_body("aml_compute_list.json")["value"]]
    workspace_id = ArmId(cluster_facts.id.split("/computes/")[0])
    facts = WorkspaceFacts(id=workspace_id, computes=(cluster_facts, *attached))
    params = PolicyParameters(allowed_vm_sizes=frozenset({"Standard_NC6"}), max_cluster_nodes=1)
    by_rule: dict[str, list[Finding]] = {}
    for finding in evaluate(facts, params):
        by_rule.setdefault(finding.rule_id, []).append(finding)

    # The sample sets no disableLocalAuth anywhere, and opens remote login on the cluster.
    assert statuses(by_rule["compute-local-auth"]) == [Status.NON_COMPLIANT] * 3
    assert statuses(by_rule["compute-subnet"]) == [Status.COMPLIANT]
    assert statuses(by_rule["compute-vm-size"]) == [Status.COMPLIANT]  # "STANDARD_NC6"
    assert statuses(by_rule["compute-max-nodes"]) == [Status.COMPLIANT]
    assert statuses(by_rule["compute-remote-login"]) == [Status.NON_COMPLIANT]
    assert [f.target_id for f in by_rule["compute-no-aks"]] == [c.id for c in attached]


# --- the engine --------------------------------------------------------------------------------


def test_registry_is_exactly_the_policy_set_of_the_design() -> None:
    assert set(RULES) == set(DESIGN_RULE_IDS)
    assert tuple(RULES) == DESIGN_RULE_IDS
    assert [declared.id for declared in ordered_rules()] == list(DESIGN_RULE_IDS)


@pytest.mark.parametrize("rule_id", DESIGN_RULE_IDS)
def test_every_rule_is_documented(rule_id: str) -> None:
    declared = RULES[rule_id]

    assert len(declared.description) > 40
    assert isinstance(declared.severity, Severity)
    assert declared.reads


def test_only_the_two_designed_rules_are_remediable() -> None:
    remediable = {
        declared.id: declared.remediation for declared in RULES.values() if declared.remediation
    }

    assert remediable == {
        "workspace-public-access": RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS,
        "compute-max-nodes": RemediationKind.LOWER_MAX_NODES,
    }


def test_rule_table() -> None:
    table = rule_table()

    assert [row[0] for row in table] == list(DESIGN_RULE_IDS)
    assert table[1] == (
        "workspace-public-access",
        "high",
        "workspace",
        "disable-public-network-access",
    )
    assert table[7] == ("compute-max-nodes", "medium", "computes", "lower-max-nodes")
    assert table[9] == ("compute-no-aks", "low", "computes", "none")


def test_empty_workspace_gets_a_finding_from_every_rule() -> None:
    findings = evaluate(WorkspaceFacts(id=WS), PolicyParameters())

    assert [finding.rule_id for finding in findings] == list(DESIGN_RULE_IDS)
    assert all(finding.message.strip() for finding in findings)
    assert all(finding.target_id == WS for finding in findings)
    assert summarize(findings) == {
        "compliant": 1,  # no AKS
        "non-compliant": 3,  # private link, public access, identity
        "not-applicable": 8,
        "unknown": 0,
        "exempt": 0,
    }


def test_evaluate_runs_the_named_rules_in_table_order() -> None:
    named = ["compute-no-aks", "workspace-hbi", "compute-no-aks"]
    findings = evaluate(workspace(), PARAMS, named)

    assert [finding.rule_id for finding in findings] == ["workspace-hbi", "compute-no-aks"]


def test_evaluate_refuses_unknown_rule_ids() -> None:
    with pytest.raises(ValueError, match="compute-no-ask"):
        evaluate(workspace(), PARAMS, ["compute-no-ask"])


def test_each_problem_a_remediation_fixes_has_one() -> None:
    # Whether they are made is POLICY_MODE's (the reconciler's); tests/test_workspaces_e2e.py.
    facts = workspace(public_network_access="Enabled", computes=(cluster(max_node_count=50),))
    findings = evaluate(facts, PARAMS)

    assert [c.rule_id for c in remediations(findings, facts)] == [
        "workspace-public-access",
        "compute-max-nodes",
    ]


def test_remediations_are_deduplicated_and_only_for_non_compliant_findings() -> None:
    fix = Remediation(RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS, WS, "Disabled", "disable")
    same_target = replace(fix, target_id=WS.upper())
    finding = Finding("workspace-public-access", Severity.HIGH, WS, Status.NON_COMPLIANT, "m", fix)
    findings = [
        finding,
        replace(finding, remediation=same_target),
        replace(finding, status=Status.COMPLIANT, remediation=replace(fix, target_id="/other")),
        replace(finding, status=Status.UNKNOWN, remediation=replace(fix, target_id="/unknown")),
    ]

    assert fixes(findings, WorkspaceFacts(id=WS)) == [fix]


def test_summarize_counts_every_status() -> None:
    findings = evaluate(
        workspace(public_network_access="Enabled"), replace(PARAMS, hbi_required=False)
    )

    assert summarize(findings) == {
        "compliant": 15,
        "non-compliant": 1,
        "not-applicable": 1,
        "unknown": 0,
        "exempt": 0,
    }
    assert summarize([]) == {status.value: 0 for status in Status}


# --- properties over arbitrary facts ------------------------------------------------------------


def recase(value: str, mask: int) -> str:
    """`value` with the letters whose bit is set in `mask` upper-cased, the others lower-cased."""
    return "".join(c.upper() if mask >> (i % 64) & 1 else c.lower() for i, c in enumerate(value))


def cased(*values: str) -> st.SearchStrategy[str]:
    """One of `values` with each letter's case drawn at random ("dIsAbLeD")."""
    # Two flat draws rather than a flatmap: strategies built per example dominate run time.
    return st.builds(recase, st.sampled_from(values), st.integers(0, 2**64 - 1))


def odd(*values: str) -> st.SearchStrategy[str | None]:
    """A known value as is or in odd casing, any text, or missing."""
    return st.one_of(st.sampled_from(values), cased(*values), st.text(max_size=12), st.none())


# Built once: hypothesis re-validates strategies constructed inside a composite on every draw.
VM_SIZES = ("Standard_DS3_v2", "Standard_E4ds_v4", "STANDARD_NC6")
workspace_ids = st.one_of(
    st.just(WS), cased(WS), st.text(max_size=30), st.sampled_from(["", "/", "/subscriptions/"])
).map(ArmId)
# Small ranges so that limits and cluster sizes often cross (and sometimes go negative).
counts = st.none() | st.integers(min_value=-2, max_value=40)
limits = st.none() | st.integers(min_value=-1, max_value=20)
compute_names = st.sampled_from(["c1", "c2", "C1", "cluster", ""]) | st.text(max_size=8)
compute_types = (
    st.just("AmlCompute")  # the type the remediable rule judges, drawn often
    | st.sampled_from(["AmlCompute", "ComputeInstance", "AKS", "Kubernetes", "VirtualMachine"])
    | cased("AmlCompute", "ComputeInstance", "AKS", "Kubernetes")
    | st.text(max_size=10)
)
vm_sizes = odd(*VM_SIZES)
subnets = st.sampled_from([SUBNET, ""]) | st.none()
optional_booleans = st.none() | st.booleans()
remote_logins = odd("Enabled", "Disabled", "NotSpecified")
short_texts = st.text(max_size=20)


# A compute whose ID is any text; `workspace_facts` re-homes most of them under the workspace.
compute_facts = st.builds(
    ComputeFacts,
    id=short_texts,
    name=compute_names,
    compute_type=compute_types,
    vm_size=vm_sizes,
    subnet_id=subnets,
    disable_local_auth=optional_booleans,
    max_node_count=counts,
    min_node_count=counts,
    remote_login_port_public_access=remote_logins,
)
compute_lists = st.lists(st.tuples(st.booleans(), compute_facts), max_size=6)


dependency_facts = st.builds(
    DependencyFacts,
    kind=st.sampled_from(DependencyKind),
    resource_id=st.none() | st.sampled_from([STORAGE, KEY_VAULT, REGISTRY]) | short_texts,
    approved_groups=st.frozensets(
        cased("blob", "file", "dfs", "queue", "table", "vault", "registry") | st.text(max_size=6),
        max_size=8,
    ),
    error=st.none() | short_texts,
)
synapse_workspaces = st.builds(
    SynapseWorkspace,
    id=(st.just(SYNAPSE) | short_texts).map(ArmId),
    principal_id=st.none() | st.text(max_size=8),
    managed_virtual_network=st.booleans(),
    prevent_data_exfiltration=st.booleans(),
)
public_accesses = odd("Enabled", "Disabled")
identity_types = odd("SystemAssigned", "UserAssigned", "SystemAssigned,UserAssigned", "None")
identity_lists = st.lists(st.sampled_from([UAI, ""]), max_size=2).map(tuple)
connection_counts = st.integers(min_value=-1, max_value=5)
dependency_lists = st.lists(dependency_facts, max_size=4).map(tuple)
synapse_lists = st.lists(synapse_workspaces, max_size=3).map(tuple)
error_lists = st.lists(short_texts, max_size=2).map(tuple)


@st.composite
def workspace_facts(draw: st.DrawFn) -> WorkspaceFacts:
    workspace_id = draw(workspace_ids)
    return WorkspaceFacts(
        id=workspace_id,
        public_network_access=draw(public_accesses),
        hbi_workspace=draw(optional_booleans),
        identity_type=draw(identity_types),
        user_assigned_identities=draw(identity_lists),
        approved_private_endpoint_connections=draw(connection_counts),
        customer_private_endpoint_connections=draw(connection_counts),
        # Mostly computes of this workspace; some with an ID that is not even an ARM ID.
        computes=tuple(
            replace(compute, id=compute_id(compute.name, workspace_id)) if own else compute
            for own, compute in draw(compute_lists)
        ),
        dependencies=draw(dependency_lists),
        synapse_workspaces=draw(synapse_lists),
        synapse_errors=draw(error_lists),
    )


policy_parameters = st.builds(
    PolicyParameters,
    allowed_vm_sizes=st.none() | st.frozensets(cased(*VM_SIZES) | st.text(max_size=8), max_size=3),
    max_cluster_nodes=limits,
    hbi_required=st.booleans(),
)


@PROPERTY
@given(workspace_facts(), policy_parameters)
def test_evaluate_never_raises_and_reports_every_rule(
    facts: WorkspaceFacts, params: PolicyParameters
) -> None:
    findings = evaluate(facts, params)

    assert {finding.rule_id for finding in findings} == set(DESIGN_RULE_IDS)
    for finding in findings:
        assert finding.message.strip()
        assert finding.severity is RULES[finding.rule_id].severity
        assert isinstance(finding.status, Status)
    assert sum(summarize(findings).values()) == len(findings)


@PROPERTY
@given(workspace_facts(), policy_parameters)
def test_remediations_stay_within_the_two_writes_on_this_workspace(
    facts: WorkspaceFacts, params: PolicyParameters
) -> None:
    findings = evaluate(facts, params)
    planned = fixes(findings, facts)

    for item in planned:
        assert item.kind in set(RemediationKind)
        if item.kind is RemediationKind.DISABLE_PUBLIC_NETWORK_ACCESS:
            assert item.target_id == facts.id
            assert item.value == "Disabled"
            continue
        targets = [c for c in facts.computes if c.id == item.target_id]
        assert targets, "a cluster size is only ever written on this workspace's own computes"
        assert item.value == params.max_cluster_nodes
        assert isinstance(item.value, int)
        # Only ever lowered, and never below the cluster's own minimum (Azure would refuse).
        assert any(
            c.max_node_count is not None
            and item.value < c.max_node_count
            and item.value >= (c.min_node_count or 0)
            for c in targets
        )


@PROPERTY
@given(workspace_facts(), policy_parameters)
def test_remediating_converges_in_one_pass(facts: WorkspaceFacts, params: PolicyParameters) -> None:
    # Applying every planned write and looking again leaves nothing to do: a second sweep is a
    # no-op, which is what lets the timer and the events both reconcile without fighting.
    after = facts
    for item in fixes(evaluate(facts, params), facts):
        after = apply(after, item)

    assert fixes(evaluate(after, params), after) == []


clusters = st.builds(
    cluster,
    name=compute_names,
    compute_type=cased("AmlCompute"),
    max_node_count=counts,
    min_node_count=counts,
)


@PROPERTY
@given(
    st.lists(clusters, max_size=5, unique_by=lambda c: c.id.lower()),
    st.integers(min_value=-1, max_value=20),
)
def test_cluster_sizes_are_only_ever_lowered_to_the_limit(
    members: list[ComputeFacts], limit: int
) -> None:
    # The general properties above rarely draw a cluster over a set limit; this one always may.
    facts = workspace(computes=tuple(members))
    params = replace(PARAMS, max_cluster_nodes=limit)
    planned = fixes(evaluate(facts, params, ["compute-max-nodes"]), facts)

    for item in planned:
        target = next(c for c in members if c.id.lower() == item.target_id.lower())
        assert item.kind is RemediationKind.LOWER_MAX_NODES
        assert isinstance(item.value, int)
        assert target.max_node_count is not None
        assert (target.min_node_count or 0) <= item.value == limit < target.max_node_count
    oversized = [c for c in members if c.max_node_count is not None and c.max_node_count > limit]
    fixable = [c for c in oversized if (c.min_node_count or 0) <= limit]
    assert {c.id.lower() for c in fixable} == {item.target_id.lower() for item in planned}
