"""Azure ML system-topic events (pure): which start retraining, which end a retraining or scoring
job. A finished job is read again (its status is not trusted); the ledger says if it is ours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import NamedTuple

from shared.arm import ML_NAME, ArmId, is_workspace, same_arm_id
from shared.bounds import redacted
from shared.events import Ignored


def ml_event_types() -> tuple[str, str, str]:
    """Run status changed, run completed, dataset drift detected: azure-eventgrid's names, its
    package imported with the first event rather than when the host indexes the app (cold start)."""
    from azure.eventgrid import SystemEventNames as Names

    return (
        Names.MachineLearningServicesRunStatusChangedEventName.value,
        Names.MachineLearningServicesRunCompletedEventName.value,
        Names.MachineLearningServicesDatasetDriftDetectedEventName.value,
    )


# Set by model monitoring's evaluate step on a threshold breach; its value is the message.
MONITOR_BREACH_TAG = "azureml_modelmonitor_threshold_breached"
# Tags on every job this app submits: who submitted it, and for what.
APP_TAG = "synapse-aml-automation"
RETRAINING = "retraining"
SCORING = "scoring"
TERMINAL_RUN_STATUSES = frozenset({"completed", "failed", "canceled", "cancelled"})
MESSAGE_LIMIT = 256


class DriftSource(StrEnum):
    MODEL_MONITOR = "model-monitor"
    DATASET_MONITOR = "dataset-drift"


class Drift(NamedTuple):
    event_id: str
    workspace_id: ArmId
    source: DriftSource
    message: str


class JobFinished(NamedTuple):
    event_id: str
    workspace_id: ArmId
    job_name: str
    reported_status: str


def bounded(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` on one printable line (no character a tag could be refused for), redacted, then cut
    to `limit` (cut first, part of a credential would get through)."""
    flat = redacted(" ".join("".join(ch if ch.isprintable() else " " for ch in text).split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def workspace_of_topic(topic: str) -> ArmId | None:
    return ArmId(topic) if is_workspace(topic) else None


def scoped_workspace(topic: str, configured: Sequence[ArmId]) -> ArmId | None:
    workspace = workspace_of_topic(topic)
    return next((known for known in configured if same_arm_id(known, workspace)), None)


def breach_message(run_tags: Sequence[tuple[object, object]]) -> str | None:
    for key, value in run_tags:
        if isinstance(key, str) and key.lower() == MONITOR_BREACH_TAG:
            # Nothing is breached for `false`, "", null, a list...
            text = ("true" if value else "") if isinstance(value, bool) else value
            text = repr(text) if isinstance(text, int | float) else text
            if isinstance(text, str) and text.strip():
                return bounded(text)
    return None


def classify_ml_event(
    event_id: str, event_type: str, workspace_id: ArmId, data: object
) -> Drift | JobFinished | Ignored:
    """What an ML event means for this app. `workspace_id` is the event's (in-scope) topic."""
    status_changed, completed, drift = ml_event_types()
    if event_type not in (status_changed, completed, drift):
        return Ignored(event_id, f"event type {event_type!r} is not an Azure ML run or drift event")
    if not isinstance(data, Mapping):
        return Ignored(event_id, "event has no data object")
    if event_type == drift:
        monitor = data.get("DataDriftName") or data.get("DataDriftId") or "a dataset monitor"
        value = data.get("DriftCoefficient")
        extra = f" (drift coefficient {value})" if isinstance(value, int | float) else ""
        message = bounded(f"dataset drift detected by {monitor}{extra}")
        return Drift(event_id, workspace_id, DriftSource.DATASET_MONITOR, message)
    if not isinstance(run_id := data.get("runId"), str) or not run_id:
        return Ignored(event_id, "run event without a runId")
    tags = list(run_tags.items()) if isinstance(run_tags := data.get("runTags"), Mapping) else []
    if event_type == status_changed and (breach := breach_message(tags)) is not None:
        return Drift(event_id, workspace_id, DriftSource.MODEL_MONITOR, breach)
    # Whether the job is the app's the ledger says, never its tags: any workspace user edits them.
    reported = status if isinstance(status := data.get("runStatus"), str) else ""
    if event_type == status_changed and reported.lower() not in TERMINAL_RUN_STATUSES:
        return Ignored(event_id, f"run {run_id} is {reported or 'in progress'}", invalid=False)
    if not reported and event_type == completed:
        reported = "Completed"
    if not ML_NAME.fullmatch(run_id):
        # The run ID becomes a URL segment of the job read: only a plain job name is read.
        return Ignored(event_id, f"runId {bounded(repr(run_id), 80)} is not a job name")
    return JobFinished(event_id, workspace_id, run_id, reported)
