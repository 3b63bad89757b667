"""Policy exemptions, pure: `POLICY_EXEMPTIONS` entries and Azure Policy's own exemptions of the
app's initiative (`native_exemptions`), honoured as the README's "Remediation safety" and "Working
with Azure Policy" say. Scopes compare by whole segments (`rg-ml` never covers `rg-ml-2`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from azure.mgmt.core.tools import parse_resource_id, resource_id

from shared.arm import is_arm_id, is_guid, name_parts, same_arm_id
from shared.bounds import aware_time, excerpt, redacted

if TYPE_CHECKING:
    from shared.policy.rules import Finding, Rule

FIELDS = ("rule", "scope", "reason", "expires")
_TOP_LEVEL = ("subscription", "resource_group", "namespace", "type", "name")
# A reason is shown in every record and announcement of the findings it spares: bounded here,
# once, whatever length the setting holds.
MAX_REASON = 1_000
# Azure Policy's exemption categories (API 2022-07-01-preview); anything else is not honoured.
CATEGORIES = ("Waiver", "Mitigated")
# An Azure Policy exemption without `expiresOn` never expires.
NO_EXPIRY = datetime.max.replace(tzinfo=UTC)
_EXEMPTIONS_SEGMENT = "/providers/microsoft.authorization/policyexemptions/"


@dataclass(frozen=True)
class Exemption:
    rule_id: str
    scope: str
    reason: str
    expires: datetime

    def in_force(self, now: datetime) -> bool:
        return now < self.expires

    @property
    def until(self) -> str:
        return "withdrawn (no expiry)" if self.expires == NO_EXPIRY else self.expires.isoformat()

    def covers(self, rule_id: str, target_id: str) -> bool:
        return rule_id == self.rule_id and within_scope(target_id, self.scope)


def scopes_of(target_id: str) -> list[str]:
    """The resource and every scope it lies under, broadest first (the subscription down to the
    resource itself), built by azure-mgmt-core; empty when `target_id` is not an ARM ID."""
    if not is_arm_id(target_id):
        return []
    parts = name_parts(target_id)
    subscription, group = parts.get("subscription"), parts.get("resource_group")
    chain = [resource_id(subscription=subscription)]
    if group:
        chain.append(resource_id(subscription=subscription, resource_group=group))
    if not (group and all(parts.get(key) for key in ("namespace", "type", "name"))):
        return chain
    resource: dict[str, Any] = {key: parts.get(key) for key in _TOP_LEVEL}
    chain.append(resource_id(**resource))
    for level in range(1, int(parse_resource_id(target_id).get("last_child_num") or 0) + 1):
        keys = (f"child_namespace_{level}", f"child_type_{level}", f"child_name_{level}")
        resource.update({key: parts[key] for key in keys if key in parts})
        chain.append(resource_id(**resource))
    return chain


def _rules() -> Mapping[str, Rule]:
    """Imported on first use: settings without exemptions (a cold start's) need not declare them."""
    import shared.policy.checks  # noqa: F401
    from shared.policy.rules import RULES

    return RULES


def within_scope(target_id: str, scope: str) -> bool:
    return any(same_arm_id(candidate, scope) for candidate in scopes_of(target_id))


def is_scope(value: str) -> bool:
    """A subscription, resource group or resource ID, in the form ARM writes it: a subscription
    GUID, names without whitespace."""
    if not is_arm_id(value) or value.endswith("/") or any(c.isspace() for c in value):
        return False
    subscription = str(parse_resource_id(value).get("subscription", ""))
    # Round trip through the builder: anything it would not write the same way is refused.
    return is_guid(subscription) and same_arm_id(scopes_of(value)[-1], value)


def json_array(text: str, of: str) -> list[object]:
    """A setting's JSON array; ValueError when it is not valid JSON or not an array (`of` what)."""
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise ValueError(f"not valid JSON: {error}") from None
    if not isinstance(raw, list):
        raise ValueError(f"expected a JSON array of {of}")
    return raw


def parse_exemptions(text: str) -> tuple[Exemption, ...]:
    """`POLICY_EXEMPTIONS`; ValueError names the entry (1-based) and the problem."""
    raw = json_array(text, "{rule, scope, reason, expires} objects")
    return tuple(_entry(position, item) for position, item in enumerate(raw, start=1))


def _entry(position: int, item: object) -> Exemption:
    where = f"entry {position} ({excerpt(json.dumps(item), 200)})"
    if not isinstance(item, dict):
        raise ValueError(f"{where} is not an object with {', '.join(FIELDS)}")
    if missing := [n for n in FIELDS if not isinstance(item.get(n), str) or not item[n].strip()]:
        raise ValueError(f"{where} lacks {', '.join(missing)} (each a non-empty string)")
    if unexpected := sorted(set(item) - set(FIELDS)):
        raise ValueError(f"{where} has unknown field(s): {', '.join(unexpected)}")
    rule_id, scope, reason, expires = (str(item[name]) for name in FIELDS)
    if rule_id not in (rules := _rules()):
        raise ValueError(f"{where}: unknown rule {rule_id!r}; known: {', '.join(sorted(rules))}")
    if scope.lower().startswith("/providers/microsoft.management/managementgroups"):
        raise ValueError(
            f"{where}: scope {scope!r} is a management group, which the app cannot see into: "
            "name each subscription (/subscriptions/<guid>) instead"
        )
    if not is_scope(scope):
        raise ValueError(
            f"{where}: scope {scope!r} is not an ARM ID of a subscription, resource group or "
            "resource (/subscriptions/<guid>[/resourceGroups/<group>[/providers/...]], no "
            "trailing or double slash)"
        )
    try:
        moment = datetime.fromisoformat(expires)
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise ValueError(
            f"{where}: expires {expires!r} is not an ISO 8601 date-time with an offset, "
            "such as 2027-03-31T00:00:00+00:00"
        )
    reason = redacted(" ".join(reason.split()))  # before the cut, which would hide one
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 1] + "…"
    return Exemption(rule_id=rule_id, scope=scope, reason=reason, expires=moment)


def native_exemptions(
    items: Iterable[dict[str, Any]], assignment_ids: Sequence[str], workspace_id: str
) -> tuple[Exemption, ...]:
    """Azure Policy exemptions, as ARM lists them at `workspace_id`. Another initiative's says
    nothing about these rules; one with resource selectors, which the app cannot evaluate, is
    not honoured, never guessed at."""
    found: list[Exemption] = []
    rules = _rules()
    for item in items:
        properties, exemption_id = item.get("properties"), item.get("id")
        if not isinstance(properties, dict) or not isinstance(exemption_id, str):
            continue
        category = properties.get("exemptionCategory")
        ours = any(same_arm_id(properties.get("policyAssignmentId"), a) for a in assignment_ids)
        if not ours or category not in CATEGORIES or properties.get("resourceSelectors"):
            continue
        cut = exemption_id.lower().rfind(_EXEMPTIONS_SEGMENT)
        scope = exemption_id[:cut] if cut > 0 else ""
        # ARM listed it at the workspace, so it applies there: one from a management group,
        # which no ARM ID of the workspace names, is read as the workspace's subscription's.
        if not is_scope(scope):
            scope = scopes_of(workspace_id)[0]
        try:
            expires = NO_EXPIRY if (at := properties.get("expiresOn")) is None else aware_time(at)
        except ValueError:
            # An expiry that cannot be read is taken as past: never spare on a guess.
            expires = datetime.min.replace(tzinfo=UTC)
        references = properties.get("policyDefinitionReferenceIds") or [
            rule_id for rule_id, declared in rules.items() if declared.policy is not None
        ]
        name = properties.get("displayName") or item.get("name") or exemption_id
        said = f"{name} ({category}): {properties.get('description') or ''}"
        reason = excerpt(" ".join(f"Azure Policy exemption {said}".split()), MAX_REASON)
        found += [
            Exemption(rule_id=reference, scope=scope, reason=reason, expires=expires)
            for reference in references
            if isinstance(reference, str) and reference in rules
        ]
    return tuple(found)


class ExemptionResult(NamedTuple):
    findings: tuple[Finding, ...]
    expired: tuple[Exemption, ...]


def apply_exemptions(
    findings: Sequence[Finding], exemptions: Sequence[Exemption], now: datetime
) -> ExemptionResult:
    """Mark the problems that an exemption in force covers as `exempt` (with the exemption);
    collect, once each, the expired exemptions that match a finding (they count for nothing)."""
    from shared.policy.rules import Status

    # What an exemption may spare: problems. A compliant or not-applicable finding has nothing
    # to spare, and stays what it is so that reports do not hide good news.
    exemptible = (Status.NON_COMPLIANT, Status.UNKNOWN)
    result: list[Finding] = []
    # Once each, even when the setting lists the same exemption twice.
    expired: dict[Exemption, None] = {}
    for finding in findings:
        matching = [e for e in exemptions if e.covers(finding.rule_id, finding.target_id)]
        expired.update(dict.fromkeys(e for e in matching if not e.in_force(now)))
        in_force = [e for e in matching if e.in_force(now)]
        # The latest expiry is the one that spares the finding longest: report that one.
        chosen = max(in_force, key=lambda e: e.expires, default=None)
        exempt = replace(finding, status=Status.EXEMPT, exemption=chosen)
        result.append(exempt if chosen and finding.status in exemptible else finding)
    return ExemptionResult(tuple(result), tuple(expired))
