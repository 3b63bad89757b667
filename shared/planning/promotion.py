"""Promote only a better model: pure decisions from metrics and the endpoint's deployments."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from shared.config import Promotion, whole_number

# Azure ML batch deployment names: a letter, then letters, digits and '-', 3 to 32 in all.
MAX_DEPLOYMENT_NAME = 32
_NAME_CHARS = re.compile(r"[^A-Za-z0-9-]")


def judge(candidate: float | None, current: float | None, rule: Promotion) -> tuple[bool, str]:
    """Whether to promote, and why: only when `candidate` beats `current` by at least `min_delta`
    and by more than nothing; a metric missing (or not finite) on either side is "not promoted"."""
    metric, higher_is_better, min_delta = rule.metric, rule.higher_is_better, rule.min_delta
    if candidate is None or not math.isfinite(candidate):
        return (False, f"the retraining job logged no finite {metric!r} metric")
    if current is None or not math.isfinite(current):
        return (False, f"the current default's model has no finite {metric!r} metric")
    # As written (repr), exactly: in floats 0.9 - 0.8 is 0.09999999999999998, less than 0.1.
    new, old, least = (Fraction(repr(value)) for value in (candidate, current, min_delta))
    gain = new - old if higher_is_better else old - new
    shown = f"{metric} {candidate:g} vs {current:g} ({'higher' if higher_is_better else 'lower'}"
    shown += f" is better, min delta {min_delta:g})"
    if gain > 0 and gain >= least:
        return (True, f"better: {shown}")
    if gain == 0:
        return (False, f"not better (equal): {shown}")
    if gain < 0:
        return (False, f"worse: {shown}")
    return (False, f"better by less than the minimum: {shown}")


def next_version(latest: str | None, next_hint: str | None) -> str | None:
    """Azure's `nextVersion`, else the latest plus one ("1": a new model); None: not numbers."""
    if next_hint is not None and (hint := whole_number(next_hint)) is not None:
        return str(hint)
    if latest is None:
        return "1"
    return None if (number := whole_number(latest)) is None else str(number + 1)


def deployment_name(endpoint: str, version: str) -> str:
    """`<endpoint>-<version>`, cut from the endpoint's side: the version is always whole."""
    suffix = "-" + _NAME_CHARS.sub("-", version)[: MAX_DEPLOYMENT_NAME - 2]
    head = _NAME_CHARS.sub("-", endpoint)[: MAX_DEPLOYMENT_NAME - len(suffix)].rstrip("-")
    if not head or not head[0].isalpha():
        head = ("d" + head)[: MAX_DEPLOYMENT_NAME - len(suffix)].rstrip("-")
    return head + suffix


def deployment_spec(current: Mapping[str, Any], model_id: str) -> dict[str, Any]:
    properties = copy.deepcopy(dict(current.get("properties") or {}))
    properties.pop("provisioningState", None)
    properties["model"] = {"referenceType": "Id", "assetId": model_id}
    fields = ("location", "tags", "kind", "sku", "identity")
    kept = {name: copy.deepcopy(current[name]) for name in fields if current.get(name) is not None}
    return {"properties": properties, **kept}


def to_delete(
    existing: Sequence[str], created: Sequence[str], default: str, previous: str | None, keep: int
) -> list[str]:
    """Deployments beyond `keep`, newest first (default, previous, then `created` from its end),
    that this app created (its ledger says so, never a tag). Never the default."""
    present = {name.lower(): name for name in existing}
    newest = dict.fromkeys(name.lower() for name in [default, previous, *reversed(created)] if name)
    beyond = [name for name in newest if name in present][max(keep, 1) :]
    ours = {name.lower() for name in created}
    return [present[name] for name in beyond if name in ours and name != default.lower()]


def rollback(endpoint: str, previous: str | None) -> str:
    if not previous:
        return "no previous deployment to switch back to"
    return (
        f"switch back: az ml batch-endpoint update --name {endpoint} "
        f"--set defaults.deployment_name={previous}"
    )
