"""What became of one decision, as a type: the ledger's text, the decision line's level and the
outcome event's state all come from it, so nothing parses an outcome's words back."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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


def noted(text: str) -> Outcome:
    return Outcome(Status.NOTED, text)
