"""Which stored policy exemptions a list at a scope returns (API 2022-07-01-preview): unfiltered,
those at, above and below the scope; ``atScope()`` drops those below; ``atExactScope()`` keeps
those at it; ``excludeExpired()`` drops the expired; ``policyAssignmentId eq '{id}'`` keeps one
assignment's."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime

from ..arm.models import key as normalized_scope
from ..shapes import JSON
from .models import at_or_above

SEGMENT = "/providers/microsoft.authorization/policyexemptions/"
_TERM = re.compile(
    r"(?P<call>atScope|atExactScope|excludeExpired)\(\)|policyAssignmentId\s+eq\s+'(?P<id>[^']+)'",
    re.IGNORECASE,
)


class UnsupportedFilterError(ValueError):
    """A `$filter` term ARM would not take (the reply names it)."""


def _expired(body: JSON, now: datetime) -> bool:
    expires = body.get("properties", {}).get("expiresOn")
    return expires is not None and datetime.fromisoformat(str(expires)) <= now


def listed(stored: dict[str, JSON], scope: str, raw_filter: str) -> list[JSON]:
    """The stored exemptions (store key -> body) a list at ``scope`` returns under the filter."""
    relation, assignment, live = "any", None, False
    for term in filter(None, re.split(r"\s+and\s+", raw_filter.strip(), flags=re.IGNORECASE)):
        match = _TERM.fullmatch(term.strip())
        if match is None:
            raise UnsupportedFilterError(term)
        call = (match.group("call") or "").lower()
        if call == "excludeexpired":
            live = True
        elif call:
            relation = call
        else:
            assignment = match.group("id").lower()
    here = normalized_scope(scope)
    now = datetime.now(UTC)
    found = []
    for key, body in stored.items():
        cut = key.rfind(SEGMENT)
        if cut < 0 or "/" in key[cut + len(SEGMENT) :]:
            continue
        at = normalized_scope(key[:cut])
        if relation == "atexactscope":
            keep = at == here
        else:
            keep = at_or_above(at, here) or (relation == "any" and at_or_above(here, at))
        assigned = str(body.get("properties", {}).get("policyAssignmentId")).lower()
        keep = keep and assignment in (None, assigned)
        if keep and not (live and _expired(body, now)):
            found.append(copy.deepcopy(body))
    return found
