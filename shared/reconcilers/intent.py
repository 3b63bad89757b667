"""Every write reaches the ledger: its intent before, its outcome after. Should the outcome not
reach it, the intent row says what was about to be written, and the next run reads Azure's state."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from azure.core.exceptions import AzureError

from shared.adapters.errors import describe
from shared.arm import ArmId
from shared.ledger import ActionRecord, ActionSink
from shared.logs import decision_log
from shared.outcome import Outcome, Status
from shared.reconcilers.transient import TransientAzureError, for_workspace

INTENT = "intent: about to write"


def record_intent(sink: ActionSink | None, record: ActionRecord) -> None:
    """Record `record` as an intent (never announced); a ledger failure raises before the write."""
    if sink is not None:
        sink.record_actions([replace(record, outcome=INTENT, notify=False)])


@dataclass(frozen=True)
class Trail:
    """What one request outside a workspace run (retraining, promotion, scoring outcomes) decides:
    each decision one ledger row and one decision line, each write's intent before it."""

    sink: ActionSink
    log: logging.Logger
    mode: str
    workspace_id: ArmId
    trigger: str

    def record(
        self,
        kind: str,
        verdict: str,
        subject: str,
        reason: str,
        outcome: Outcome | str,
        *,
        evidence: str = "",
        notify: bool = True,
        level: int | None = None,
    ) -> None:
        # A text outcome (promotion's and scoring's, not yet typed) is read by its first word.
        failed = outcome.failed if isinstance(outcome, Outcome) else outcome.startswith("failed")
        row = (self.workspace_id, kind, verdict, subject, reason, self.mode, outcome, self.trigger)
        self.sink.record_actions([ActionRecord(*row, evidence, notify)])
        decision_log(
            self.log,
            reason,
            trigger=self.trigger,
            workspace_id=self.workspace_id,
            kind=kind,
            verdict=verdict,
            outcome=str(outcome),
            subject_id=subject,
            level=level or (logging.WARNING if failed else logging.INFO),
        )

    def intent(self, kind: str, verdict: str, subject: str) -> None:
        row = (self.workspace_id, kind, verdict, subject, "about to write", self.mode)
        record_intent(self.sink, ActionRecord(*row, INTENT, self.trigger))

    def retry(self, kind: str, subject: str, error: AzureError) -> TransientAzureError:
        """A transient failure, recorded (not announced) and raised: the trigger runs again."""
        reason = "Azure ML stayed unavailable through the retries"
        retry = Outcome(Status.RETRY, describe(error))
        self.record(kind, "retry", subject, reason, retry, notify=False)
        return for_workspace(self.workspace_id, error)
