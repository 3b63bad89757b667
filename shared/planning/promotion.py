"""Promote only a better model: pure decisions from metrics and the endpoint's deployments.

- `judge`: the retrained model is promoted only when its metric is better than the current
  default deployment's model by at least `min_delta`, in the configured direction; a metric
  missing (or not a finite number) on either side is "not promoted", with why.
- `next_version`, `deployment_name`: what the better model is registered as and the batch
  deployment that serves it (`<endpoint>-<version>`, within Azure's deployment name rules).
- `deployment_spec`: the new deployment is the current default's spec with the new model.
- `to_delete`: deployments beyond `PROMOTION_KEEP`, newest kept first, only deployments this
  app created (its ledger says so, never a tag), never the default.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Azure ML's rule for batch deployment names: a letter first, then letters, digits and '-',
# 3 to 32 characters in all.
MAX_DEPLOYMENT_NAME = 32
_NAME_CHARS = re.compile(r"[^A-Za-z0-9-]")
# Properties Azure sets on a deployment: not part of the spec a new deployment is created from.
_READ_ONLY = ("provisioningState",)


@dataclass(frozen=True)
class Judgement:
    """Whether the retrained model is promoted, and why."""

    promote: bool
    reason: str


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def judge(
    candidate: float | None,
    current: float | None,
    *,
    metric: str,
    higher_is_better: bool,
    min_delta: float,
) -> Judgement:
    """Promote only when `candidate` beats `current` by at least `min_delta` (and by more than
    nothing: an equal model is not promoted)."""
    if candidate is None or not _finite(candidate):
        return Judgement(False, f"the retraining job logged no finite {metric!r} metric")
    if current is None or not _finite(current):
        return Judgement(False, f"the current default's model has no finite {metric!r} metric")
    gain = candidate - current if higher_is_better else current - candidate
    shown = f"{metric} {candidate:g} vs {current:g} ({'higher' if higher_is_better else 'lower'}"
    shown += f" is better, min delta {min_delta:g})"
    if gain > 0 and gain >= min_delta:
        return Judgement(True, f"better: {shown}")
    if gain == 0:
        return Judgement(False, f"not better (equal): {shown}")
    if gain < 0:
        return Judgement(False, f"worse: {shown}")
    return Judgement(False, f"better by less than the minimum: {shown}")


def next_version(latest: str | None, next_hint: str | None) -> str | None:
    """The version to register: Azure's `nextVersion` when it is a number, else the latest
    numeric version plus one, "1" for a new model; None when neither says (a model whose
    versions are not numbers)."""
    if next_hint is not None and next_hint.isascii() and next_hint.isdigit():
        return str(int(next_hint))
    if latest is None:
        return "1"
    if latest.isascii() and latest.isdigit():
        return str(int(latest) + 1)
    return None


def deployment_name(endpoint: str, version: str) -> str:
    """`<endpoint>-<version>`, cut to Azure's 32 characters from the endpoint's side, so the
    version (what tells deployments apart) is always whole."""
    suffix = "-" + _NAME_CHARS.sub("-", version)[: MAX_DEPLOYMENT_NAME - 2]
    head = _NAME_CHARS.sub("-", endpoint)[: MAX_DEPLOYMENT_NAME - len(suffix)].rstrip("-")
    if not head or not head[0].isalpha():
        head = ("d" + head)[: MAX_DEPLOYMENT_NAME - len(suffix)].rstrip("-")
    return head + suffix


def deployment_spec(current: Mapping[str, Any], model_id: str) -> dict[str, Any]:
    """The body of the new deployment: the current default's location, tags and properties
    (its code, environment, compute and settings), with the new model."""
    properties = copy.deepcopy(dict(current.get("properties") or {}))
    for name in _READ_ONLY:
        properties.pop(name, None)
    properties["model"] = {"referenceType": "Id", "assetId": model_id}
    body: dict[str, Any] = {"properties": properties}
    for name in ("location", "tags", "kind", "sku", "identity"):
        if current.get(name) is not None:
            body[name] = copy.deepcopy(current[name])
    return body


def to_delete(
    existing: Sequence[str],
    created: Sequence[str],
    *,
    default: str,
    previous: str | None,
    keep: int,
) -> list[str]:
    """Deployments to delete after a promotion: of the deployments that exist, ordered newest
    first (the default, the previous default, then the app's own by `created`, newest last in
    it), those beyond `keep` that this app created. The default never; another's never."""
    present = {name.lower(): name for name in existing}
    order: list[str] = []
    for name in [default, previous, *reversed(created)]:
        if name and name.lower() in present and name.lower() not in order:
            order.append(name.lower())
    ours = {name.lower() for name in created}
    return [
        present[name] for name in order[max(keep, 1) :] if name in ours and name != default.lower()
    ]


def rollback(endpoint: str, previous: str | None) -> str:
    """How an operator switches back: the endpoint's default deployment to the previous one."""
    if not previous:
        return "no previous deployment to switch back to"
    return (
        f"switch back: az ml batch-endpoint update --name {endpoint} "
        f"--set defaults.deployment_name={previous}"
    )
