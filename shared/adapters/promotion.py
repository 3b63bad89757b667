"""Model promotion over ARM in raw JSON (azure-ai-ml costs 1.1-2.5 s to import): a job's metric
from run history's child runs and `MetricV2`, the current model's from its version's properties,
the writes (model version, deployment, the endpoint PUT: its PATCH takes only tags and identity)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from shared.adapters import transport
from shared.adapters.answers import RefusedTargetError, UnexpectedAnswerError, check_named
from shared.adapters.batch_scoring import BATCH_ENDPOINTS_API, text_at
from shared.adapters.errors import read_back
from shared.arm import ML_NAME, ArmId, is_arm_id, name_parts, same_arm_id
from shared.bounds import excerpt
from shared.config import decimal_number
from shared.ownership import not_made_by

MODELS_API = "2023-10-01"
RUN_HISTORY_API = "v1.0"
# A pipeline's steps read for a metric, at most (a retraining pipeline has a handful).
MAX_CHILD_RUNS = 20
PROVISIONING_DONE = frozenset({"Succeeded", "Failed", "Canceled"})
# One delivery's wait for a new deployment, then a redelivery (or the timer) reads it. Event Grid
# delivers again after 30 s: a longer wait would only run twins side by side, polling alike.
EVENT_GRID_DELIVERY_TIMEOUT_SECONDS = 30.0
PROVISION_TIMEOUT_SECONDS = EVENT_GRID_DELIVERY_TIMEOUT_SECONDS / 2
PROVISION_POLL_SECONDS = 5.0


def metric_value(value: Any) -> float | None:
    """A metric value as a finite number, else None (a person's text, NaN, a list, a vast int)."""
    value = decimal_number(value) if isinstance(value, str) else value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


class PromotionAdapter(transport.ArmAdapter):
    def job_metric(self, workspace_id: ArmId, job_name: str, metric: str) -> float | None:
        """The latest value of `metric` logged by a step of the job, or None. A listed run that
        is not the job's child, or an answer about another metric: `UnexpectedAnswerError`."""
        runs = f"{quote(workspace_id)}/runs"
        path = f"history/v1.0{runs}/{quote(job_name, safe='')}/children"
        listed = self._list(path, RUN_HISTORY_API, f"child runs of {job_name}", pages=2)
        found: float | None = None
        for run_id in [_child_run_id(child, job_name) for child in listed][:MAX_CHILD_RUNS]:
            path = f"metric/v2.0{runs}/{quote(run_id, safe='')}/full"
            what = f"metric {metric} of {run_id}"
            body = self._found("POST", path, None, what, body={"metricName": metric}) or {}
            # Case-sensitive (`Accuracy` is another); optional: the values are read by the key.
            if body.get("name") not in (None, metric):
                said = excerpt(repr(body.get("name")), 300)
                raise UnexpectedAnswerError(f"{what}: Azure answered {said}")
            values = transport.json_objects(body.get("value"), what)
            logged = [metric_value((v.get("data") or {}).get(metric)) for v in values]
            found = next((n for n in reversed(logged) if n is not None), found)
        return found

    def model(self, workspace_id: ArmId, asset_id: str) -> dict[str, Any]:
        """The `properties` of model version `asset_id` when a model of this workspace, else {}."""
        # Parsed, then rebuilt: a workspace whose name begins with this one's is another.
        parts = name_parts(asset_id) if is_arm_id(asset_id) else {}
        model, version = parts.get("child_name_1"), parts.get("child_name_2")
        if not same_arm_id(asset_id, f"{workspace_id}/models/{model}/versions/{version}"):
            return {}
        body = self._found("GET", quote(asset_id), MODELS_API, f"model {asset_id}", about=asset_id)
        properties = transport.json_mapping((body or {}).get("properties"), f"model {asset_id}")
        # Its own `properties` hold the metric the promotion compares with.
        transport.json_mapping(properties.get("properties"), f"model {asset_id}: properties")
        return properties

    def model_versions(self, workspace_id: ArmId, name: str) -> tuple[str | None, str | None]:
        """(latestVersion, nextVersion) of the model; (None, None) for a new model. Another's
        answer is refused: its numbers would name a version, and a deployment, of this model."""
        path = f"{quote(workspace_id)}/models/{quote(name, safe='')}"
        what, asked = f"model {name} of {workspace_id}", f"{workspace_id}/models/{name}"
        body = self._found("GET", path, MODELS_API, what, about=asked)
        properties = transport.json_mapping((body or {}).get("properties"), what)
        found = [properties.get(key) for key in ("latestVersion", "nextVersion")]
        # A model that exists has versions: none, or numbers instead of text, is no answer.
        not_text = any(v is not None and not isinstance(v, str) for v in found)
        if not_text or (body and not any(found)):
            raise transport.MalformedResponseError(f"{what}: versions {excerpt(repr(found), 200)}")
        return text_at(properties, "latestVersion"), text_at(properties, "nextVersion")

    def register(
        self, workspace_id: ArmId, name: str, version: str, body: Mapping[str, Any]
    ) -> None:
        """PUT the model version; the answer must be that version, registered by this app (one
        someone registered first is theirs, whatever it holds)."""
        path = quote(f"{workspace_id}/models/{name}/versions/{version}")
        what = f"model {name}:{version}"
        answered = self._json("PUT", path, MODELS_API, what, body=body, ok=(200, 201))
        check_named(answered.get("name"), version, f"registered {name}:{version}")
        if someone := not_made_by(self.app_identity(), answered.get("systemData")):
            raise UnexpectedAnswerError(f"model {name}:{version} already exists: {someone}")

    def endpoint(self, endpoint_id: ArmId) -> dict[str, Any]:
        what = f"batch endpoint {endpoint_id}"
        return self._json("GET", quote(endpoint_id), BATCH_ENDPOINTS_API, what, about=endpoint_id)

    def deployment(self, endpoint_id: ArmId, name: str) -> dict[str, Any] | None:
        # Another's spec, owner or state says nothing of this one.
        path, asked = _deployment(endpoint_id, name), f"{endpoint_id}/deployments/{name}"
        body = self._found("GET", path, BATCH_ENDPOINTS_API, f"deployment {name}", about=asked)
        # Its spec is the new deployment's: read as an object, or refused.
        transport.json_mapping((body or {}).get("properties"), f"deployment {name}: properties")
        return body

    def serving(
        self, workspace_id: ArmId, endpoint_id: ArmId
    ) -> tuple[str | None, str | None, dict[str, Any]]:
        """What the endpoint scores with: its default deployment, that deployment's model asset,
        and the model version's `properties` (`model`: {} when none, or not this workspace's)."""
        default = text_at(self.endpoint(endpoint_id), "properties", "defaults", "deploymentName")
        deployment = self.deployment(endpoint_id, default) if default else None
        asset = text_at(deployment, "properties", "model", "assetId")
        return default, asset, self.model(workspace_id, asset) if asset else {}

    def deployment_names(self, endpoint_id: ArmId) -> dict[str, bool]:
        """Each deployment's name, and whether Azure records this app as its creator (of the one
        its ID says it is: this endpoint's of that name, not another resource's)."""
        what = f"deployments of {endpoint_id}"
        items = self._list(f"{quote(endpoint_id)}/deployments", BATCH_ENDPOINTS_API, what)
        app = self.app_identity()
        named = {str(item["name"]): item for item in items if isinstance(item.get("name"), str)}
        return {
            name: same_arm_id(item.get("id"), f"{endpoint_id}/deployments/{name}")
            and app.created(item.get("systemData"))
            for name, item in named.items()
        }

    def create_deployment(self, endpoint_id: ArmId, name: str, body: Mapping[str, Any]) -> None:
        earlier = self.deployment(endpoint_id, name)
        someone = earlier and not_made_by(self.app_identity(), earlier.get("systemData"))
        if someone:
            raise RefusedTargetError(f"deployment {name} already exists: {someone}")
        path, what = _deployment(endpoint_id, name), f"deployment {name}"
        answered = self._json("PUT", path, BATCH_ENDPOINTS_API, what, body=body, ok=(200, 201))
        check_named(answered.get("name"), name, f"created deployment {name}")

    def wait_provisioned(self, endpoint_id: ArmId, name: str) -> str:
        deadline = time.monotonic() + PROVISION_TIMEOUT_SECONDS
        while True:
            body = self.deployment(endpoint_id, name)
            if body is None:
                return "Missing"
            # Without one (or not text), it would be waited for, then again on each redelivery.
            if (state := text_at(body, "properties", "provisioningState")) is None:
                raise transport.MalformedResponseError(f"deployment {name}: no provisioningState")
            if state in PROVISIONING_DONE or time.monotonic() >= deadline:
                return state
            time.sleep(PROVISION_POLL_SECONDS)

    def set_default(self, endpoint: Mapping[str, Any], deployment: str) -> None:
        properties = dict(endpoint.get("properties") or {})
        for set_by_azure in ("scoringUri", "swaggerUri", "provisioningState"):
            properties.pop(set_by_azure, None)
        properties["defaults"] = {"deploymentName": deployment}
        fields = ("location", "tags", "identity", "kind")
        body = {name: endpoint[name] for name in fields if endpoint.get(name) is not None}
        body["properties"] = properties
        path, what = quote(str(endpoint["id"])), f"batch endpoint {endpoint['id']}"
        answered = self._json("PUT", path, BATCH_ENDPOINTS_API, what, body=body, ok=(200, 201))
        named = text_at(answered, "properties", "defaults", "deploymentName")
        check_named(named, deployment, f"set the default deployment to {deployment}")

    def delete_deployment(self, endpoint_id: ArmId, name: str) -> None:
        def delete() -> None:
            path = _deployment(endpoint_id, name)
            self._arm("DELETE", path, BATCH_ENDPOINTS_API, ok=(200, 202, 204))

        read_back(delete, lambda: self.deployment(endpoint_id, name), lambda found: found is None)


def _child_run_id(child: Mapping[str, Any], job_name: str) -> str:
    """The run ID of a child run of `job_name`, a plain name (it becomes a URL segment); else
    `UnexpectedAnswerError`: another run's metric would decide this job's promotion."""
    check_named(child.get("parentRunId"), job_name, f"asked for child runs of {job_name}")
    run_id = child.get("runId")
    if not isinstance(run_id, str) or not ML_NAME.fullmatch(run_id):
        raise UnexpectedAnswerError(f"a child run of {job_name} has ID {excerpt(run_id, 100)!r}")
    return run_id


def _deployment(endpoint_id: ArmId, name: str) -> str:
    return f"{quote(endpoint_id)}/deployments/{quote(name, safe='')}"
