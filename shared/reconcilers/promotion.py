"""Promote only a better model, between a completed retrain and the scoring after it. One claim row
per retraining job, moved on by each `Step`: a twin delivery reads it, a redelivery carries on from
its step. The previous default stays (rollback: switch back). Dry-run writes nothing, no claim."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError

from shared.adapters.batch_scoring import text_at
from shared.adapters.errors import TransientAzureError, describe
from shared.adapters.promotion import PromotionAdapter, metric_value
from shared.arm import ArmId, same_arm_id
from shared.bounds import held
from shared.claims import Claims, PromotionClaim
from shared.config import Promotion, whole_number
from shared.model import JudgedAnswerError
from shared.outcome import PLANNED, Outcome, RequestOutcome, Status
from shared.planning import promotion as plan
from shared.reconcilers.run import Trail

KIND = "model"
# How long another delivery's claim is left to it; then a later one carries it on from its step.
IN_FLIGHT = timedelta(minutes=30)


class Step:
    """Where a promotion stands (the claim row's `State`): `claimed` -> `registered` ->
    `deploying` -> `switched` | `failed`; `skipped` when not better."""

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
    score: bool
    deployment: str | None
    outcome: RequestOutcome
    summary: str

    @property
    def note(self) -> str:
        where = self.deployment or "the endpoint's default"
        promoted = self.outcome is RequestOutcome.PROMOTED
        model = "the promoted model" if promoted else "the current model (not promoted)"
        return f"{model} on {where}: {self.summary}"


@dataclass(frozen=True)
class ModelPromoter:
    config: Promotion
    endpoint_name: str  # the batch endpoint (`BATCH_ENDPOINT_NAME`) whose default it switches
    dry_run: bool
    adapter: PromotionAdapter
    claims: Claims
    clock: Callable[[], datetime]

    def _endpoint_id(self, workspace_id: str) -> ArmId:
        return ArmId(f"{workspace_id}/batchEndpoints/{self.endpoint_name}")

    def _not_promoted(
        self, previous: str | None, outcome: RequestOutcome, summary: str
    ) -> PromotionResult:
        # Scored (when it is) where it was before: the deployment the app would have used.
        stays = f"; the default stays {previous}" if previous else ""
        return PromotionResult(self.config.score_when_not_promoted, None, outcome, summary + stays)

    def _result(self, claim: PromotionClaim | None, job_name: str) -> PromotionResult:
        """What the row says (Azure is not read): its end, or another delivery carries it out."""
        if claim is None or claim.state not in FINAL:
            holder = claim.trigger if claim is not None else "another delivery"
            why = f"promotion after {job_name} is being carried out by {holder}"
            return PromotionResult(False, None, RequestOutcome.PROMOTION_IN_PROGRESS, why)
        reason = str(_detail(claim).get("reason", ""))
        if claim.state == Step.SWITCHED:
            return PromotionResult(True, claim.deployment, RequestOutcome.PROMOTED, reason)
        ended = RequestOutcome(f"not-promoted:{claim.state}")  # failed or skipped
        return self._not_promoted(claim.previous, ended, reason)

    def promote_after_retrain(self, trail: Trail, job_name: str) -> PromotionResult:
        claim = self.claims.promotion(trail.workspace_id, job_name)
        if claim is not None and (moved := self._judged_elsewhere(claim)):
            # The settings changed since (the host restarted): nothing more of it is written
            # anywhere, and the job is scored as not promoted, where scoring goes now.
            if claim.state not in FINAL and not self.dry_run:
                with contextlib.suppress(_OvertakenError):
                    self._advance(trail, claim, Step.FAILED)
                    _decided(trail, job_name, Outcome(Status.FAILED, moved), _detail(claim))
            return self._not_promoted(None, RequestOutcome.PROMOTION_FAILED, moved)
        if claim is not None and (
            claim.state in FINAL
            or (claim.trigger != trail.trigger and held(self.clock() - claim.claimed_at, IN_FLIGHT))
        ):
            return self._result(claim, job_name)
        if claim is not None and self.dry_run:
            # A step an enforced delivery left: dry-run plans carrying it on, and writes nothing.
            why = f"would carry on the promotion after {job_name} from its step {claim.state}"
            _decided(trail, job_name, PLANNED, {**_detail(claim), "reason": why})
            return PromotionResult(True, claim.deployment, RequestOutcome.DRY_RUN, why)
        try:
            decided = claim or self._decide(trail, job_name)
            if isinstance(decided, PromotionResult):
                return decided
            claim = decided  # read again after a failure, below
            return self._carry_on(trail, claim)
        except _OvertakenError:
            return self._result(self.claims.promotion(trail.workspace_id, job_name), job_name)
        except (AzureError, JudgedAnswerError) as error:
            # Transient: raised for redelivery (the claim keeps its step); permanent: it ends here.
            failure = trail.failure(KIND, job_name, error)
        current = self.claims.promotion(trail.workspace_id, job_name) if claim else None
        ended = current is None or current.state in FINAL
        return self._end_failed(trail, None if ended else current, failure, job_name)

    def _judged_elsewhere(self, claim: PromotionClaim) -> str | None:
        """Why a claim was judged for another endpoint, model or metric than the settings name
        now, else None. Once it ended, only its endpoint counts: a switched model stays served."""
        version, detail, endpoint = claim.version, _detail(claim), self.endpoint_name.lower()
        # Names cut alike are told apart by the endpoint kept (rows before it: by the deployment).
        kept = str(detail.get("endpoint", endpoint)).lower()
        judged = (claim.deployment.lower(), kept, detail.get("model"), detail.get("metric"))
        model, metric = f"{self.config.model_name}:{version}", self.config.metric
        now = (plan.deployment_name(endpoint, version), endpoint, model, metric)
        counted = 2 if claim.state in FINAL else 4
        if not version or judged[:counted] == now[:counted]:
            return None
        return (
            f"the settings changed since the promotion after {claim.retraining_job} was judged "
            f"(deployment, endpoint, model, metric): {judged[:counted]}, now {now[:counted]} "
            "(BATCH_ENDPOINT_NAME, PROMOTION_MODEL_NAME, PROMOTION_METRIC): not carried on"
        )

    def _decide(self, trail: Trail, job_name: str) -> PromotionResult | PromotionClaim:
        workspace_id, endpoint_id = trail.workspace_id, self._endpoint_id(trail.workspace_id)
        metric, model_name = self.config.metric, self.config.model_name
        default, asset, model = self.adapter.serving(workspace_id, endpoint_id)
        current, source = self._current(workspace_id, default, asset, model)
        candidate = self.adapter.job_metric(workspace_id, job_name, metric)
        promote, reason = plan.judge(candidate, current, self.config)
        version = None
        if promote and default is None:
            reason = f"the endpoint {self.endpoint_name} has no default deployment to replace"
        elif promote:
            version = plan.next_version(*self.adapter.model_versions(workspace_id, model_name))
            if version is None:
                reason = f"model {model_name} has versions that are not numbers"
        detail = {"metric": metric, "candidate": candidate, "current": current, "reason": reason}
        detail |= {"current_from": source, "model_type": model.get("modelType") or "custom_model"}
        name = plan.deployment_name(self.endpoint_name, version) if version else ""
        if version:
            # The claim keeps the plan (the switch's evidence), and the settings it was judged for.
            rollback = plan.rollback(self.endpoint_name, default)
            detail |= {"deployment": name, "previous": default, "rollback": rollback}
            detail |= {"endpoint": self.endpoint_name, "model": f"{model_name}:{version}"}
        if not self.dry_run:
            fields = {"version": version or "", "deployment": name, "previous": default or ""}
            fields |= {"detail": json.dumps(detail, sort_keys=True), "trigger": trail.trigger}
            fields |= {"state": Step.CLAIMED if version else Step.SKIPPED, "holder": trail.attempt}
            won = self.claims.claim_promotion(workspace_id, job_name, now=self.clock(), **fields)
            claim = self.claims.promotion(workspace_id, job_name)
            # This attempt's own row: the retry of an insert whose answer was lost met it (409).
            own = claim is not None and claim.holder == trail.attempt and claim.state not in FINAL
            if claim is None or not (won or own):
                return self._result(claim, job_name)
            if version or own:
                return self._first_in_line(claim)
        if not version:
            stays = Outcome(Status.SKIPPED, f"scoring stays on {default or 'the default'}")
            _decided(trail, job_name, stays, detail)
            return self._not_promoted(default, RequestOutcome.NOT_PROMOTED, reason)
        _decided(trail, job_name, PLANNED, detail)
        return PromotionResult(True, name, RequestOutcome.DRY_RUN, f"would promote: {reason}")

    def _first_in_line(self, claim: PromotionClaim) -> PromotionClaim:
        """A promotion claimed before this one in the workspace and not ended (a short cooldown
        lets a retrain end while another's promotion deploys): this one withdraws and waits for
        redelivery, to be judged against what that one leaves serving and take its own version.
        Ordered by what the rows say, so racing instances agree on who goes first."""
        place = (claim.claimed_at, claim.retraining_job)
        ahead = [
            c.retraining_job
            for c in self.claims.promotions(claim.workspace_id)
            if c.state not in FINAL
            and (c.claimed_at, c.retraining_job) < place
            and held(self.clock() - c.claimed_at, IN_FLIGHT)
        ]
        if not ahead:
            return claim
        self.claims.withdraw_promotion(claim)
        raise TransientAzureError(
            f"workspace {claim.workspace_id}: the promotion after {ahead[0]} is in progress; the "
            f"one after {claim.retraining_job} is judged once it ends (redelivery)"
        )

    def _current(
        self, workspace_id: ArmId, default: str | None, asset: str | None, model: dict[str, Any]
    ) -> tuple[float | None, str]:
        """The current default's metric and its source. Any workspace user may write a model's
        properties: for the app's newest switch (its model, same metric), the figure it recorded."""
        metric, serving = self.config.metric, (Step.SWITCHED, (default or "").lower())
        claims = self.claims.promotions(workspace_id)
        switched = [c for c in claims if (c.state, c.deployment.lower()) == serving]
        if claim := max(switched, key=lambda c: c.claimed_at, default=None):
            detail = _detail(claim)
            name, _, version = str(detail.get("model")).partition(":")
            recorded = metric_value(detail.get("candidate"))
            ours = same_arm_id(asset, f"{workspace_id}/models/{name}/versions/{version}")
            if ours and detail.get("metric") == metric and recorded is not None:
                return recorded, f"ledger: the promotion after {claim.retraining_job}"
        found = metric_value((model.get("properties") or {}).get(metric))
        return found, f"model property ({asset or 'no model served'})"

    def _carry_on(self, trail: Trail, claim: PromotionClaim) -> PromotionResult:
        workspace_id, endpoint_id = trail.workspace_id, self._endpoint_id(trail.workspace_id)
        model_name, detail = self.config.model_name, _detail(claim)
        model_id = f"{workspace_id}/models/{model_name}/versions/{claim.version}"
        if claim.state == Step.CLAIMED:
            trail.intent(KIND, "register", model_id)
            body = _model_body(claim, detail)
            self.adapter.register(workspace_id, model_name, claim.version, body)
            claim = self._advance(trail, claim, Step.REGISTERED)
        if claim.state == Step.REGISTERED:
            current = self.adapter.deployment(endpoint_id, claim.previous)
            if current is None:
                return self._end_failed(trail, claim, f"the deployment {claim.previous} is gone")
            trail.intent(KIND, "deploy", f"{endpoint_id}/deployments/{claim.deployment}")
            spec = plan.deployment_spec(current, model_id)
            self.adapter.create_deployment(endpoint_id, claim.deployment, spec)
            claim = self._advance(trail, claim, Step.DEPLOYING)
        if claim.state != Step.DEPLOYING:
            return self._result(claim, claim.retraining_job)
        state = self.adapter.wait_provisioned(endpoint_id, claim.deployment)
        if state in ("Failed", "Canceled", "Missing"):
            why = f"deployment {claim.deployment} ended {state}; the default stays {claim.previous}"
            return self._end_failed(trail, claim, why)
        if state != "Succeeded":
            raise TransientAzureError(
                f"workspace {workspace_id}: deployment {claim.deployment} is still {state}; "
                "read again on redelivery"
            )
        endpoint = self.adapter.endpoint(endpoint_id)
        now = text_at(endpoint, "properties", "defaults", "deploymentName") or "none"
        if now.lower() not in (claim.previous.lower(), claim.deployment.lower()):
            # Changed since judged (a rollback before a redelivery): the model beat another default.
            why = f"the default is now {now}, not {claim.previous} as judged: not switched"
            return self._end_failed(trail, replace(claim, previous=now), why)
        trail.intent(KIND, "switch-default", endpoint_id)
        self.adapter.set_default(endpoint, claim.deployment)
        claim = self._advance(trail, claim, Step.SWITCHED)
        default = f"{self.endpoint_name}/{claim.deployment} is the default"
        applied = Outcome(Status.APPLIED, f"{default}; {claim.previous} kept")
        _decided(trail, model_id, applied, detail)
        self._delete_beyond_keep(trail, claim)
        return self._result(claim, claim.retraining_job)

    def _advance(self, trail: Trail, claim: PromotionClaim, state: str) -> PromotionClaim:
        moved = self.claims.advance_promotion(claim, state, trail.attempt)
        if moved is None:
            # Another delivery moved the row since it was read: it carries on, this one stops.
            raise _OvertakenError(claim.retraining_job)
        return moved

    def _delete_beyond_keep(self, trail: Trail, claim: PromotionClaim) -> None:
        """The app's own deployments (its ledger and Azure's record of their creator both say so)
        beyond the keep, deleted after the switch: a failure is recorded, the promotion stands."""
        endpoint_id, keep = self._endpoint_id(trail.workspace_id), self.config.keep
        why = f"beyond PROMOTION_KEEP={keep}"
        ours = [c for c in self.claims.promotions(trail.workspace_id) if c.state in DEPLOYED]
        ours.sort(key=lambda c: whole_number(c.version) or 0)  # versions count from 1
        try:
            existing = self.adapter.deployment_names(endpoint_id)
        except AzureError as error:
            failed = Outcome(Status.FAILED, describe(error))
            trail.record(KIND, "delete-deployment", endpoint_id, why, failed)
            return
        created = [c.deployment for c in ours if c.deployment]
        for name in plan.to_delete(list(existing), created, claim.deployment, claim.previous, keep):
            if not existing[name]:
                continue  # in the ledger, but Azure records someone else made it: not ours
            subject = f"{endpoint_id}/deployments/{name}"
            trail.intent(KIND, "delete-deployment", subject)
            try:
                self.adapter.delete_deployment(endpoint_id, name)
                outcome = Outcome(Status.APPLIED, "deleted")
            except AzureError as error:
                outcome = Outcome(Status.FAILED, describe(error))
            trail.record(KIND, "delete-deployment", subject, why, outcome)

    def _end_failed(
        self, trail: Trail, claim: PromotionClaim | None, failure: Outcome | str, job_name: str = ""
    ) -> PromotionResult:
        failure = Outcome(Status.FAILED, failure) if isinstance(failure, str) else failure
        subject, detail, previous = job_name, {"reason": "promotion could not be decided"}, None
        if claim is not None:
            claim = self._advance(trail, claim, Step.FAILED)
            subject = f"{self._endpoint_id(trail.workspace_id)}/deployments/{claim.deployment}"
            detail, previous = _detail(claim), claim.previous
        _decided(trail, subject, failure, detail)
        return self._not_promoted(previous, RequestOutcome.PROMOTION_FAILED, str(failure))


def _decided(trail: Trail, subject: str, outcome: Outcome, detail: dict[str, Any]) -> None:
    reason, evidence = str(detail.get("reason", "")), json.dumps(detail, sort_keys=True)
    trail.record(KIND, "promote", subject, reason, outcome, evidence=evidence)


class _OvertakenError(JudgedAnswerError):
    """Another delivery moved the promotion on since this one read it."""


def _detail(claim: PromotionClaim) -> dict[str, Any]:
    try:
        loaded = json.loads(claim.detail or "{}")
    except (ValueError, RecursionError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _model_body(claim: PromotionClaim, detail: dict[str, Any]) -> dict[str, Any]:
    metric, job = str(detail.get("metric")), claim.retraining_job
    values = {
        "retraining-job": job,
        metric: str(detail.get("candidate")),
        f"previous-{metric}": str(detail.get("current")),
        "previous-deployment": claim.previous,
    }
    version = {
        "description": f"Retrained by {job}; promoted by {metric}",
        "modelType": str(detail.get("model_type") or "custom_model"),
        "modelUri": f"azureml://jobs/{job}/outputs/artifacts/paths/model/",
        "jobName": job,
        "tags": values,
        # The metric as a property too: it is what the next promotion compares with.
        "properties": values,
    }
    return {"properties": version}
