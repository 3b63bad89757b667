"""Promote only a better model, between a completed retrain and the scoring after it.

`ModelPromoter.promote_after_retrain` is the one call the completion path makes right before it
starts scoring; its `PromotionResult` says whether to score now and on which deployment.

1. Decide: the retraining job's metric against the metric of the model behind the batch
   endpoint's default deployment (`shared.planning.promotion.judge`).
2. Claim: one promotion row per retraining job in the ledger's table (`Claims.claim_promotion`);
   the delivery that creates it promotes, a twin or racing delivery reads it. Each step moves
   the row on (`claimed` -> `registered` -> `deploying` -> `switched` | `failed`; `skipped`
   when not better), so a redelivery carries on from the step it reached.
3. Register the model (next version, tagged with the job and the metrics), create the new
   deployment from the current default's spec, wait for `Succeeded`, then switch the default;
   the previous deployment stays (rollback: switch back) and the app's own deployments beyond
   `PROMOTION_KEEP` are deleted, never the default.

Dry-run reads and decides, records the plan and writes nothing (no claim either). Every step is
in the ledger (its intent before the write); the decision is announced (`Model.Promote.*`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError

from shared.adapters.errors import describe, is_transient
from shared.adapters.promotion import PromotionAdapter, metric_value
from shared.arm import ArmId
from shared.claims import Claims, PromotionClaim
from shared.config import Promotion, RetrainingSettings, Settings
from shared.model import JudgedAnswerError
from shared.planning.promotion import (
    deployment_name,
    deployment_spec,
    judge,
    next_version,
    rollback,
    to_delete,
)
from shared.reconcilers.intent import Trail
from shared.reconcilers.transient import TransientAzureError

KIND = "model"
VERDICT = "promote"
# A promotion another delivery claimed is left to it this long (then a later delivery, such as
# the timer's backstop, carries it on from the step it reached).
IN_FLIGHT = timedelta(minutes=30)
# How long one delivery waits for the new deployment to provision; then Event Grid's
# redelivery (or the timer) reads it again.
PROVISION_TIMEOUT_SECONDS = 240.0
PROVISION_POLL_SECONDS = 5.0


class Step:
    """Where a promotion stands (the claim row's `State`)."""

    CLAIMED = "claimed"
    REGISTERED = "registered"
    DEPLOYING = "deploying"
    SWITCHED = "switched"
    FAILED = "failed"
    SKIPPED = "skipped"


FINAL = frozenset({Step.SWITCHED, Step.FAILED, Step.SKIPPED})
# The steps after which a deployment of the app's exists (or existed) on the endpoint.
DEPLOYED = frozenset({Step.DEPLOYING, Step.SWITCHED, Step.FAILED})


@dataclass(frozen=True)
class PromotionResult:
    """What the scoring after a retrain does: start now or not, on which deployment, and what
    its record says about the model."""

    score: bool
    deployment: str | None
    promoted: bool
    outcome: str
    summary: str

    @property
    def note(self) -> str:
        where = self.deployment or "the endpoint's default"
        model = "the promoted model" if self.promoted else "the current model (not promoted)"
        return f"{model} on {where}: {self.summary}"


class ModelPromoter:
    def __init__(
        self,
        settings: Settings,
        adapter: PromotionAdapter,
        claims: Claims,
        clock: Callable[[], datetime],
    ) -> None:
        config: RetrainingSettings | None = settings.retraining
        if config is None or config.promotion is None or config.batch_endpoint_name is None:
            raise ValueError("promotion is off: PROMOTION_METRIC is unset")
        self._settings = settings
        self._config: Promotion = config.promotion
        self._endpoint_name = config.batch_endpoint_name
        self._adapter = adapter
        self._claims = claims
        self._clock = clock

    def _endpoint_id(self, workspace_id: str) -> ArmId:
        return ArmId(f"{workspace_id}/batchEndpoints/{self._endpoint_name}")

    def _not_promoted(self, previous: str | None, outcome: str, summary: str) -> PromotionResult:
        # Scored (when it is) where it was before: the deployment the app would have used.
        stays = f"; the default stays {previous}" if previous else ""
        return PromotionResult(
            self._config.score_when_not_promoted, None, False, outcome, summary + stays
        )

    def _result(self, claim: PromotionClaim) -> PromotionResult:
        """What a finished promotion row says (nothing read from Azure, nothing announced)."""
        reason = _detail(claim).get("reason", "")
        if claim.state == Step.SWITCHED:
            return PromotionResult(True, claim.deployment, True, "promoted", str(reason))
        return self._not_promoted(claim.previous, f"not-promoted:{claim.state}", str(reason))

    def promote_after_retrain(self, trail: Trail, job_name: str) -> PromotionResult:
        """Promote the model of `job_name` if it is better; the deployment to score on."""
        claim = self._claims.promotion(trail.workspace_id, job_name)
        if claim is not None and claim.state in FINAL:
            return self._result(claim)
        if (
            claim is not None
            and claim.trigger != trail.trigger
            and (self._clock() - claim.claimed_at < IN_FLIGHT)
        ):
            return self._held(claim, job_name)
        try:
            if claim is None:
                decided = self._decide(trail, job_name)
                if isinstance(decided, PromotionResult):
                    return decided
                claim = decided
            return self._carry_on(trail, claim)
        except (AzureError, JudgedAnswerError) as error:
            return self._failed(trail, job_name, claim, error)

    # ------------------------------------------------------------------- deciding

    def _decide(self, trail: Trail, job_name: str) -> PromotionResult | PromotionClaim:
        workspace_id = trail.workspace_id
        endpoint_id = self._endpoint_id(workspace_id)
        metric = self._config.metric
        default = default_of(self._adapter.endpoint(endpoint_id))
        current_model: dict[str, Any] | None = None
        if default is not None:
            asset = model_of(self._adapter.deployment(endpoint_id, default))
            current_model = self._adapter.model(workspace_id, asset) if asset else None
        current = metric_value(((current_model or {}).get("properties") or {}).get(metric))
        candidate = self._adapter.job_metric(workspace_id, job_name, metric)
        judgement = judge(
            candidate,
            current,
            metric=metric,
            higher_is_better=self._config.higher_is_better,
            min_delta=self._config.min_delta,
        )
        reason = judgement.reason
        version = None
        model_name = self._config.model_name
        if judgement.promote and default is None:
            reason = f"the endpoint {self._endpoint_name} has no default deployment to replace"
        elif judgement.promote:
            version = next_version(*self._adapter.model_versions(workspace_id, model_name))
            if version is None:
                reason = f"model {model_name} has versions that are not numbers"
        detail = {
            "metric": metric,
            "candidate": candidate,
            "current": current,
            "reason": reason,
            "model_type": (current_model or {}).get("modelType") or "custom_model",
        }
        if version is None:
            return self._skip(trail, job_name, default, detail)
        name = deployment_name(self._endpoint_name, version)
        if self._settings.dry_run:
            plan = {
                **detail,
                "model": f"{model_name}:{version}",
                "deployment": name,
                "previous": default,
                "rollback": rollback(self._endpoint_name, default),
            }
            _decided(trail, job_name, reason, "planned: not applied (dry-run)", plan)
            return PromotionResult(True, name, False, "dry-run", f"would promote: {reason}")
        return self._claim(trail, job_name, Step.CLAIMED, version, name, default, detail)

    def _claim(
        self,
        trail: Trail,
        job_name: str,
        state: str,
        version: str,
        deployment: str,
        default: str | None,
        detail: dict[str, Any],
    ) -> PromotionClaim | PromotionResult:
        """The promotion row, created by this delivery; another's result when it was first."""
        won = self._claims.claim_promotion(
            trail.workspace_id,
            job_name,
            now=self._clock(),
            state=state,
            version=version,
            deployment=deployment,
            previous=default or "",
            detail=json.dumps(detail, sort_keys=True),
            trigger=trail.trigger,
        )
        claim = self._claims.promotion(trail.workspace_id, job_name)
        if not won or claim is None:
            return self._held(claim, job_name)
        return claim

    def _skip(
        self, trail: Trail, job_name: str, default: str | None, detail: dict[str, Any]
    ) -> PromotionResult:
        """Not better (or not promotable): claimed as such, recorded and announced once."""
        reason = str(detail["reason"])
        if not self._settings.dry_run:
            claimed = self._claim(trail, job_name, Step.SKIPPED, "", "", default, detail)
            if isinstance(claimed, PromotionResult):
                return claimed
        stays = f"skipped: not promoted; scoring stays on {default or 'the default'}"
        _decided(trail, job_name, reason, stays, detail)
        return self._not_promoted(default, "not-promoted", reason)

    def _held(self, claim: PromotionClaim | None, job_name: str) -> PromotionResult:
        """Another delivery claimed the promotion first: its result, or wait for it."""
        if claim is not None and claim.state in FINAL:
            return self._result(claim)
        holder = claim.trigger if claim is not None else "another delivery"
        why = f"promotion after {job_name} is being carried out by {holder}"
        return PromotionResult(False, None, False, "promotion-in-progress", why)

    # -------------------------------------------------------------------- applying

    def _carry_on(self, trail: Trail, claim: PromotionClaim) -> PromotionResult:
        """The steps from where the claim stands; each moves the claim on."""
        workspace_id = trail.workspace_id
        endpoint_id = self._endpoint_id(workspace_id)
        model_name = self._config.model_name
        model_id = f"{workspace_id}/models/{model_name}/versions/{claim.version}"
        detail = _detail(claim)
        if claim.state == Step.CLAIMED:
            trail.intent(KIND, "register", model_id)
            body = _model_body(claim, detail)
            self._adapter.register(workspace_id, model_name, claim.version, body)
            claim = self._advance(claim, Step.REGISTERED)
        if claim.state == Step.REGISTERED:
            current = self._adapter.deployment(endpoint_id, claim.previous)
            if current is None:
                return self._end_failed(trail, claim, f"the deployment {claim.previous} is gone")
            trail.intent(KIND, "deploy", f"{endpoint_id}/deployments/{claim.deployment}")
            self._adapter.create_deployment(
                endpoint_id, claim.deployment, deployment_spec(current, model_id)
            )
            claim = self._advance(claim, Step.DEPLOYING)
        if claim.state != Step.DEPLOYING:
            return self._result(claim)
        state = self._adapter.wait_provisioned(
            endpoint_id,
            claim.deployment,
            timeout=PROVISION_TIMEOUT_SECONDS,
            interval=PROVISION_POLL_SECONDS,
        )
        if state in ("Failed", "Canceled", "Missing"):
            why = f"deployment {claim.deployment} ended {state}; the default stays {claim.previous}"
            return self._end_failed(trail, claim, why)
        if state != "Succeeded":
            raise TransientAzureError(
                f"workspace {workspace_id}: deployment {claim.deployment} is still {state}; "
                "read again on redelivery"
            )
        trail.intent(KIND, "switch-default", endpoint_id)
        self._adapter.set_default(self._adapter.endpoint(endpoint_id), claim.deployment)
        claim = self._advance(claim, Step.SWITCHED)
        _decided(
            trail,
            model_id,
            str(detail.get("reason", "")),
            f"applied: {self._endpoint_name}/{claim.deployment} is the default; "
            f"{claim.previous} kept",
            {
                **detail,
                "deployment": claim.deployment,
                "previous": claim.previous,
                "rollback": rollback(self._endpoint_name, claim.previous),
            },
        )
        self._delete_beyond_keep(trail, claim)
        return self._result(claim)

    def _advance(self, claim: PromotionClaim, state: str) -> PromotionClaim:
        moved = self._claims.advance_promotion(claim, state)
        if moved is None:
            # Another delivery moved the row since it was read: it carries on, this one stops.
            raise _OvertakenError(claim.retraining_job)
        return moved

    def _delete_beyond_keep(self, trail: Trail, claim: PromotionClaim) -> None:
        """The app's own deployments beyond the keep (its ledger and Azure's record of their
        creator both say so), each deleted and recorded. After the switch, so a failure here is
        recorded, never raised: the promotion stands."""
        endpoint_id = self._endpoint_id(trail.workspace_id)
        why = f"beyond PROMOTION_KEEP={self._config.keep}"
        ours = sorted(
            (c for c in self._claims.promotions(trail.workspace_id) if c.state in DEPLOYED),
            key=lambda c: int(c.version) if c.version.isdigit() else -1,
        )
        try:
            existing = self._adapter.deployment_names(endpoint_id)
        except AzureError as error:
            failed = f"failed: {describe(error)}"
            trail.record(KIND, "delete-deployment", endpoint_id, why, failed)
            return
        created = [c.deployment for c in ours if c.deployment]
        for name in to_delete(
            list(existing),
            created,
            default=claim.deployment,
            previous=claim.previous,
            keep=self._config.keep,
        ):
            if not existing[name]:
                continue  # in the ledger, but Azure records someone else made it: not ours
            subject = f"{endpoint_id}/deployments/{name}"
            trail.intent(KIND, "delete-deployment", subject)
            try:
                self._adapter.delete_deployment(endpoint_id, name)
                outcome = "applied: deleted"
            except AzureError as error:
                outcome = f"failed: {describe(error)}"
            trail.record(KIND, "delete-deployment", subject, why, outcome)

    def _end_failed(self, trail: Trail, claim: PromotionClaim, why: str) -> PromotionResult:
        claim = self._advance(claim, Step.FAILED)
        subject = f"{self._endpoint_id(trail.workspace_id)}/deployments/{claim.deployment}"
        _decided(trail, subject, str(_detail(claim).get("reason", "")), f"failed: {why}")
        return self._not_promoted(claim.previous, "not-promoted:failed", why)

    def _failed(
        self,
        trail: Trail,
        job_name: str,
        claim: PromotionClaim | None,
        error: AzureError | JudgedAnswerError,
    ) -> PromotionResult:
        """A read or write that failed: transient ones are raised for redelivery (the claim
        keeps its step), a permanent one ends the promotion (recorded, announced)."""
        if isinstance(error, _OvertakenError):
            return self._held(self._claims.promotion(trail.workspace_id, job_name), job_name)
        if isinstance(error, AzureError) and is_transient(error):
            raise trail.retry(KIND, job_name, error) from error
        why = describe(error) if isinstance(error, AzureError) else f"not applied: {error}"
        current = self._claims.promotion(trail.workspace_id, job_name) if claim else None
        if current is not None and current.state not in FINAL:
            return self._end_failed(trail, current, why)
        _decided(trail, job_name, "promotion could not be decided", f"failed: {why}")
        return self._not_promoted(None, "not-promoted:failed", why)


def _decided(
    trail: Trail, subject: str, reason: str, outcome: str, evidence: dict[str, Any] | None = None
) -> None:
    """The promotion's decision, in the ledger and announced (`Model.Promote.*`)."""
    shown = json.dumps(evidence, sort_keys=True) if evidence is not None else ""
    trail.record(KIND, VERDICT, subject, reason, outcome, evidence=shown)


class _OvertakenError(JudgedAnswerError):
    """Another delivery moved the promotion on since this one read it."""


def _detail(claim: PromotionClaim) -> dict[str, Any]:
    try:
        loaded = json.loads(claim.detail or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def default_of(endpoint: dict[str, Any]) -> str | None:
    defaults = (endpoint.get("properties") or {}).get("defaults")
    name = defaults.get("deploymentName") if isinstance(defaults, dict) else None
    return name if isinstance(name, str) and name else None


def model_of(deployment: dict[str, Any] | None) -> str | None:
    model = ((deployment or {}).get("properties") or {}).get("model")
    asset = model.get("assetId") if isinstance(model, dict) else None
    return asset if isinstance(asset, str) and asset else None


def _model_body(claim: PromotionClaim, detail: dict[str, Any]) -> dict[str, Any]:
    """The model version: the job's model output, tagged with the job and both metric values."""
    metric = str(detail.get("metric"))
    values = {
        "retraining-job": claim.retraining_job,
        metric: str(detail.get("candidate")),
        f"previous-{metric}": str(detail.get("current")),
        "previous-deployment": claim.previous,
    }
    return {
        "properties": {
            "description": f"Retrained by {claim.retraining_job}; promoted by {metric}",
            "modelType": str(detail.get("model_type") or "custom_model"),
            "modelUri": f"azureml://jobs/{claim.retraining_job}/outputs/artifacts/paths/model/",
            "jobName": claim.retraining_job,
            "tags": values,
            # The metric as a property too: it is what the next promotion compares with.
            "properties": values,
        }
    }
