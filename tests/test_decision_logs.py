"""Every log line about an event or a decision can be tied to its trigger without reading order:
the text and the structured fields (custom dimensions) carry trigger, workspace, kind, verdict."""

from __future__ import annotations

import logging

import pytest

from shared.logs import DECISION_FIELDS
from tests.conftest import App
from tools import host, scene

pytestmark = pytest.mark.slow


def _app_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("shared.", "handlers."))]


def test_every_line_of_an_event_names_the_event_workspace_kind_and_verdict(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    payload = scene.connection_events(app.scene)[0]

    with caplog.at_level(logging.INFO):
        app.deliver(payload)

    records = _app_records(caplog)
    kinds = {getattr(r, "kind", None) for r in records}
    assert {"event", "private-endpoint-connection", "role-assignment"} <= kinds
    for record in records:
        fields = {name: getattr(record, name, None) for name in DECISION_FIELDS}
        assert fields["trigger"] == f"event:{payload['id']}", record.getMessage()
        assert fields["event_id"] == payload["id"]
        assert fields["workspace_id"] == scene.PROD
        assert fields["kind"]
        assert fields["verdict"]
        assert record.getMessage().startswith(f"[event:{payload['id']}] mlw-prod ")


def test_sweep_lines_name_the_sweep_run(app: App, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        host.fire_timer("reconcile_all")

    records = _app_records(caplog)
    triggers = {getattr(r, "trigger", None) for r in records}
    assert len(triggers) == 1
    (trigger,) = triggers
    assert str(trigger).startswith("sweep:")
    workspaces = {getattr(r, "workspace_id", None) for r in records if r.name.startswith("shared.")}
    assert workspaces == {scene.PROD, scene.DEV}
    assert all(getattr(r, "event_id", None) == "" for r in records)


def test_unreadable_evidence_and_a_failed_publish_are_logged_with_their_event(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    app.sim.inject("synapse.mpe.list", status=403, times=50)
    app.sim.inject("eventgrid.publish", status=403, times=50)
    payload = scene.connection_events(app.scene)[0]

    with caplog.at_level(logging.INFO):
        app.deliver(payload)

    by_kind = {getattr(r, "kind", None): r for r in _app_records(caplog)}
    evidence = by_kind["synapse-evidence"]
    assert getattr(evidence, "trigger") == f"event:{payload['id']}"  # noqa: B009
    assert getattr(evidence, "subject_id") == scene.ANALYTICS  # noqa: B009
    publish = by_kind["outcome-event"]
    assert getattr(publish, "trigger") == f"event:{payload['id']}"  # noqa: B009
    assert getattr(publish, "workspace_id") == scene.PROD  # noqa: B009
    assert str(getattr(publish, "outcome")).startswith("failed: HTTP 403")  # noqa: B009
