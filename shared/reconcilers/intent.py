"""Every write reaches the ledger: its intent before, its outcome after. Should the outcome not
reach it, the intent row says what was about to be written, and the next run reads Azure's state."""

from __future__ import annotations

from dataclasses import replace

from shared.ledger import ActionRecord, ActionSink

INTENT = "intent: about to write"
NOT_APPLIED = "not applied"


def record_intent(sink: ActionSink | None, record: ActionRecord) -> None:
    """Record `record` as an intent (never announced); a ledger failure raises before the write."""
    if sink is not None:
        sink.record_actions([replace(record, outcome=INTENT, notify=False)])
