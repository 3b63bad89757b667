"""The one way the app starts a batch scoring job (after a retrain, for an HTTP caller): claim
the key, check input and endpoint, start with the claim's repeatability ID, record the job. A
`RefusedError` (its `__cause__`: Azure's error, if any) has started nothing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from shared.arm import ArmId
from shared.claims import Busy, Claims, Mismatch, Owned, Replay, ScoringKey
from shared.config import batch_endpoint_workspace
from shared.logs import decision_log
from shared.model import JudgedAnswerError
from shared.scoring.contract import NOT_STARTED_BY_YOU, RETRY_AFTER_SECONDS, Problem
from shared.scoring.inputs import AllowedInputs, input_not_allowed
from shared.scoring.records import NOT_RECORDED, JobRecord, ScoringRecords
from shared.scoring.requests import RefusedError

if TYPE_CHECKING:
    from shared.adapters import batch_scoring as bs

log = logging.getLogger(__name__)

# A Retry-After from Azure is honoured up to this many seconds (a Logic App waits that long).
_MAX_RETRY_AFTER = 300
_BUSY_RETRY_AFTER = 2  # another request with the same key is submitting


@dataclass(frozen=True)
class ScoringOrder:
    """One scoring job to start, and whom it is for (`caller` empty: after a retrain)."""

    endpoint_id: ArmId
    deployment: str | None
    scoring_input: bs.ScoringInput
    tags: dict[str, str]
    trigger: str
    # None: nothing to claim (an HTTP request without Idempotency-Key: a fresh request ID).
    key: ScoringKey | None = None
    caller: str = ""
    tracking: dict[str, str] = field(default_factory=dict)  # the Logic Apps tracking IDs
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Started:
    name: str
    status: str
    endpoint_id: str
    workspace_id: str
    replayed: bool
    deployment: str | None = None


class ClaimHeldError(RefusedError):
    def __init__(self, holder: str) -> None:
        detail = "a request with the same Idempotency-Key is being submitted"
        super().__init__(Problem("unavailable", detail, retry_after=_BUSY_RETRY_AFTER))
        self.holder = holder


def _refuse(error: BaseException, *, field: str, what: str) -> NoReturn:
    """Raise the refusal (503 when worth retrying, else 422 or 502) caused by an error of Azure's;
    anything else as it is."""
    from azure.core.exceptions import AzureError, HttpResponseError

    from shared.adapters.batch_scoring import ScoringUriRejectedError, UnexpectedResponseError
    from shared.adapters.errors import describe, is_transient

    detail = f"{what}: {describe(error)}"
    if isinstance(error, ScoringUriRejectedError):
        problem = Problem("not-allowed", str(error), "endpoint")
    elif isinstance(error, UnexpectedResponseError | JudgedAnswerError):
        # JudgedAnswerError: the answer shows another job or endpoint than asked; not ours.
        problem = Problem("azure-refused", str(error))
    elif not isinstance(error, AzureError):
        raise error
    elif is_transient(error):
        # Azure's Retry-After when it gave one (capped), else the default.
        headers = getattr(getattr(error, "response", None), "headers", None) or {}
        value = str(headers.get("Retry-After", "")).strip()
        wait = max(1, min(int(value), _MAX_RETRY_AFTER)) if value.isdigit() else RETRY_AFTER_SECONDS
        problem = Problem("unavailable", detail, None, wait)
    elif isinstance(error, HttpResponseError) and error.status_code in (400, 404, 409, 422):
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
    _: KW_ONLY
    dry_run: bool
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def start(
        self, order: ScoringOrder, *, before_submit: Callable[[], None] | None = None
    ) -> Started | dict[str, Any]:
        """Start `order`'s job (once per key), or raise `RefusedError`; `before_submit` runs
        right before the job is sent (an intent row). In dry-run, what would be sent."""
        workspace_id = batch_endpoint_workspace(order.endpoint_id) or order.endpoint_id
        reason = input_not_allowed(order.scoring_input.path, workspace_id, self._inputs)
        if reason is not None:
            raise RefusedError("not-allowed", f"the input path {reason}", "input.path")
        claim = None
        if order.key is not None and not self.dry_run:
            outcome = self._claims.claim_scoring(order.key, now=self.clock())
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
            endpoint = self._scoring.get_endpoint(order.endpoint_id)
            # The URI the job would be sent to must pass before anything else, dry-run too.
            self._scoring.scoring_origin(endpoint)
            deployment = order.deployment
            if deployment is None and endpoint.default_deployment is None:
                detail = "the endpoint has no default deployment: name one in `deployment`"
                raise RefusedError("not-allowed", detail, "deployment")
            if deployment is not None and not self._scoring.deployment_exists(
                order.endpoint_id, deployment
            ):
                detail = "the endpoint has no deployment of that name"
                raise RefusedError("not-allowed", detail, "deployment")
        except BaseException as error:
            # Nothing was sent with the claim's request ID: a corrected request may use the key.
            self._settle_failure(claim, error, self._claims.forget_scoring)
            _refuse(error, field="endpoint", what="reading the batch endpoint")
        if self.dry_run:
            return {
                "endpoint": endpoint.id,
                "workspace": endpoint.workspace_id,
                "scoringUri": endpoint.scoring_uri,
                "deployment": deployment or endpoint.default_deployment,
                "input": {"type": order.scoring_input.kind, "path": order.scoring_input.path},
            }
        try:
            if before_submit is not None:
                before_submit()
            job = self._scoring.invoke(
                endpoint,
                deployment=deployment,
                scoring_input=order.scoring_input,
                tags=order.tags,
                request_id=claim.request_id if claim else str(uuid.uuid4()),
            )
        except BaseException as error:
            self._settle_failure(claim, error, self._claims.release_scoring)
            _refuse(error, field="input", what="submitting the scoring job")
        return self._record(order, endpoint, deployment, job, claim)

    def _settle_failure(
        self, claim: Owned | None, error: BaseException, settle: Callable[[Owned], None]
    ) -> None:
        """A failed start frees its claim, unless its holder comes again (a redelivery after a
        transient failure), holding other deliveries back until then."""
        from shared.adapters.errors import is_transient

        if claim is not None and not (claim.key.redelivered and is_transient(error)):
            settle(claim)

    def _record(
        self,
        order: ScoringOrder,
        endpoint: bs.BatchEndpoint,
        deployment: str | None,
        job: bs.ScoringJob,
        claim: Owned | None,
    ) -> Started:
        from azure.core.exceptions import AzureError

        record = JobRecord(
            job.name,
            endpoint.workspace_id,
            endpoint.id,
            deployment or job.deployment or endpoint.default_deployment,
            order.scoring_input.kind,
            order.scoring_input.path,
            order.caller,
            order.tracking.get("workflow_run_id") or None,
            order.tracking.get("client_tracking_id") or None,
            order.idempotency_key,
            job.status,
        )
        try:
            # The job row first: a claim never points at a job the app cannot report on.
            self.records.record_job(record)
            if claim is not None:
                self._claims.settle_scoring(claim, job.name, endpoint.workspace_id, endpoint.id)
        except AzureError:
            # With a key, a retry finds the job again (same repeatability ID).
            decision_log(
                log,
                f"started for {order.caller or order.trigger} but could not be recorded",
                trigger=order.trigger,
                workspace_id=endpoint.workspace_id,
                kind="batch-scoring",
                verdict="start",
                outcome=str(NOT_RECORDED),
                subject_id=job.name,
                level=logging.ERROR,
                extra=order.tracking,
            )
            raise
        deployment = record.deployment
        return Started(job.name, job.status, endpoint.id, endpoint.workspace_id, False, deployment)

    def status(self, job_name: str, principal: str) -> tuple[JobRecord, bs.ScoringJob]:
        """The job `job_name` if this caller started it through the API, else a 404 refusal."""
        from azure.core.exceptions import ResourceNotFoundError

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
            _refuse(error, field="job_name", what="reading the scoring job")
        if job.finished and record.status != job.status:
            self.records.job_ended(record.job_name, job.status)
        return record, job
