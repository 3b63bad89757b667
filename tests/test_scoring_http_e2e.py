"""Scoring over HTTP, end to end: the registered functions, called with real `func.HttpRequest`
objects, against the simulator (real SDK pipelines over HTTPS) and Azurite."""

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
from shared.scoring.service import ScoringOrder, ScoringStarter, Started
from tests.conftest import App
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


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
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


def test_the_same_key_with_another_body_is_422_and_submits_nothing(scoring: App) -> None:
    key = {"Idempotency-Key": "run-1"}
    assert post(headers=_headers(**key)).status_code == 202
    response = post(_body(endpoint=ss.CHURN_PROD), _headers(**key))
    assert response.status_code == 422
    assert _json(response)["field"] == "Idempotency-Key"
    assert _submitted(scoring) == 1


def test_after_24_hours_the_same_key_starts_a_new_job(scoring: App) -> None:
    from shared.adapters.batch_scoring import BatchScoringAdapter, ScoringInput
    from shared.claims import idempotent_scoring
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
        dry_run=False,
        clock=lambda: now[0],
    )
    request = validate(
        json.loads(_body()), settings.scoring_allowed_endpoints, settings.scoring_allowed_inputs
    )

    def start() -> Started | object:
        return starter.start(
            ScoringOrder(
                request.endpoint_id,
                request.deployment,
                ScoringInput(request.input_type, request.input_path),
                {},
                "http:start_scoring",
                idempotent_scoring(ss.LOGIC_APP, "nightly", request.fingerprint()),
                ss.LOGIC_APP,
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


def test_an_empty_allow_list_admits_nobody(scoring: App) -> None:
    scoring.set_settings(**{**ss.settings_env(), "SCORING_ALLOWED_CALLERS": ""})
    assert post(headers=_headers(ss.LOGIC_APP)).status_code == 403
    assert _submitted(scoring) == 0


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


def test_an_unreachable_ledger_is_503_with_retry_after_and_submits_nothing(scoring: App) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    scoring.set_settings(**ss.settings_env(), LEDGER_CONNECTION_STRING=unreachable)
    response = post(headers=_headers(**{"Idempotency-Key": "run-ledger-down"}))
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    assert _submitted(scoring) == 0
    assert "ledger is unavailable" in _json(response)["detail"]


def test_concurrent_retries_with_one_key_submit_once(scoring: App) -> None:
    import threading

    post()  # the first request of a process builds clients and takes tokens: not the race
    before = _submitted(scoring)
    responses: list[func.HttpResponse] = []
    barrier = threading.Barrier(6)

    def retry() -> None:
        barrier.wait()
        responses.append(post(headers=_headers(**{"Idempotency-Key": "run-race"})))

    threads = [threading.Thread(target=retry) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _submitted(scoring) == before + 1
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {202, 503}
    assert 202 in statuses
    names = {_json(r)["name"] for r in responses if r.status_code == 202}
    assert len(names) == 1
    busy = [r for r in responses if r.status_code == 503]
    assert all(int(r.headers["Retry-After"]) > 0 for r in busy)
