"""The simulator's Azure ML service, driven by azure-ai-ml itself (the client the recorded
exchanges come from): components by version and by label, jobs get and list with the tag filter,
batch endpoints, and `invoke` through the scoring URI. The model registry, batch deployment
writes and the endpoint switch, driven by azure-mgmt-machinelearningservices (its models parse
the answers, its pollers follow `Azure-AsyncOperation` and `Location`), with the rules Azure
applies."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.core.tools import parse_resource_id

from shared.adapters.clients import clients_for
from shared.config import get_settings
from simulator import AzureSimulator
from tests.conftest import App
from tools import retraining_scene as rs
from tools import scene

pytestmark = pytest.mark.usefixtures("clean_sim")

SUB = "00000000-1111-2222-3333-444444444444"
GROUP = "test-rg"
WORKSPACE = (
    f"/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/"
    "Microsoft.MachineLearningServices/workspaces/my-aml-workspace"
)
ENDPOINT = f"{WORKSPACE}/batchEndpoints/my-batch-ep"


@pytest.fixture(scope="module")
def seeded(sim: AzureSimulator) -> AzureSimulator:
    sim.ml.add_workspace(WORKSPACE)
    sim.ml.add_compute(WORKSPACE, "cpu-cluster")
    sim.ml.add_component(WORKSPACE, "score_drift", "2")
    sim.ml.add_component(WORKSPACE, "score_drift", "3")
    sim.ml.add_batch_endpoint(ENDPOINT, deployments=["blue", "green"], default_deployment="blue")
    return sim


@pytest.fixture
def ml_client(seeded: AzureSimulator, credential: ManagedIdentityCredential) -> Any:
    from azure.ai.ml import MLClient

    return MLClient(
        credential,
        SUB,
        GROUP,
        "my-aml-workspace",
        cloud=f"sim:{seeded.url}",
        cloud_metadata={
            "azure_portal": "https://portal.azure.com/",
            "resource_manager": f"{seeded.url}/",
            "active_directory": "https://login.microsoftonline.com/",
            "aml_resource_id": "https://ml.azure.com/",
            "storage_endpoint": "core.windows.net",
            "registry_discovery_endpoint": f"{seeded.url}/",
        },
        enable_telemetry=False,
        show_progress=False,
    )


def test_components_by_version_and_by_latest_label(seeded: AzureSimulator, ml_client: Any) -> None:
    assert ml_client.components.get("score_drift", version="2").version == "2"
    assert ml_client.components.get("score_drift", label="latest").version == "3"
    routes = [r.route for r in seeded.requests if r.route != "token"]
    assert routes == ["ml.component.version.get", "ml.component.version.list"]


def test_a_pipeline_job_round_trip_with_the_tag_filter(
    seeded: AzureSimulator, ml_client: Any
) -> None:
    from azure.ai.ml.entities import PipelineJob

    component = ml_client.components.get("score_drift", version="3")
    job = PipelineJob(
        name="drift-run-0001",
        jobs={"step": component(training_data="azureml://datastores/ws/paths/in/")},
        compute="cpu-cluster",
        experiment_name="drift-monitoring",
        tags={"trigger": "logicapp"},
    )
    created = ml_client.jobs.create_or_update(job)
    assert created.name == "drift-run-0001"
    assert created.status == "NotStarted"

    seeded.ml.set_job_status(WORKSPACE, "drift-run-0001", "Running")
    assert ml_client.jobs.get("drift-run-0001").status == "Running"
    tagged = [j.name for j in ml_client.jobs.list(tag="trigger")]
    untagged = [j.name for j in ml_client.jobs.list(tag="no-such-tag")]
    assert "drift-run-0001" in tagged
    assert untagged == []
    # Azure ML records the caller as the creator (an application's client ID, as ARM does).
    stored = seeded.ml.job(WORKSPACE, "drift-run-0001")
    assert stored is not None
    assert stored["systemData"]["createdBy"] == seeded.identity.client_id
    assert stored["systemData"]["createdByType"] == "Application"


def test_batch_endpoint_get_and_invoke_as_azure_ai_ml_does(
    seeded: AzureSimulator, ml_client: Any
) -> None:
    from azure.ai.ml import Input

    endpoint = ml_client.batch_endpoints.get("my-batch-ep")
    assert endpoint.scoring_uri.startswith(seeded.url + "/inference/")
    assert endpoint.defaults.deployment_name == "blue"

    job = ml_client.batch_endpoints.invoke(
        endpoint_name="my-batch-ep",
        deployment_name="green",
        input=Input(type="uri_folder", path="azureml://datastores/workspaceblobstore/paths/in/"),
    )
    [(headers, body)] = seeded.ml.scoring_posts
    assert headers["azureml-model-deployment"] == "green"
    assert body["properties"]["inputData"]["UriFolder"]["jobInputType"] == "UriFolder"
    stored = seeded.ml.job(WORKSPACE, job.name)
    assert stored is not None
    assert stored["properties"]["properties"]["azureml.deploymentname"] == "green"


@pytest.fixture
def ml(app: App) -> Any:
    rs.seed_retraining(app.sim)
    app.sim.ml.promotion.add_model_version(
        scene.PROD, "drift-model", "2", properties={"accuracy": "0.8"}
    )
    return clients_for(get_settings()).machine_learning(
        str(parse_resource_id(scene.PROD)["subscription"])
    )


def _where() -> tuple[str, str]:
    parts = parse_resource_id(scene.PROD)
    return str(parts["resource_group"]), str(parts["name"])


@pytest.mark.slow
def test_the_registry_reads_and_an_immutable_version(ml: Any) -> None:
    from azure.mgmt.machinelearningservices.models import ModelVersion, ModelVersionProperties

    group, workspace = _where()
    container = ml.model_containers.get(group, workspace, "drift-model")
    assert (container.properties.latest_version, container.properties.next_version) == ("2", "3")
    assert ml.model_versions.get(group, workspace, "drift-model", "2").properties.properties == {
        "accuracy": "0.8"
    }
    first = ModelVersion(properties=ModelVersionProperties(model_uri="azureml://jobs/a/outputs/m/"))
    created = ml.model_versions.create_or_update(group, workspace, "churn-model", "1", first)
    assert created.name == "1"
    # The same body again is accepted; another model under the same version is refused.
    ml.model_versions.create_or_update(group, workspace, "churn-model", "1", first)
    other = ModelVersion(properties=ModelVersionProperties(model_uri="azureml://jobs/b/outputs/m/"))
    with pytest.raises(HttpResponseError) as refused:
        ml.model_versions.create_or_update(group, workspace, "churn-model", "1", other)
    assert refused.value.status_code == 409


@pytest.mark.slow
def test_a_deployment_provisions_then_becomes_the_default_and_the_default_stays(
    app: App, ml: Any
) -> None:
    from azure.mgmt.machinelearningservices.models import (
        BatchDeployment,
        IdAssetReference,
    )

    group, workspace = _where()
    blue = ml.batch_deployments.get(group, workspace, rs.ENDPOINT_NAME, "blue")
    blue.properties.model = IdAssetReference(asset_id=f"{scene.PROD}/models/drift-model/versions/2")
    app.sim.ml.promotion.provisioning_polls = 2
    poller = ml.batch_deployments.begin_create_or_update(
        group,
        workspace,
        rs.ENDPOINT_NAME,
        "churn-batch-9",
        BatchDeployment(location=blue.location, properties=blue.properties),
        polling_interval=0,
    )
    assert poller.result().properties.provisioning_state == "Succeeded"

    endpoint = ml.batch_endpoints.get(group, workspace, rs.ENDPOINT_NAME)
    endpoint.properties.defaults.deployment_name = "churn-batch-9"
    ml.batch_endpoints.begin_create_or_update(
        group, workspace, rs.ENDPOINT_NAME, endpoint, polling_interval=0
    ).result()
    assert ml.batch_endpoints.get(
        group, workspace, rs.ENDPOINT_NAME
    ).properties.defaults.deployment_name == ("churn-batch-9")

    with pytest.raises(HttpResponseError) as refused:
        ml.batch_deployments.begin_delete(
            group, workspace, rs.ENDPOINT_NAME, "churn-batch-9", polling_interval=0
        ).result()
    assert refused.value.status_code == 400
    ml.batch_deployments.begin_delete(
        group, workspace, rs.ENDPOINT_NAME, "green", polling_interval=0
    ).result()
    names = {d.name for d in ml.batch_deployments.list(group, workspace, rs.ENDPOINT_NAME)}
    assert names == {"blue", "churn-batch-9"}


@pytest.mark.slow
def test_a_default_that_has_not_provisioned_is_refused(app: App, ml: Any) -> None:
    from azure.mgmt.machinelearningservices.models import BatchDeployment, IdAssetReference

    group, workspace = _where()
    blue = ml.batch_deployments.get(group, workspace, rs.ENDPOINT_NAME, "blue")
    blue.properties.model = IdAssetReference(asset_id=f"{scene.PROD}/models/drift-model/versions/2")
    app.sim.ml.promotion.fail_provisioning(rs.ENDPOINT, "broken")
    with pytest.raises(HttpResponseError):
        ml.batch_deployments.begin_create_or_update(
            group,
            workspace,
            rs.ENDPOINT_NAME,
            "broken",
            BatchDeployment(location=blue.location, properties=blue.properties),
            polling_interval=0,
        ).result()
    endpoint = ml.batch_endpoints.get(group, workspace, rs.ENDPOINT_NAME)
    endpoint.properties.defaults.deployment_name = "broken"
    with pytest.raises(HttpResponseError) as refused:
        ml.batch_endpoints.begin_create_or_update(
            group, workspace, rs.ENDPOINT_NAME, endpoint, polling_interval=0
        ).result()
    assert refused.value.status_code == 400
    assert app.sim.ml.endpoint(rs.ENDPOINT).default_deployment == "blue"  # type: ignore[union-attr]
