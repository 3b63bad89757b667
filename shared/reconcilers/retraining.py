"""Retraining and the scoring after it: observe (claim, jobs), decide (pure planning), apply,
record.

- A drift signal or the schedule asks to retrain a workspace. The claim in the ledger's table
  settles duplicates and the cooldown without an Azure call; otherwise this app's retraining jobs
  are read, and a job is submitted only when none is active. The claim is written with optimistic
  concurrency and fixes the job's name, so concurrent deliveries submit one job and a retried
  submission finds its job.
- A finished retraining job is read (the event's status is not trusted). `Completed` starts batch
  scoring once through the app's one scoring starter (`shared.scoring.service`: a claim per
  retraining job, a repeatability ID derived from it); `Failed`/`Canceled` are recorded and
  announced.
- Dry-run reads and decides, and records the plan; it claims, submits and invokes nothing.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import AzureError, HttpResponseError

from shared.adapters.batch_scoring import ScoringInput, ScoringUriRejectedError
from shared.adapters.drift_query import DriftQueryAdapter
from shared.adapters.errors import describe, is_transient
from shared.adapters.promotion import PromotionAdapter
from shared.adapters.retraining_jobs import AppJob, RetrainingJobsAdapter
from shared.adapters.transport import MalformedResponseError
from shared.arm import ArmId
from shared.bounds import table_key
from shared.claims import Claims, ClaimState, RetrainingClaim, retraining_scoring
from shared.config import RetrainingSettings, Settings
from shared.ledger import ActionSink
from shared.ml_events import RETRAINING, Drift, JobFinished
from shared.model import JudgedAnswerError
from shared.ownership import not_made_by
from shared.planning.retraining import (
    ClaimView,
    Decision,
    JobView,
    Verdict,
    claimed_job,
    decide_from_claim,
    decide_with_jobs,
    evaluate_gate,
    names_claimed_job,
    retraining_tags,
    scoring_tags,
)
from shared.reconcilers.intent import NOT_APPLIED, Trail
from shared.reconcilers.promotion import ModelPromoter
from shared.reconcilers.transient import TransientAzureError
from shared.scoring.requests import RefusedError
from shared.scoring.service import ClaimHeldError, ScoringOrder, ScoringStarter, Started

log = logging.getLogger(__name__)

# A retraining job that Azure ML does not report as ended (yet).
NOT_FINISHED = "not-finished"

KIND_RETRAINING = "retraining"
KIND_SCORING = "batch-scoring"
KIND_GATE = "drift-gate"
# A debounced request wrote nothing: `skipped` (the event type says so if it is ever announced).
DEBOUNCED = "skipped: debounced, nothing submitted"


@dataclass(frozen=True)
class Outcome:
    """What one request came to: a short word for the event's ledger row and a summary."""

    outcome: str
    summary: str


class RetrainingReconciler:
    def __init__(
        self,
        settings: Settings,
        jobs: RetrainingJobsAdapter,
        starter: ScoringStarter,
        drift: DriftQueryAdapter,
        claims: Claims,
        sink: ActionSink,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        promotion: PromotionAdapter | None = None,
    ) -> None:
        if settings.retraining is None:
            raise ValueError("retraining is off: RETRAIN_WORKSPACE_IDS is empty")
        self._settings = settings
        self._config: RetrainingSettings = settings.retraining
        self._jobs = jobs
        self._starter = starter
        self._drift = drift
        self._claims = claims
        self._clock = clock
        # Each request's rows: `self._trail(workspace_id, trigger)`.
        self._trail = functools.partial(Trail, sink, log, settings.automation_mode.value)
        # Model promotion (issue 19): one step right before scoring, when PROMOTION_METRIC is set.
        self._promoter = (
            ModelPromoter(settings, promotion, claims, clock)
            if promotion is not None and settings.retraining.promotion is not None
            else None
        )

    # ------------------------------------------------------------------ retraining

    def on_drift(self, drift: Drift) -> Outcome:
        return self.retrain(
            drift.workspace_id,
            # table_key: an ID of any length or content makes one bounded, distinct claim key
            # (a GUID stays as it is).
            claim_key=f"event:{table_key(drift.event_id)}",
            trigger=f"drift:{drift.source.value}",
            event_id=drift.event_id,
            message=drift.message,
        )

    def retrain(
        self,
        workspace_id: ArmId,
        *,
        claim_key: str,
        trigger: str,
        event_id: str,
        message: str,
        known_jobs: Sequence[AppJob] | None = None,
    ) -> Outcome:
        """Submit a retraining job unless one is active or the cooldown holds."""
        trail = self._trail(workspace_id, claim_key)
        now = self._clock()
        cooldown = timedelta(minutes=self._config.cooldown_minutes)
        claim = self._claims.retraining(workspace_id)
        decision = decide_from_claim(
            _claim_view(claim), claim_key=claim_key, now=now, cooldown=cooldown
        )
        if decision is None:
            try:
                jobs = (
                    known_jobs
                    if known_jobs is not None
                    else self._jobs.list_app_jobs(workspace_id, RETRAINING)
                )
            except AzureError as error:
                return _failed(trail, "list", error)
            decision = decide_with_jobs(
                self._views(jobs),
                claim=_claim_view(claim),
                workspace_id=workspace_id,
                claim_key=claim_key,
                now=now,
                timeout=timedelta(hours=self._config.job_timeout_hours),
            )
        verdict, name, reason = decision.verdict.value, decision.job_name, decision.reason
        if decision.verdict in (Verdict.COOLDOWN, Verdict.ACTIVE):
            trail.record(KIND_RETRAINING, verdict, name, reason, DEBOUNCED, notify=False)
            return Outcome("debounced", reason)
        tags = retraining_tags(trigger=trigger, event_id=event_id, message=message)
        if self._settings.dry_run:
            planned = "planned: not submitted (dry-run)"
            trail.record(KIND_RETRAINING, verdict, name, reason, planned, evidence=self._plan(tags))
            return Outcome("dry-run", f"would submit {name}")
        if decision.verdict is Verdict.SUBMIT:
            won = self._claims.claim_retraining(
                workspace_id,
                job_name=name,
                claim_key=claim_key,
                trigger=trigger,
                now=now,
                previous=claim,
            )
            if not won:
                current = self._claims.retraining(workspace_id)
                if current is None or current.claim_key != claim_key:
                    holder = current.job_name if current else "another job"
                    why = f"another delivery claimed the retraining first ({holder})"
                    concurrent = "debounce-concurrent"
                    trail.record(KIND_RETRAINING, concurrent, holder, why, DEBOUNCED, notify=False)
                    return Outcome("debounced", why)
                decision = Decision(Verdict.RESUME, current.job_name, reason)
        return self._ensure_submitted(trail, decision, tags)

    def _views(self, jobs: Sequence[AppJob]) -> list[JobView]:
        app = self._jobs.app_identity()
        return [JobView(job.name, job.status, app.created(job.system_data)) for job in jobs]

    def _plan(self, tags: dict[str, str]) -> str:
        return json.dumps(
            {
                "component": str(self._config.component),
                "compute": self._config.compute,
                "experiment": self._config.experiment,
                "inputs": self._config.inputs,
                "tags": tags,
            },
            sort_keys=True,
        )[:4000]

    def _ensure_submitted(self, trail: Trail, decision: Decision, tags: dict[str, str]) -> Outcome:
        workspace_id, name = trail.workspace_id, decision.job_name
        try:
            existing = self._jobs.get_job(workspace_id, name)
            if existing is None:
                trail.intent(KIND_RETRAINING, "submit", name)
                try:
                    self._jobs.submit(
                        workspace_id,
                        name=name,
                        component=self._config.component,
                        inputs=self._config.inputs,
                        compute=self._config.compute,
                        experiment=self._config.experiment,
                        tags=tags,
                    )
                except HttpResponseError as error:
                    if is_transient(error):
                        raise
                    # Azure ML refuses a second job of one name (a retried PUT whose first
                    # attempt went through; a twin delivery): read it before calling this a
                    # refusal, whatever status the refusal came with.
                    existing = self._jobs.get_job(workspace_id, name)
                    if existing is None:
                        raise
        except AzureError as error:
            if is_transient(error):
                return _failed(trail, name, error)
            return self._submission_refused(trail, name, describe(error))
        except JudgedAnswerError as error:
            # Azure answered with another job than the one asked for: not applied.
            return self._submission_refused(trail, name, f"{NOT_APPLIED}: {error}")
        except Exception as error:  # azure-ai-ml's own validation errors (MlException)
            if type(error).__module__.startswith("azure.ai.ml"):
                why = f"{type(error).__name__}: {error}"[:500]
                return self._submission_refused(trail, name, why)
            raise
        squatted = existing and not_made_by(self._jobs.app_identity(), existing.system_data)
        if squatted:
            # Someone made a job of the name the app derived from its claim before the app
            # submitted it: never the app's retraining (not scored, not promoted). The claim
            # is released, so the next drift signal or schedule retrains under its own name.
            return self._submission_refused(
                trail,
                name,
                f"the job name is taken: {squatted}",
                "not the app's job: the claim is released, the next trigger retrains",
            )
        self._set_claim_state(trail, ClaimState.SUBMITTED)
        if existing is not None:
            reason = f"job {name} was already submitted for {trail.trigger} ({existing.status})"
            skipped = "skipped: already submitted, nothing new"
            trail.record(KIND_RETRAINING, Verdict.RESUME.value, name, reason, skipped, notify=False)
            return Outcome("already-submitted", reason)
        trail.record(
            KIND_RETRAINING,
            "submit",
            name,
            decision.reason,
            "applied: submitted",
            evidence=self._plan(tags),
        )
        return Outcome("retraining-submitted", f"submitted retraining job {name}")

    def _set_claim_state(self, trail: Trail, state: str) -> None:
        """The claim of this request (its key: the trail's trigger) moves on."""
        claim = self._claims.retraining(trail.workspace_id)
        if claim is not None and claim.claim_key == trail.trigger:
            self._claims.set_retraining_state(claim, state)

    def _submission_refused(
        self, trail: Trail, name: str, why: str, reason: str = "submission refused by Azure ML"
    ) -> Outcome:
        # A permanent failure releases the claim: the next drift signal may try again.
        self._set_claim_state(trail, ClaimState.FAILED)
        trail.record(KIND_RETRAINING, "submit", name, reason, f"failed: {why}")
        return Outcome("failed", f"retraining job {name} was refused: {why}")

    # ------------------------------------------------------------ after retraining

    def on_finished(self, finished: JobFinished) -> Outcome:
        """The event says a retraining job ended: read it, and act on what Azure says."""
        trail = self._trail(finished.workspace_id, f"event:{finished.event_id}")
        claim = _claim_view(self._claims.retraining(finished.workspace_id))
        if not names_claimed_job(claim, finished.job_name):
            # Tags and names prove nothing: only the job of the app's claim is its retraining.
            return Outcome(
                "ignored", f"job {finished.job_name} is not a retraining job of this app"
            )
        try:
            job = self._jobs.get_job(finished.workspace_id, finished.job_name)
        except AzureError as error:
            return _failed(trail, finished.job_name, error)
        except JudgedAnswerError as error:
            reason = "Azure ML answered about another job"
            trail.record(KIND_RETRAINING, "read", finished.job_name, reason, f"failed: {error}")
            return Outcome("failed", str(error))
        if job is None:
            return Outcome("invalid", f"job {finished.job_name} does not exist in the workspace")
        squatted = not_made_by(self._jobs.app_identity(), job.system_data)
        if squatted:
            reason = f"job {job.name} bears the name of the app's claim: {squatted}"
            trail.record(KIND_RETRAINING, "ignore", job.name, reason, "nothing started")
            return Outcome("ignored", reason)
        outcome = self.after_retraining(trail, job)
        if outcome.outcome == NOT_FINISHED:
            # The event says the job ended, Azure ML does not (yet): its status can lag the
            # event. Event Grid's redelivery (seconds, then minutes, bounded by the
            # subscription's retry policy) reads it again, rather than leaving scoring to the
            # timer's backstop; what Azure says still decides.
            raise TransientAzureError(
                f"workspace {finished.workspace_id}: {outcome.summary} "
                "(the event says it ended; read again on redelivery)"
            )
        return outcome

    def after_retraining(self, trail: Trail, job: AppJob) -> Outcome:
        """A retraining job as read from Azure: completed starts scoring, failed is announced."""
        if job.status in ("Failed", "Canceled"):
            reason = f"retraining job {job.name} ended {job.status}" + (
                f": {job.error}" if job.error else ""
            )
            trail.record(KIND_RETRAINING, job.status.lower(), job.name, reason, "nothing started")
            return Outcome(f"retraining-{job.status.lower()}", f"{job.name} ended {job.status}")
        if job.status != "Completed":
            return Outcome(NOT_FINISHED, f"{job.name} is {job.status}; nothing to do yet")
        return self._start_scoring(trail, job.name)

    def _start_scoring(self, trail: Trail, retraining_job: str) -> Outcome:
        workspace_id, trigger = trail.workspace_id, trail.trigger
        endpoint_name = self._config.batch_endpoint_name
        if endpoint_name is None or self._config.scoring_input is None:
            return Outcome("completed", f"{retraining_job} completed; no BATCH_ENDPOINT_NAME")
        key = retraining_scoring(workspace_id, retraining_job, trigger)
        if (scored := self._claims.scored(key)) is not None:
            return Outcome("scoring-already-started", _already(scored, retraining_job))
        promotion = (
            self._promoter.promote_after_retrain(trail, retraining_job)
            if self._promoter is not None
            else None
        )
        if promotion is not None and not promotion.score:
            return Outcome(promotion.outcome, promotion.summary)
        note = promotion.note if promotion is not None else ""
        endpoint_id = ArmId(f"{workspace_id}/batchEndpoints/{endpoint_name}")
        deployment = (promotion.deployment if promotion else None) or (
            self._config.batch_deployment_name
        )
        tags = scoring_tags("retraining-completed", **{"retraining-job": retraining_job})
        completed = f"retraining job {retraining_job} completed"
        if self._settings.dry_run:
            plan = {
                "deployment": deployment or "(endpoint default)",
                "input": self._config.scoring_input,
                "tags": tags,
                "model": note,
            }
            planned = "planned: not started (dry-run)"
            trail.record(
                KIND_SCORING, "start", endpoint_id, completed, planned, evidence=json.dumps(plan)
            )
            return Outcome("dry-run", f"would start scoring on {endpoint_name}")
        scoring_input = ScoringInput.from_setting(self._config.scoring_input)
        order = ScoringOrder(endpoint_id, deployment, scoring_input, tags, trigger, key)
        try:
            started = self._starter.start(
                order, before_submit=lambda: trail.intent(KIND_SCORING, "start", endpoint_id)
            )
        except ClaimHeldError as held:
            # Another delivery (a twin completion event, the timer's backstop) claimed it a
            # moment ago and is starting it: one POST, one record, one announcement. Should
            # that delivery die, its own redelivery (same trigger) or a later one after the
            # window starts it, with the same repeatability ID.
            by = held.holder or "another"
            reason = f"scoring after {retraining_job} is being started by {by} delivery"
            return Outcome("scoring-in-progress", reason)
        except RefusedError as refused:
            return self._scoring_refused(trail, endpoint_id, refused)
        assert isinstance(started, Started)  # not dry-run
        if started.replayed:
            return Outcome("scoring-already-started", _already(started.name, retraining_job))
        where = f"{endpoint_name}/{started.deployment or 'default'}"
        reason = completed + (f"; {note}" if note else "")
        trail.record(KIND_SCORING, "start", started.name, reason, f"applied: started on {where}")
        return Outcome("scoring-started", f"scoring job {started.name} after {retraining_job}")

    def _scoring_refused(self, trail: Trail, endpoint_id: str, refused: RefusedError) -> Outcome:
        """A start that failed: transient Azure errors go to `_failed` (redelivery), the rest
        are recorded as not started."""
        error = refused.__cause__
        if isinstance(error, MalformedResponseError) or (
            isinstance(error, HttpResponseError) and not is_transient(error)
        ):
            why = describe(error)
        elif isinstance(error, JudgedAnswerError) and not isinstance(
            error, ScoringUriRejectedError
        ):
            why = f"{NOT_APPLIED}: {error}"
        elif isinstance(error, AzureError):
            return _failed(trail, endpoint_id, error)
        else:
            why = refused.problem.detail
        reason = "batch scoring could not be started"
        trail.record(KIND_SCORING, "start", endpoint_id, reason, f"failed: {why}")
        return Outcome("failed", why)

    # ---------------------------------------------------------------------- timer

    def on_schedule(self, workspace_id: ArmId, run_id: str) -> Outcome:
        """The timer for one workspace: the scoring backstop, then the drift gate and retraining."""
        trail = self._trail(workspace_id, f"schedule:{run_id}")
        try:
            jobs = self._jobs.list_app_jobs(workspace_id, RETRAINING)
        except AzureError as error:
            return _failed(trail, "list", error)
        notes: list[str] = []
        # The backstop scores only the job of the app's claim (the newest retrain: the model
        # that matters), never a job that merely carries the app's tags.
        claim = _claim_view(self._claims.retraining(workspace_id))
        completed = claimed_job(claim, self._views(jobs))
        backstop_error: TransientAzureError | None = None
        if completed is not None and completed.status == "Completed":
            try:
                backstop = self._start_scoring(trail, completed.name)
            except TransientAzureError as error:
                # Recorded; the drift gate still has its turn, and the run fails after it.
                backstop_error = error
            else:
                if backstop.outcome not in ("scoring-already-started", "completed"):
                    notes.append(f"backstop: {backstop.summary}")
        result = self._gate_and_retrain(trail, run_id, jobs, notes)
        if backstop_error is not None:
            raise backstop_error
        return result

    def _gate_and_retrain(
        self, trail: Trail, run_id: str, jobs: Sequence[AppJob], notes: list[str]
    ) -> Outcome:
        """The drift gate (without `DRIFT_QUERY`: the schedule itself), then retraining."""
        gate = self._config.drift_gate
        message, source = "scheduled retraining", "schedule"
        if gate is not None:
            analytics = gate.log_analytics_workspace_id
            try:
                reading = self._drift.read(analytics, gate.query)
            except AzureError as error:  # transient: the timer's next run asks again
                return _failed(trail, analytics, error)
            verdict = evaluate_gate(reading, gate.threshold)
            trail.record(
                KIND_GATE,
                "retrain" if verdict.retrain else "hold",
                analytics,
                verdict.reason,
                "gate open" if verdict.retrain else "nothing submitted",
                notify=not verdict.retrain and reading.status.value != "success",
            )
            if not verdict.retrain:
                return Outcome("gate-closed", "; ".join([*notes, verdict.reason]))
            message, source = verdict.reason, "schedule:drift-gate"
        result = self.retrain(
            trail.workspace_id,
            claim_key=trail.trigger,
            trigger=source,
            event_id=run_id,
            message=message,
            known_jobs=jobs,
        )
        return Outcome(result.outcome, "; ".join([*notes, result.summary]))


def _failed(trail: Trail, subject: str, error: AzureError) -> Outcome:
    """A failed read or write, recorded; raised for redelivery when it was transient."""
    if is_transient(error):
        raise trail.retry(KIND_RETRAINING, subject, error) from error
    reason = "reading Azure ML failed"
    trail.record(KIND_RETRAINING, "read", subject, reason, f"failed: {describe(error)}")
    return Outcome("failed", describe(error))


def _already(scoring_job: str, retraining_job: str) -> str:
    return f"scoring job {scoring_job} already started after {retraining_job}"


def _claim_view(claim: RetrainingClaim | None) -> ClaimView | None:
    if claim is None:
        return None
    return ClaimView(
        job_name=claim.job_name,
        claim_key=claim.claim_key,
        claimed_at=claim.claimed_at,
        counts=claim.state != ClaimState.FAILED,
        in_flight=claim.state == ClaimState.CLAIMED,
    )
