"""Every write reaches the ledger: its intent is recorded before the write, its outcome after.

If the ledger cannot take the outcome (it failed between the write and the record), the intent
row still says what was about to be written, and the error goes up so the trigger runs again:
the next run reads Azure's state and carries on from it (role wiring follows from a verified
connection being Approved, whoever approved it).
"""

from __future__ import annotations

from dataclasses import replace

from shared.ledger import ActionRecord, ActionSink

INTENT = "intent: about to write"
NOT_APPLIED = "not applied"


def record_intent(sink: ActionSink | None, record: ActionRecord) -> None:
    """Record `record` as an intent (never announced); a ledger failure is raised, before any
    write happens."""
    if sink is not None:
        sink.record_actions([replace(record, outcome=INTENT, notify=False)])
