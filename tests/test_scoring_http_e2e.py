"""Scoring over HTTP, end to end: the registered functions, called with real `func.HttpRequest`
objects, against the simulator (real SDK pipelines over HTTPS) and Azurite.

And under attack: what an outside caller may try (hostile bodies, sizes at their limits, path
tricks in names, keys reused across callers or after a refusal). Each refusal is a problem
document that submits nothing and keeps nothing secret."""

from __future__ import annotations

import json
import logging
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import OpenAPIV2SpecValidator, validate

from shared.ml_events import APP_TAG
from shared.scoring.contract import MAX_BODY_BYTES, MAX_INPUT_PATH
from shared.scoring.service import ScoringOrder, ScoringStarter, Started
from tests.conftest import App, at_once
from tests.credentials import fail_holding, leaked
from tests.test_inventory import tag
from tests.test_scoring_inputs import DATASTORE, STORAGE
from tools import host, scene
from tools import scoring_scene as ss

pytestmark = pytest.mark.slow

JOBS_URL = f"{ss.APP_URL}/scoring-jobs"
SAS = "sv=2024-11-04&ss=b&srt=co&sp=rl&se=2026-12-01T00:00:00Z&sig=AbCdEf0123456789%2Bsecret%3D"


def _headers(caller: str | None = ss.LOGIC_APP, **extra: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if caller is not None:
        headers.update(ss.caller_headers(caller))
    return {**headers, **extra}


def _body(endpoint: str = "fraud-scoring", path: str = ss.INPUT, **fields: Any) -> bytes:
    return json.dumps({"endpoint": endpoint, "input": {"type": "uri_folder", "path": path},
                       **fields}).encode()  # fmt: skip


def post(body: bytes | None = None, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return host.call_http(
        "start_scoring",
        method="POST",
        url=JOBS_URL,
        headers=_headers() if headers is None else headers,
        body=_body() if body is None else body,
    )


def get(name: str, caller: str | None = ss.LOGIC_APP) -> func.HttpResponse:
    return host.call_http(
        "get_scoring_job",
        method="GET",
        url=f"{JOBS_URL}/{name}",
        headers=_headers(caller),
        route_params={"job_name": name},
    )


def _json(response: func.HttpResponse) -> dict[str, Any]:
    body = json.loads(response.get_body())
    assert isinstance(body, dict)
    return body


def _requests(app: App) -> list[dict[str, Any]]:
    from shared.runtime import runtime

    return runtime().scoring.records.requests()


def _submitted(app: App) -> int:
    return len(app.sim.ml.scoring_posts)


# --- the error matrix ---------------------------------------------------------------------

_BIG = json.dumps({"endpoint": "fraud-scoring", "pad": "x" * (64 * 1024)}).encode()
MATRIX = [
    # (case, headers, body, status, field)
    ("anonymous", _headers(None), None, 401, "X-MS-CLIENT-PRINCIPAL-ID"),
    ("caller not allowed", _headers(ss.STRANGER), None, 403, "X-MS-CLIENT-PRINCIPAL-ID"),
    ("not JSON", _headers(**{"Content-Type": "text/plain"}), None, 415, "Content-Type"),
    ("too large", None, _BIG, 413, None),
    ("bad JSON", None, b'{"endpoint": ', 400, "(body)"),
    ("missing input", None, b'{"endpoint": "fraud-scoring"}', 400, "input"),
    ("unknown field", None, _body(compute="gpu-cluster"), 400, "compute"),
    ("abfss input", None, _body(path="abfss://c@acct.dfs.core.windows.net/in/"), 400,
     "input.path"),
    ("SAS token", None, _body(path=f"https://mlstore.blob.core.windows.net/scoring/in/?{SAS}"),
     400, "input.path"),
    ("dot-dot", None, _body(path="azureml://datastores/ws/paths/a/../../secrets"), 400,
     "input.path"),
    ("bad idempotency key", _headers(**{"Idempotency-Key": "x" * 300}), None, 400,
     "Idempotency-Key"),
    ("endpoint not allowed", None, _body(endpoint=f"{scene.SANDBOX}/batchEndpoints/e"), 422,
     "endpoint"),
    ("ambiguous name", None, _body(endpoint="churn-scoring"), 422, "endpoint"),
    ("endpoint gone from Azure", None, _body(endpoint=ss.GONE), 422, "endpoint"),
    ("deployment not found", None, _body(deployment="purple"), 422, "deployment"),
    ("no default deployment", None, _body(endpoint="no-default"), 422, "deployment"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "body", "status", "field"),
    [case[1:] for case in MATRIX],
    ids=[case[0] for case in MATRIX],
)
def test_every_refusal_is_a_problem_that_submits_nothing_and_is_recorded(
    scoring: App, headers: dict[str, str] | None, body: bytes | None, status: int,
    field: str | None,
) -> None:  # fmt: skip
    response = post(body, headers)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = _json(response)
    assert problem["status"] == status
    assert problem["type"].startswith("/api/problems/")
    assert problem["title"]
    assert problem["detail"]
    assert problem.get("field") == field
    assert _submitted(scoring) == 0
    assert not [w for w in scoring.sim.writes() if w.route != "token"]
    [row] = _requests(scoring)
    assert (row["Outcome"], row["HttpStatus"], row["Field"]) == ("refused", status, field or "")
    sent = (headers or _headers()).get("X-MS-CLIENT-PRINCIPAL-ID", "")
    assert row["Caller"] == sent
    # A SAS token is neither echoed nor stored, nor a refused path recorded.
    assert "sig=" not in response.get_body().decode()
    assert "sig=" not in json.dumps(row)
    # Only a validated input (no query string) is recorded: refusals before validation keep none.
    assert row["InputPath"] in ("", ss.INPUT)
    if status < 422:
        assert row["InputPath"] == ""


def test_a_sas_token_never_reaches_a_job_or_the_ledger_on_any_route(scoring: App) -> None:
    for path in (
        f"https://mlstore.blob.core.windows.net/scoring/in/?{SAS}",
        f"azureml://datastores/workspaceblobstore/paths/in/?{SAS}",
        f"azureml:churn-input:3?{SAS}",
    ):
        assert post(_body(path=path)).status_code == 400
    assert _submitted(scoring) == 0
    from shared.runtime import runtime

    everything = list(runtime().ledger.table.list_entities())
    assert everything
    assert "sig=" not in json.dumps(everything, default=str)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.sampled_from(
        [ss.INPUT, "https://mlstore.blob.core.windows.net/scoring/in/", "azureml:churn-input:3"]
    ),
    secret=st.text(string.ascii_letters + string.digits + "+/=%", min_size=12, max_size=40),
    separator=st.sampled_from(["?sig=", "?sv=2024-11-04&sig=", "#sig=", "?SIG=", "/?sig="]),
)
def test_no_query_or_fragment_ever_reaches_a_job_or_the_ledger(
    scoring: App, base: str, secret: str, separator: str
) -> None:
    secret = "TopSecret" + secret  # a marker no ledger row holds by chance
    response = post(_body(path=base + separator + secret))
    assert response.status_code == 400
    assert "TopSecret" not in response.get_body().decode()
    assert _submitted(scoring) == 0
    from shared.runtime import runtime

    stored = json.dumps(list(runtime().ledger.table.list_entities()), default=str)
    assert "TopSecret" not in stored


# --- the asynchronous pattern -------------------------------------------------------------


@pytest.mark.parametrize("final", ["Completed", "Failed", "Canceled"])
def test_202_location_then_202_while_running_then_200_when_it_ends(
    scoring: App, final: str
) -> None:
    response = post(_body(endpoint=ss.CHURN_PROD, deployment="green"))
    assert response.status_code == 202
    accepted = _json(response)
    name = accepted["name"]
    assert accepted["statusUrl"] == f"{JOBS_URL}/{name}" == response.headers["Location"]
    assert accepted["endpoint"] == ss.CHURN_PROD
    assert accepted["workspace"] == scene.PROD
    assert int(response.headers["Retry-After"]) > 0
    assert response.mimetype == "application/json"
    [(sent_headers, sent_body)] = scoring.sim.ml.scoring_posts
    assert sent_headers["azureml-model-deployment"] == "green"
    assert sent_body["properties"]["inputData"]["UriFolder"]["uri"] == ss.INPUT

    for status in ("NotStarted", "Running", "Finalizing"):
        if status != "NotStarted":
            scoring.sim.ml.set_job_status(scene.PROD, name, status)
        polled = get(name)
        assert polled.status_code == 202, status
        assert polled.headers["Location"] == f"{JOBS_URL}/{name}"
        assert int(polled.headers["Retry-After"]) > 0
        assert _json(polled)["status"] == status

    error = "scoring script raised ValueError" if final == "Failed" else None
    scoring.sim.ml.set_job_status(scene.PROD, name, final, error=error)
    done = get(name)
    assert done.status_code == 200
    assert "Location" not in done.headers
    report = _json(done)
    assert (report["name"], report["status"], report["workspace"]) == (name, final, scene.PROD)
    assert report["endpoint"] == ss.CHURN_PROD
    assert "outputs" in report
    assert (report.get("error") == error) if final == "Failed" else "error" not in report
    assert _submitted(scoring) == 1
    from shared.runtime import runtime

    job = runtime().scoring.records.job(name)
    assert job is not None
    assert job.status == final


def test_a_finished_jobs_report_repeats_no_credential_of_azures(scoring: App) -> None:
    # The caller sent a path without one: a SAS or key in Azure's answer is the datastore's.
    name = _json(post())["name"]
    sas = f"{STORAGE}out/?{SAS}"

    def ended(body: dict[str, Any]) -> None:
        body["properties"]["status"] = "Failed"
        body["properties"]["error"] = {"message": f"could not write {sas}: AccountKey=c2VjcmV0;"}
        body["properties"]["outputs"] = {"score": {"uri": sas, "note": ["https://u:pw@h/"]}}

    scoring.sim.rewrite_reply("ml.job.get", ended)
    text = get(name).get_body().decode()

    assert "sig=REDACTED" in text
    assert "AbCdEf0123456789" not in text
    assert "c2VjcmV0" not in text
    assert "u:pw" not in text


def test_names_not_started_through_the_api_are_404(scoring: App) -> None:
    scoring.sim.ml.add_job(
        scene.PROD,
        {"name": "someone-elses-job", "properties": {"status": "Running", "jobType": "Pipeline"}},
    )
    for name in ("someone-elses-job", "batchjob-00000000", "..%2F..", "a" * 300, "x\n"):
        response = get(name)
        assert response.status_code == 404, name
        assert response.headers["Content-Type"] == "application/problem+json"
    assert scoring.sim.count("ml.job.get") == 0


def test_a_job_is_reported_only_to_the_caller_that_started_it(scoring: App) -> None:
    name = _json(post())["name"]
    assert get(name, ss.ANALYST).status_code == 404
    assert get(name, ss.STRANGER).status_code == 403
    assert get(name, None).status_code == 401
    assert get(name, ss.LOGIC_APP).status_code == 202


def test_a_refused_poll_records_the_caller_as_a_refused_start_does(scoring: App) -> None:
    """Once authorised, the caller is recorded normalised (lower case), as `start_scoring` does,
    so one principal's requests are found under one value."""
    name = _json(post())["name"]
    assert get(name, ss.ANALYST.upper()).status_code == 404
    assert post(b"{}", _headers(ss.ANALYST.upper())).status_code == 400
    rows = [r for r in _requests(scoring) if r["Caller"].lower() == ss.ANALYST]
    assert sorted((r["Function"], r["Caller"]) for r in rows) == [
        ("get_scoring_job", ss.ANALYST),
        ("start_scoring", ss.ANALYST),
    ]


# --- idempotency --------------------------------------------------------------------------


def test_the_same_key_returns_the_first_job_and_submits_nothing_more(scoring: App) -> None:
    first = post(headers=_headers(**{"Idempotency-Key": "run-08585"}))
    again = post(headers=_headers(**{"Idempotency-Key": "run-08585"}))
    assert first.status_code == again.status_code == 202
    assert _json(first)["name"] == _json(again)["name"]
    assert again.headers["Location"] == first.headers["Location"]
    assert _submitted(scoring) == 1
    other = post(headers=_headers(**{"Idempotency-Key": "run-08586"}))
    assert other.status_code == 202
    assert _json(other)["name"] != _json(first)["name"]
    assert _submitted(scoring) == 2
    outcomes = [row["Outcome"] for row in reversed(_requests(scoring))]
    assert outcomes == ["started", "replayed", "started"]


@pytest.mark.parametrize(
    "folder", ["AccountKey=2024", "eyJ0eXAiOiJKV1QifQ-batch-7", "authorization:ops"]
)
def test_the_same_key_and_a_path_that_looks_like_a_credential_is_a_replay(
    scoring: App, folder: str
) -> None:
    # The ledger keeps what it stores redacted: a retry compares what the first one kept.
    body, headers = _body(path=f"{ss.INPUT}{folder}/"), _headers(**{"Idempotency-Key": "k-1"})
    first, again = post(body, headers), post(body, headers)

    assert first.status_code == again.status_code == 202, again.get_body()
    assert _json(first)["name"] == _json(again)["name"]
    assert _submitted(scoring) == 1


def _claim_write_answer_lost(monkeypatch: pytest.MonkeyPatch, state: str) -> list[Any]:
    """Table storage takes the claim's first move to `state`, but its answer is lost (a 500
    timeout, which azure-core retries for a PATCH): the retry meets the row changed, 412."""
    from shared.claims import SCORING_CLAIMS_PARTITION
    from shared.runtime import runtime

    table = runtime().ledger.table
    original, lost = table.update_entity, list[Any]()

    def answer_lost(entity: dict[str, Any], **options: Any) -> Any:
        moving = entity["PartitionKey"] == SCORING_CLAIMS_PARTITION and entity["State"] == state
        if moving and not lost:
            lost.append(original(entity, **options))  # took effect; the retry follows
        return original(entity, **options)

    monkeypatch.setattr(table, "update_entity", answer_lost)
    return lost


def test_a_claim_settled_whose_answer_was_lost_is_the_started_job_not_a_500(
    scoring: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row is this request's own write: the caller gets its job (202), not a 500 for a job
    that runs."""
    lost = _claim_write_answer_lost(monkeypatch, "submitted")
    response = post(headers=_headers(**{"Idempotency-Key": "run-lost"}))

    assert lost, "the claim was never settled"
    assert response.status_code == 202
    assert _submitted(scoring) == 1
    again = post(headers=_headers(**{"Idempotency-Key": "run-lost"}))
    assert (again.status_code, _json(again)["name"]) == (202, _json(response)["name"])
    assert _submitted(scoring) == 1
    assert [row["Outcome"] for row in reversed(_requests(scoring))] == ["started", "replayed"]


def test_a_claim_released_whose_answer_was_lost_is_azures_refusal_and_frees_the_key(
    scoring: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Azure refused the start (403): the caller learns that (502), not a 500 for the release's
    lost answer, and the key takes a retry at once."""
    lost = _claim_write_answer_lost(monkeypatch, "retry")
    key = {"Idempotency-Key": "run-refused"}
    scoring.sim.inject("ml.scoring.invoke", status=403, times=1)

    assert _problem(post(_body(), _headers(**key)), 502)["type"].endswith("azure-refused")
    assert lost, "the claim was never released"
    assert post(_body(), _headers(**key)).status_code == 202


def test_the_same_key_with_another_body_is_422_and_submits_nothing(scoring: App) -> None:
    key = {"Idempotency-Key": "run-1"}
    assert post(headers=_headers(**key)).status_code == 202
    response = post(_body(endpoint=ss.CHURN_PROD), _headers(**key))
    assert response.status_code == 422
    assert _json(response)["field"] == "Idempotency-Key"
    assert _submitted(scoring) == 1


def test_after_24_hours_the_same_key_starts_a_new_job(scoring: App) -> None:
    from shared.adapters.batch_scoring import BatchScoringAdapter, ScoringInput
    from shared.config import get_settings
    from shared.runtime import runtime
    from shared.scoring.requests import validate

    now = [datetime(2026, 11, 25, 8, 0, tzinfo=UTC)]
    settings = get_settings()
    rt = runtime()
    starter = ScoringStarter(
        BatchScoringAdapter(rt.clients),
        rt.claims,
        rt.scoring.records,
        settings.scoring_allowed_inputs,
        rt.sink,
        rt.inventory.admit,
        dry_run=False,
        clock=lambda: now[0],
    )
    request = validate(json.loads(_body()), settings.scoring_allowed_endpoints)

    def start() -> Started | object:
        return starter.start(
            ScoringOrder(
                request.endpoint_id,
                request.deployment,
                ScoringInput(request.input_type, request.input_path),
                "http:start_scoring",
                caller=ss.LOGIC_APP,
                idempotency_key="nightly",
            )
        )

    first = start()
    now[0] += timedelta(hours=23, minutes=59)
    same = start()
    now[0] += timedelta(minutes=2)
    later = start()
    assert isinstance(first, Started)
    assert isinstance(same, Started)
    assert isinstance(later, Started)
    assert same.name == first.name
    assert same.replayed
    assert later.name != first.name
    assert not later.replayed
    assert _submitted(scoring) == 2


# --- callers and tracking -----------------------------------------------------------------


def test_tracking_headers_are_logged_recorded_and_tagged(
    scoring: App, caplog: pytest.LogCaptureFixture
) -> None:
    headers = _headers(
        ss.ANALYST,
        **{"x-ms-workflow-run-id": "08584321987654321", "x-ms-client-tracking-id": "order-42"},
    )
    with caplog.at_level(logging.INFO, logger="handlers.scoring"):
        response = post(headers=headers)
    assert response.status_code == 202
    name = _json(response)["name"]
    assert "08584321987654321" in caplog.text
    assert "order-42" in caplog.text
    [row] = _requests(scoring)
    assert (row["Caller"], row["WorkflowRunId"], row["ClientTrackingId"]) == (
        ss.ANALYST, "08584321987654321", "order-42",
    )  # fmt: skip
    from shared.runtime import runtime

    job = runtime().scoring.records.job(name)
    assert job is not None
    assert (job.caller, job.workflow_run_id, job.client_tracking_id) == (
        ss.ANALYST, "08584321987654321", "order-42",
    )  # fmt: skip
    [(_, sent)] = scoring.sim.ml.scoring_posts
    tags = sent["properties"]["tags"]
    # The one tag scheme of every scoring job the app starts (after a retrain too).
    assert tags == {
        APP_TAG: "scoring",
        "trigger": "http",
        "caller": ss.ANALYST,
        "workflowRunId": "08584321987654321",
        "clientTrackingId": "order-42",
    }


def test_an_http_start_is_recorded_and_announced_as_a_start_after_a_retrain(
    scoring: App, caplog: pytest.LogCaptureFixture
) -> None:
    from shared.outcome import INTENT
    from tests.retraining import recorded_actions

    tracking = {"x-ms-workflow-run-id": "0858", "x-ms-client-tracking-id": "ord-7"}
    headers = _headers(**tracking, **{"Idempotency-Key": "nightly"})
    with caplog.at_level(logging.INFO, logger="shared.scoring.service"):
        response = post(headers=headers)
    assert response.status_code == 202
    name = _json(response)["name"]
    rows = recorded_actions("batch-scoring", intents=True)
    assert sorted((r["Verdict"], r["Subject"], r["Outcome"], r["Trigger"]) for r in rows) == [
        ("start", ss.FRAUD, str(INTENT), "http:start_scoring"),
        ("start", name, "applied: started on fraud-scoring/blue", "http:start_scoring"),
    ]
    [event] = scoring.sim.eventgrid.published_events
    assert event["eventType"] == "SynapseAmlAutomation.BatchScoring.Start.Applied"
    assert (event["subject"], event["data"]["trigger"]) == (name, "http:start_scoring")
    assert event["data"]["reason"] == (
        f"started for caller {ss.LOGIC_APP} (workflow run 0858, tracking id ord-7)"
    )
    [line] = [r for r in caplog.records if r.name == "shared.scoring.service"]
    fields = line.__dict__
    assert (fields["kind"], fields["verdict"], fields["subject_id"]) == (
        "batch-scoring",
        "start",
        name,
    )
    assert (fields["workflow_run_id"], fields["client_tracking_id"]) == ("0858", "ord-7")
    # A replay starts nothing: nothing more is recorded or announced.
    assert post(headers=headers).status_code == 202
    assert len(recorded_actions("batch-scoring", intents=True)) == 2
    assert len(scoring.sim.eventgrid.published_events) == 1


def test_an_empty_allow_list_admits_nobody(scoring: App) -> None:
    scoring.set_settings(**{**ss.settings_env(), "SCORING_ALLOWED_CALLERS": ""})
    assert post(headers=_headers(ss.LOGIC_APP)).status_code == 403
    assert _submitted(scoring) == 0


def test_an_allowed_endpoint_whose_workspace_is_out_of_scope_now_starts_nothing(
    scoring: App,
) -> None:
    """SCORING_ALLOWED_ENDPOINTS still names fraud-scoring, but since a restart ML_SCOPE_TAG
    leaves its workspace out of scope (its tag, as ARM reports it now): nothing outside the
    scope is written, a job included. A key's replay still answers its earlier job."""
    started = _json(post(headers=_headers(**{"Idempotency-Key": "nightly"})))
    scoring.set_settings(ML_SCOPE_TAG="automation=on")
    before = _submitted(scoring)

    problem = _problem(post(), 422)
    replayed = _json(post(headers=_headers(**{"Idempotency-Key": "nightly"})))

    assert (problem["field"], _submitted(scoring)) == ("endpoint", before)
    assert "not in scope" in problem["detail"]
    assert replayed["name"] == started["name"]
    refused = [r for r in _requests(scoring) if r["Outcome"] == "refused"]
    assert [(r["HttpStatus"], r["Field"]) for r in refused] == [(422, "endpoint")]
    tag(scoring, scene.PROD, {"automation": "on"})
    assert post().status_code == 202  # in scope again, as ARM tells
    assert _submitted(scoring) == before + 1


_TAG_NAMES = st.sampled_from(
    ["automation", "Automation", "AUTOMATION", "automation ", "autom4tion"]
)
_TAG_VALUES = st.sampled_from(["on", "On", "on ", " on", "off", "", "on=1"])


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(_TAG_NAMES, _TAG_VALUES, max_size=2))
def test_a_start_is_made_only_where_arm_shows_the_scope_tag(
    scoring: App, tags: dict[str, str]
) -> None:
    # The rule of ML_SCOPE_TAG, as the workspace carries its tags now: names in any case, the
    # value exactly. Anything else is out of scope: 422, and no job.
    scoring.set_settings(ML_SCOPE_TAG="automation=on")
    tag(scoring, scene.PROD, tags)
    before = _submitted(scoring)

    response = post()

    carried = any(name.lower() == "automation" and value == "on" for name, value in tags.items())
    assert response.status_code == (202 if carried else 422)
    assert _submitted(scoring) == before + carried


# --- throttling and outages ---------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_throttled_scoring_uri_is_503_with_retry_after_and_a_retry_submits_once(
    scoring: App, status: int
) -> None:
    key = {"Idempotency-Key": f"run-{status}"}
    scoring.sim.inject("ml.scoring.invoke", status=status, times=5, retry_after=1)
    response = post(headers=_headers(**key))
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "1"
    assert _submitted(scoring) == 0
    again = post(headers=_headers(**key))
    assert again.status_code == 202
    assert _submitted(scoring) == 1
    assert post(headers=_headers(**key)).status_code == 202
    assert len(scoring.sim.ml.jobs(scene.PROD)) == 1


def test_azures_retry_after_reaches_the_caller_as_the_transport_capped_it(scoring: App) -> None:
    from shared.adapters.transport import RETRY_AFTER_CAP_SECONDS, RETRY_TOTAL

    attempts = 1 + min(RETRY_TOTAL, 3)
    scoring.sim.inject("ml.scoring.invoke", status=429, times=attempts - 1, retry_after=0.01)
    # The last attempt's answer asks for ten minutes: the caller is told the transport's cap.
    scoring.sim.inject("ml.scoring.invoke", status=429, retry_after=600)
    response = post()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == f"{RETRY_AFTER_CAP_SECONDS:g}"
    assert _submitted(scoring) == 0


def test_a_lost_answer_and_a_retried_request_still_make_one_job(scoring: App) -> None:
    from shared.adapters.transport import RETRY_TOTAL

    key = {"Idempotency-Key": "run-lost"}
    # azure-core tries a request once plus its status retries (retry_status, default 3).
    attempts = 1 + min(RETRY_TOTAL, 3)
    # Throttled attempts, then a last one that takes effect but whose answer is lost: the app's
    # retries are spent and it cannot tell that the job exists.
    scoring.sim.inject("ml.scoring.invoke", status=503, times=attempts - 1, retry_after=0.01)
    scoring.sim.lose_response("ml.scoring.invoke", status=503, times=1)
    assert post(headers=_headers(**key)).status_code == 503
    assert len(scoring.sim.ml.jobs(scene.PROD)) == 1
    # The Logic App retries with the same key: the same repeatability ID, the same job.
    again = post(headers=_headers(**key))
    assert again.status_code == 202
    assert len(scoring.sim.ml.jobs(scene.PROD)) == 1
    assert _json(again)["name"] == scoring.sim.ml.jobs(scene.PROD)[0]["name"]
    first_id, retry_id = (
        headers["repeatability-request-id"] for headers, _ in scoring.sim.ml.scoring_posts
    )
    assert first_id == retry_id
    # One job, announced once, as started: the lost answer is no failure of a job that exists.
    starts = [
        event["eventType"]
        for event in scoring.sim.eventgrid.published_events
        if ".BatchScoring.Start." in event["eventType"]
    ]
    assert starts == ["SynapseAmlAutomation.BatchScoring.Start.Applied"]


def test_a_lost_answer_is_recovered_by_the_adapters_own_retry(scoring: App) -> None:
    scoring.sim.lose_response("ml.scoring.invoke", status=503, times=1)
    response = post()
    assert response.status_code == 202
    assert len(scoring.sim.ml.jobs(scene.PROD)) == 1
    assert _json(response)["name"] == scoring.sim.ml.jobs(scene.PROD)[0]["name"]


def test_azure_down_while_reading_the_endpoint_is_503(scoring: App) -> None:
    scoring.sim.inject("ml.batch_endpoint.get", status=503, times=5, retry_after=1)
    response = post()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert _submitted(scoring) == 0


def test_a_throttled_job_read_is_503_with_retry_after_and_the_next_poll_answers(
    scoring: App,
) -> None:
    name = _json(post())["name"]
    scoring.sim.inject("ml.job.get", status=429, times=5, retry_after=1)
    response = get(name)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.headers["Content-Type"] == "application/problem+json"
    scoring.sim.clear_faults()
    assert get(name).status_code == 202


def test_a_job_deleted_in_its_workspace_is_404_no_longer_exists(scoring: App) -> None:
    name = _json(post())["name"]
    scoring.sim.inject("ml.job.get", status=404, code="ResourceNotFound", times=5)
    problem = _problem(get(name), 404)
    assert problem["detail"] == "the job no longer exists in its workspace"
    assert scoring.sim.count(route="ml.job.get") == 1  # a 404 is not retried


def test_a_job_read_answered_with_another_workspaces_job_is_502_and_shows_nothing_of_it(
    scoring: App,
) -> None:
    name = _json(post())["name"]

    def elsewhere(body: dict[str, Any]) -> None:
        # A job of that name in another workspace, completed, its output there.
        body["id"] = body["id"].replace(scene.PROD, scene.DEV)
        body["properties"]["status"] = "Completed"
        body["properties"]["outputs"] = {"score": {"uri": "azureml://elsewhere/"}}

    scoring.sim.rewrite_reply("ml.job.get", elsewhere)
    problem = _problem(get(name), 502)
    assert "elsewhere" not in json.dumps(problem)
    assert get(name).status_code == 202  # the app's job, as Azure answers about it: running


# --- dry-run and the description ----------------------------------------------------------


def test_dry_run_validates_records_and_submits_nothing(scoring: App) -> None:
    scoring.set_settings(**ss.settings_env(), AUTOMATION_MODE="dry-run")
    response = post(_body(endpoint=ss.CHURN_PROD, deployment="green"))
    assert response.status_code == 200
    body = _json(response)
    assert body["dryRun"] is True
    assert body["wouldSubmit"]["endpoint"] == ss.CHURN_PROD
    assert body["wouldSubmit"]["deployment"] == "green"
    assert body["wouldSubmit"]["input"] == {"type": "uri_folder", "path": ss.INPUT}
    assert _submitted(scoring) == 0
    assert [row["Outcome"] for row in _requests(scoring)] == ["dry-run"]
    assert post(_body(deployment="purple")).status_code == 422


def test_dry_run_answers_a_scoring_uri_without_a_signature_in_it(scoring: App) -> None:
    # Azure's URI: a query the guard lets through is answered, but no credential in it.
    scoring.set_settings(**ss.settings_env(), AUTOMATION_MODE="dry-run")

    def signed(body: Any) -> None:
        body["properties"]["scoringUri"] += "?sv=1&sig=Zq8secret"

    scoring.sim.rewrite_reply("ml.batch_endpoint.get", signed)
    would = _json(post())["wouldSubmit"]

    assert would["scoringUri"].endswith("?sv=1&sig=REDACTED")


def test_openapi_spec_names_the_apps_own_host_whatever_the_request_says(scoring: App) -> None:
    response = host.call_http(
        "openapi_spec",
        method="GET",
        url="https://scoring.contoso.com/api/openapi.json",
        headers={**_headers(ss.STRANGER), "Host": "scoring.contoso.com"},
    )
    assert response.status_code == 200
    spec = _json(response)
    validate(spec, cls=OpenAPIV2SpecValidator)
    assert (spec["host"], spec["schemes"]) == (ss.APP_HOST, ["https"])
    anonymous = host.call_http(
        "openapi_spec", method="GET", url="https://h/api/openapi.json", headers={}
    )
    assert anonymous.status_code == 401


def test_an_unreachable_ledger_is_503_with_retry_after_and_submits_nothing(
    scoring: App, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"TableEndpoint=http://127.0.0.1:{closed_port}/devstoreaccount1;"
    )
    scoring.set_settings(**ss.settings_env(), LEDGER_CONNECTION_STRING=unreachable)
    response = post(headers=_headers(**{"Idempotency-Key": "run-ledger-down"}))
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    assert _submitted(scoring) == 0
    assert "ledger is unavailable" in _json(response)["detail"]
    # Where the ledger is, is the app's own business: the log says, not the caller's answer.
    for answer in (response, get("batchjob-1")):
        assert _problem(answer, 503)["detail"] == "the ledger is unavailable"
        assert str(closed_port) not in answer.get_body().decode()
    assert f"port={closed_port}" in caplog.text


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(said=st.text(string.ascii_letters + string.digits + ".:/=-_ ", min_size=1, max_size=60))
def test_no_answer_repeats_what_an_unavailable_ledger_said(
    scoring: App, monkeypatch: pytest.MonkeyPatch, said: str
) -> None:
    from azure.core.exceptions import ServiceRequestError

    from shared.runtime import runtime

    marker = "LedgerSaid" + said.strip()

    def unavailable(*_: Any, **__: Any) -> Any:
        raise ServiceRequestError(f"HTTPSConnection(host='{marker}.table.core.windows.net')")

    table = runtime().ledger.table
    for method in ("get_entity", "create_entity", "upsert_entity", "update_entity"):
        monkeypatch.setattr(table, method, unavailable)
    for answer in (post(headers=_headers(**{"Idempotency-Key": "k"})), get("batchjob-1")):
        assert _problem(answer, 503)["detail"] == "the ledger is unavailable"
        assert marker not in answer.get_body().decode()
    assert _submitted(scoring) == 0


def test_a_ledger_failing_only_for_the_intent_row_is_503_unnamed_and_frees_the_key(
    scoring: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ledger fails the row written before the job is sent, then works again: the answer is
    # the ledger's 503 (not Azure's, not about `input`), naming no host; the key can be retried.
    from azure.core.exceptions import ServiceRequestError

    from shared.runtime import runtime

    table, marker = runtime().ledger.table, "ledger-host-said-so.table.core.windows.net"
    create, failed = table.create_entity, list[Any]()

    def once(entity: Any, **kwargs: Any) -> Any:
        if str(entity.get("Outcome")).startswith("intent") and not failed:
            failed.append(entity)
            raise ServiceRequestError(f"HTTPSConnection(host='{marker}')")
        return create(entity, **kwargs)

    monkeypatch.setattr(table, "create_entity", once)
    first = post(headers=_headers(**{"Idempotency-Key": "intent-lost"}))

    assert failed
    assert _submitted(scoring) == 0
    assert _problem(first, 503)["detail"] == "the ledger is unavailable"
    assert marker not in first.get_body().decode()
    assert post(headers=_headers(**{"Idempotency-Key": "intent-lost"})).status_code == 202
    assert _submitted(scoring) == 1


def test_concurrent_retries_with_one_key_submit_once(scoring: App) -> None:
    post()  # the first request of a process builds clients and takes tokens: not the race
    before = _submitted(scoring)
    outcomes = at_once([lambda: post(headers=_headers(**{"Idempotency-Key": "run-race"}))] * 6)
    responses = [r for r in outcomes if isinstance(r, func.HttpResponse)]
    assert responses == outcomes  # none raised
    assert _submitted(scoring) == before + 1
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {202, 503}
    assert 202 in statuses
    names = {_json(r)["name"] for r in responses if r.status_code == 202}
    assert len(names) == 1
    busy = [r for r in responses if r.status_code == 503]
    assert all(int(r.headers["Retry-After"]) > 0 for r in busy)


# --- through the registered functions, over the simulator ----------------------------------


def _problem(response: func.HttpResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_body()[:300]
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = json.loads(response.get_body())
    assert {"type", "title", "status", "detail"} <= set(problem)
    assert problem["status"] == status
    return problem  # type: ignore[no-any-return]


def _ledger_text() -> str:
    from shared.runtime import runtime

    return json.dumps(list(runtime().ledger.table.list_entities()), default=str)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 30000,
        b'{"endpoint": "fraud-scoring", "endpoint": "churn-scoring", "input": {}}',
        b'{"endpoint": "fraud-scoring", "input": {"type": "uri_folder", "path": NaN}}',
        _body(path=f"{DATASTORE}a/%252e%252e/%252e%252e/secrets/"),
        _body(path=f"{STORAGE}in/x%3Fsv%3D2024-11-04%26sig%3DTopSecretSig/"),
        _body(path=f"{DATASTORE}in/%00/"),
        _body(endpoint="fraud-\u0455coring"),
    ],
    ids=["deep", "duplicate", "nan", "double-encoded", "encoded-sas", "encoded-nul", "lookalike"],
)
def test_hostile_bodies_are_problems_that_submit_and_keep_nothing(
    scoring: App, body: bytes
) -> None:
    response = post(body)
    problem = _problem(response, 422 if b"\\u0455" in body else 400)
    assert problem["field"] in ("(body)", "input.path", "endpoint")
    assert scoring.sim.ml.scoring_posts == []
    assert not [w for w in scoring.sim.writes() if w.route != "token"]
    assert "TopSecret" not in response.get_body().decode()
    assert "TopSecret" not in _ledger_text()
    assert "%252e" not in _ledger_text()


@pytest.mark.parametrize(
    "header",
    [
        "{" + ss.LOGIC_APP + "}",
        ss.LOGIC_APP.replace("-", ""),
        ss.LOGIC_APP[:4] + "\x00" + ss.LOGIC_APP[4:],
    ],
)
def test_a_caller_header_in_another_spelling_is_403_and_submits_nothing(
    scoring: App, header: str
) -> None:
    problem = _problem(post(_body(), _headers(header)), 403)
    assert problem["field"] == "X-MS-CLIENT-PRINCIPAL-ID"
    assert scoring.sim.ml.scoring_posts == []


def test_an_input_path_of_exactly_2048_characters_starts_a_job_and_2049_is_400(
    scoring: App,
) -> None:
    def path(length: int) -> str:
        return DATASTORE + "a" * (length - len(DATASTORE) - 1) + "/"

    assert len(path(MAX_INPUT_PATH)) == MAX_INPUT_PATH
    too_long = _problem(post(_body(path=path(MAX_INPUT_PATH + 1))), 400)
    assert too_long["field"] == "input.path"
    assert scoring.sim.ml.scoring_posts == []
    response = post(_body(path=path(MAX_INPUT_PATH)))
    assert response.status_code == 202
    [(_, sent)] = scoring.sim.ml.scoring_posts
    assert sent["properties"]["inputData"]["UriFolder"]["uri"] == path(MAX_INPUT_PATH)


def test_a_body_of_exactly_64_kib_is_read_and_one_byte_more_is_413(scoring: App) -> None:
    body = _body()
    exact = body[:-1] + b" " * (MAX_BODY_BYTES - len(body)) + b"}"
    assert len(exact) == MAX_BODY_BYTES
    assert post(exact).status_code == 202
    over = exact[:-1] + b" }"
    _problem(post(over), 413)
    assert len(scoring.sim.ml.scoring_posts) == 1


def test_a_scoring_uri_outside_the_inference_domain_is_422_and_gets_no_token(
    scoring: App,
) -> None:
    foreign = scoring.sim.foreign_url

    def elsewhere(body: Any) -> None:
        body["properties"]["scoringUri"] = f"{foreign}/score"

    scoring.sim.rewrite_reply("ml.batch_endpoint.get", elsewhere)
    problem = _problem(post(_body()), 422)
    assert problem["field"] == "endpoint"
    assert scoring.sim.requests_to("localhost") == []
    assert scoring.sim.ml.scoring_posts == []


def test_a_scoring_uri_with_user_info_is_422_and_its_credential_is_repeated_nowhere(
    scoring: App, caplog: pytest.LogCaptureFixture
) -> None:
    # Azure's answer, not the caller's: the credential in it reaches neither the caller, nor the
    # audit row, nor the log.
    secret = "pw-Zq8-not-for-anyone"
    origin = scoring.sim.url.replace("https://", f"https://svc-user:{secret}@")

    def with_user_info(body: Any) -> None:
        body["properties"]["scoringUri"] = f"{origin}/score"

    scoring.sim.rewrite_reply("ml.batch_endpoint.get", with_user_info)
    with caplog.at_level(logging.DEBUG):
        problem = _problem(post(_body()), 422)
    assert problem["field"] == "endpoint"
    assert "user info" in problem["detail"]
    assert secret not in json.dumps(problem)
    assert secret not in json.dumps(_requests(scoring), default=str)
    assert secret not in caplog.text
    assert scoring.sim.ml.scoring_posts == []


@pytest.mark.parametrize(
    "deployment", ["blue/../green", "blue%2Fgreen", "BLUE\n", "../blue", "blue?x=1", "b" * 256]
)
def test_deployment_names_with_path_characters_are_400_and_reach_no_url(
    scoring: App, deployment: str
) -> None:
    problem = _problem(post(_body(deployment=deployment)), 400)
    assert problem["field"] == "deployment"
    assert scoring.sim.requests == []


@pytest.mark.parametrize(
    "name",
    ["..", ".", "%2e%2e", "..%2F..%2Fjobs", "a/b", "batchjob-1\x00", "job\u0131", "j" * 10_000, ""],
)
def test_job_names_with_path_tricks_are_404_without_reading_azure(scoring: App, name: str) -> None:
    _problem(get(name), 404)
    assert scoring.sim.count("ml.job.get") == 0


def test_a_job_name_in_another_case_is_the_same_job_for_its_caller_only(scoring: App) -> None:
    response = post(_body())
    name = json.loads(response.get_body())["name"]
    assert get(name.upper()).status_code == 202
    _problem(get(name.upper(), ss.ANALYST), 404)


def test_the_same_key_from_two_callers_starts_two_jobs(scoring: App) -> None:
    key = {"Idempotency-Key": "nightly-run"}
    first = post(_body(), _headers(ss.LOGIC_APP, **key))
    second = post(_body(), _headers(ss.ANALYST, **key))
    assert first.status_code == second.status_code == 202
    names = {json.loads(r.get_body())["name"] for r in (first, second)}
    assert len(names) == 2
    assert len(scoring.sim.ml.scoring_posts) == 2
    # And neither may read the other's job.
    for response, other in ((first, ss.ANALYST), (second, ss.LOGIC_APP)):
        _problem(get(json.loads(response.get_body())["name"], other), 404)


def test_dry_run_never_submits_even_with_an_idempotency_key(scoring: App) -> None:
    scoring.set_settings(**ss.settings_env(), AUTOMATION_MODE="dry-run")
    for _ in range(2):
        response = post(_body(), _headers(**{"Idempotency-Key": "k"}))
        assert response.status_code == 200
    assert scoring.sim.ml.scoring_posts == []
    assert not [w for w in scoring.sim.writes() if w.route != "token"]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    encoded=st.sampled_from(["%3F", "%253F", "%23", "%2523", "%3f"]),
    secret=st.text(string.ascii_letters + string.digits, min_size=8, max_size=30),
)
def test_a_sas_hidden_by_percent_encoding_never_reaches_a_job_or_the_ledger(
    scoring: App, encoded: str, secret: str
) -> None:
    marker = "TopSecret" + secret
    path = f"{STORAGE}in/data{encoded}sv%3D2024-11-04%26sig%3D{marker}"
    response = post(_body(path=path))
    assert _problem(response, 400)["field"] == "input.path"
    assert marker not in response.get_body().decode()
    assert scoring.sim.ml.scoring_posts == []
    assert marker not in _ledger_text()


def test_a_key_whose_request_was_refused_before_submitting_is_free_for_a_corrected_body(
    scoring: App,
) -> None:
    key = {"Idempotency-Key": "nightly-fix"}
    _problem(post(_body(deployment="purple"), _headers(**key)), 422)
    assert scoring.sim.ml.scoring_posts == []
    corrected = post(_body(deployment="blue"), _headers(**key))
    assert corrected.status_code == 202, corrected.get_body()
    assert len(scoring.sim.ml.scoring_posts) == 1
    again = post(_body(deployment="blue"), _headers(**key))
    assert json.loads(again.get_body())["name"] == json.loads(corrected.get_body())["name"]
    assert len(scoring.sim.ml.scoring_posts) == 1


def test_a_key_whose_submission_may_have_gone_through_stays_bound_to_its_body(
    scoring: App,
) -> None:
    key = {"Idempotency-Key": "nightly-503"}
    scoring.sim.inject("ml.scoring.invoke", status=503, times=5, retry_after=0.01)
    _problem(post(_body(), _headers(**key)), 503)
    scoring.sim.clear_faults()
    # The POST was sent with the claim's request ID: another body may not take the key over.
    problem = _problem(post(_body(endpoint=ss.CHURN_PROD), _headers(**key)), 422)
    assert problem["field"] == "Idempotency-Key"
    assert post(_body(), _headers(**key)).status_code == 202
    assert len(scoring.sim.ml.jobs(scene.PROD)) == 1


def test_a_key_whose_endpoint_read_failed_started_nothing_and_is_free(scoring: App) -> None:
    key = {"Idempotency-Key": "nightly-arm-down"}
    scoring.sim.inject("ml.batch_endpoint.get", status=503, times=5, retry_after=0.01)
    _problem(post(_body(), _headers(**key)), 503)
    scoring.sim.clear_faults()
    assert post(_body(endpoint=ss.CHURN_PROD), _headers(**key)).status_code == 202
    assert len(scoring.sim.ml.scoring_posts) == 1


def test_every_status_the_functions_answered_is_described_in_the_spec(scoring: App) -> None:
    from shared.scoring.contract import build_spec

    paths = build_spec(host="h")["paths"]
    answered: list[tuple[str, str, int]] = []
    started = post(_body())
    answered.append(("/scoring-jobs", "post", started.status_code))
    name = json.loads(started.get_body())["name"]
    # Azure refuses the app's identity (403): the caller cannot fix it, 502.
    scoring.sim.inject("ml.batch_endpoint.get", status=403, times=1)
    answered.append(("/scoring-jobs", "post", _problem(post(_body()), 502)["status"]))
    scoring.sim.inject("ml.job.get", status=403, times=1)
    answered.append(("/scoring-jobs/{job_name}", "get", _problem(get(name), 502)["status"]))
    # Nor can a poller fix Azure's 400 to the app's read of the job it recorded as theirs.
    scoring.sim.inject("ml.job.get", status=400, times=1)
    answered.append(("/scoring-jobs/{job_name}", "get", _problem(get(name), 502)["status"]))
    anonymous = host.call_http("openapi_spec", method="GET", url=f"{ss.APP_URL}/openapi.json")
    answered.append(("/openapi.json", "get", _problem(anonymous, 401)["status"]))
    for path, method, status in answered:
        assert str(status) in paths[path][method]["responses"], (path, method, status)


def test_a_ledger_that_refuses_the_app_is_a_500_problem_that_submits_nothing(
    scoring: App, caplog: pytest.LogCaptureFixture
) -> None:
    import base64
    import os
    import re

    wrong_key = base64.b64encode(b"not the account key").decode()
    refused = re.sub(
        r"AccountKey=[^;]+", f"AccountKey={wrong_key}", os.environ["LEDGER_CONNECTION_STRING"]
    )
    scoring.set_settings(**ss.settings_env(), LEDGER_CONNECTION_STRING=refused)
    for response in (post(_body(), _headers(**{"Idempotency-Key": "k"})), get("batchjob-1")):
        problem = _problem(response, 500)
        assert "Retry-After" not in response.headers
        assert wrong_key not in json.dumps(problem)
    assert scoring.sim.ml.scoring_posts == []
    assert "ledger" in caplog.text
    from shared.scoring.contract import build_spec

    paths = build_spec(host="h")["paths"]
    assert "500" in paths["/scoring-jobs"]["post"]["responses"]
    assert "500" in paths["/scoring-jobs/{job_name}"]["get"]["responses"]


def test_a_file_input_naming_a_folder_is_400_and_submits_nothing(scoring: App) -> None:
    body = json.dumps(
        {"endpoint": "fraud-scoring", "input": {"type": "uri_file", "path": ss.INPUT}}
    ).encode()
    assert _problem(post(body), 400)["field"] == "input.path"
    assert scoring.sim.ml.scoring_posts == []
    as_file = body.replace(b'in/"', b'in/part-0.csv"')
    assert post(as_file).status_code == 202


def test_no_log_line_of_a_refused_request_holds_its_sas_or_path(
    scoring: App, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    marker = "TopSecretSig0123"
    paths = [
        f"{STORAGE}in/?sv=2024-11-04&sig={marker}",
        f"{STORAGE}in/x%3Fsig%3D{marker}",
        f"{DATASTORE}in/#{marker}",
        f"azureml:churn-input:3?sig={marker}",
    ]
    with caplog.at_level(logging.DEBUG):
        for path in paths:
            _problem(post(_body(path=path), _headers(**{"x-ms-client-tracking-id": "t-1"})), 400)
    assert caplog.records
    assert marker not in caplog.text
    assert all(marker not in str(record.__dict__) for record in caplog.records)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, ss.APP_HOST),
        ({"API_HOSTNAME": "Scoring.Contoso.com"}, "scoring.contoso.com"),
        ({"WEBSITE_HOSTNAME": ""}, None),
    ],
)
@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@evil.example:8443/api/openapi.json",
        "https://EVIL.example/api/openapi.json?x=1#f",
        "http://localhost:7071/api/openapi.json",
    ],
)
def test_the_spec_host_is_the_apps_own_never_the_requests_and_the_spec_stays_valid(
    scoring: App, url: str, settings: dict[str, str], expected: str | None
) -> None:
    from openapi_spec_validator import OpenAPIV2SpecValidator, validate

    scoring.set_settings(**{**ss.settings_env(), **settings})
    headers = {**_headers(ss.STRANGER), "Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    response = host.call_http("openapi_spec", method="GET", url=url, headers=headers)
    assert response.status_code == 200
    spec = json.loads(response.get_body())
    validate(spec, cls=OpenAPIV2SpecValidator)
    assert spec.get("host") == expected
    assert "evil" not in response.get_body().decode().lower()
    assert "secret" not in response.get_body().decode()


def test_a_job_name_azure_answers_with_a_dot_can_be_polled_to_its_end(scoring: App) -> None:
    dotted = "batchjob.v2-20261125"

    def rename(body: Any) -> None:
        body["id"] = body["id"].rsplit("/", 1)[0] + "/" + dotted
        body["name"] = dotted

    scoring.sim.rewrite_reply("ml.scoring.invoke", rename)
    response = post(_body())
    assert response.status_code == 202, response.get_body()
    accepted = json.loads(response.get_body())
    assert accepted["name"] == dotted
    assert response.headers["Location"].endswith("/" + dotted)
    scoring.sim.ml.add_job(
        scene.PROD,
        {
            "id": f"{scene.PROD}/jobs/{dotted}",
            "name": dotted,
            "properties": {"status": "Completed", "jobType": "Pipeline"},
        },
    )
    done = get(dotted)
    assert done.status_code == 200, done.get_body()
    assert json.loads(done.get_body())["status"] == "Completed"


@given(st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=260))
def test_every_job_name_the_adapter_accepts_can_be_polled_and_no_other(name: str) -> None:
    import re

    from shared.arm import ML_NAME
    from shared.scoring.contract import JOB_NAME_PATTERN

    assert bool(ML_NAME.fullmatch(name)) == bool(re.fullmatch(JOB_NAME_PATTERN, name))


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=200),
        _JSON_VALUES.map(lambda value: json.dumps(value).encode()),
        st.fixed_dictionaries(
            {"endpoint": st.sampled_from(["fraud-scoring", ss.FRAUD, "x"]) | st.text(max_size=20)},
            optional={
                "deployment": st.sampled_from(["blue", "green"]) | st.text(max_size=20),
                "input": st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(["uri_folder", "uri_file"]) | st.text(max_size=9),
                        "path": st.sampled_from([ss.INPUT, STORAGE + "in/a.csv"])
                        | st.text(max_size=60).map(lambda t: DATASTORE + t),
                    }
                )
                | _JSON_VALUES,
            },
        ).map(lambda value: json.dumps(value).encode()),
    ),
    content_type=st.sampled_from(["application/json", "text/plain", ""]),
    key=st.none() | st.text(max_size=10),
)
def test_any_request_is_answered_with_a_job_or_a_problem_never_an_exception(
    scoring: App, body: bytes, content_type: str, key: str | None
) -> None:
    headers = _headers(**({"Content-Type": content_type} if content_type else {}))
    if not content_type:
        del headers["Content-Type"]
    if key is not None:
        headers["Idempotency-Key"] = key
    before = len(scoring.sim.ml.scoring_posts)
    response = post(body, headers)
    if response.status_code == 202:
        assert response.headers["Location"].startswith(JOBS_URL + "/")
        assert len(scoring.sim.ml.scoring_posts) - before <= 1
    else:
        assert response.status_code in (400, 413, 415, 422), response.get_body()
        _problem(response, response.status_code)
        assert len(scoring.sim.ml.scoring_posts) == before


def test_dry_run_refuses_a_scoring_uri_the_real_run_would_refuse(scoring: App) -> None:
    scoring.set_settings(**ss.settings_env(), AUTOMATION_MODE="dry-run")
    foreign = scoring.sim.foreign_url

    def elsewhere(body: Any) -> None:
        body["properties"]["scoringUri"] = f"{foreign}/score"

    scoring.sim.rewrite_reply("ml.batch_endpoint.get", elsewhere)
    problem = _problem(post(_body()), 422)
    assert problem["field"] == "endpoint"
    assert scoring.sim.requests_to("localhost") == []


def test_location_and_status_url_never_repeat_user_info_of_the_request_url(scoring: App) -> None:
    url = "https://user:Secret123@func-synapse-aml.azurewebsites.net/api/scoring-jobs?x=1"
    response = host.call_http(
        "start_scoring", method="POST", url=url, headers=_headers(), body=_body()
    )
    assert response.status_code == 202
    name = json.loads(response.get_body())["name"]
    assert response.headers["Location"] == f"{JOBS_URL}/{name}"
    assert "Secret123" not in response.get_body().decode()
    polled = host.call_http(
        "get_scoring_job",
        method="GET",
        url=f"https://user:Secret123@func-synapse-aml.azurewebsites.net/api/scoring-jobs/{name}",
        headers=_headers(),
        route_params={"job_name": name},
    )
    assert polled.status_code == 202
    assert polled.headers["Location"] == f"{JOBS_URL}/{name}"


def test_the_apps_own_fault_is_a_500_logged_with_its_frames_and_no_credential(
    scoring: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import handlers.scoring

    secret = "Zq7Wm3Kx9Pv2Ln5Tr8Yb4Hc"
    monkeypatch.setattr(handlers.scoring, "caller_of", lambda *_: fail_holding(secret))

    with caplog.at_level(logging.INFO):
        assert post().status_code == 500

    [logged] = [record for record in caplog.records if record.exc_info]
    assert "in fail_holding" in logging.Formatter().format(logged)  # the traceback, for the fix
    for record in caplog.records:
        assert leaked(secret, logging.Formatter().format(record)) is None
