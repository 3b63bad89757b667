"""The policy set as Azure Policy: one custom definition per rule that Azure Policy can evaluate
on the resource's own properties, and an initiative over them (`python -m tools.cli
export-policy`).

Generated from the rule registry (each `@rule` declares its `AzurePolicy` or why it has none),
so the app and Azure Policy cannot drift: `infra/policy/` holds this output, which
`infra/app/policy.bicep` deploys, and tests/test_policy_export.py fails when they differ. Each
definition's effect is an initiative parameter (`Audit`, `Deny` or `Disabled`), so a platform
team chooses per rule; the initiative's reference IDs are the rule IDs, which is how the app
matches Azure Policy exemptions to its rules (`POLICY_ASSIGNMENT_IDS`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.arm import is_guid, same_arm_id
from shared.policy.engine import ordered_rules
from shared.policy.rules import AzurePolicy, BuiltIn, Rule
from shared.scope import is_management_group

PREFIX = "synapse-aml-"
INITIATIVE = "synapse-aml-automation"
VERSION = "1.0.0"
CATEGORY = "Machine Learning"
EFFECTS = ["Audit", "Deny", "Disabled"]
AUDIT_ONLY = ["Audit", "Disabled"]
DEFAULT_EFFECT = "Audit"
# Where the custom definitions live: the initiative names them under this scope. The checked-in
# files keep the placeholder; infra/app/policy.bicep puts the subscription in its place.
SCOPE_PLACEHOLDER = "/subscriptions/{subscriptionId}"
BUILT_IN_PREFIX = "/providers/Microsoft.Authorization/policyDefinitions/"
FILES = ("definitions.json", "initiative.json")

# The initiative's parameters besides the effects, passed on to the definitions that read them.
PARAMETERS: dict[str, dict[str, Any]] = {
    "allowedVmSizes": {
        "type": "Array",
        "metadata": {
            "displayName": "Allowed VM sizes",
            "description": "VM sizes computes may use (the app's ALLOWED_COMPUTE_VM_SIZES)",
        },
    },
    "maxClusterNodes": {
        "type": "Integer",
        "metadata": {
            "displayName": "Maximum cluster nodes",
            "description": "The highest maxNodeCount of a cluster (the app's MAX_CLUSTER_NODES)",
        },
    },
}

# Where the app and a common guardrail disagree: `plan` prints these, the README explains them.
SYNAPSE_DATA_TRAFFIC = BuiltIn(
    "3484ce98-c0c5-4c83-994b-c5ac24785218",
    "Azure Synapse workspaces should allow outbound data traffic only to approved targets",
)
CONFLICTS = (
    "synapse-no-exfiltration-protection needs data exfiltration protection OFF on the "
    "allow-listed Synapse workspaces (the AML integration is unsupported with it), while the "
    f"built-in policy {SYNAPSE_DATA_TRAFFIC.display_name!r} "
    f"({BUILT_IN_PREFIX}{SYNAPSE_DATA_TRAFFIC.name}), assigned as Deny by the Azure Landing "
    "Zones initiative Enforce-Guardrails-Synapse (reference ID Deny-Synapse-Data-Traffic, "
    "parameter synapseDataTraffic), denies creating a Synapse workspace with it off. Exempt the "
    "Synapse workspace's resource group from that assignment's Deny-Synapse-Data-Traffic "
    "(a policy exemption, category Waiver) before creating it, or assign the initiative with "
    "synapseDataTraffic=Audit there.",
)


def is_definition_scope(value: str) -> bool:
    """A subscription or management group ID: where custom policy definitions are created."""
    prefix = "/subscriptions/"
    guid = value[len(prefix) :] if same_arm_id(value[: len(prefix)], prefix) else None
    return is_management_group(value) or is_guid(guid)


def definition_name(rule_id: str) -> str:
    return PREFIX + rule_id


def effect_parameter(rule_id: str) -> str:
    """`compute-local-auth` -> `computeLocalAuthEffect`: the initiative's effect parameter."""
    first, *rest = rule_id.split("-")
    return first + "".join(word.capitalize() for word in rest) + "Effect"


def _effect(policy: AzurePolicy, description: str) -> dict[str, Any]:
    return {
        "type": "String",
        "allowedValues": EFFECTS if policy.can_deny else AUDIT_ONLY,
        "defaultValue": DEFAULT_EFFECT,
        "metadata": {"displayName": "Effect", "description": description},
    }


def _display_name(rule: Rule) -> str:
    """The rule's first sentence, plain, bounded as Azure bounds display names (128)."""
    sentence = rule.description.split(". ")[0].rstrip(".").replace("`", "")
    name = f"{rule.id}: {sentence}"
    return name if len(name) <= 128 else name[:127] + "…"


def definition(rule: Rule) -> dict[str, Any]:
    """The custom policy definition (ARM body: name and properties) of a rule that has one."""
    policy = rule.policy
    if policy is None:
        raise ValueError(f"rule {rule.id} has no Azure Policy definition: {rule.app_only}")
    metadata: dict[str, Any] = {
        "version": VERSION,
        "category": CATEGORY,
        "appRule": rule.id,
        "severity": rule.severity.value,
    }
    if policy.built_in is not None:
        metadata["builtIn"] = {
            "policyDefinitionId": BUILT_IN_PREFIX + policy.built_in.name,
            "displayName": policy.built_in.display_name,
        }
    parameters = {"effect": _effect(policy, f"What Azure Policy does when {rule.id} is not met")}
    parameters.update({name: PARAMETERS[name] for name in policy.parameters})
    return {
        "name": definition_name(rule.id),
        "properties": {
            "displayName": _display_name(rule),
            "description": rule.description,
            "policyType": "Custom",
            # Workspaces are tracked resources (Indexed); computes are evaluated whatever
            # they report (All), as the built-ins for computes do.
            "mode": "Indexed" if policy.resource_type.count("/") == 1 else "All",
            "metadata": metadata,
            "parameters": parameters,
            "policyRule": {
                "if": {
                    "allOf": [
                        {"field": "type", "equals": policy.resource_type},
                        policy.non_compliant_when,
                    ]
                },
                "then": {"effect": "[parameters('effect')]"},
            },
        },
    }


def _with_policy() -> list[tuple[Rule, AzurePolicy]]:
    return [(rule, rule.policy) for rule in ordered_rules() if rule.policy is not None]


def definitions() -> list[dict[str, Any]]:
    return [definition(rule) for rule, _ in _with_policy()]


def initiative(scope: str = SCOPE_PLACEHOLDER) -> dict[str, Any]:
    """The initiative over every definition, its custom definitions named under `scope` (a
    subscription or management group ID); rules without a definition say why in its metadata."""
    with_policy = _with_policy()
    parameters = {
        effect_parameter(rule.id): _effect(policy, f"What Azure Policy does for {rule.id}")
        for rule, policy in with_policy
    }
    for _, policy in with_policy:
        parameters.update({name: PARAMETERS[name] for name in policy.parameters})
    return {
        "name": INITIATIVE,
        "properties": {
            "displayName": "Synapse-AML automation policy set",
            "description": (
                "The rules of the Synapse-AML automation app that Azure Policy can evaluate on "
                "a resource's own properties, one definition per rule (reference ID = rule ID)."
            ),
            "policyType": "Custom",
            "metadata": {
                "version": VERSION,
                "category": CATEGORY,
                "appOnly": {rule.id: rule.app_only for rule in ordered_rules() if rule.app_only},
            },
            "parameters": parameters,
            "policyDefinitions": [
                {
                    "policyDefinitionReferenceId": rule.id,
                    "policyDefinitionId": (
                        f"{scope}/providers/Microsoft.Authorization/policyDefinitions/"
                        f"{definition_name(rule.id)}"
                    ),
                    "parameters": {
                        "effect": {"value": f"[parameters('{effect_parameter(rule.id)}')]"},
                        **{
                            name: {"value": f"[parameters('{name}')]"} for name in policy.parameters
                        },
                    },
                }
                for rule, policy in with_policy
            ],
        },
    }


def export(scope: str = SCOPE_PLACEHOLDER) -> dict[str, Any]:
    """Both documents, as `export-policy` prints them."""
    return {"definitions": definitions(), "initiative": initiative(scope)}


def render(document: object) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write(directory: Path, scope: str = SCOPE_PLACEHOLDER) -> list[Path]:
    """Write definitions.json and initiative.json into `directory`; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    documents = export(scope)
    paths = []
    for name, key in zip(FILES, ("definitions", "initiative"), strict=True):
        path = directory / name
        path.write_text(render(documents[key]), encoding="utf-8")
        paths.append(path)
    return paths
