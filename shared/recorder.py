"""Recording outcomes: in the ledger first (a failed publish never loses a decision, and is itself
recorded), then, when configured, as Event Grid events."""

from __future__ import annotations

from collections.abc import Sequence

from shared.adapters.outcomes import OutcomePublisher
from shared.ledger import ActionRecord, Ledger


class Recorder:
    def __init__(self, ledger: Ledger, publisher: OutcomePublisher | None) -> None:
        self._ledger = ledger
        self._publisher = publisher

    def first_time(self, key: str) -> bool:
        return self._ledger.first_time(key)

    def record_actions(self, records: Sequence[ActionRecord]) -> None:
        if not records:
            return
        self._ledger.record_actions(records)
        notify = [record for record in records if record.notify]
        if self._publisher is None or not notify:
            return
        error = self._publisher.publish(notify)
        if error is not None:
            first = notify[0]
            reason = (
                f"{len(notify)} outcome event(s) could not be published; "
                "the decisions are in this ledger"
            )
            failure = ActionRecord(first.target_id, "outcome-event", "publish",
                                   self._publisher.endpoint, reason, first.mode,
                                   f"failed: {error}", first.trigger, notify=False)  # fmt: skip
            self._ledger.record_actions([failure])
