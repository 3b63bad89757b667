"""The one way the app starts a batch scoring job (after a retrain, for an HTTP caller): claim
the key, check input and endpoint, an intent row, start with the claim's repeatability ID, record
the job and the start (row, line, event); a `RefusedError` (`__cause__`: Azure's) starts nothing."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import KW_ONLY, astuple, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from azure.core.exceptions import AzureError, ResourceNotFoundError

from shared.adapters.errors import describe, is_transient
from shared.arm import ArmId, name_of
from shared.bounds import redacted
from shared.claims import Busy, Claims, Mismatch, Owned, Replay, ScoringKey, idempotent_scoring
from shared.config import AutomationMode, batch_endpoint_workspace, whole_number
from shared.ledger import ActionRecord, ActionSink
from shared.logs import decision_log
from shared.model import JudgedAnswerError
from shared.outcome import Outcome, Status
from shared.planning.retraining import scoring_tags
from shared.reconcilers.run import Trail, judged
from shared.scoring.contract import NOT_STARTED_BY_YOU, RETRY_AFTER_SECONDS, Problem
from shared.scoring.inputs import AllowedInputs, input_not_allowed
from shared.scoring.records import NOT_RECORDED, JobRecord, ScoringRecords
from shared.scoring.requests import RefusedError

if TYPE_CHECKING:
    from shared.adapters import batch_scoring as bs

log = logging.getLogger(__name__)

# The ledger kind of a scoring start, by HTTP or after a retrain (whose reconciler imports it).
KIND_SCORING = "batch-scoring"
_BUSY_RETRY_AFTER = 2  # another request with the same key is submitting
_MODE = AutomationMode.ENFORCE.value  # rows are written only when not in dry-run


@dataclass(frozen=True)
class ScoringOrder:
    """One scoring job to start, and whom for (`caller` empty: after a retrain, `key` its own)."""

    endpoint_id: ArmId
    deployment: str | None
    scoring_input: bs.ScoringInput
    trigger: str
    key: ScoringKey | None = None
    retraining_job: str = ""
    reason: str = ""
    caller: str = ""
    tracking: dict[str, str] = field(default_factory=dict)  # the Logic Apps tracking IDs
    # None: nothing to claim (an HTTP request without Idempotency-Key: a fresh request ID).
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        """What makes two requests the same, for a replay: a digest, as the ledger redacts what
        looks like a credential in a path it stores (`AccountKey=1/`) and would then differ."""
        same = json.dumps([self.endpoint_id.lower(), self.deployment, *astuple(self.scoring_input)])
        return hashlib.sha256(same.encode()).hexdigest()

    def tags(self) -> dict[str, str]:
        """The one tag scheme of the app's scoring jobs: a listing, never proof (the ledger is)."""
        if not self.caller:
            return scoring_tags("retraining-completed", **{"retraining-job": self.retraining_job})
        run, tracked = self.tracking.get("workflow_run_id"), self.tracking.get("client_tracking_id")
        return scoring_tags("http", caller=self.caller, workflowRunId=run, clientTrackingId=tracked)


@dataclass(frozen=True)
class Started:
    name: str
    status: str
    endpoint_id: str
    workspace_id: str
    replayed: bool


class ClaimHeldError(RefusedError):
    def __init__(self, holder: str) -> None:
        detail = "a request with the same Idempotency-Key is being submitted"
        super().__init__(Problem("unavailable", detail, retry_after=_BUSY_RETRY_AFTER))
        self.holder = holder


def _refuse(error: BaseException, *, field: str | None, what: str) -> NoReturn:
    """Raise Azure's error as a refusal (503 when worth retrying, else 422 at `field`, or 502
    when the request has no field Azure could refuse); others as is."""
    from shared.adapters.batch_scoring import ScoringUriRejectedError, UnexpectedResponseError

    detail = f"{what}: {describe(error)}"
    if isinstance(error, ScoringUriRejectedError):
        problem = Problem("not-allowed", str(error), "endpoint")
    elif isinstance(error, UnexpectedResponseError | JudgedAnswerError):
        # JudgedAnswerError: the answer shows another job or endpoint than asked; not ours.
        problem = Problem("azure-refused", str(error))
    elif not isinstance(error, AzureError):
        raise error
    elif is_transient(error):
        # Azure's Retry-After when it gave one (as the transport capped it), else the default.
        headers = getattr(getattr(error, "response", None), "headers", None) or {}
        wait = whole_number(str(headers.get("Retry-After", "")).strip())
        wait = RETRY_AFTER_SECONDS if wait is None else max(1, wait)
        problem = Problem("unavailable", detail, None, wait)
    elif field and getattr(error, "status_code", None) in (400, 404, 409, 422):
        problem = Problem("not-allowed", detail, field)
    else:
        problem = Problem("azure-refused", detail)
    raise RefusedError(problem) from error


@dataclass
class ScoringStarter:
    _scoring: bs.BatchScoringAdapter
    _claims: Claims
    records: ScoringRecords
    _inputs: AllowedInputs
    _sink: ActionSink  # the start's intent and outcome rows (and its outcome event)
    _admit: Callable[[str], str | None]  # `Inventory.admit`: the scope as ARM tells it now
    _: KW_ONLY
    dry_run: bool
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def start(self, order: ScoringOrder) -> Started | dict[str, Any]:
        """Start `order`'s job (once per key), recorded (intent row, job row, outcome row and
        event), or raise `RefusedError`. In dry-run, what would be sent."""
        workspace_id = batch_endpoint_workspace(order.endpoint_id) or order.endpoint_id
        reason = input_not_allowed(order.scoring_input.path, workspace_id, self._inputs)
        if reason is not None:
            raise RefusedError("not-allowed", f"the input path {reason}", "input.path")
        claim, key = None, order.key
        if order.idempotency_key:
            key = idempotent_scoring(order.caller, order.idempotency_key, order.fingerprint())
        if key is not None and not self.dry_run:
            outcome = self._claims.claim_scoring(key, now=self.clock())
            if isinstance(outcome, Replay):
                ids = outcome.endpoint_id, outcome.workspace_id
                return Started(outcome.job_name, "Accepted", *ids, replayed=True)
            if isinstance(outcome, Mismatch):
                detail = "this Idempotency-Key started a different request within 24 hours"
                raise RefusedError("idempotency-key-reused", detail, "Idempotency-Key")
            if isinstance(outcome, Busy):
                raise ClaimHeldError(outcome.holder)
            claim = outcome
        try:
            endpoint = self._endpoint(order, workspace_id)
        except BaseException as error:
            # Nothing was sent with the claim's request ID: a corrected request may use the key.
            self._settle_failure(claim, error, self._claims.forget_scoring)
            _refuse(error, field="endpoint", what="reading the batch endpoint")
        if self.dry_run:
            return {
                "endpoint": endpoint.id,
                "workspace": endpoint.workspace_id,
                "scoringUri": redacted(endpoint.scoring_uri),  # Azure's, answered: no credential
                "deployment": order.deployment or endpoint.default_deployment,
                "input": {"type": order.scoring_input.kind, "path": order.scoring_input.path},
            }
        trail = Trail(self._sink, log, _MODE, workspace_id, order.trigger)
        try:
            trail.intent(KIND_SCORING, "start", order.endpoint_id)
        except BaseException as error:
            # The ledger's own failure (raised as such): nothing was sent, the key is free again.
            self._settle_failure(claim, error, self._claims.forget_scoring)
            raise
        try:
            job = self._scoring.invoke(
                endpoint,
                deployment=order.deployment,
                scoring_input=order.scoring_input,
                tags=order.tags(),
                request_id=claim.request_id if claim else str(uuid.uuid4()),
            )
        except BaseException as error:
            self._settle_failure(claim, error, self._claims.release_scoring)
            if order.caller and isinstance(error, AzureError | JudgedAnswerError):
                # The intent's outcome, as after a retrain: a failed write (its line alerts),
                # announced unless transient: every answer may have been lost, the job made; the
                # released claim keeps its repeatability ID, so the key's retry announces the job.
                why, failed = "batch scoring could not be started", judged(error)
                row = (KIND_SCORING, "start", order.endpoint_id, why, failed)
                trail.record(*row, notify=failed.status is not Status.RETRY)
            _refuse(error, field="input", what="submitting the scoring job")
        return self._record(order, endpoint, job, claim)

    def _endpoint(self, order: ScoringOrder, workspace_id: str) -> bs.BatchEndpoint:
        # Allowed at start-up by its ID; its tag and management group may have left it out.
        if self._admit(workspace_id) is None:
            detail = f"the endpoint's workspace {workspace_id} is not in scope now"
            raise RefusedError("not-allowed", detail, "endpoint")
        endpoint = self._scoring.get_endpoint(order.endpoint_id)
        # The URI the job would be sent to must pass before anything else, dry-run too.
        self._scoring.scoring_origin(endpoint)
        if order.deployment is None and endpoint.default_deployment is None:
            detail = "the endpoint has no default deployment: name one in `deployment`"
            raise RefusedError("not-allowed", detail, "deployment")
        if order.deployment is not None and not self._scoring.deployment_exists(
            order.endpoint_id, order.deployment
        ):
            detail = "the endpoint has no deployment of that name"
            raise RefusedError("not-allowed", detail, "deployment")
        return endpoint

    def _settle_failure(
        self, claim: Owned | None, error: BaseException, settle: Callable[[Owned], None]
    ) -> None:
        """A failed start frees its claim, unless its holder comes again (a redelivery after a
        transient failure), holding other deliveries back until then."""
        if claim is not None and not (claim.key.redelivered and is_transient(error)):
            settle(claim)

    def _record(
        self,
        order: ScoringOrder,
        endpoint: bs.BatchEndpoint,
        job: bs.ScoringJob,
        claim: Owned | None,
    ) -> Started:
        record = JobRecord(
            job.name,
            endpoint.workspace_id,
            endpoint.id,
            order.deployment or job.deployment or endpoint.default_deployment,
            order.scoring_input.kind,
            order.scoring_input.path,
            order.caller,
            order.tracking.get("workflow_run_id") or None,
            order.tracking.get("client_tracking_id") or None,
            order.idempotency_key,
            job.status,
        )
        ids = f"workflow run {record.workflow_run_id}, tracking id {record.client_tracking_id}"
        why = order.reason or f"started for caller {order.caller} ({ids})"
        where = f"{name_of(endpoint.id)}/{record.deployment or 'default'}"
        applied = Outcome(Status.APPLIED, f"started on {where}")

        line = functools.partial(
            decision_log,
            log,
            why,
            trigger=order.trigger,
            workspace_id=endpoint.workspace_id,
            kind=KIND_SCORING,
            verdict="start",
            subject_id=job.name,
            extra=order.tracking,
        )
        try:
            # The job row first: a claim never points at a job the app cannot report on.
            self.records.record_job(record)
            if claim is not None and not self._claims.settle_scoring(
                claim, job.name, endpoint.workspace_id, endpoint.id
            ):
                raise ClaimHeldError(claim.key.holder)  # its twin, holding it, records the start
            row = (endpoint.workspace_id, KIND_SCORING, "start", job.name, why, _MODE, applied)
            self._sink.record_actions([ActionRecord(*row, order.trigger)])
        except AzureError as error:
            # With a key, a retry finds the job again (same repeatability ID).
            line(outcome=NOT_RECORDED, level=logging.ERROR, error=error)
            raise
        line(outcome=applied, level=logging.INFO)
        return Started(job.name, job.status, endpoint.id, endpoint.workspace_id, False)

    def status(self, job_name: str, principal: str) -> tuple[JobRecord, bs.ScoringJob]:
        """The job `job_name` if this caller started it through the API, else a 404 refusal."""
        record = self.records.job(job_name)
        # A job started after a retrain has no caller: no HTTP caller ever sees it. Another
        # caller's job is as unknown as a job that does not exist.
        if record is None or not record.caller or record.caller != principal:
            raise RefusedError(NOT_STARTED_BY_YOU)
        try:
            job = self._scoring.get_job(ArmId(record.workspace_id), record.job_name)
        except ResourceNotFoundError:
            detail = "the job no longer exists in its workspace"
            raise RefusedError("not-found", detail, "job_name") from None
        except Exception as error:
            # The job is one the app recorded: the poller can fix nothing Azure says of it.
            _refuse(error, field=None, what="reading the scoring job")
        if job.finished and record.status != job.status:
            self.records.job_ended(record.job_name, job.status)
        return record, job
