"""What became of one decision, as a type: the ledger's text, the decision line's level and the
outcome event's state all come from it, so nothing parses an outcome's words back. And what one
request came to, in a word."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum


class Status(Enum):
    """How its text reads (`{}`: the detail) and its event state (None: an observation)."""

    PLANNED = ("planned (dry-run)", "Planned")
    APPLIED = ("applied: {}", "Applied")
    # Azure's answer did not show the write (another resource, another status).
    NOT_APPLIED = ("not applied: {}", "Failed")
    FAILED = ("failed: {}", "Failed")
    # Transient: the trigger runs again.
    RETRY = ("failed (will retry): {}", "Failed")
    SKIPPED = ("not attempted: {}", "Skipped")
    REFUSED = ("refused: {}", "Skipped")
    DEFERRED = ("deferred: {}", None)
    EXEMPT = ("exempt until {}", None)
    NOTED = ("{}", None)
    # A write about to be made (its row before the call; never announced).
    INTENT = ("intent: about to write", None)

    def __init__(self, text: str, state: str | None) -> None:
        self.text = text
        self.state = state


@dataclass(frozen=True)
class Outcome:
    status: Status
    detail: str = ""
    # What deferred it: a guard, or the run's stop (`policy.budget.Stop`).
    by: str = ""

    def __str__(self) -> str:
        return self.status.text.format(self.detail)

    @property
    def state(self) -> str | None:
        return self.status.state

    @property
    def failed(self) -> bool:
        return self.status in (Status.FAILED, Status.RETRY, Status.NOT_APPLIED)

    @property
    def written(self) -> bool:
        return self.status in (Status.APPLIED, Status.PLANNED)

    @property
    def attempted(self) -> bool:
        return self.written or self.failed


PLANNED = Outcome(Status.PLANNED)
INTENT = Outcome(Status.INTENT)
NO_CHANGE = Outcome(Status.NOTED, "no change")
RECORDED = Outcome(Status.NOTED, "recorded")
NOT_ATTEMPTED = Outcome(Status.SKIPPED, "an earlier write failed transiently")
# What `by` says of a resource Azure no longer has (deleted since it was read: its 404).
GONE = "gone"


def noted(text: str) -> Outcome:
    return Outcome(Status.NOTED, text)


def gone(detail: str) -> Outcome:
    """Nothing left to write or read: said once, never a failure, a retry or an announcement."""
    return Outcome(Status.NOTED, f"no longer exists: {detail}", GONE)


class RequestOutcome(StrEnum):
    """A request's word: its event's ledger row and the handler's log line."""

    DEBOUNCED = "debounced"
    DRY_RUN = "dry-run"
    FAILED = "failed"
    IGNORED = "ignored"
    INVALID = "invalid"
    GATE_CLOSED = "gate-closed"
    ALREADY_SUBMITTED = "already-submitted"
    RETRAINING_SUBMITTED = "retraining-submitted"
    RETRAINING_FAILED = "retraining-failed"
    RETRAINING_CANCELED = "retraining-canceled"
    COMPLETED = "completed"
    SCORING_STARTED = "scoring-started"
    SCORING_IN_PROGRESS = "scoring-in-progress"
    SCORING_ALREADY_STARTED = "scoring-already-started"
    # How a scoring job ended (`scoring_outcomes`).
    SCORING_COMPLETED = "scoring-completed"
    SCORING_FAILED = "scoring-failed"
    SCORING_CANCELED = "scoring-canceled"
    ALREADY_RECORDED = "already-recorded"
    # A promotion that holds the scoring back; `not-promoted:`: how its claim ended (as another
    # delivery, or this one, read it).
    PROMOTED = "promoted"
    NOT_PROMOTED = "not-promoted"
    PROMOTION_FAILED = "not-promoted:failed"
    PROMOTION_SKIPPED = "not-promoted:skipped"
    PROMOTION_IN_PROGRESS = "promotion-in-progress"
