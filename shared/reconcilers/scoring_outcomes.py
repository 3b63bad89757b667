"""How a scoring job the app started ended (its event, or the sweep's backstop: events get lost):
announced once (`BatchScoring.Completed`, `.Failed` for Failed and Canceled) in the ledger and its
scoring-jobs row, the only proof the job is the app's (not a tag). Dry-run too: it only reads."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import AzureError, ResourceNotFoundError

from shared.adapters.batch_scoring import BatchScoringAdapter, ScoringJob
from shared.adapters.errors import TransientAzureError
from shared.adapters.outcomes import Recorder
from shared.arm import ArmId, same_arm_id
from shared.bounds import aware_time
from shared.ml_events import JobFinished
from shared.model import JudgedAnswerError
from shared.outcome import GONE, RequestOutcome, gone, noted
from shared.reconcilers.retraining import RequestResult
from shared.reconcilers.run import Trail
from shared.scoring.records import JobRecord, ScoringRecords
from shared.scoring.service import KIND_SCORING

log = logging.getLogger(__name__)

# The backstop's bounded look: jobs submitted in this window, at most this many a sweep.
BACKSTOP_WINDOW = timedelta(days=7)
BACKSTOP_LIMIT = 50
READ_FAILED = "reading the scoring job failed"


def _once_key(what: str, record: JobRecord) -> str:
    """The `Ledger.first_time` key of something said once of a job (its end, its leaving)."""
    return f"{what}:{record.workspace_id.lower()}|{record.job_name.lower()}"


@dataclass(frozen=True)
class ScoringOutcomes:
    scoring: BatchScoringAdapter
    records: ScoringRecords
    sink: Recorder
    mode: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def on_finished(self, finished: JobFinished) -> RequestResult:
        """The event says a scoring job ended: if the ledger says the app started it, read it."""
        trigger = f"event:{finished.event_id}"
        record = self.records.job(finished.job_name)
        if record is None or not same_arm_id(record.workspace_id, finished.workspace_id):
            why = f"job {finished.job_name} is not a scoring job this app started"
            return RequestResult(RequestOutcome.IGNORED, why)
        if record.announced:
            said = f"scoring job {record.job_name} {record.status}"
            return RequestResult(RequestOutcome.ALREADY_RECORDED, said)
        job = self._read(record, trigger)
        if isinstance(job, RequestResult):
            return job
        if not job.finished:
            # Azure ML's status can lag the event: Event Grid's redelivery reads it again.
            raise TransientAzureError(
                f"workspace {record.workspace_id}: scoring job {job.name} is {job.status} "
                "(the event says it ended; read again on redelivery)"
            )
        return self._announce(record, job, trigger)

    def backstop(self, trigger: str) -> None:
        """Announce the unannounced jobs that ended; a transient failure stops the round."""
        for record in self.records.unannounced(self.clock() - BACKSTOP_WINDOW, BACKSTOP_LIMIT):
            job = self._read(record, trigger)
            if isinstance(job, ScoringJob) and job.finished:
                self._announce(record, job, trigger)
            elif isinstance(job, ScoringJob):
                self._unfollowing(record, f"still {job.status}", trigger)
            elif job.outcome is RequestOutcome.FAILED:  # refused (403): its end unknown too
                self._unfollowing(record, "could not be read", trigger)
            elif job.outcome is RequestOutcome.INVALID:
                # Deleted in Azure, so it never ends: left unannounced, such rows would fill
                # the backstop's look and hold newer jobs back. How it ended is unknown.
                self._trail(record, trigger).record(
                    KIND_SCORING, GONE, record.job_name, job.summary, gone("not announced")
                )
                self.records.job_ended(record.job_name, "Deleted", announced=True)

    def _unfollowing(self, record: JobRecord, state: str, trigger: str) -> None:
        """Said once in its row's last day in the window (the sweep runs far more often), so
        that on-call learns its end is left to its event; the row stays unannounced for it."""
        try:  # as the app wrote it, or edited by hand: a sweep never stops at it
            submitted = aware_time(record.submitted_at)
        except ValueError:
            return
        leaves, age = submitted + BACKSTOP_WINDOW, self.clock() - submitted
        key = _once_key("scoring-unfollowed", record)
        if age < BACKSTOP_WINDOW - timedelta(days=1) or not self.sink.first_time(key):
            return
        why = (
            f"scoring job {record.job_name} {state} after {age.days} days: the sweep stops "
            f"following it on {leaves:%Y-%m-%d %H:%M} UTC; only its end event will announce it"
        )
        self._trail(record, trigger).record(
            KIND_SCORING,
            "unfollowed",
            record.job_name,
            why,
            noted(state),
            level=logging.WARNING,
        )
        self.sink.reported(key)

    def _trail(self, record: JobRecord, trigger: str) -> Trail:
        return Trail(self.sink, log, self.mode, ArmId(record.workspace_id), trigger)

    def _read(self, record: JobRecord, trigger: str) -> ScoringJob | RequestResult:
        trail, name = self._trail(record, trigger), record.job_name
        try:
            return self.scoring.get_job(trail.workspace_id, name)
        except ResourceNotFoundError:
            return RequestResult(RequestOutcome.INVALID, f"scoring job {name} no longer exists")
        except (AzureError, JudgedAnswerError) as error:  # a transient one: raised (redelivery)
            retry = {"reason": READ_FAILED, "what": f"scoring job {name}"}
            why = trail.read_failed(KIND_SCORING, name, error, READ_FAILED, **retry)
            return RequestResult(RequestOutcome.FAILED, why)

    def _announce(self, record: JobRecord, job: ScoringJob, trigger: str) -> RequestResult:
        key = _once_key("scoring-outcome", record)
        first, said = self.sink.first_time(key), f"scoring job {job.name} {job.status}"
        if first is None:
            # Another instance announces it; should it fail, the backstop takes over (lease lapsed).
            return RequestResult(RequestOutcome.ALREADY_RECORDED, f"{said}: being announced")
        if first:
            verdict = "completed" if job.status == "Completed" else "failed"
            evidence = {
                "status": job.status,
                "endpoint": record.endpoint_id,
                "deployment": job.deployment or record.deployment,
                "input": record.input_path,
                "caller": record.caller,
                "startTime": job.start_time,
                "endTime": job.end_time,
            }
            self._trail(record, trigger).record(
                KIND_SCORING,
                verdict,
                record.job_name,
                f"scoring job {job.name} ended {job.status}"
                + (f": {job.error}" if job.error else ""),
                noted(f"ended {job.status}"),
                evidence=json.dumps(evidence),
                level=logging.INFO if verdict == "completed" else logging.WARNING,
            )
            self.sink.reported(key)
        # After the announcement: a row left unmarked is read again by the backstop, which marks it.
        self.records.job_ended(record.job_name, job.status, announced=True)
        if not first:
            return RequestResult(RequestOutcome.ALREADY_RECORDED, said)
        return RequestResult(RequestOutcome(f"scoring-{job.status.lower()}"), said)
