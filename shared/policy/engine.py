"""Running the policy set (pure): findings in a stable order, every rule in every report, and
the remediations they call for, each judged by its rule's guard."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

# Imported for its side effect: declaring the rules fills the registry, in the order of DESIGN
# §3.3's table (the order reports and the CLI list them in).
import shared.policy.checks  # noqa: F401
from shared.policy.facts import PolicyParameters, WorkspaceFacts
from shared.policy.rules import RULES, Finding, GuardVerdict, Remediation, Rule, Status


def ordered_rules(rule_ids: Iterable[str] | None = None) -> list[Rule]:
    """The rules (or those named) in order; an unknown id raises (a typo must not check less)."""
    wanted = set(RULES) if rule_ids is None else set(rule_ids)
    if unknown := sorted(wanted - set(RULES)):
        raise ValueError(f"unknown policy rule(s): {', '.join(unknown)}")
    return [declared for declared in RULES.values() if declared.id in wanted]


def evaluate(
    facts: WorkspaceFacts, params: PolicyParameters, rule_ids: Iterable[str] | None = None
) -> list[Finding]:
    """Run the rules (all by default); one with nothing to judge gets a not-applicable finding."""
    findings: list[Finding] = []
    for declared in ordered_rules(rule_ids):
        why = "; ".join(_NOTHING.get(read, f"no {read} to judge") for read in declared.reads)
        message = f"nothing to judge in workspace {facts.id}: {why or 'no facts read'}"
        found = list(declared.check(facts, params)) or [(facts.id, Status.NOT_APPLICABLE, message)]
        findings += [Finding(declared.id, declared.severity, *f) for f in found]
    return findings


class Candidate(NamedTuple):
    rule_id: str
    remediation: Remediation
    guard: GuardVerdict


def remediations(findings: Iterable[Finding], facts: WorkspaceFacts) -> list[Candidate]:
    """The writes non-compliant findings call for, each (kind, target) once, of the kind their
    rule declares and judged by its guard; making them is the caller's decision (`POLICY_MODE`)."""
    chosen: dict[tuple[str, str], tuple[str, Remediation]] = {}
    for finding in findings:
        if finding.status is Status.NON_COMPLIANT and (fix := finding.remediation):
            chosen.setdefault((fix.kind, fix.target_id.lower()), (finding.rule_id, fix))
    return [
        Candidate(declared.id, fix, declared.guard(facts, fix))
        for rule_id, fix in chosen.values()
        if (declared := RULES.get(rule_id)) and declared.remediation is fix.kind and declared.guard
    ]


_NOTHING = {
    "computes": "no computes this rule applies to",
    "dependencies": "no dependencies reported",
    "synapse": "no allow-listed Synapse workspace reported",
}
