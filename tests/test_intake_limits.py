"""Intake limits end to end: whatever a sender puts in an event is bounded before it is stored,
keyed without collisions, and escaped in the logs; the handler never raises on it."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from shared.bounds import PROPERTY_LIMIT, utf16_units
from shared.ledger import EVENTS_PARTITION, partition_rows
from tests.conftest import App
from tests.retraining import (
    deliver_ml_event,
    our_jobs,
)
from tools import retraining_scene as rs
from tools import scene

pytestmark = pytest.mark.slow


def _connection_write(**changes: Any) -> dict[str, Any]:
    event = scene.resource_write_event(
        f"{scene.PROD}/privateEndpointConnections/pe-x", scene.CONNECTION_WRITE
    )
    return {**event, **changes}


def _stored_strings(row: dict[str, Any]) -> list[str]:
    return [value for value in row.values() if isinstance(value, str)]


def test_a_70000_character_subject_is_recorded_bounded(app: App) -> None:
    subject = "/subscriptions/" + "a" * 70_000
    event = _connection_write(subject=subject)
    event["data"] = {**event["data"], "resourceUri": subject}

    app.deliver(event)

    row = app.ledger.event(event["id"])
    assert row is not None
    assert row["Outcome"] == "invalid"
    assert all(utf16_units(value) <= PROPERTY_LIMIT for value in _stored_strings(row))
    assert row["Subject"].startswith("/subscriptions/aaaa")
    assert app.sim.requests == []


def test_a_70000_character_resource_uri_in_scope_is_reconciled_and_recorded_bounded(
    app: App,
) -> None:
    # A well-formed ARM ID under an in-scope workspace, with an absurd child name: it is
    # reconciled (the event only says where to look), and every row it leaves fits the table.
    uri = f"{scene.PROD}/privateEndpointConnections/{'c' * 70_000}"
    event = scene.resource_write_event(uri, scene.CONNECTION_WRITE)

    app.deliver(event)

    row = app.ledger.event(event["id"])
    assert row is not None
    assert row["Outcome"] == "reconciled"
    assert all(utf16_units(value) <= PROPERTY_LIMIT for value in _stored_strings(row))


def test_a_600_emoji_event_id_is_recorded_and_found_again(app: App) -> None:
    event_id = "🙂" * 600
    event = _connection_write(id=event_id)

    app.deliver(event)

    row = app.ledger.event(event_id)
    assert row is not None
    assert row["EventId"] == event_id
    assert row["Outcome"] == "reconciled"
    # The trigger of every action names the event, bounded.
    actions = list(app.ledger.actions(scene.PROD))
    assert actions
    assert all(a["Trigger"].startswith("event:🙂") for a in actions)


def test_event_ids_that_differ_only_in_key_unsafe_characters_keep_their_own_rows(
    app: App,
) -> None:
    ids = ["evt/1", "evt:1", "evt#1", "evt?1"]
    for event_id in ids:
        app.deliver({**_connection_write(id=event_id), "eventType": f"Test.{event_id}"})

    rows = {row["EventId"]: row for row in partition_rows(app.ledger.table, EVENTS_PARTITION)}
    assert set(rows) == set(ids)
    assert all(rows[event_id]["EventType"] == f"Test.{event_id}" for event_id in ids)


def test_a_lone_surrogate_in_an_event_id_is_recorded(app: App) -> None:
    event_id = "evt-\ud800"
    event = _connection_write(id=event_id, eventType="Test.Foreign")

    app.deliver(event)

    row = app.ledger.event(event_id)
    assert row is not None
    assert row["Outcome"] == "invalid"


def test_a_newline_in_an_event_id_cannot_forge_a_log_line(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "evt-1\nWARNING shared.intake: [event:evt-2] mlw-prod event reconciled: approved"
    event = _connection_write(id=forged, eventType="Test.Foreign")

    with caplog.at_level(logging.INFO):
        app.deliver(event)

    # The app's own lines (the Azure SDK's HTTP logging is multi-line by design).
    lines = [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("shared.", "handlers."))
    ]
    assert any("evt-1\\nWARNING" in line for line in lines)
    assert all("\n" not in line for line in lines)
    assert app.ledger.event(forged) is not None


# An ID of 16,000 segments (64,000 characters): azure-mgmt-core parses an ID in time that grows
# with the square of its segments (14 s for this one, each time it is parsed).
DEEP = f"{scene.PROD}/privateEndpointConnections/pe-x" + "/c/n" * 8_000


def _deep_event(function: str) -> dict[str, Any]:
    if function == "on_ml_event":
        return {**rs.monitor_breach_event(), "topic": DEEP}
    operation = (
        scene.WORKSPACE_WRITE if function == "on_workspace_event" else scene.CONNECTION_WRITE
    )
    return scene.resource_write_event(DEEP, operation)


@pytest.mark.parametrize(
    "function", ["on_private_endpoint_event", "on_workspace_event", "on_ml_event"]
)
def test_an_id_of_thousands_of_segments_is_invalid_at_once(rapp: App, function: str) -> None:
    # No resource ARM holds is nested that deep: refused before it is parsed (`arm.is_arm_id`'s
    # bound, tested in test_arm.py), not after minutes past the function's timeout.
    event = _deep_event(function)

    rapp.deliver(event, function)

    row = rapp.ledger.event(event["id"])
    assert row is not None
    assert row["Outcome"] == "invalid"
    assert rapp.non_token_requests() == []


# ------------------------------------------------------------------------- intake limits


@pytest.mark.parametrize(
    "event_id",
    ["x" * 70_000, "\U0001f600" * 600, "evt-1\n[event:forged] mlw-prod retraining submit"],
    ids=["70k", "600-emoji", "newline"],
)
def test_an_odd_drift_event_id_is_stored_bounded_and_logged_escaped(
    rapp: App, event_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    event = rs.monitor_breach_event(event_id=event_id)
    with caplog.at_level(logging.INFO):
        deliver_ml_event(rapp, event)

    assert len(our_jobs(rapp, "retraining")) == 1
    own = [r for r in caplog.records if r.name.startswith(("shared.", "handlers."))]
    assert own
    assert all("\n" not in record.getMessage() for record in own)
    # The same delivery again resumes its own claim: no second job.
    deliver_ml_event(rapp, event)
    assert len(our_jobs(rapp, "retraining")) == 1
