"""The retraining part of the scene: a registered training component, a batch endpoint, the
settings that turn retraining on, and the Azure ML system-topic events that drive it.

Events are shaped on the documented samples (`reference/eventgrid_aml_*.json`): the topic is the
workspace's ARM ID, `data.runTags` carries the run's tags.
"""

from __future__ import annotations

import uuid
from typing import Any

from simulator import AzureSimulator
from tools.scene import DEV, PROD

COMPONENT = "train_churn_model"
ENDPOINT_NAME = "churn-batch"
ENDPOINT = f"{PROD}/batchEndpoints/{ENDPOINT_NAME}"
SCORING_INPUT = "azureml://datastores/workspaceblobstore/paths/scoring/daily/"
TRAINING_DATA = "azureml://datastores/workspaceblobstore/paths/training/churn/"
DRIFT_WORKSPACE = "3f0c2b1a-9d8e-4c7b-a6f5-e4d3c2b1a090"
BREACH_TAG = "azureml_modelmonitor_threshold_breached"


def seed_retraining(sim: AzureSimulator) -> None:
    """The component (versions 1 and 2; 2 is the latest) and the batch endpoint in PROD."""
    sim.ml.add_component(PROD, COMPONENT, "1")
    sim.ml.add_component(PROD, COMPONENT, "2")
    sim.ml.add_component(DEV, COMPONENT, "1")
    sim.ml.add_batch_endpoint(ENDPOINT, deployments=["blue", "green"], default_deployment="blue")


def retraining_settings(**overrides: str) -> dict[str, str]:
    """Settings that turn retraining on in PROD (retrain on drift, score after a retrain)."""
    values = {
        "RETRAIN_WORKSPACE_IDS": PROD,
        "RETRAIN_COMPONENT": f"{COMPONENT}@latest",
        "RETRAIN_INPUTS": '{"training_data": "' + TRAINING_DATA + '", "learning_rate": 0.05}',
        "RETRAIN_COMPUTE": "cpu-cluster",
        "RETRAIN_EXPERIMENT": "churn-retraining",
        "RETRAIN_COOLDOWN_MINUTES": "360",
        "RETRAIN_SCHEDULE": "0 0 2 * * 0",
        "BATCH_ENDPOINT_NAME": ENDPOINT_NAME,
        "SCORING_INPUT": SCORING_INPUT,
    }
    values.update(overrides)
    return values


def _run_event(
    event_type: str,
    workspace_id: str,
    run_id: str,
    *,
    tags: dict[str, str],
    status: str | None,
    event_id: str | None,
    experiment: str = "churn-monitoring",
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "experimentId": str(uuid.uuid5(uuid.NAMESPACE_URL, experiment)),
        "experimentName": experiment,
        "runId": run_id,
        "runType": None,
        "runTags": tags,
        "runProperties": {},
    }
    if status is not None:
        data["runStatus"] = status
    return {
        "topic": workspace_id,
        "subject": f"experiments/{data['experimentId']}/runs/{run_id}",
        "eventType": event_type,
        "eventTime": "2026-11-25T02:00:00.0000000Z",
        "id": event_id or str(uuid.uuid4()),
        "data": data,
        "dataVersion": "",
        "metadataVersion": "1",
    }


def monitor_breach_event(
    workspace_id: str = PROD,
    *,
    message: str = "Data drift of feature tenure above threshold 0.3 (0.41)",
    tag: str = BREACH_TAG,
    status: str = "Completed",
    event_id: str | None = None,
) -> dict[str, Any]:
    """A model monitor's evaluate run whose breach tag is set (`RunStatusChanged`)."""
    return _run_event(
        "Microsoft.MachineLearningServices.RunStatusChanged",
        workspace_id,
        f"monitor-evaluate-{uuid.uuid4().hex[:8]}",
        tags={tag: message, "azureml.modelmonitor": "churn-monitor"},
        status=status,
        event_id=event_id,
    )


def dataset_drift_event(workspace_id: str = PROD, event_id: str | None = None) -> dict[str, Any]:
    """The v1 `DatasetDriftDetected`."""
    return {
        "topic": workspace_id,
        "subject": "datadrifts/churn-drift/runs/churn-drift_1",
        "eventType": "Microsoft.MachineLearningServices.DatasetDriftDetected",
        "eventTime": "2026-11-25T02:00:00.0000000Z",
        "id": event_id or str(uuid.uuid4()),
        "data": {
            "DataDriftId": "01d29aa4-e6a4-470a-9ef3-66660d21f8ef",
            "DataDriftName": "churn-drift",
            "RunId": "churn-drift_1",
            "BaseDatasetId": "3c56d136-0f64-4657-a0e8-5162089a88a3",
            "TargetDatasetId": "d7e74d2e-c972-4266-b5fb-6c9c182d2a74",
            "DriftCoefficient": 0.835,
            "StartTime": "2026-11-24T00:00:00+00:00",
            "EndTime": "2026-11-25T00:00:00+00:00",
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }


def job_finished_event(
    job_name: str,
    *,
    workspace_id: str = PROD,
    tags: dict[str, str],
    event_type: str = "Microsoft.MachineLearningServices.RunCompleted",
    status: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A run event for a job (its tags as the run carries them)."""
    return _run_event(
        event_type,
        workspace_id,
        job_name,
        tags=tags,
        status=status,
        event_id=event_id,
        experiment="churn-retraining",
    )


def claim_job(job_name: str, *, hours_ago: float = 48, workspace: str = PROD) -> None:
    """Write the ledger's claim for `job_name` as the app does when it submits a job (the only
    proof that a job is the app's), dated `hours_ago`: for tests that start from such a job."""
    from datetime import UTC, datetime, timedelta

    from shared.claims import ClaimState
    from shared.runtime import runtime

    claims = runtime().claims
    assert claims.claim_retraining(
        workspace,
        job_name=job_name,
        claim_key=f"test:{job_name}",
        trigger="test",
        now=datetime.now(UTC) - timedelta(hours=hours_ago),
        previous=claims.retraining(workspace),
    )
    claim = claims.retraining(workspace)
    assert claim is not None
    assert claims.set_retraining_state(claim, ClaimState.SUBMITTED)
