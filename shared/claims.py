"""Claims in the ledger's table: who may submit the next retraining job, and who starts the
scoring that follows one. Race-free across instances by optimistic concurrency (ETags).

Flex Consumption runs many instances at once: two drift events delivered together both read the
claim, both decide to retrain, and both try to write it; the table accepts only the first write
(create, or replace if the ETag still matches) and the other instance learns it lost. The job name
is fixed by the claim, so a retried submission finds its job instead of creating another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.data.tables import TableClient

RETRAINING_ROW = "retraining"


def _partition(workspace_id: str) -> str:
    # Table keys may not hold '/'.
    return "claims:" + workspace_id.lower().strip("/").replace("/", ":")


class ClaimState:
    """Where a claim stands."""

    CLAIMED = "claimed"  # won, submission not yet confirmed
    SUBMITTED = "submitted"  # the job exists
    FAILED = "failed"  # the submission failed permanently: the claim does not debounce


@dataclass(frozen=True)
class RetrainingClaim:
    """The latest retraining claim of a workspace."""

    workspace_id: str
    job_name: str
    claim_key: str  # the event ID or timer run that made it
    trigger: str
    claimed_at: datetime
    state: str
    etag: str


@dataclass(frozen=True)
class ScoringClaim:
    """The scoring that follows one retraining job."""

    workspace_id: str
    retraining_job: str
    request_id: str
    scoring_job: str
    claimed_at: datetime
    etag: str


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))


class Claims:
    """Reads and conditionally writes claims in one table."""

    def __init__(self, table: TableClient) -> None:
        self._table = table

    def _get(self, partition: str, row: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None

    def _write(self, entity: dict[str, Any], etag: str | None) -> bool:
        """Create (`etag` None) or replace if unchanged since read; False when another instance
        wrote first."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        try:
            if etag is None:
                self._table.create_entity(entity)
            else:
                self._table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, ResourceModifiedError):
            return False
        return True

    # ------------------------------------------------------------------ retraining

    def retraining(self, workspace_id: str) -> RetrainingClaim | None:
        """The workspace's latest retraining claim, or None."""
        found = self._get(_partition(workspace_id), RETRAINING_ROW)
        if found is None:
            return None
        return RetrainingClaim(
            workspace_id=str(found.get("WorkspaceId", workspace_id)),
            job_name=str(found["JobName"]),
            claim_key=str(found["ClaimKey"]),
            trigger=str(found.get("Trigger", "")),
            claimed_at=_parse_time(found["ClaimedAt"]),
            state=str(found.get("State", ClaimState.CLAIMED)),
            etag=str(found.metadata["etag"]),
        )

    def claim_retraining(
        self,
        workspace_id: str,
        *,
        job_name: str,
        claim_key: str,
        trigger: str,
        now: datetime,
        previous: RetrainingClaim | None,
    ) -> bool:
        """Take the claim over `previous` (None: there was none). False: another instance won."""
        entity = {
            "PartitionKey": _partition(workspace_id),
            "RowKey": RETRAINING_ROW,
            "WorkspaceId": workspace_id,
            "JobName": job_name,
            "ClaimKey": claim_key,
            "Trigger": trigger,
            "ClaimedAt": now.isoformat(),
            "State": ClaimState.CLAIMED,
        }
        return self._write(entity, previous.etag if previous else None)

    def set_retraining_state(self, claim: RetrainingClaim, state: str) -> None:
        """Record how the claimed submission went (unconditional merge of one column of the
        claim that this instance holds; the job name and time stay)."""
        from azure.data.tables import UpdateMode

        self._table.update_entity(
            {
                "PartitionKey": _partition(claim.workspace_id),
                "RowKey": RETRAINING_ROW,
                "State": state,
            },
            mode=UpdateMode.MERGE,
        )

    # --------------------------------------------------------------------- scoring

    def scoring(self, workspace_id: str, retraining_job: str) -> ScoringClaim | None:
        found = self._get(_partition(workspace_id), f"scoring:{retraining_job.lower()}")
        if found is None:
            return None
        return ScoringClaim(
            workspace_id=workspace_id,
            retraining_job=retraining_job,
            request_id=str(found["RequestId"]),
            scoring_job=str(found.get("ScoringJob", "")),
            claimed_at=_parse_time(found["ClaimedAt"]),
            etag=str(found.metadata["etag"]),
        )

    def claim_scoring(
        self, workspace_id: str, retraining_job: str, *, request_id: str, now: datetime
    ) -> bool:
        """Claim the scoring after `retraining_job`; False when it was claimed before."""
        return self._write(
            {
                "PartitionKey": _partition(workspace_id),
                "RowKey": f"scoring:{retraining_job.lower()}",
                "RetrainingJob": retraining_job,
                "RequestId": request_id,
                "ScoringJob": "",
                "ClaimedAt": now.isoformat(),
            },
            None,
        )

    def scoring_started(self, workspace_id: str, retraining_job: str, scoring_job: str) -> None:
        """Record the scoring job that the claim led to."""
        from azure.data.tables import UpdateMode

        self._table.update_entity(
            {
                "PartitionKey": _partition(workspace_id),
                "RowKey": f"scoring:{retraining_job.lower()}",
                "ScoringJob": scoring_job,
            },
            mode=UpdateMode.MERGE,
        )
