"""Retraining and the scoring after it (docs/ARCHITECTURE.md 4.4, 4.5), each decision recorded on
a `run.Trail`. Dry-run reads, decides and records the plan; it claims, submits, invokes nothing."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from azure.core.exceptions import AzureError, HttpResponseError

from shared.adapters.batch_scoring import ScoringInput, ScoringUriRejectedError
from shared.adapters.drift_query import DriftQueryAdapter
from shared.adapters.errors import TransientAzureError, is_transient
from shared.adapters.promotion import PromotionAdapter
from shared.adapters.retraining_jobs import RetrainingJobsAdapter
from shared.adapters.transport import MalformedResponseError
from shared.arm import ArmId
from shared.bounds import excerpt, table_key
from shared.claims import Claims, ClaimState, RetrainingClaim, retraining_scoring
from shared.config import RetrainingSettings, Settings
from shared.ledger import ActionSink
from shared.ml_events import Drift, JobFinished
from shared.model import JudgedAnswerError
from shared.outcome import PLANNED, Outcome, RequestOutcome, Status, noted
from shared.ownership import not_made_by
from shared.planning import retraining as plan
from shared.planning.retraining import Verdict
from shared.reconcilers.promotion import FINAL, ModelPromoter
from shared.reconcilers.run import Trail, judged
from shared.scoring.requests import RefusedError
from shared.scoring.service import (
    KIND_SCORING,
    ClaimHeldError,
    ScoringOrder,
    ScoringStarter,
    Started,
)

log = logging.getLogger(__name__)

KIND_RETRAINING = "retraining"
KIND_GATE = "drift-gate"
DEBOUNCED = Outcome(Status.SKIPPED, "debounced, nothing submitted")
DEBOUNCING = (Verdict.COOLDOWN, Verdict.ACTIVE, Verdict.CONCURRENT)
NOTHING_STARTED = noted("nothing started")
# What the timer's scoring backstop came to that its summary does not mention.
UNREMARKED_BACKSTOP = (RequestOutcome.SCORING_ALREADY_STARTED, RequestOutcome.COMPLETED)


class RequestResult(NamedTuple):
    outcome: RequestOutcome
    summary: str


class Claimed(NamedTuple):
    claim: RetrainingClaim | None
    jobs: list[plan.JobView]


@dataclass(eq=False)
class RetrainingReconciler:
    settings: Settings
    jobs: RetrainingJobsAdapter
    starter: ScoringStarter
    drift: DriftQueryAdapter
    claims: Claims
    sink: ActionSink
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    promotion: PromotionAdapter | None = None

    def __post_init__(self) -> None:
        settings, config = self.settings, self.settings.retraining
        if config is None:
            raise ValueError("retraining is off: RETRAIN_WORKSPACE_IDS is empty")
        self._config: RetrainingSettings = config
        self._trail = functools.partial(Trail, self.sink, log, settings.automation_mode.value)
        # Model promotion (issue 19): one step right before scoring, when PROMOTION_METRIC is set.
        self._promoter = None
        if self.promotion and config.promotion and config.batch_endpoint_name:
            fields = (config.promotion, config.batch_endpoint_name, settings.dry_run)
            self._promoter = ModelPromoter(*fields, self.promotion, self.claims, self.clock)

    def on_drift(self, drift: Drift) -> RequestResult:
        trigger = f"drift:{drift.source.value}"
        tags = plan.retraining_tags(trigger, drift.event_id, drift.message)
        # table_key: a bounded, distinct claim key for an ID of any length (a GUID stays as is).
        return self.retrain(drift.workspace_id, f"event:{table_key(drift.event_id)}", trigger, tags)

    def retrain(
        self,
        workspace_id: ArmId,
        claim_key: str,
        trigger: str,
        tags: dict[str, str],
        known: Claimed | None = None,
    ) -> RequestResult:
        """Submit a retraining job unless one is active or the cooldown holds. `known`: the claim
        and its job as the caller read them, not read again while the claim is unchanged."""
        trail, now = self._trail(workspace_id, claim_key), self.clock()
        claim = self.claims.retraining(workspace_id)
        view, cooldown = _claim_view(claim), timedelta(minutes=self._config.cooldown_minutes)
        decision = plan.decide_from_claim(view, claim_key, now, cooldown)
        if decision is None:
            read = known if known and known.claim == claim else self._claimed(trail, claim)
            if isinstance(read, RequestResult):
                return read
            if view and view.in_flight and plan.claimed_job(view, read.jobs):
                # Submitted, never confirmed (its run died before): its cooldown holds.
                view = view._replace(in_flight=False)
                decision = plan.decide_from_claim(view, claim_key, now, cooldown)
            timeout = timedelta(hours=self._config.job_timeout_hours)
            decision = decision or plan.decide_with_jobs(
                read.jobs, view, workspace_id, claim_key, now, timeout
            )
        verdict, name, reason = decision
        if self.settings.dry_run and verdict not in DEBOUNCING:
            evidence = self._plan(tags)
            trail.record(KIND_RETRAINING, verdict.value, name, reason, PLANNED, evidence=evidence)
            return RequestResult(RequestOutcome.DRY_RUN, f"would submit {name}")
        if verdict is Verdict.SUBMIT:
            fields = {"job_name": name, "claim_key": claim_key, "trigger": trigger}
            won = self.claims.claim_retraining(workspace_id, now=now, previous=claim, **fields)
            current = None if won else self.claims.retraining(workspace_id)
            if current is not None and current.claim_key == claim_key:
                name = current.job_name
            elif not won:
                verdict, name = Verdict.CONCURRENT, current.job_name if current else "another job"
                reason = f"another delivery claimed the retraining first ({name})"
        if verdict in DEBOUNCING:
            trail.record(KIND_RETRAINING, verdict.value, name, reason, DEBOUNCED, notify=False)
            return RequestResult(RequestOutcome.DEBOUNCED, reason)
        return self._ensure_submitted(trail, name, reason, tags)

    def _claimed(self, trail: Trail, claim: RetrainingClaim | None) -> Claimed | RequestResult:
        """The claim's job, read by name: only it holds retraining back or is scored (anyone may tag
        a job as the app's: others are never read). Failed: its result (raised if transient)."""
        name = claim.job_name if claim else ""
        try:
            job = self.jobs.get_job(trail.workspace_id, name) if name else None
        except (AzureError, JudgedAnswerError) as error:
            return _failed(trail, name, error)
        if job is None:
            return Claimed(claim, [])
        by_app = self.jobs.app_identity().created(job.system_data)
        return Claimed(claim, [plan.JobView(job.name, job.status, by_app)])

    def _plan(self, tags: dict[str, str]) -> str:
        config = self._config
        evidence = {"component": str(config.component), "compute": config.compute, "tags": tags}
        evidence |= {"experiment": config.experiment, "inputs": config.inputs}
        return excerpt(json.dumps(evidence, sort_keys=True), 4000)

    def _ensure_submitted(
        self, trail: Trail, name: str, reason: str, tags: dict[str, str]
    ) -> RequestResult:
        workspace_id, failure = trail.workspace_id, None
        try:
            existing = self.jobs.get_job(workspace_id, name)
            if existing is None:
                trail.intent(KIND_RETRAINING, "submit", name)
                try:
                    self.jobs.submit(workspace_id, name, self._config, tags)
                except HttpResponseError as error:
                    if is_transient(error):
                        raise
                    # A second job of a name is refused (retried PUT, twin): read it, any status.
                    existing = self.jobs.get_job(workspace_id, name)
                    if existing is None:
                        raise
        except Exception as error:  # Azure's errors and azure-ai-ml's validation (MlException)
            validation = type(error).__module__.startswith("azure.ai.ml")
            if not (validation or isinstance(error, AzureError | JudgedAnswerError)):
                raise
            # JudgedAnswerError: Azure answered with another job or component than asked for.
            why = "submission refused by Azure ML"
            failure = trail.failure(KIND_RETRAINING, name, error)
        else:
            if squatted := existing and not_made_by(self.jobs.app_identity(), existing.system_data):
                # Another's job of the claim's name: not the app's (not scored or promoted).
                why = "not the app's job: the claim is released, the next trigger retrains"
                failure = Outcome(Status.FAILED, f"the job name is taken: {squatted}")
        if failure is not None:  # the claim released: the next drift signal may try again
            self._set_claim_state(trail, ClaimState.FAILED)
            trail.record(KIND_RETRAINING, "submit", name, why, failure)
            refused = f"retraining job {name} was refused: {failure.detail}"
            return RequestResult(RequestOutcome.FAILED, refused)
        # Who moves the claim on records the submission: the job of a retry's 409 (its first
        # answer lost), or one a redelivery finds unrecorded, is this request's own.
        if not self._set_claim_state(trail, ClaimState.SUBMITTED):
            status = existing.status if existing else "submitted by a twin"
            reason = f"job {name} was already submitted for {trail.trigger} ({status})"
            skipped = Outcome(Status.SKIPPED, "already submitted, nothing new")
            trail.record(KIND_RETRAINING, Verdict.RESUME.value, name, reason, skipped, notify=False)
            return RequestResult(RequestOutcome.ALREADY_SUBMITTED, reason)
        applied, evidence = Outcome(Status.APPLIED, "submitted"), self._plan(tags)
        trail.record(KIND_RETRAINING, "submit", name, reason, applied, evidence=evidence)
        submitted = f"submitted retraining job {name}"
        return RequestResult(RequestOutcome.RETRAINING_SUBMITTED, submitted)

    def _set_claim_state(self, trail: Trail, state: str) -> bool:
        """The claim of this request (its key: the trail's trigger) moves on; True: by this call."""
        claim = self.claims.retraining(trail.workspace_id)
        if claim is None or claim.claim_key != trail.trigger or claim.state == state:
            return False
        return self.claims.set_retraining_state(claim, state, trail.attempt)

    def on_finished(self, finished: JobFinished) -> RequestResult:
        workspace_id, name = finished.workspace_id, finished.job_name
        trail = self._trail(workspace_id, f"event:{finished.event_id}")
        claimed = plan.names_claimed_job(_claim_view(self.claims.retraining(workspace_id)), name)
        if not claimed and not self.claims.followed_up(workspace_id, name):
            # Tags and names prove nothing: only the job of the app's claim is its retraining,
            # or one whose promotion or scoring the app began (a redelivery carries them on).
            why = f"job {name} is not a retraining job of this app"
            return RequestResult(RequestOutcome.IGNORED, why)
        try:
            job = self.jobs.get_job(workspace_id, name)
        except (AzureError, JudgedAnswerError) as error:
            return _failed(trail, name, error)
        if job is None:
            why = f"job {name} does not exist in the workspace"
            return RequestResult(RequestOutcome.INVALID, why)
        if squatted := not_made_by(self.jobs.app_identity(), job.system_data):
            reason = f"job {job.name} bears the name of the app's claim: {squatted}"
            trail.record(KIND_RETRAINING, "ignore", job.name, reason, NOTHING_STARTED)
            return RequestResult(RequestOutcome.IGNORED, reason)
        if job.status in ("Failed", "Canceled"):
            detail = f": {job.error}" if job.error else ""
            reason = f"retraining job {job.name} ended {job.status}{detail}"
            trail.record(KIND_RETRAINING, job.status.lower(), job.name, reason, NOTHING_STARTED)
            ended = RequestOutcome(f"retraining-{job.status.lower()}")
            return RequestResult(ended, f"{job.name} ended {job.status}")
        if job.status != "Completed":
            # Azure ML's status can lag the event: a redelivery reads it again, before the backstop.
            raise TransientAzureError(
                f"workspace {workspace_id}: {job.name} is {job.status}; nothing to do yet "
                "(the event says it ended; read again on redelivery)"
            )
        return self._start_scoring(trail, job.name)

    def _start_scoring(self, trail: Trail, retraining_job: str) -> RequestResult:
        workspace_id, trigger = trail.workspace_id, trail.trigger
        endpoint_name, scoring_input = self._config.batch_endpoint_name, self._config.scoring_input
        if endpoint_name is None or scoring_input is None:
            why = f"{retraining_job} completed; no BATCH_ENDPOINT_NAME"
            return RequestResult(RequestOutcome.COMPLETED, why)
        key = retraining_scoring(workspace_id, retraining_job, trigger)
        if (scored := self.claims.scored(key)) is not None:
            return _already(scored, retraining_job)
        note, deployment = "", self._config.batch_deployment_name
        if self._promoter is not None:
            promotion = self._promoter.promote_after_retrain(trail, retraining_job)
            if not promotion.score:
                return RequestResult(promotion.outcome, promotion.summary)
            note, deployment = promotion.note, promotion.deployment or deployment
        endpoint_id = ArmId(f"{workspace_id}/batchEndpoints/{endpoint_name}")
        completed = f"retraining job {retraining_job} completed"
        reason = completed + (f"; {note}" if note else "")
        scoring = ScoringInput.from_setting(scoring_input)
        order = ScoringOrder(endpoint_id, deployment, scoring, trigger, key, retraining_job, reason)
        if self.settings.dry_run:
            shown = {"deployment": deployment or "(endpoint default)", "input": scoring_input}
            evidence = json.dumps(shown | {"tags": order.tags(), "model": note})
            trail.record(KIND_SCORING, "start", endpoint_id, completed, PLANNED, evidence=evidence)
            return RequestResult(RequestOutcome.DRY_RUN, f"would start scoring on {endpoint_name}")
        try:
            started = self.starter.start(order)
        except ClaimHeldError as held:
            # Another delivery (a twin event, the timer's backstop) is starting it: one POST. Should
            # it die, its redelivery or a later one starts it, with the same repeatability ID.
            by = held.holder or "another"
            reason = f"scoring after {retraining_job} is being started by {by} delivery"
            return RequestResult(RequestOutcome.SCORING_IN_PROGRESS, reason)
        except RefusedError as refused:
            # Transient Azure errors (and any but Azure's answers) go to `_failed` (redelivery);
            # the rest are not started: Azure's answer, or the app's refusal of it, recorded.
            error, failure = refused.__cause__, Outcome(Status.FAILED, refused.problem.detail)
            answered = isinstance(error, HttpResponseError | MalformedResponseError)
            if isinstance(error, AzureError) and (is_transient(error) or not answered):
                return _failed(trail, endpoint_id, error)
            refusal = isinstance(error, ScoringUriRejectedError)
            if isinstance(error, AzureError | JudgedAnswerError) and not refusal:
                failure = judged(error)
            reason = "batch scoring could not be started"
            trail.record(KIND_SCORING, "start", endpoint_id, reason, failure)
            return RequestResult(RequestOutcome.FAILED, failure.detail)
        assert isinstance(started, Started)  # not dry-run
        if started.replayed:
            return _already(started.name, retraining_job)
        started_after = f"scoring job {started.name} after {retraining_job}"
        return RequestResult(RequestOutcome.SCORING_STARTED, started_after)

    def on_schedule(self, workspace_id: ArmId, run_id: str) -> RequestResult:
        trail = self._trail(workspace_id, f"schedule:{run_id}")
        claimed = self._claimed(trail, self.claims.retraining(workspace_id))
        if isinstance(claimed, RequestResult):
            return claimed
        note, backstop_error = "", None
        # Only the claim's job (the newest retrain: the model that matters), never one just tagged.
        completed = plan.claimed_job(_claim_view(claimed.claim), claimed.jobs)
        owed = [completed.name] if completed and completed.status == "Completed" else []
        if self._promoter is not None:
            # Promotions begun and not ended, oldest first: one a run of this timer began may have
            # no other delivery, once its retrain moved the claim on.
            rows = sorted(self.claims.promotions(workspace_id), key=lambda c: c.claimed_at)
            owed = [c.retraining_job for c in rows if c.state not in FINAL] + owed
        for name in dict.fromkeys(owed):
            try:
                backstop = self._start_scoring(trail, name)
                if backstop.outcome not in UNREMARKED_BACKSTOP:
                    note += f"backstop: {backstop.summary}; "
            except TransientAzureError as error:
                # Recorded; the drift gate still has its turn, and the run fails after it.
                backstop_error = error
        message, source, result = "scheduled retraining", "schedule", None
        if (gate := self._config.drift_gate) is not None:
            analytics = gate.log_analytics_workspace_id
            try:
                reading = self.drift.read(analytics, gate.query)
            except AzureError as error:  # transient (the adapter returns the rest as a reading)
                return _failed(trail, analytics, error)
            verdict = plan.evaluate_gate(reading, gate.threshold)
            shut = not verdict.retrain
            act, what = ("hold", "nothing submitted") if shut else ("retrain", "gate open")
            notify = shut and reading.status.value != "success"
            trail.record(KIND_GATE, act, analytics, verdict.reason, noted(what), notify=notify)
            result = RequestResult(RequestOutcome.GATE_CLOSED, verdict.reason) if shut else None
            message, source = verdict.reason, "schedule:drift-gate"
        if result is None:
            tags = plan.retraining_tags(source, run_id, message)
            result = self.retrain(workspace_id, trail.trigger, source, tags, claimed)
        if backstop_error is not None:
            raise backstop_error
        return RequestResult(result.outcome, note + result.summary)


def _failed(trail: Trail, subject: str, error: AzureError | JudgedAnswerError) -> RequestResult:
    other = isinstance(error, JudgedAnswerError)
    reason = "Azure ML answered about another job" if other else "reading Azure ML failed"
    why = trail.read_failed(KIND_RETRAINING, subject, error, reason)
    return RequestResult(RequestOutcome.FAILED, why)


def _already(scoring_job: str, retraining_job: str) -> RequestResult:
    summary = f"scoring job {scoring_job} already started after {retraining_job}"
    return RequestResult(RequestOutcome.SCORING_ALREADY_STARTED, summary)


def _claim_view(claim: RetrainingClaim | None) -> plan.ClaimView | None:
    if claim is None:
        return None
    failed, claimed = claim.state == ClaimState.FAILED, claim.state == ClaimState.CLAIMED
    return plan.ClaimView(claim.job_name, claim.claim_key, claim.claimed_at, not failed, claimed)
