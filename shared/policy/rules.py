"""The rule framework: each rule is a small declared unit, registered in one place.

A rule has an id, a description (which becomes documentation), a severity, what it reads, a
check that turns facts into findings, and optionally the remediation that `remediate` mode may
apply together with its guard: when applying it cannot cut anyone off or break running work.
A remediation cannot be declared without a guard (`rule` refuses it). Checks and guards are pure
functions of `WorkspaceFacts` (and `PolicyParameters`, or the remediation they judge).

Each rule also says how Azure Policy can evaluate it (`AzurePolicy`: the resource type and the
condition, over real aliases, that is non-compliant) or why it cannot (`app_only`): declared
once, next to the check, so the exported initiative (`tools/policy_export.py`) and the app do
not drift; `rule` refuses a rule that says neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from shared.policy.facts import PolicyParameters, WorkspaceFacts

if TYPE_CHECKING:
    from shared.policy.exemptions import Exemption


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Status(StrEnum):
    """A finding's status. `not-applicable` is explicit so that an unset parameter or a missing
    resource is visible in reports rather than counted as compliant."""

    COMPLIANT = "compliant"
    NON_COMPLIANT = "non-compliant"
    NOT_APPLICABLE = "not-applicable"
    UNKNOWN = "unknown"
    # A problem an operator chose to accept until a date (`POLICY_EXEMPTIONS`): recorded with
    # the exemption's reason and expiry, never remediated, not announced as non-compliant.
    EXEMPT = "exempt"


class RemediationKind(StrEnum):
    """The only writes the policy engine may make (DESIGN §3.3)."""

    DISABLE_PUBLIC_NETWORK_ACCESS = "disable-public-network-access"
    LOWER_MAX_NODES = "lower-max-nodes"


@dataclass(frozen=True)
class Remediation:
    """A write that brings one resource into compliance."""

    kind: RemediationKind
    target_id: str
    # The value to set: "Disabled" for public network access, the node count for clusters.
    value: str | int
    description: str


@dataclass(frozen=True)
class Finding:
    """The outcome of one rule for one resource (the workspace, or one of its computes)."""

    rule_id: str
    severity: Severity
    target_id: str
    status: Status
    message: str
    remediation: Remediation | None = None
    # Set when the status is `exempt`: the exemption that spared the finding.
    exemption: Exemption | None = None


@dataclass(frozen=True)
class GuardVerdict:
    """Whether a remediation is safe to apply now, and why (shown in plans and records)."""

    safe: bool
    reason: str


@dataclass(frozen=True)
class BuiltIn:
    """The built-in Azure Policy definition a rule matches (its name is a GUID)."""

    name: str
    display_name: str


@dataclass(frozen=True)
class AzurePolicy:
    """The rule as an Azure Policy definition: the resource type it evaluates and the condition
    (policy rule JSON over that type's aliases) under which a resource is non-compliant.
    `parameters` are the initiative's parameters the condition reads (`[parameters('x')]`)."""

    resource_type: str
    non_compliant_when: dict[str, object]
    built_in: BuiltIn | None = None
    parameters: tuple[str, ...] = ()
    # False where Deny would refuse every new resource (a workspace has no connection yet).
    can_deny: bool = True


Check = Callable[[WorkspaceFacts, PolicyParameters], list[Finding]]
# A guard judges one remediation against the facts observed at the time of deciding.
Guard = Callable[[WorkspaceFacts, Remediation], GuardVerdict]


@dataclass(frozen=True)
class Rule:
    """A declared policy rule."""

    id: str
    description: str
    severity: Severity
    reads: tuple[str, ...]
    check: Check
    remediation: RemediationKind | None = None
    guard: Guard | None = None
    policy: AzurePolicy | None = None
    # Why Azure Policy cannot evaluate the rule (it needs facts beyond the resource's own).
    app_only: str | None = None


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str,
    *,
    severity: Severity,
    reads: tuple[str, ...],
    remediation: RemediationKind | None = None,
    guard: Guard | None = None,
    policy: AzurePolicy | None = None,
    app_only: str | None = None,
) -> Callable[[Check], Check]:
    """Register a check as a rule; its docstring is the rule's description.

    A rule with a remediation must declare its guard, and only such a rule may: a write that
    nobody proved safe is refused when the module declaring it is imported.
    """
    if (remediation is None) != (guard is None):
        raise ValueError(
            f"rule {rule_id} declares a remediation without a guard (or a guard without a "
            "remediation): every remediation declares when it is safe to apply"
        )
    if (policy is None) == (app_only is None):
        raise ValueError(
            f"rule {rule_id} must declare either its Azure Policy definition or why it has "
            "none (app_only), not both"
        )

    def register(check: Check) -> Check:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} is declared twice")
        RULES[rule_id] = Rule(
            id=rule_id,
            description=" ".join((check.__doc__ or "").split()),
            severity=severity,
            reads=reads,
            check=check,
            remediation=remediation,
            guard=guard,
            policy=policy,
            app_only=app_only,
        )
        return check

    return register
