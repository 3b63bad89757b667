"""Starting and following batch scoring jobs for HTTP callers: validated requests in, jobs out.

Observe, decide, apply, record, like the reconcilers: the request is already validated (pure,
`shared.scoring.requests`); this service claims its Idempotency-Key, reads the endpoint, submits
through the batch scoring adapter (the only code that talks to the scoring URI), and records
every outcome, refusals included, with the caller. A problem raised here has submitted nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from shared.arm import ArmId
from shared.logs import decision_log
from shared.model import JudgedAnswerError
from shared.planning.retraining import scoring_tags
from shared.scoring import problems
from shared.scoring.openapi import RETRY_AFTER_SECONDS
from shared.scoring.records import (
    Busy,
    JobRecord,
    Mismatch,
    Owned,
    Replay,
    ScoringRecords,
)
from shared.scoring.requests import Caller, RefusedError, ScoringRequest

if TYPE_CHECKING:
    from shared.adapters.batch_scoring import BatchEndpoint, ScoringInput, ScoringJob

log = logging.getLogger(__name__)

# A Retry-After from Azure is honoured up to this many seconds (a Logic App waits that long).
_MAX_RETRY_AFTER = 300
# While another request with the same key submits, ask the caller to come back soon.
_BUSY_RETRY_AFTER = 2


class BatchScoring(Protocol):
    """The batch scoring adapter as this service uses it (`shared.adapters.batch_scoring`)."""

    def get_endpoint(self, endpoint_id: ArmId) -> BatchEndpoint: ...

    def scoring_origin(self, endpoint: BatchEndpoint) -> str: ...

    def deployment_exists(self, endpoint_id: ArmId, deployment: str) -> bool: ...

    def invoke(
        self,
        endpoint: BatchEndpoint,
        *,
        deployment: str | None,
        scoring_input: ScoringInput,
        tags: Mapping[str, str],
        request_id: str,
    ) -> ScoringJob: ...

    def get_job(self, workspace_id: ArmId, job_name: str) -> ScoringJob: ...


@dataclass(frozen=True)
class Started:
    """A job to answer with: just submitted, or found again by its Idempotency-Key."""

    name: str
    status: str
    endpoint_id: str
    workspace_id: str
    replayed: bool


@dataclass(frozen=True)
class DryRun:
    """What would have been submitted (AUTOMATION_MODE=dry-run)."""

    would_submit: dict[str, Any]


@dataclass(frozen=True)
class JobView:
    """A job as `get_scoring_job` reports it."""

    record: JobRecord
    job: ScoringJob


def retry_after_of(error: BaseException) -> int:
    """Seconds to wait, from Azure's Retry-After when it gave one (capped), else the default."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or {}
    value = str(headers.get("Retry-After", "")).strip()
    if value.isdigit():
        return max(1, min(int(value), _MAX_RETRY_AFTER))
    return RETRY_AFTER_SECONDS


def _azure_problem(error: BaseException, *, field: str, what: str) -> problems.Problem:
    """The problem for an Azure error: 503 when worth retrying, else 422 or 502."""
    from azure.core.exceptions import HttpResponseError

    from shared.adapters.errors import describe, is_transient

    if is_transient(error):
        return problems.unavailable(f"{what}: {describe(error)}", retry_after_of(error))
    status = error.status_code if isinstance(error, HttpResponseError) else None
    if status in (400, 404, 409, 422):
        return problems.unprocessable(field, f"{what}: {describe(error)}")
    return problems.bad_gateway(f"{what}: {describe(error)}")


class ScoringService:
    """Starts scoring jobs for authorised callers and reports on the jobs it started."""

    def __init__(self, scoring: BatchScoring, records: ScoringRecords, *, dry_run: bool) -> None:
        self._scoring = scoring
        self._records = records
        self._dry_run = dry_run

    @property
    def records(self) -> ScoringRecords:
        return self._records

    def start(
        self, request: ScoringRequest, principal: str, caller: Caller, key: str | None
    ) -> Started | DryRun:
        """Submit `request` (once per Idempotency-Key), or raise `RefusedError`; records the outcome
        of a start; the handler records refusals."""
        claim: Owned | None = None
        if key is not None and not self._dry_run:
            outcome = self._records.claim(principal, key, request.fingerprint())
            if isinstance(outcome, Replay):
                return Started(
                    outcome.job_name, "Accepted", outcome.endpoint_id, outcome.workspace_id, True
                )
            if isinstance(outcome, Mismatch):
                raise RefusedError(
                    problems.key_reused(
                        "this Idempotency-Key started a different request within 24 hours"
                    )
                )
            if isinstance(outcome, Busy):
                raise RefusedError(
                    problems.unavailable(
                        "a request with the same Idempotency-Key is being submitted",
                        _BUSY_RETRY_AFTER,
                    )
                )
            claim = outcome
        try:
            endpoint, deployment = self._endpoint(request)
        except BaseException:
            # Refused (or Azure unavailable) before anything was submitted: the key started
            # nothing, so a corrected request may use it.
            if claim is not None:
                self._records.forget(claim)
            raise
        try:
            return self._submit(request, endpoint, deployment, principal, caller, key, claim)
        except BaseException:
            if claim is not None:
                self._records.release(claim)
            raise

    def _endpoint(self, request: ScoringRequest) -> tuple[BatchEndpoint, str | None]:
        from azure.core.exceptions import AzureError

        from shared.adapters.batch_scoring import ScoringUriRejectedError, UnexpectedResponseError

        try:
            endpoint = self._scoring.get_endpoint(request.endpoint_id)
            # The URI the job would be submitted to must pass before anything else, dry-run too.
            self._scoring.scoring_origin(endpoint)
            deployment = request.deployment
            if deployment is not None:
                if not self._scoring.deployment_exists(request.endpoint_id, deployment):
                    raise RefusedError(
                        problems.unprocessable(
                            "deployment", "the endpoint has no deployment of that name"
                        )
                    )
            elif endpoint.default_deployment is None:
                raise RefusedError(
                    problems.unprocessable(
                        "deployment",
                        "the endpoint has no default deployment: name one in `deployment`",
                    )
                )
        except ScoringUriRejectedError as error:
            raise RefusedError(problems.unprocessable("endpoint", str(error))) from None
        except (UnexpectedResponseError, JudgedAnswerError) as error:
            raise RefusedError(problems.bad_gateway(str(error))) from None
        except AzureError as error:
            raise RefusedError(
                _azure_problem(error, field="endpoint", what="reading the batch endpoint")
            ) from None
        return endpoint, deployment

    def _submit(
        self,
        request: ScoringRequest,
        endpoint: BatchEndpoint,
        deployment: str | None,
        principal: str,
        caller: Caller,
        key: str | None,
        claim: Owned | None,
    ) -> Started | DryRun:
        import uuid

        from azure.core.exceptions import AzureError

        from shared.adapters.batch_scoring import (
            ScoringInput,
            ScoringUriRejectedError,
            UnexpectedResponseError,
        )

        scoring_input = ScoringInput(kind=request.input_type, path=request.input_path)
        if self._dry_run:
            return DryRun(
                {
                    "endpoint": endpoint.id,
                    "workspace": endpoint.workspace_id,
                    "scoringUri": endpoint.scoring_uri,
                    "deployment": deployment or endpoint.default_deployment,
                    "input": {"type": request.input_type, "path": request.input_path},
                }
            )
        tags = scoring_tags(
            "http",
            caller=principal,
            workflowRunId=caller.workflow_run_id,
            clientTrackingId=caller.client_tracking_id,
        )
        try:
            job = self._scoring.invoke(
                endpoint,
                deployment=deployment,
                scoring_input=scoring_input,
                tags=tags,
                request_id=claim.request_id if claim else str(uuid.uuid4()),
            )
        except ScoringUriRejectedError as error:
            raise RefusedError(problems.unprocessable("endpoint", str(error))) from None
        except (UnexpectedResponseError, JudgedAnswerError) as error:
            # JudgedAnswerError: the answer shows another job than asked; it is not ours.
            raise RefusedError(problems.bad_gateway(str(error))) from None
        except AzureError as error:
            raise RefusedError(
                _azure_problem(error, field="input", what="submitting the scoring job")
            ) from None
        record = JobRecord(
            job_name=job.name,
            workspace_id=endpoint.workspace_id,
            endpoint_id=endpoint.id,
            deployment=deployment or job.deployment or endpoint.default_deployment,
            input_type=request.input_type,
            input_path=request.input_path,
            caller=principal,
            workflow_run_id=caller.workflow_run_id,
            client_tracking_id=caller.client_tracking_id,
            idempotency_key=key,
            status=job.status,
        )
        try:
            # The job row first: a claim never points at a job the API cannot report on.
            self._records.record_job(record)
            if claim is not None:
                self._records.settle(claim, record)
        except AzureError:
            # With an Idempotency-Key, a retry finds the job again (same repeatability ID).
            self._log(
                caller,
                endpoint,
                job.name,
                f"started for caller {principal} but could not be recorded",
                "failed: not recorded in the ledger",
                logging.ERROR,
            )
            raise
        self._log(
            caller,
            endpoint,
            job.name,
            f"started for caller {principal} (workflow run {caller.workflow_run_id}, "
            f"tracking id {caller.client_tracking_id})",
            f"applied: started on {endpoint.name}",
            logging.INFO,
        )
        return Started(job.name, job.status, endpoint.id, endpoint.workspace_id, False)

    @staticmethod
    def _log(
        caller: Caller, endpoint: BatchEndpoint, job: str, message: str, outcome: str, level: int
    ) -> None:
        decision_log(
            log,
            message,
            trigger="http:start_scoring",
            workspace_id=endpoint.workspace_id,
            kind="batch-scoring",
            verdict="start",
            outcome=outcome,
            subject_id=job,
            level=level,
            extra={
                "workflow_run_id": caller.workflow_run_id or "",
                "client_tracking_id": caller.client_tracking_id or "",
            },
        )

    def status(self, job_name: str, principal: str) -> JobView:
        """The job `job_name` if this caller started it through the API, else 404."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        from shared.adapters.batch_scoring import UnexpectedResponseError

        record = self._records.job(job_name)
        # A job started after a retrain has no caller: no HTTP caller ever sees it.
        if record is None or not record.caller or record.caller != principal:
            # Another caller's job is as unknown as a job that does not exist.
            raise RefusedError(problems.not_found("no scoring job of that name was started by you"))
        try:
            job = self._scoring.get_job(ArmId(record.workspace_id), record.job_name)
        except ResourceNotFoundError:
            raise RefusedError(
                problems.not_found("the job no longer exists in its workspace")
            ) from None
        except (UnexpectedResponseError, JudgedAnswerError) as error:
            raise RefusedError(problems.bad_gateway(str(error))) from None
        except AzureError as error:
            raise RefusedError(
                _azure_problem(error, field="job_name", what="reading the scoring job")
            ) from None
        if job.finished and record.status != job.status:
            self._records.job_ended(record.job_name, job.status)
        return JobView(record, job)
