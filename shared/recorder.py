"""Recording outcomes: always in the ledger first, then, when configured, as Event Grid events.

The ledger write comes first so that a failed publish can never lose a decision; the failure is
itself recorded in the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.adapters.outcomes import OutcomePublisher
from shared.ledger import ActionRecord, Ledger


class Recorder:
    """An `ActionSink` that writes the ledger and publishes what people should hear about."""

    def __init__(self, ledger: Ledger, publisher: OutcomePublisher | None) -> None:
        self._ledger = ledger
        self._publisher = publisher

    def first_time(self, key: str) -> bool:
        """Whether `key` was never reported before (the ledger remembers it)."""
        return self._ledger.first_time(key)

    def record_actions(self, records: Sequence[ActionRecord]) -> None:
        if not records:
            return
        self._ledger.record_actions(records)
        if self._publisher is None:
            return
        notify = [record for record in records if record.notify]
        if not notify:
            return
        error = self._publisher.publish(notify)
        if error is not None:
            first = notify[0]
            self._ledger.record_actions(
                [
                    ActionRecord(
                        target_id=first.target_id,
                        kind="outcome-event",
                        verdict="publish",
                        subject=self._publisher.endpoint,
                        reason=f"{len(notify)} outcome event(s) could not be published; "
                        "the decisions are in this ledger",
                        mode=first.mode,
                        outcome=f"failed: {error}",
                        trigger=first.trigger,
                        notify=False,
                    )
                ]
            )
