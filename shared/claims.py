"""Claims in the ledger's table: who may submit the next retraining job, and who starts the
scoring that follows one. Race-free across instances by optimistic concurrency (ETags).

Flex Consumption runs many instances at once: two drift events delivered together both read the
claim, both decide to retrain, and both try to write it; the table accepts only the first write
(create, or replace if the ETag still matches) and the other instance learns it lost. The job name
is fixed by the claim, so a retried submission finds its job instead of creating another.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.bounds import bounded, bounded_entity, table_key
from shared.policy.budget import hourly_slot

if TYPE_CHECKING:
    from azure.data.tables import TableClient

RETRAINING_ROW = "retraining"
# One workspace's remediations of the past hour (`MAX_REMEDIATIONS_PER_HOUR`).
REMEDIATIONS_ROW = "remediations"


def _partition(workspace_id: str) -> str:
    # ARM IDs are case-insensitive; table_key makes any text a valid key, injectively. The
    # slashes at the ends go as before, so the rows of a configured (validated) ID keep their key.
    return "claims:" + table_key(workspace_id.lower().strip("/"))


def _scoring_row(retraining_job: str) -> str:
    # The job name comes from an event or Azure's answer: a key that cannot collide or break.
    return "scoring:" + table_key(retraining_job.lower())


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
    trigger: str = ""  # the delivery (event or timer run) that claimed it


@dataclass(frozen=True)
class PromotionClaim:
    """The promotion decided after one retraining job, and the step it reached."""

    workspace_id: str
    retraining_job: str
    state: str
    version: str
    deployment: str
    previous: str
    detail: str  # JSON: the metric values and the reason
    trigger: str
    claimed_at: datetime
    etag: str


_PROMOTION_FIELDS = {
    "state": "State",
    "version": "Version",
    "deployment": "Deployment",
    "previous": "Previous",
    "detail": "Detail",
    "trigger": "Trigger",
}


def _promotion_row(retraining_job: str) -> str:
    return "promotion:" + table_key(retraining_job.lower())


def _promotion_claim(workspace_id: str, found: Any) -> PromotionClaim:
    try:
        claimed_at = _parse_time(found.get("ClaimedAt"))
    except (ValueError, TypeError):
        claimed_at = datetime.min.replace(tzinfo=UTC)
    return PromotionClaim(
        workspace_id=workspace_id,
        retraining_job=str(found.get("RetrainingJob", "")),
        claimed_at=claimed_at,
        etag=str(found.metadata["etag"]),
        **{name: str(found.get(column, "")) for name, column in _PROMOTION_FIELDS.items()},
    )


def _parse_time(value: Any) -> datetime:
    # Always aware (the app writes UTC): a time edited by hand without an offset is UTC too,
    # rather than a naive value that cannot be compared with the clock.
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
        from azure.core.exceptions import (
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )
        from azure.data.tables import UpdateMode

        try:
            entity = bounded_entity(entity)
            if etag is None:
                self._table.create_entity(entity)
            else:
                self._table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            # Another instance wrote first (or the row read was removed since): not ours.
            return False
        return True

    # ------------------------------------------------------------------ retraining

    def retraining(self, workspace_id: str) -> RetrainingClaim | None:
        """The workspace's latest retraining claim, or None."""
        found = self._get(_partition(workspace_id), RETRAINING_ROW)
        if found is None:
            return None
        etag = str(found.metadata["etag"])
        try:
            return RetrainingClaim(
                workspace_id=workspace_id,
                job_name=str(found["JobName"]),
                claim_key=str(found["ClaimKey"]),
                trigger=str(found.get("Trigger", "")),
                claimed_at=_parse_time(found["ClaimedAt"]),
                state=str(found.get("State", ClaimState.CLAIMED)),
                etag=etag,
            )
        except (KeyError, ValueError, TypeError):
            # A row edited by hand: it holds nothing back and the next claim replaces it.
            return RetrainingClaim(
                workspace_id, "", "", "", datetime.min.replace(tzinfo=UTC), ClaimState.FAILED, etag
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

    def set_retraining_state(self, claim: RetrainingClaim, state: str) -> bool:
        """Record how the claimed submission went, only if the claim is still the one read
        (`claim.etag`): a newer claim of another instance is never overwritten."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        try:
            self._table.update_entity(
                {
                    "PartitionKey": _partition(claim.workspace_id),
                    "RowKey": RETRAINING_ROW,
                    "State": state,
                },
                mode=UpdateMode.MERGE,
                etag=claim.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    # --------------------------------------------------------------------- scoring

    def scoring(self, workspace_id: str, retraining_job: str) -> ScoringClaim | None:
        found = self._get(_partition(workspace_id), _scoring_row(retraining_job))
        if found is None:
            return None
        try:
            return ScoringClaim(
                workspace_id=workspace_id,
                retraining_job=retraining_job,
                request_id=str(found["RequestId"]),
                scoring_job=str(found.get("ScoringJob", "")),
                claimed_at=_parse_time(found["ClaimedAt"]),
                etag=str(found.metadata["etag"]),
                trigger=str(found.get("Trigger", "")),
            )
        except (KeyError, ValueError, TypeError):
            # Edited by hand: as if unclaimed; the tag lookup still finds a started job.
            return None

    def claim_scoring(
        self,
        workspace_id: str,
        retraining_job: str,
        *,
        request_id: str,
        now: datetime,
        trigger: str = "",
    ) -> bool:
        """Claim the scoring after `retraining_job`; False when it was claimed before."""
        return self._write(
            {
                "PartitionKey": _partition(workspace_id),
                "RowKey": _scoring_row(retraining_job),
                "RetrainingJob": retraining_job,
                "RequestId": request_id,
                "ScoringJob": "",
                "ClaimedAt": now.isoformat(),
                "Trigger": trigger,
            },
            None,
        )

    def release_scoring(self, claim: ScoringClaim) -> bool:
        """Give up a scoring claim that started nothing (its start was refused), only if it is
        still the one read: the next completion event or timer run may try again at once."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        try:
            self._table.delete_entity(
                _partition(claim.workspace_id),
                _scoring_row(claim.retraining_job),
                etag=claim.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    def scoring_started(self, workspace_id: str, retraining_job: str, scoring_job: str) -> None:
        """Record the scoring job that the claim led to."""
        from azure.data.tables import UpdateMode

        self._table.update_entity(
            {
                "PartitionKey": _partition(workspace_id),
                "RowKey": _scoring_row(retraining_job),
                "ScoringJob": bounded(scoring_job),
            },
            mode=UpdateMode.MERGE,
        )

    # ---------------------------------------------------------------- remediations

    def take_remediation_slot(
        self, workspace_id: str, *, limit: int, now: datetime
    ) -> datetime | None:
        """Take one of the workspace's `limit` remediation slots of the past hour
        (`MAX_REMEDIATIONS_PER_HOUR`): None when taken, else the instant from which one frees.

        The window is one row, replaced only if unchanged since read: of instances racing for
        the last slot, one wins and the others read again and find the window full. An instance
        that keeps losing (it never has, in practice) gives up for this run, as if full.
        """
        for _ in range(_SLOT_ATTEMPTS):
            found = self._get(_partition(workspace_id), REMEDIATIONS_ROW)
            window, free = hourly_slot(_slot_times(found), now, limit)
            if free is not None:
                return free
            entity = {
                "PartitionKey": _partition(workspace_id),
                "RowKey": REMEDIATIONS_ROW,
                "WorkspaceId": workspace_id,
                "Times": slot_times_value(window),
            }
            if self._write(entity, None if found is None else str(found.metadata["etag"])):
                return None
        return now

    # ------------------------------------------------------- promotion (issue 19)
    # One row per retraining job, `promotion:<job>`: the decision and how far its steps got.
    # Created once (the delivery that creates it promotes; another reads it), then moved on
    # step by step only if unchanged since read.

    def promotion(self, workspace_id: str, retraining_job: str) -> PromotionClaim | None:
        found = self._get(_partition(workspace_id), _promotion_row(retraining_job))
        return _promotion_claim(workspace_id, found) if found is not None else None

    def claim_promotion(
        self, workspace_id: str, retraining_job: str, *, now: datetime, **fields: str
    ) -> bool:
        """Create the promotion row (`state`, `version`, `deployment`, `previous`, `detail`,
        `trigger`); False when another delivery created it first."""
        entity = {
            "PartitionKey": _partition(workspace_id),
            "RowKey": _promotion_row(retraining_job),
            "RetrainingJob": retraining_job,
            "ClaimedAt": now.isoformat(),
            **{_PROMOTION_FIELDS[name]: value for name, value in fields.items()},
        }
        return self._write(entity, None)

    def advance_promotion(self, claim: PromotionClaim, state: str) -> PromotionClaim | None:
        """The claim moved to `state`, only if unchanged since read; None when another
        delivery moved it first."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        partition, row = _partition(claim.workspace_id), _promotion_row(claim.retraining_job)
        try:
            self._table.update_entity(
                {"PartitionKey": partition, "RowKey": row, "State": state},
                mode=UpdateMode.MERGE,
                etag=claim.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return self.promotion(claim.workspace_id, claim.retraining_job)

    def promotions(self, workspace_id: str) -> list[PromotionClaim]:
        """Every promotion row of the workspace (the deployments this app created)."""
        rows = self._table.query_entities(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            parameters={"pk": _partition(workspace_id), "low": "promotion:", "high": "promotion;"},
        )
        return [_promotion_claim(workspace_id, row) for row in rows]


# Reading, deciding and writing the window again, at most this many times per slot.
_SLOT_ATTEMPTS = 5


def slot_times_value(window: Sequence[datetime]) -> str:
    """The window as stored: whole seconds since the epoch, rounded up (a slot is held a little
    longer, never shorter), compact, so that the largest window (MAX_REMEDIATIONS_PER_HOUR) stays
    well within a property's bound and is never cut."""
    return json.dumps([math.ceil(t.timestamp()) for t in window], separators=(",", ":"))


def _slot_times(found: Any) -> list[datetime]:
    """The window's instants; none from a row edited into another shape (the next slot taken
    replaces it)."""
    try:
        values = json.loads(str(found["Times"])) if found is not None else []
        return [datetime.fromtimestamp(float(v), UTC) for v in values]
    except (KeyError, ValueError, TypeError, OverflowError, OSError, RecursionError):
        return []
