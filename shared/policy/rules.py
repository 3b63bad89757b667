"""The rule framework: each rule a declared unit (a pure check, optionally a remediation with its
guard), with its Azure Policy form or why it has none (`app_only`) next to the check, so the
exported initiative (`tools/policy_export.py`) and the app do not drift."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from shared.policy.facts import PolicyParameters, WorkspaceFacts

if TYPE_CHECKING:
    from shared.policy.exemptions import Exemption


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Status(StrEnum):
    """`not-applicable` is explicit: an unset parameter or missing resource is never compliant."""

    COMPLIANT = "compliant"
    NON_COMPLIANT = "non-compliant"
    NOT_APPLICABLE = "not-applicable"
    UNKNOWN = "unknown"
    # Accepted until a date (`POLICY_EXEMPTIONS`): recorded, never remediated or announced.
    EXEMPT = "exempt"


class RemediationKind(StrEnum):
    """The only writes the policy engine may make (DESIGN §3.3)."""

    DISABLE_PUBLIC_NETWORK_ACCESS = "disable-public-network-access"
    LOWER_MAX_NODES = "lower-max-nodes"


@dataclass(frozen=True)
class Remediation:
    kind: RemediationKind
    target_id: str
    # The value to set: "Disabled" for public network access, the node count for clusters.
    value: str | int
    description: str


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: Severity
    target_id: str
    status: Status
    message: str
    remediation: Remediation | None = None
    exemption: Exemption | None = None


class GuardVerdict(NamedTuple):
    safe: bool
    reason: str


class BuiltIn(NamedTuple):
    name: str
    display_name: str


@dataclass(frozen=True)
class AzurePolicy:
    """The rule as an Azure Policy definition; `parameters`: the initiative's, that it reads."""

    resource_type: str
    non_compliant_when: dict[str, object]
    built_in: BuiltIn | None = None
    parameters: tuple[str, ...] = ()
    # False where Deny would refuse every new resource (a workspace has no connection yet).
    can_deny: bool = True


# What a check finds: (target ID, status, message[, remediation]); its rule adds ID, severity.
Found = tuple[str, Status, str] | tuple[str, Status, str, Remediation]
Check = Callable[[WorkspaceFacts, PolicyParameters], Iterable[Found]]
# A guard judges one remediation against the facts observed at the time of deciding.
Guard = Callable[[WorkspaceFacts, Remediation], GuardVerdict]


def _declared_on_a_check(facts: WorkspaceFacts, params: PolicyParameters) -> Iterable[Found]:
    raise TypeError("a rule's check is the function it is declared on")


@dataclass(frozen=True)
class Rule:
    """Declared on its check (`@Rule(...)`, whose docstring is the description); a remediation
    without a guard, or neither or both of `policy` and `app_only`, is refused at import."""

    id: str
    severity: Severity
    reads: tuple[str, ...]
    remediation: RemediationKind | None = None
    guard: Guard | None = None
    policy: AzurePolicy | None = None
    # Why Azure Policy cannot evaluate the rule (it needs facts beyond the resource's own).
    app_only: str | None = None
    check: Check = _declared_on_a_check
    description: str = ""

    def __post_init__(self) -> None:
        if (self.remediation is None) != (self.guard is None):
            raise ValueError(
                f"rule {self.id} declares a remediation without a guard (or a guard without a "
                "remediation): every remediation declares when it is safe to apply"
            )
        if (self.policy is None) == (self.app_only is None):
            raise ValueError(
                f"rule {self.id} must declare either its Azure Policy definition or why it has "
                "none (app_only), not both"
            )

    def __call__(self, check: Check) -> Check:
        if self.id in RULES:
            raise ValueError(f"rule {self.id} is declared twice")
        description = " ".join((check.__doc__ or "").split())
        RULES[self.id] = replace(self, check=check, description=description)
        return check


RULES: dict[str, Rule] = {}
