"""The HTTP scoring API's records in the ledger table: idempotency claims, jobs, requests.

Three partitions of the ledger's table:
- `scoring-claims`: one row per (caller, Idempotency-Key). Claimed with an insert (only one
  concurrent request can insert it), taken over with an ETag-conditional replace (optimistic
  concurrency: of two retries racing for a stale claim, one wins), so a key submits once.
- `scoring-jobs`: one row per job the app started (over HTTP or after a retrain): workspace,
  endpoint, input, caller (none after a retrain), its final status once seen or announced,
  Logic Apps tracking IDs. `get_scoring_job` answers only for names found here.
- `scoring-requests`: every request, newest first: started, replayed, dry-run or refused, with
  the caller and the problem. Input paths are recorded only once validated (no query string).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.bounds import bounded_entity, table_key

if TYPE_CHECKING:
    from azure.data.tables import TableClient

CLAIMS_PARTITION = "scoring-claims"
JOBS_PARTITION = "scoring-jobs"
REQUESTS_PARTITION = "scoring-requests"
# How long an Idempotency-Key returns the first request's job.
KEY_LIFETIME = timedelta(hours=24)
# A claim whose request died (or is stuck) before settling may be taken over after this long:
# longer than a submission with its retries takes, short enough for a Logic App's retries to
# get through. A takeover reuses the request ID, so even an overlap submits one job.
CLAIM_LEASE = timedelta(minutes=2)
_TAKEOVER_ATTEMPTS = 3

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Owned:
    """This request holds the claim: submit with `request_id` (the repeatability ID, kept by a
    takeover so that the service itself drops a duplicate of a submission that went through)."""

    row_key: str
    request_id: str
    etag: str
    # Whether an earlier request may already have sent a POST with `request_id` (a takeover
    # of a released or stale claim). A claim nobody ever submitted with may simply be forgotten.
    attempted: bool = False


@dataclass(frozen=True)
class Replay:
    """The key already started a job: answer with it, submit nothing."""

    job_name: str
    workspace_id: str
    endpoint_id: str


@dataclass(frozen=True)
class Busy:
    """Another request with the same key is submitting right now."""


@dataclass(frozen=True)
class Mismatch:
    """The key was used, within its lifetime, for a different request."""


ClaimOutcome = Owned | Replay | Busy | Mismatch


@dataclass(frozen=True)
class JobRecord:
    """A job started through the API, as `get_scoring_job` needs it."""

    job_name: str
    workspace_id: str
    endpoint_id: str
    deployment: str | None
    input_type: str
    input_path: str
    caller: str
    workflow_run_id: str | None
    client_tracking_id: str | None
    idempotency_key: str | None
    status: str
    announced: bool = False  # its final status was announced as an outcome event


def _job_record(row: Any) -> JobRecord:
    return JobRecord(
        job_name=str(row["JobName"]),
        workspace_id=str(row["WorkspaceId"]),
        endpoint_id=str(row["EndpointId"]),
        deployment=str(row.get("Deployment") or "") or None,
        input_type=str(row["InputType"]),
        input_path=str(row["InputPath"]),
        caller=str(row["Caller"]),
        workflow_run_id=str(row.get("WorkflowRunId") or "") or None,
        client_tracking_id=str(row.get("ClientTrackingId") or "") or None,
        idempotency_key=str(row.get("IdempotencyKey") or "") or None,
        status=str(row.get("Status") or ""),
        announced=bool(row.get("AnnouncedAt")),
    )


@dataclass(frozen=True)
class RequestRecord:
    """One request to the API and what came of it."""

    function: str
    outcome: str  # started, replayed, dry-run, refused
    http_status: int
    caller: str | None
    workflow_run_id: str | None = None
    client_tracking_id: str | None = None
    idempotency_key: str | None = None
    job_name: str = ""
    endpoint_id: str = ""
    input_path: str = ""
    problem_type: str = ""
    field: str = ""
    detail: str = ""


def _claim_row_key(caller: str, key: str) -> str:
    # Keys are chosen by callers: hashed, they are always a valid row key, and one caller's key
    # never meets another caller's.
    return hashlib.sha256(f"{caller}\n{key}".encode()).hexdigest()


def _job_row_key(job_name: str) -> str:
    # Job names are Azure's answer (checked as plain names, but the key must hold whatever
    # it is): case-insensitive like ARM, and injective.
    return table_key(job_name.lower())


def _newest_first() -> str:
    inverted = (1 << 63) - 1 - time.time_ns()
    return f"{inverted:019d}:{uuid.uuid4().hex[:12]}"


def _when(value: object) -> datetime:
    return datetime.fromisoformat(str(value))


class ScoringRecords:
    """Reads and writes the scoring partitions of the ledger table."""

    def __init__(self, table: TableClient, clock: Clock = utc_now) -> None:
        self._table = table
        self._clock = clock

    # --- idempotency claims -------------------------------------------------------------

    def claim(self, caller: str, key: str, fingerprint: str) -> ClaimOutcome:
        """Claim `key` for `caller`'s request, or say what the key already stands for."""
        from azure.core import MatchConditions
        from azure.core.exceptions import (
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )
        from azure.data.tables import UpdateMode

        row_key = _claim_row_key(caller, key)
        for _ in range(_TAKEOVER_ATTEMPTS):
            now = self._clock()
            fresh = {
                "PartitionKey": CLAIMS_PARTITION,
                "RowKey": row_key,
                "Caller": caller,
                "IdempotencyKey": key,
                "Fingerprint": fingerprint,
                "RequestId": str(uuid.uuid4()),
                "State": "claimed",
                "ClaimedAt": now.isoformat(),
                "LeasedAt": now.isoformat(),
            }
            try:
                metadata = self._table.create_entity(fresh)
                return Owned(row_key, fresh["RequestId"], str(metadata["etag"]))
            except ResourceExistsError:
                pass
            try:
                existing = self._table.get_entity(CLAIMS_PARTITION, row_key)
            except ResourceNotFoundError:
                continue  # released in between: try to insert again
            etag = str(existing.metadata["etag"])
            if now - _when(existing["ClaimedAt"]) >= KEY_LIFETIME:
                takeover = fresh  # an expired key starts afresh: a new job, a new request ID
            elif existing["Fingerprint"] != fingerprint:
                return Mismatch()
            elif existing["State"] == "submitted":
                return Replay(
                    str(existing["JobName"]),
                    str(existing["WorkspaceId"]),
                    str(existing["EndpointId"]),
                )
            elif existing["State"] == "retry" or now - _when(existing["LeasedAt"]) >= CLAIM_LEASE:
                # The earlier attempt failed or died: take over, keeping its request ID.
                takeover = {**dict(existing), "State": "claimed", "LeasedAt": now.isoformat()}
            else:
                return Busy()
            try:
                metadata = self._table.update_entity(
                    takeover,
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                continue  # another request changed it first: look again
            return Owned(
                row_key,
                str(takeover["RequestId"]),
                str(metadata["etag"]),
                attempted=takeover is not fresh,
            )
        return Busy()

    def settle(self, claim: Owned, job: JobRecord) -> None:
        """The claim's job was submitted: the key now returns it."""
        self._update_claim(
            claim,
            {
                "State": "submitted",
                "JobName": job.job_name,
                "WorkspaceId": job.workspace_id,
                "EndpointId": job.endpoint_id,
            },
        )

    def release(self, claim: Owned) -> None:
        """Submission failed: a retry with the same key may try again (same request ID)."""
        self._update_claim(claim, {"State": "retry"})

    def forget(self, claim: Owned) -> None:
        """The request was refused before anything was submitted with the claim's request ID:
        delete the claim, so the key is free for a corrected request (it started nothing).

        A claim taken over from an earlier attempt is released instead: that attempt may have
        submitted, and only its request ID lets a retry find that job again.
        """
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        if claim.attempted:
            self.release(claim)
            return
        # Taken over or gone in between: the other request owns what is there.
        with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
            self._table.delete_entity(
                CLAIMS_PARTITION,
                claim.row_key,
                etag=claim.etag,
                match_condition=MatchConditions.IfNotModified,
            )

    def _update_claim(self, claim: Owned, changes: dict[str, Any]) -> None:
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        self._table.update_entity(
            {"PartitionKey": CLAIMS_PARTITION, "RowKey": claim.row_key, **changes},
            mode=UpdateMode.MERGE,
            etag=claim.etag,
            match_condition=MatchConditions.IfNotModified,
        )

    # --- jobs ------------------------------------------------------------------------------

    def record_job(self, job: JobRecord) -> None:
        from azure.data.tables import UpdateMode

        self._table.upsert_entity(
            bounded_entity(
                {
                    "PartitionKey": JOBS_PARTITION,
                    "RowKey": _job_row_key(job.job_name),
                    "JobName": job.job_name,
                    "WorkspaceId": job.workspace_id,
                    "EndpointId": job.endpoint_id,
                    "Deployment": job.deployment or "",
                    "InputType": job.input_type,
                    "InputPath": job.input_path,
                    "Caller": job.caller,
                    "WorkflowRunId": job.workflow_run_id or "",
                    "ClientTrackingId": job.client_tracking_id or "",
                    "IdempotencyKey": job.idempotency_key or "",
                    "Status": job.status,
                    "SubmittedAt": self._clock().isoformat(),
                }
            ),
            mode=UpdateMode.MERGE,
        )

    def job(self, job_name: str) -> JobRecord | None:
        """The job started through the API under this name, or None."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return _job_record(self._table.get_entity(JOBS_PARTITION, _job_row_key(job_name)))
        except ResourceNotFoundError:
            return None

    def job_ended(self, job_name: str, status: str, *, announced: bool = False) -> None:
        """Note a job's final status once polling sees it, or once its outcome is announced
        (`shared.reconcilers.scoring_outcomes`)."""
        from azure.data.tables import UpdateMode

        now = self._clock().isoformat()
        self._table.update_entity(
            {
                "PartitionKey": JOBS_PARTITION,
                "RowKey": _job_row_key(job_name),
                "Status": status,
                "EndedSeenAt": now,
            }
            | ({"AnnouncedAt": now} if announced else {}),
            mode=UpdateMode.MERGE,
        )

    def unannounced(self, since: datetime, limit: int) -> list[JobRecord]:
        """Jobs submitted since `since` whose outcome is not yet announced, oldest first, at
        most `limit` (the sweep's backstop reads each one from Azure)."""
        rows = self._table.query_entities(
            "PartitionKey eq @pk and SubmittedAt ge @since",
            parameters={"pk": JOBS_PARTITION, "since": since.isoformat()},
        )
        jobs = []
        for row in sorted(rows, key=lambda row: str(row.get("SubmittedAt"))):
            if not row.get("AnnouncedAt"):
                with contextlib.suppress(KeyError):  # a row edited by hand into another shape
                    jobs.append(_job_record(row))
        return jobs[:limit]

    # --- requests --------------------------------------------------------------------------

    def record_request(self, record: RequestRecord) -> None:
        self._table.create_entity(
            bounded_entity(
                {
                    "PartitionKey": REQUESTS_PARTITION,
                    "RowKey": _newest_first(),
                    "Function": record.function,
                    "Outcome": record.outcome,
                    "HttpStatus": record.http_status,
                    "Caller": record.caller or "",
                    "WorkflowRunId": record.workflow_run_id or "",
                    "ClientTrackingId": record.client_tracking_id or "",
                    "IdempotencyKey": record.idempotency_key or "",
                    "JobName": record.job_name,
                    "EndpointId": record.endpoint_id,
                    "InputPath": record.input_path,
                    "ProblemType": record.problem_type,
                    "Field": record.field,
                    "Detail": record.detail,
                    "RecordedAt": self._clock().isoformat(),
                }
            )
        )

    def requests(self) -> list[dict[str, Any]]:
        """Every recorded request, newest first."""
        return [
            dict(row)
            for row in self._table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": REQUESTS_PARTITION}
            )
        ]

    def jobs(self) -> list[dict[str, Any]]:
        return [
            dict(row)
            for row in self._table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": JOBS_PARTITION}
            )
        ]
