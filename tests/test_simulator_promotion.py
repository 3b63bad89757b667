"""The simulator's model registry, batch deployment writes and endpoint switch, driven by the real
azure-mgmt-machinelearningservices client (its models parse what the simulator answers, its
pollers follow the simulator's `Azure-AsyncOperation` and `Location`), and the rules Azure
applies: an immutable model version, a default only once provisioned, the default never deleted.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.core.tools import parse_resource_id

from shared.adapters.clients import clients_for
from shared.config import get_settings
from tests.conftest import App
from tools import retraining_scene as rs
from tools import scene

pytestmark = pytest.mark.slow


@pytest.fixture
def ml(app: App) -> Any:
    rs.seed_retraining(app.sim)
    app.sim.ml.promotion.add_model_version(
        scene.PROD, "drift-model", "2", properties={"accuracy": "0.8"}
    )
    return clients_for(get_settings()).machine_learning(
        parse_resource_id(scene.PROD)["subscription"]
    )


def _where() -> tuple[str, str]:
    parts = parse_resource_id(scene.PROD)
    return str(parts["resource_group"]), str(parts["name"])


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
