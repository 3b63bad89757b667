"""The transport, answer and intake rules of the approval code, held by retraining and scoring too.

End to end over the simulator with the real SDK clients (azure-core pipelines, azure-ai-ml,
azure-monitor-query): requests and tokens only to the configured origins, bounded reads, a
malformed 200 recorded and never raised, writes acted on only when Azure's answer shows the job
asked for, outside text bounded and escaped, outcome types that say planned/applied/failed, and
decision lines App Insights can filter on.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ml_events import APP_TAG
from shared.reconcilers.intent import INTENT
from shared.runtime import runtime
from tests.conftest import App
from tools import host, scene
from tools import retraining_scene as rs

ROOT = Path(__file__).resolve().parent.parent
HTML = b"<html><body>Service Unavailable</body></html>"
# A 200 of the wrong shape: a list, a string, an object-valued `value`, an HTML page.
MALFORMED: list[dict[str, Any]] = [
    {"body": [{"name": "x"}]},
    {"body": "ok"},
    {"body": {"value": {"name": "x"}}},
    {"raw": HTML, "headers": {"Content-Type": "text/html"}},
]
MALFORMED_IDS = ["list", "string", "object-value", "html"]


@pytest.fixture
def rapp(app: App) -> App:
    rs.seed_retraining(app.sim)
    app.set_settings(**rs.retraining_settings())
    app.sim.reset_counts()
    return app


def _deliver(app: App, event: dict[str, Any]) -> None:
    app.deliver(event, "on_ml_event")


def _jobs(app: App, purpose: str, workspace: str = scene.PROD) -> list[dict[str, Any]]:
    return [
        job
        for job in app.sim.ml.jobs(workspace)
        if job["properties"]["tags"].get(APP_TAG) == purpose
    ]


def _event_outcome(event_id: str) -> str:
    row = runtime().ledger.event(event_id)
    assert row is not None, f"event {event_id} was not recorded"
    return str(row["Outcome"])


def _actions(kind: str, workspace: str = scene.PROD) -> list[dict[str, Any]]:
    return [
        a
        for a in runtime().ledger.actions(workspace)
        if a["Kind"] == kind and a["Outcome"] != INTENT
    ]


def _submitted_job(app: App) -> dict[str, Any]:
    _deliver(app, rs.monitor_breach_event())
    [job] = _jobs(app, "retraining")
    return job


def _completed_event(app: App) -> dict[str, Any]:
    """A retraining job of the app, completed in Azure, and its RunCompleted event."""
    job = _submitted_job(app)
    app.sim.ml.set_job_status(scene.PROD, job["name"], "Completed")
    app.sim.reset_counts()
    return rs.job_finished_event(job["name"], tags=job["properties"]["tags"])


def _foreign_redirect(app: App) -> dict[str, Any]:
    return {
        "status": 307,
        "headers": {"Location": app.sim.foreign_url + scene.PROD + "/jobs?api-version=2024-04-01"},
        "times": 5,
    }


# ------------------------------------------------ requests and tokens only to configured origins


def test_a_job_list_whose_next_link_leaves_arm_is_refused_and_submits_nothing(rapp: App) -> None:
    rapp.sim.inject_reply(
        "ml.job.list",
        body={"value": [], "nextLink": rapp.sim.foreign_url + scene.PROD + "/jobs?page=2"},
    )
    event = rs.monitor_breach_event()

    _deliver(rapp, event)

    assert rapp.sim.requests_to("localhost") == []
    assert rapp.sim.ml.job_puts == []
    assert _event_outcome(event["id"]) == "failed"
    [record] = _actions("retraining")
    assert "not a configured endpoint" in record["Outcome"]


@pytest.mark.parametrize("route", ["ml.job.list", "ml.job.get"])
def test_a_redirect_of_a_job_read_to_another_host_is_refused(rapp: App, route: str) -> None:
    rapp.sim.inject_reply(route, **_foreign_redirect(rapp))
    event = rs.monitor_breach_event()

    _deliver(rapp, event)

    assert rapp.sim.requests_to("localhost") == []
    assert rapp.sim.ml.job_puts == []
    assert _event_outcome(event["id"]) == "failed"


@pytest.mark.parametrize("route", ["ml.batch_endpoint.get", "ml.scoring.invoke"])
def test_a_redirect_from_the_batch_endpoint_or_scoring_uri_gets_no_token_elsewhere(
    rapp: App, route: str
) -> None:
    event = _completed_event(rapp)
    rapp.sim.inject_reply(route, **_foreign_redirect(rapp))

    _deliver(rapp, event)

    assert rapp.sim.requests_to("localhost") == []
    assert _jobs(rapp, "scoring") == []
    [refused] = _actions("batch-scoring")
    assert refused["Outcome"].startswith("failed:")
    assert "not a configured endpoint" in refused["Outcome"]


def test_a_redirect_of_the_drift_query_is_refused_and_the_gate_stays_shut(app: App) -> None:
    rs.seed_retraining(app.sim)
    app.set_settings(**_gated_settings())
    app.sim.logs.set_result(rs.DRIFT_WORKSPACE, [[0.9]])
    app.sim.inject_reply(
        "logs.query",
        status=307,
        headers={"Location": app.sim.foreign_url + "/v1/workspaces/x/query"},
        times=5,
    )

    host.fire_timer("scheduled_retrain")

    assert app.sim.requests_to("localhost") == []
    assert _jobs(app, "retraining") == []
    [gate] = _actions("drift-gate")
    assert gate["Verdict"] == "hold"
    assert "not a configured endpoint" in gate["Reason"]


def test_http_scoring_never_follows_a_redirect_of_the_endpoint_read(app: App) -> None:
    from tests.test_scoring_http_e2e import _json, post
    from tools import scoring_scene as ss

    ss.seed(app.sim)
    app.set_settings(**ss.settings_env())
    app.sim.inject_reply("ml.batch_endpoint.get", **_foreign_redirect(app))

    response = post()

    assert response.status_code == 502
    assert "not a configured endpoint" in _json(response)["detail"]
    assert app.sim.requests_to("localhost") == []
    assert app.sim.ml.scoring_posts == []


# --------------------------------------------------------------------------- bounded reads


def test_a_job_list_longer_than_its_bound_is_an_error_not_a_partial_list(rapp: App) -> None:
    from shared.adapters.retraining_jobs import MAX_PAGES

    base = {
        "type": "Microsoft.MachineLearningServices/workspaces/jobs",
        "properties": {"jobType": "Pipeline", "status": "Completed", "tags": {APP_TAG: "x"}},
        "systemData": {"createdAt": "2026-11-20T00:00:00Z"},
    }
    for index in range(MAX_PAGES + 1):
        rapp.sim.ml.add_job(
            scene.PROD, {**base, "id": f"{scene.PROD}/jobs/r{index}", "name": f"r{index}"}
        )
    rapp.sim.page_size = 1
    try:
        event = rs.monitor_breach_event()
        _deliver(rapp, event)
    finally:
        rapp.sim.page_size = 50

    # A job on a page past the bound could be active: nothing is submitted on a partial list.
    assert [r.route for r in rapp.non_token_requests()].count("ml.job.list") == MAX_PAGES
    assert rapp.sim.ml.job_puts == []
    assert _event_outcome(event["id"]) == "failed"
    [record] = _actions("retraining")
    assert f"more than {MAX_PAGES} pages" in record["Outcome"]


def test_a_repeated_next_link_in_the_job_list_stops_the_read(rapp: App) -> None:
    loop = f"{rapp.sim.url}{scene.PROD}/jobs?api-version=2024-04-01&$skipToken=loop"
    rapp.sim.inject_reply("ml.job.list", body={"value": [], "nextLink": loop}, times=3)
    event = rs.monitor_breach_event()

    _deliver(rapp, event)

    assert [r.route for r in rapp.non_token_requests()].count("ml.job.list") == 2
    assert rapp.sim.ml.job_puts == []
    [record] = _actions("retraining")
    assert "repeats an earlier page" in record["Outcome"]


def test_a_long_retry_after_from_the_job_list_is_capped(rapp: App) -> None:
    from shared.adapters.transport import RETRY_AFTER_CAP_SECONDS

    rapp.sim.inject_reply("ml.job.list", status=429, headers={"Retry-After": "60"})
    started = time.monotonic()

    _deliver(rapp, rs.monitor_breach_event())

    assert time.monotonic() - started < RETRY_AFTER_CAP_SECONDS + 10
    assert len(_jobs(rapp, "retraining")) == 1


def test_azure_ai_ml_paging_a_repeated_next_link_stops_and_submits_nothing(rapp: App) -> None:
    # azure-ai-ml reads `name@latest` as a list and follows its nextLinks itself: a link back
    # to the page just read made it loop (60 requests, until the simulator stopped answering
    # so). The MLClient's paging guard stops it at the repeat.
    loop = (
        f"{rapp.sim.url}{scene.PROD}/components/{rs.COMPONENT}/versions"
        "?api-version=2024-01-01-preview&$orderBy=createdtime desc&$top=1"
    )
    rapp.sim.inject_reply(
        "ml.component.version.list", body={"value": [], "nextLink": loop}, times=60
    )
    event = rs.monitor_breach_event()

    _deliver(rapp, event)

    lists = [r.route for r in rapp.non_token_requests()].count("ml.component.version.list")
    assert lists == 1
    assert rapp.sim.ml.job_puts == []
    assert _event_outcome(event["id"]) == "failed"
    [record] = [a for a in _actions("retraining") if a["Verdict"] == "submit"]
    assert "repeats an earlier page" in record["Outcome"]


def test_azure_ai_ml_paging_is_bounded_in_pages(rapp: App) -> None:
    from shared.adapters.transport import MAX_PAGES

    pages = [
        {
            "value": [],
            "nextLink": f"{rapp.sim.url}{scene.PROD}/components/{rs.COMPONENT}/versions"
            f"?api-version=2024-01-01-preview&$skipToken={index}",
        }
        for index in range(MAX_PAGES + 5)
    ]
    for page in pages:
        rapp.sim.inject_reply("ml.component.version.list", body=page)
    event = rs.monitor_breach_event()

    _deliver(rapp, event)

    lists = [r.route for r in rapp.non_token_requests()].count("ml.component.version.list")
    assert lists == MAX_PAGES
    assert rapp.sim.ml.job_puts == []
    assert _event_outcome(event["id"]) == "failed"


# ------------------------------------------------------------- a malformed 200 is recorded


@pytest.mark.parametrize("reply", MALFORMED, ids=MALFORMED_IDS)
@pytest.mark.parametrize("route", ["ml.job.list", "ml.job.get"])
def test_a_malformed_job_read_is_recorded_and_submits_nothing(
    rapp: App, route: str, reply: dict[str, Any]
) -> None:
    rapp.sim.inject_reply(route, **reply)
    event = rs.monitor_breach_event()

    _deliver(rapp, event)  # recorded, never raised

    assert rapp.sim.ml.job_puts == []
    assert _event_outcome(event["id"]) == "failed"
    [record] = _actions("retraining")
    assert record["Outcome"].startswith("failed:")


@pytest.mark.parametrize("reply", MALFORMED, ids=MALFORMED_IDS)
@pytest.mark.parametrize("route", ["ml.component.version.list", "ml.job.put"])
def test_a_malformed_answer_to_azure_ai_ml_is_recorded_not_raised(
    rapp: App, route: str, reply: dict[str, Any]
) -> None:
    rapp.sim.inject_reply(route, **reply)
    event = rs.monitor_breach_event()

    _deliver(rapp, event)  # recorded, never raised

    assert _event_outcome(event["id"]) == "failed"
    [record] = [a for a in _actions("retraining") if a["Verdict"] == "submit"]
    assert record["Outcome"].startswith("failed:")
    published = [e["eventType"] for e in rapp.sim.eventgrid.published_events]
    assert "SynapseAmlAutomation.Retraining.Submit.Applied" not in published


# The read that gets the malformed answer, and the kind of decision that records it.
_AFTER_RETRAIN = {
    "ml.job.get": "retraining",
    "ml.batch_endpoint.get": "batch-scoring",
    "ml.scoring.invoke": "batch-scoring",
}


@pytest.mark.parametrize("reply", MALFORMED, ids=MALFORMED_IDS)
@pytest.mark.parametrize("route", sorted(_AFTER_RETRAIN))
def test_a_malformed_answer_after_a_retrain_is_recorded_not_raised(
    rapp: App, route: str, reply: dict[str, Any]
) -> None:
    event = _completed_event(rapp)
    rapp.sim.inject_reply(route, **reply)

    _deliver(rapp, event)  # recorded, never raised

    assert _event_outcome(event["id"]) == "failed"
    [failed] = [a for a in _actions(_AFTER_RETRAIN[route]) if a["Outcome"].startswith("failed:")]
    assert "Malformed" in failed["Outcome"] or "UnexpectedResponse" in failed["Outcome"]
    if route != "ml.scoring.invoke":
        assert rapp.sim.ml.scoring_posts == []


def _gated_settings(**overrides: str) -> dict[str, str]:
    return rs.retraining_settings(
        DRIFT_LOG_ANALYTICS_WORKSPACE_ID=rs.DRIFT_WORKSPACE,
        DRIFT_QUERY="AmlModelMonitorResults | summarize max(DriftScore)",
        DRIFT_THRESHOLD="0.3",
        **overrides,
    )


@pytest.mark.parametrize("reply", MALFORMED, ids=MALFORMED_IDS)
def test_a_malformed_drift_query_answer_is_recorded_and_the_timer_goes_on(
    app: App, reply: dict[str, Any]
) -> None:
    rs.seed_retraining(app.sim)
    app.sim.ml.add_compute(scene.DEV, "cpu-cluster")
    app.set_settings(**_gated_settings(RETRAIN_WORKSPACE_IDS=f"{scene.PROD},{scene.DEV}"))
    app.sim.logs.set_result(rs.DRIFT_WORKSPACE, [[0.9]])
    app.sim.inject_reply("logs.query", **reply)  # the first workspace's reading only

    host.fire_timer("scheduled_retrain")  # does not raise

    [held] = _actions("drift-gate", scene.PROD)
    assert held["Verdict"] == "hold"
    assert "drift query failed" in held["Reason"]
    assert _jobs(app, "retraining", scene.PROD) == []
    # The next workspace had its turn: its reading opened the gate.
    assert len(_jobs(app, "retraining", scene.DEV)) == 1


# ------------------------------------------- acting on Azure's answer, targets from settings


def test_a_job_read_answering_another_job_starts_nothing(rapp: App) -> None:
    event = _completed_event(rapp)

    def other_job(body: dict[str, Any]) -> None:
        body["name"] = "someone-elses-job"
        body["id"] = f"{scene.DEV}/jobs/someone-elses-job"

    rapp.sim.rewrite_reply("ml.job.get", other_job)

    _deliver(rapp, event)

    assert rapp.sim.ml.scoring_posts == []
    assert _event_outcome(event["id"]) == "failed"
    [record] = [a for a in _actions("retraining") if a["Verdict"] == "read"]
    assert "someone-elses-job" in record["Outcome"]


def test_a_submission_answered_with_a_job_of_another_workspace_is_not_applied(
    rapp: App,
) -> None:
    def elsewhere(body: dict[str, Any]) -> None:
        body["id"] = body["id"].replace(scene.PROD, scene.DEV)

    rapp.sim.rewrite_reply("ml.job.put", elsewhere)
    event = rs.monitor_breach_event()

    _deliver(rapp, event)

    assert _event_outcome(event["id"]) == "failed"
    [record] = [a for a in _actions("retraining") if a["Verdict"] == "submit"]
    assert record["Outcome"].startswith("failed: not applied")
    assert scene.DEV in record["Outcome"]
    published = [e["eventType"] for e in rapp.sim.eventgrid.published_events]
    assert "SynapseAmlAutomation.Retraining.Submit.Applied" not in published


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda body: body.update(id=body["id"].replace(scene.PROD, scene.DEV)),
        lambda body: body.update(name="../../other"),
        lambda body: body.update(id=body["id"].replace("churn-batch", "other-endpoint")),
    ],
    ids=["other-workspace", "not-a-name", "other-endpoint"],
)
def test_a_scoring_answer_naming_another_job_is_not_applied(rapp: App, rewrite: Any) -> None:
    event = _completed_event(rapp)
    rapp.sim.rewrite_reply("ml.scoring.invoke", rewrite)

    _deliver(rapp, event)

    [record] = _actions("batch-scoring")
    assert record["Outcome"].startswith("failed: not applied")
    from shared.claims import retraining_scoring

    key = retraining_scoring(scene.PROD, event["data"]["runId"], "")
    assert runtime().claims.scored(key) is None


def test_a_batch_endpoint_read_answering_another_endpoint_gets_no_post(rapp: App) -> None:
    event = _completed_event(rapp)
    rapp.sim.rewrite_reply(
        "ml.batch_endpoint.get",
        lambda body: body.update(id=body["id"].replace(scene.PROD, scene.DEV)),
    )

    _deliver(rapp, event)

    assert rapp.sim.ml.scoring_posts == []
    [record] = _actions("batch-scoring")
    assert record["Outcome"].startswith("failed: not applied")


def test_http_scoring_answered_with_another_workspaces_job_is_502_and_not_recorded(
    app: App,
) -> None:
    from shared.runtime import runtime
    from tests.test_scoring_http_e2e import _json, post
    from tools import scoring_scene as ss

    ss.seed(app.sim)
    app.set_settings(**ss.settings_env())
    app.sim.rewrite_reply(
        "ml.scoring.invoke",
        lambda body: body.update(id=body["id"].replace(scene.PROD, scene.DEV)),
    )

    response = post()

    assert response.status_code == 502
    assert "another" in _json(response)["detail"] or scene.DEV in _json(response)["detail"]
    assert runtime().scoring.records.jobs() == []


def test_writes_are_preceded_by_an_intent_row(rapp: App) -> None:
    event = _completed_event(rapp)
    _deliver(rapp, event)

    rows = list(runtime().ledger.actions(scene.PROD))
    intents = [(r["Kind"], r["Verdict"]) for r in rows if r["Outcome"] == INTENT]
    assert ("retraining", "submit") in intents
    assert ("batch-scoring", "start") in intents


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
        _deliver(rapp, event)

    assert len(_jobs(rapp, "retraining")) == 1
    own = [r for r in caplog.records if r.name.startswith(("shared.", "handlers."))]
    assert own
    assert all("\n" not in record.getMessage() for record in own)
    # The same delivery again resumes its own claim: no second job.
    _deliver(rapp, event)
    assert len(_jobs(rapp, "retraining")) == 1


def test_scoring_claims_of_lookalike_job_names_never_share_a_row(rapp: App) -> None:
    from datetime import UTC, datetime

    from shared.claims import Owned, retraining_scoring

    claims = runtime().claims
    now = datetime.now(UTC)
    names = ["job/1", "job:1", "job#1", "job~3A1", "j" * 2000]
    for name in names:
        claim = claims.claim_scoring(retraining_scoring(scene.PROD, name, "t"), now=now)
        assert isinstance(claim, Owned)
        claims.settle_scoring(claim, name[:50], scene.PROD, "")
    for name in names:
        assert claims.scored(retraining_scoring(scene.PROD, name, "t")) == name[:50]


# ------------------------------------------------------------------------- outcome types


def test_dry_run_outcome_types_are_planned_and_never_claim_an_action(rapp: App) -> None:
    rapp.set_settings(**rs.retraining_settings(AUTOMATION_MODE="dry-run"))
    rs.claim_job("retrain-by-hand")
    rapp.sim.ml.add_job(
        scene.PROD,
        {
            "id": f"{scene.PROD}/jobs/retrain-by-hand",
            "name": "retrain-by-hand",
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {
                "jobType": "Pipeline",
                "status": "Completed",
                "tags": {APP_TAG: "retraining"},
            },
            "systemData": {"createdAt": "2026-11-25T00:00:00Z"},
        },
        by_app=True,
    )
    _deliver(rapp, rs.monitor_breach_event())
    _deliver(rapp, rs.job_finished_event("retrain-by-hand", tags={APP_TAG: "retraining"}))

    published = sorted(e["eventType"] for e in rapp.sim.eventgrid.published_events)
    assert published == [
        "SynapseAmlAutomation.BatchScoring.Start.Planned",
        "SynapseAmlAutomation.Retraining.Submit.Planned",
    ]


def test_applied_and_failed_scoring_say_so_in_their_type(rapp: App) -> None:
    event = _completed_event(rapp)
    _deliver(rapp, event)
    assert "SynapseAmlAutomation.BatchScoring.Start.Applied" in [
        e["eventType"] for e in rapp.sim.eventgrid.published_events
    ]

    rapp.set_settings(**rs.retraining_settings(AML_INFERENCE_DOMAIN="inference.ml.azure.com"))
    again = _completed_event_for_new_job(rapp)
    _deliver(rapp, again)
    assert "SynapseAmlAutomation.BatchScoring.Start.Failed" in [
        e["eventType"] for e in rapp.sim.eventgrid.published_events
    ]


def _completed_event_for_new_job(app: App) -> dict[str, Any]:
    name = f"retrain-{uuid.uuid4().hex[:8]}"
    tags = {APP_TAG: "retraining"}
    rs.claim_job(name)  # a job of the app's claim
    app.sim.ml.add_job(
        scene.PROD,
        {
            "id": f"{scene.PROD}/jobs/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {"jobType": "Pipeline", "status": "Completed", "tags": tags},
            "systemData": {"createdAt": "2026-11-26T00:00:00Z"},
        },
        by_app=True,
    )
    return rs.job_finished_event(name, tags=tags)


# ------------------------------------------------------------------------- decision logs

_DECISION_LOGGERS = (
    "shared.reconcilers.retraining",
    "shared.intake",
    "handlers.retraining",
    "handlers.scoring",
    "shared.scoring.service",
)


def _decision_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name in _DECISION_LOGGERS]


def test_every_retraining_line_is_a_decision_line(
    rapp: App, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        event = _completed_event(rapp)
        _deliver(rapp, event)
        host.fire_timer("scheduled_retrain")

    lines = _decision_records(caplog)
    assert {r.name for r in lines} >= {
        "shared.reconcilers.retraining",
        "shared.intake",  # the event's own line, as every Event Grid function's intake logs it
        "handlers.retraining",
    }
    for record in lines:
        fields = record.__dict__
        assert fields["trigger"], record.getMessage()
        assert fields["kind"], record.getMessage()
        assert fields["verdict"], record.getMessage()
        assert fields["workspace_id"] == scene.PROD, record.getMessage()
    started = [r for r in lines if r.__dict__["kind"] == "batch-scoring"]
    assert [r.__dict__["event_id"] for r in started] == [event["id"]]


def test_http_scoring_lines_carry_the_logic_apps_tracking_ids(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    from shared.telemetry import DECISION_LOG_FIELDS
    from tests.test_scoring_http_e2e import _headers, post
    from tools import scoring_scene as ss

    ss.seed(app.sim)
    app.set_settings(**ss.settings_env())
    tracking = {"x-ms-workflow-run-id": "0858432", "x-ms-client-tracking-id": "ord-42"}
    with caplog.at_level(logging.INFO):
        assert post(headers=_headers(**tracking)).status_code == 202
        assert post(headers=_headers(ss.STRANGER, **tracking)).status_code == 403

    lines = _decision_records(caplog)
    assert len(lines) >= 4
    for record in lines:
        fields = record.__dict__
        assert fields["workflow_run_id"] == "0858432", record.getMessage()
        assert fields["client_tracking_id"] == "ord-42", record.getMessage()
        assert fields["kind"]
        assert fields["verdict"]
        assert fields["trigger"]
    assert {"workflow_run_id", "client_tracking_id"} <= set(DECISION_LOG_FIELDS)
    verdicts = [r.__dict__["verdict"] for r in lines if r.name == "handlers.scoring"]
    assert "started" in verdicts
    assert "refused" in verdicts


def test_the_readmes_queries_use_only_fields_the_logs_carry() -> None:
    import re

    from shared.telemetry import DECISION_LOG_FIELDS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    queries = "\n".join(re.findall(r"```kusto\n(.*?)```", readme, flags=re.S))
    used = set(re.findall(r"customDimensions\.([A-Za-z_]+)", queries))
    assert used, "the README has no KQL over custom dimensions"
    assert used <= set(DECISION_LOG_FIELDS), used - set(DECISION_LOG_FIELDS)
    assert "rule_id" in used


# ----------------------------------------------------------------- azure-ai-ml's notices

_SUBMIT_IN_A_FRESH_PROCESS = """
import json, sys
from tools import host
host.indexed()
host.deliver_event("on_ml_event", json.loads(sys.argv[1]))
"""


def test_azure_ai_ml_prints_no_experimental_class_notices(rapp: App) -> None:
    # A fresh process: azure-ai-ml prints each notice once per process, so a test in this one
    # could pass only because an earlier test already had it printed.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    event = rs.monitor_breach_event()
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _SUBMIT_IN_A_FRESH_PROCESS, json.dumps(event)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert len(_jobs(rapp, "retraining")) == 1  # the submission path did run
    assert "experimental class" not in result.stderr + result.stdout


def test_each_policy_finding_is_one_decision_line_with_its_rule(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    from shared.runtime import runtime

    with caplog.at_level(logging.INFO, logger="shared.reconcilers.run"):
        host.fire_timer("reconcile_all")

    lines = [
        r
        for r in caplog.records
        if r.name == "shared.reconcilers.run" and r.__dict__.get("kind") == "policy-finding"
    ]
    recorded = [
        (a["Subject"].lower(), a["Evidence"], a["Verdict"])
        for workspace in (scene.PROD, scene.DEV)
        for a in runtime().ledger.actions(workspace)
        if a["Kind"] == "policy-finding" and a["Verdict"] != "not-evaluated"
    ]
    assert any(verdict == "non-compliant" for _, _, verdict in recorded)
    # The README's "findings by rule" query counts these lines by rule_id and verdict.
    logged = [
        (r.__dict__["subject_id"].lower(), r.__dict__["rule_id"], r.__dict__["verdict"])
        for r in lines
    ]
    assert sorted(logged) == sorted(recorded)


@pytest.mark.parametrize(
    "run_id", ["../../workspaces/other/jobs/x", "job?api-version=1", "j" * 300, "job\nname"]
)
def test_a_finished_run_whose_id_is_not_a_job_name_costs_no_azure_call(
    rapp: App, run_id: str
) -> None:
    event = rs.job_finished_event(run_id, tags={APP_TAG: "retraining"})

    _deliver(rapp, event)

    assert rapp.non_token_requests() == [] or all(
        r.route == "eventgrid.publish" for r in rapp.non_token_requests()
    )
    assert _event_outcome(event["id"]) == "invalid"


def test_a_retraining_job_goes_to_the_workspace_as_retrain_workspace_ids_spells_it(
    rapp: App,
) -> None:
    # ML_WORKSPACE_IDS spells the workspace otherwise (ARM IDs are case-insensitive): the job
    # is written under RETRAIN_WORKSPACE_IDS' own ID, the setting that allows retraining there.
    other_spelling = scene.PROD.replace("/rg-ml/", "/RG-ML/").replace("mlw-prod", "MLW-PROD")
    rapp.set_settings(**rs.retraining_settings(), ML_WORKSPACE_IDS=f"{other_spelling},{scene.DEV}")
    event = rs.monitor_breach_event()

    _deliver(rapp, event)

    [put] = [r for r in rapp.sim.requests if r.route == "ml.job.put"]
    assert put.path.startswith(f"{scene.PROD}/jobs/")
    [record] = [a for a in _actions("retraining") if a["Verdict"] == "submit"]
    assert record["Outcome"] == "applied: submitted"


@given(principal=st.text(max_size=400), run=st.text(max_size=2000), tracking=st.text(max_size=2000))
def test_caller_and_tracking_headers_are_bounded_printable_ascii_whatever_is_sent(
    principal: str, run: str, tracking: str
) -> None:
    from shared.scoring.requests import caller_of

    caller = caller_of(
        {
            "X-MS-CLIENT-PRINCIPAL-ID": principal,
            "x-ms-workflow-run-id": run,
            "x-ms-client-tracking-id": tracking,
        }
    )
    for value, limit in (
        (caller.principal_id, 64),
        (caller.workflow_run_id, 256),
        (caller.client_tracking_id, 256),
    ):
        assert value is None or (0 < len(value) <= limit)
        assert value is None or (value.isascii() and value.isprintable())


def test_claim_keys_of_configured_workspaces_are_the_ones_written_before() -> None:
    from shared.claims import _partition, _scoring_row

    # Rows written before keys went through table_key stay found after an upgrade.
    assert _partition(scene.PROD) == "claims:" + scene.PROD.lower().strip("/").replace("/", ":")
    assert _scoring_row("retrain-0a1b2c") == "scoring:retrain-0a1b2c"
