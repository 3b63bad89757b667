"""Running the policy set (pure): findings in a stable order, every rule in every report, and
in `remediate` mode the remediations, each judged by its rule's guard."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

# Imported for its side effect: declaring the rules fills the registry.
import shared.policy.checks  # noqa: F401
from shared.policy.facts import PolicyParameters, WorkspaceFacts
from shared.policy.rules import (
    RULES,
    Finding,
    GuardVerdict,
    Remediation,
    RemediationKind,
    Rule,
    Status,
)

# The order of DESIGN §3.3's table: reports and the CLI list rules in this order.
POLICY_SET: tuple[str, ...] = (
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


def ordered_rules(rule_ids: Iterable[str] | None = None) -> list[Rule]:
    """The rules (or those named) in order; an unknown id raises (a typo must not check less)."""
    wanted = set(RULES) if rule_ids is None else set(rule_ids)
    unknown = sorted(wanted - set(RULES))
    if unknown:
        raise ValueError(f"unknown policy rule(s): {', '.join(unknown)}")
    # Rules registered outside the table (none today) follow it, by id.
    order = [*POLICY_SET, *sorted(set(RULES) - set(POLICY_SET))]
    return [RULES[rule_id] for rule_id in order if rule_id in wanted]


def evaluate(
    facts: WorkspaceFacts, params: PolicyParameters, rule_ids: Iterable[str] | None = None
) -> list[Finding]:
    """Run the rules (all by default); one with nothing to judge gets a not-applicable finding."""
    findings: list[Finding] = []
    for declared in ordered_rules(rule_ids):
        found = declared.check(facts, params)
        if not found:
            why = "; ".join(_NOTHING.get(read, f"no {read} to judge") for read in declared.reads)
            message = f"nothing to judge in workspace {facts.id}: {why or 'no facts read'}"
            na = Status.NOT_APPLICABLE
            found = [Finding(declared.id, declared.severity, facts.id, na, message)]
        findings.extend(found)
    return findings


def remediations(findings: Iterable[Finding], *, remediate: bool) -> list[Remediation]:
    """The writes `remediate` mode applies: non-compliant findings', each (kind, target) once."""
    if not remediate:
        return []
    chosen: dict[tuple[RemediationKind, str], Remediation] = {}
    for finding in findings:
        fix = finding.remediation
        if finding.status is Status.NON_COMPLIANT and fix and fix.kind in set(RemediationKind):
            chosen.setdefault((fix.kind, fix.target_id.lower()), fix)
    return list(chosen.values())


@dataclass(frozen=True)
class Candidate:
    rule_id: str
    remediation: Remediation
    guard: GuardVerdict


def guarded_remediations(
    findings: Iterable[Finding], facts: WorkspaceFacts, *, remediate: bool
) -> list[Candidate]:
    """`remediations(...)`, each judged by its rule's declared guard."""
    findings = list(findings)
    candidates: list[Candidate] = []
    for remediation in remediations(findings, remediate=remediate):
        source = next(f for f in findings if f.remediation == remediation)
        declared = RULES.get(source.rule_id)
        if declared is None or declared.remediation is not remediation.kind or not declared.guard:
            continue
        candidates.append(Candidate(declared.id, remediation, declared.guard(facts, remediation)))
    return candidates


def summarize(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(finding.status for finding in findings)
    return {status.value: counts[status] for status in Status}


def rule_table() -> list[tuple[str, str, str, str]]:
    """(id, severity, what it reads, remediation or "none") per rule, for docs and the CLI."""
    return [
        (rule.id, rule.severity.value, ", ".join(rule.reads), str(rule.remediation or "none"))
        for rule in ordered_rules()
    ]


_NOTHING = {
    "computes": "no computes this rule applies to",
    "dependencies": "no dependencies reported",
    "synapse": "no allow-listed Synapse workspace reported",
}
