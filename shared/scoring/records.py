"""The ledger's scoring partitions: `scoring-jobs`, a row per job the app started (an HTTP
caller's job only is answered by `get_scoring_job`), and `scoring-requests`, every start and
every refusal, newest first, with what came of it; input paths once valid (no query)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError

from shared.adapters.errors import describe
from shared.arm import is_workspace, plain_name
from shared.bounds import table_key
from shared.config import batch_endpoint_workspace
from shared.ledger import (
    column,
    insert_rows,
    newest_first_key,
    partition_rows,
    read_row,
    record_row,
)
from shared.logs import decision_log
from shared.outcome import PLANNED, Outcome, Status

if TYPE_CHECKING:
    from azure.data.tables import TableClient

REQUEST_KIND = "scoring-request"
JOBS_PARTITION = "scoring-jobs"
REQUESTS_PARTITION = "scoring-requests"
# What a request came to, as its decision line's outcome.
_OUTCOMES = {
    "started": Outcome(Status.APPLIED, "scoring job started"),
    "replayed": Outcome(Status.SKIPPED, "the Idempotency-Key's job, nothing new started"),
    "dry-run": PLANNED,
    "refused": Outcome(Status.REFUSED, "nothing started"),
}
NOT_RECORDED = Outcome(Status.FAILED, "not recorded in the ledger")


def tracking_fields(workflow_run_id: str | None, client_tracking_id: str | None) -> dict[str, str]:
    """The Logic Apps tracking IDs as log fields (custom dimensions in Application Insights)."""
    return {
        "workflow_run_id": workflow_run_id or "",
        "client_tracking_id": client_tracking_id or "",
    }


@dataclass(frozen=True)
class JobRecord:
    """A job the app started (`caller` empty: after a retrain), as `get_scoring_job` needs it."""

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
    submitted_at: str = ""  # as recorded (`SubmittedAt`)

    @classmethod
    def from_row(cls, row: Any) -> JobRecord | None:
        """None for a row without a required column, or whose workspace ID or job name is not
        one (edited by hand, or another version's): no job of the app's, never the URL of one."""
        try:
            values: dict[str, Any] = {
                name: str(row.get(column(name)) or "") or None
                if name in _OPTIONAL
                else str(row[column(name)])
                for name in cls.__dataclass_fields__
                if name not in ("status", "announced", "submitted_at")
            }
        except KeyError:
            return None
        if not (is_workspace(values["workspace_id"]) and plain_name(row[column("job_name")])):
            return None
        return cls(
            **values,
            status=str(row.get("Status") or ""),
            announced=bool(row.get("AnnouncedAt")),
            submitted_at=str(row.get("SubmittedAt") or ""),
        )


_OPTIONAL = ("deployment", "workflow_run_id", "client_tracking_id", "idempotency_key")


@dataclass(frozen=True)
class RequestRecord:
    function: str
    outcome: str  # received (only logged), started, replayed, dry-run, refused
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

    def line(self, log: logging.Logger, message: str, outcome: Outcome | str, level: int) -> None:
        decision_log(
            log,
            message,
            trigger=f"http:{self.function}",
            workspace_id=batch_endpoint_workspace(self.endpoint_id) or "",
            kind=REQUEST_KIND,
            verdict=self.outcome,
            outcome=outcome,
            subject_id=self.job_name or self.endpoint_id,
            level=level,
            extra=tracking_fields(self.workflow_run_id, self.client_tracking_id),
        )


def _job_row_key(job_name: str) -> str:
    # Job names are Azure's answer (checked as plain names, but the key must hold whatever
    # it is): case-insensitive like ARM, and injective.
    return table_key(job_name.lower())


@dataclass
class ScoringRecords:
    _table: TableClient
    _clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def record_job(self, job: JobRecord) -> None:
        from azure.data.tables import UpdateMode

        keys, now = (JOBS_PARTITION, _job_row_key(job.job_name)), self._clock().isoformat()
        row = record_row(keys, job, leave_out=("announced", "submitted_at"), SubmittedAt=now)
        self._table.upsert_entity(row, mode=UpdateMode.MERGE)

    def job(self, job_name: str) -> JobRecord | None:
        row = read_row(self._table, JOBS_PARTITION, _job_row_key(job_name))
        return None if row is None else JobRecord.from_row(row)

    def job_ended(self, job_name: str, status: str, *, announced: bool = False) -> None:
        """A job's final status, once polling sees it or once `scoring_outcomes` announces it."""
        from azure.data.tables import UpdateMode

        now = self._clock().isoformat()
        row = {"PartitionKey": JOBS_PARTITION, "RowKey": _job_row_key(job_name), "Status": status}
        row |= {"EndedSeenAt": now} | ({"AnnouncedAt": now} if announced else {})
        self._table.update_entity(row, mode=UpdateMode.MERGE)

    def unannounced(self, since: datetime, limit: int) -> list[JobRecord]:
        """Jobs submitted since `since` whose outcome is not yet announced, oldest first, at
        most `limit` (the sweep's backstop reads each one from Azure)."""
        rows = self._table.query_entities(
            "PartitionKey eq @pk and SubmittedAt ge @since",
            parameters={"pk": JOBS_PARTITION, "since": since.isoformat()},
        )
        oldest_first = sorted(rows, key=lambda row: str(row.get("SubmittedAt")))
        jobs = [JobRecord.from_row(row) for row in oldest_first if not row.get("AnnouncedAt")]
        return [job for job in jobs if job is not None][:limit]

    def audit(self, record: RequestRecord, log: logging.Logger) -> None:
        """Log a request's decision line (on the handler's `log`) and record it. A failure to
        record is logged, not raised: the answer matters more than its audit row (a retry after
        a 5xx would start a second job when no Idempotency-Key is sent)."""
        refused = record.outcome == "refused"
        record.line(
            log,
            (f"{record.detail} (field {record.field or '-'}) " if refused else "")
            + f"HTTP {record.http_status} for caller {record.caller or '-'}",
            _OUTCOMES[record.outcome],
            logging.WARNING if refused else logging.INFO,
        )
        keys, now = (REQUESTS_PARTITION, newest_first_key()), self._clock().isoformat()
        try:
            insert_rows(self._table, [("create", record_row(keys, record, RecordedAt=now))])
        except AzureError as error:
            message = f"could not record the request: {describe(error)}"
            record.line(log, message, NOT_RECORDED, logging.ERROR)

    def requests(self) -> list[dict[str, Any]]:
        """Every recorded request, newest first."""
        return [dict(row) for row in partition_rows(self._table, REQUESTS_PARTITION)]
