"""The batch scoring adapter over the simulator: ARM reads of endpoints and jobs, the scoring URI
POST with an Azure ML token, repeatability, and the scoring URI check before any token leaves."""

from __future__ import annotations

import string
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.answers import UnexpectedAnswerError
from shared.adapters.batch_scoring import (
    BatchEndpoint,
    BatchScoringAdapter,
    ScoringInput,
    ScoringUriRejectedError,
    UnexpectedResponseError,
    _started_deployment,
    check_scoring_uri,
    job_from_arm,
)
from shared.adapters.clients import clients_for
from shared.adapters.retraining_jobs import app_job_from_arm
from shared.arm import ArmId
from shared.bounds import redacted
from shared.config import get_settings
from simulator.tokens import claims_of
from tests.conftest import App
from tests.credentials import leaked, placed
from tests.retraining import LOOKALIKE_WORKSPACES
from tools import scene

PROD = ArmId(scene.PROD)
ENDPOINT = ArmId(f"{scene.PROD}/batchEndpoints/churn-batch")
FOLDER = ScoringInput("uri_folder", "azureml://datastores/workspaceblobstore/paths/scoring/in/")


@pytest.fixture
def adapter(app: App) -> BatchScoringAdapter:
    app.sim.ml.add_batch_endpoint(
        ENDPOINT, deployments=["blue", "green"], default_deployment="blue"
    )
    app.sim.reset_counts()
    return BatchScoringAdapter(clients_for(get_settings()))


def _routes(app: App) -> list[tuple[str, str, int]]:
    return [(r.method, r.route, r.status) for r in app.non_token_requests()]


def test_get_endpoint_reads_scoring_uri_and_default_deployment(
    app: App, adapter: BatchScoringAdapter
) -> None:
    endpoint = adapter.get_endpoint(ENDPOINT)

    assert endpoint.name == "churn-batch"
    assert endpoint.workspace_id == scene.PROD
    assert endpoint.default_deployment == "blue"
    assert endpoint.scoring_uri.startswith(app.sim.url + "/inference/")
    assert [(r.route, r.api_version) for r in app.non_token_requests()] == [
        ("ml.batch_endpoint.get", "2023-10-01")
    ]


def test_the_endpoints_workspace_is_read_from_its_id_whatever_the_names(
    app: App, adapter: BatchScoringAdapter
) -> None:
    group = f"/subscriptions/{scene.ML_SUBSCRIPTION}/resourceGroups/batchEndpoints"
    workspace = f"{group}/providers/Microsoft.MachineLearningServices/workspaces/batchEndpoints"
    app.sim.ml.add_batch_endpoint(ArmId(f"{workspace}/batchEndpoints/e"), deployments=["blue"])

    endpoint = adapter.get_endpoint(ArmId(f"{workspace}/batchEndpoints/e"))

    assert endpoint.workspace_id == workspace


def test_unknown_endpoint_is_not_found(adapter: BatchScoringAdapter) -> None:
    with pytest.raises(ResourceNotFoundError):
        adapter.get_endpoint(ArmId(f"{scene.PROD}/batchEndpoints/missing"))


def test_deployment_exists_only_for_deployments_of_the_endpoint(
    adapter: BatchScoringAdapter,
) -> None:
    assert adapter.deployment_exists(ENDPOINT, "green") is True
    assert adapter.deployment_exists(ENDPOINT, "GREEN") is True
    assert adapter.deployment_exists(ENDPOINT, "red") is False


def test_invoke_posts_once_with_an_ml_token_and_the_job_reads_back(
    app: App, adapter: BatchScoringAdapter
) -> None:
    endpoint = adapter.get_endpoint(ENDPOINT)
    job = adapter.invoke(
        endpoint,
        deployment="green",
        scoring_input=FOLDER,
        tags={"retraining-job": "retrain-abc"},
        request_id=str(uuid.uuid4()),
    )

    [(headers, body)] = app.sim.ml.scoring_posts
    token = headers["authorization"].removeprefix("Bearer ")
    assert claims_of(token)["aud"] == "https://ml.azure.com"
    assert headers["azureml-model-deployment"] == "green"
    assert body["properties"]["inputData"] == {
        "UriFolder": {"jobInputType": "UriFolder", "uri": FOLDER.path}
    }
    assert body["properties"]["tags"] == {"retraining-job": "retrain-abc"}
    assert job.status == "NotStarted"
    assert not job.finished
    assert job.deployment == "green"

    app.sim.ml.set_job_status(scene.PROD, job.name, "Completed")
    read = adapter.get_job(PROD, job.name)
    assert read.status == "Completed"
    assert read.finished
    assert read.deployment == "green"
    assert "score" in read.outputs


def test_invoke_without_deployment_uses_the_endpoint_default(
    app: App, adapter: BatchScoringAdapter
) -> None:
    job = adapter.invoke(
        adapter.get_endpoint(ENDPOINT),
        deployment=None,
        scoring_input=ScoringInput("uri_file", "azureml://datastores/ds/paths/in/data.csv"),
        tags={},
        request_id=str(uuid.uuid4()),
    )
    [(headers, body)] = app.sim.ml.scoring_posts
    assert "azureml-model-deployment" not in headers
    assert body["properties"]["inputData"]["UriFile"]["jobInputType"] == "UriFile"
    assert job.deployment == "blue"


def test_same_request_id_gets_the_same_job(app: App, adapter: BatchScoringAdapter) -> None:
    endpoint = adapter.get_endpoint(ENDPOINT)
    request_id = str(uuid.uuid4())
    first = adapter.invoke(
        endpoint, deployment=None, scoring_input=FOLDER, tags={}, request_id=request_id
    )
    second = adapter.invoke(
        endpoint, deployment=None, scoring_input=FOLDER, tags={}, request_id=request_id
    )
    third = adapter.invoke(
        endpoint, deployment=None, scoring_input=FOLDER, tags={}, request_id=str(uuid.uuid4())
    )

    assert first.name == second.name != third.name
    assert len(app.sim.ml.jobs(scene.PROD)) == 2


@pytest.mark.parametrize("status", [429, 503])
def test_transient_failure_on_invoke_is_retried_and_makes_one_job(
    app: App, adapter: BatchScoringAdapter, status: int
) -> None:
    endpoint = adapter.get_endpoint(ENDPOINT)
    app.sim.inject("ml.scoring.invoke", status=status, retry_after=0)
    adapter.invoke(endpoint, deployment=None, scoring_input=FOLDER, tags={}, request_id="r-1")

    assert [s for _, route, s in _routes(app) if route == "ml.scoring.invoke"] == [status, 200]
    assert len(app.sim.ml.jobs(scene.PROD)) == 1


def test_a_lost_response_is_retried_into_the_same_job(
    app: App, adapter: BatchScoringAdapter
) -> None:
    endpoint = adapter.get_endpoint(ENDPOINT)
    # The job is created but the answer is lost: the retry must not make a second one.
    app.sim.lose_response("ml.scoring.invoke", status=503)
    job = adapter.invoke(endpoint, deployment=None, scoring_input=FOLDER, tags={}, request_id="r-2")

    assert [s for _, route, s in _routes(app) if route == "ml.scoring.invoke"] == [503, 200]
    assert [j["name"] for j in app.sim.ml.jobs(scene.PROD)] == [job.name]


def test_persistent_transient_failure_raises_without_a_job(
    app: App, adapter: BatchScoringAdapter
) -> None:
    endpoint = adapter.get_endpoint(ENDPOINT)
    app.sim.inject("ml.scoring.invoke", status=503, times=10, retry_after=0)
    with pytest.raises(HttpResponseError) as raised:
        adapter.invoke(endpoint, deployment=None, scoring_input=FOLDER, tags={}, request_id="r-3")
    assert raised.value.status_code == 503
    assert app.sim.ml.jobs(scene.PROD) == []


def test_unknown_deployment_is_a_permanent_error(app: App, adapter: BatchScoringAdapter) -> None:
    with pytest.raises(ResourceNotFoundError):
        adapter.invoke(
            adapter.get_endpoint(ENDPOINT),
            deployment="red",
            scoring_input=FOLDER,
            tags={},
            request_id="r-4",
        )
    assert app.sim.ml.jobs(scene.PROD) == []


def test_a_scoring_uri_outside_the_inference_domain_gets_no_token(app: App) -> None:
    app.sim.ml.add_batch_endpoint(ENDPOINT)
    # In Azure the domain is inference.ml.azure.com: the simulator's host is not under it.
    app.set_settings(AML_INFERENCE_DOMAIN="inference.ml.azure.com")
    adapter = BatchScoringAdapter(clients_for(get_settings()))
    endpoint = adapter.get_endpoint(ENDPOINT)
    app.sim.reset_counts()

    with pytest.raises(ScoringUriRejectedError, match="AML_INFERENCE_DOMAIN"):
        adapter.invoke(endpoint, deployment=None, scoring_input=FOLDER, tags={}, request_id="r")
    assert app.sim.requests == []
    assert app.sim.identity.token_requests == []


def test_get_job_of_an_unknown_job_is_not_found(adapter: BatchScoringAdapter) -> None:
    with pytest.raises(ResourceNotFoundError):
        adapter.get_job(PROD, "no-such-job")


@pytest.mark.parametrize(
    "body",
    [
        {"properties": {"status": "Running"}},
        {"name": "j1"},
        {"name": "j1", "properties": {"tags": {}}},
        {"name": "", "properties": {"status": "Running"}},
    ],
)
def test_a_job_body_of_the_wrong_shape_is_an_error(body: dict[str, object]) -> None:
    with pytest.raises(UnexpectedResponseError):
        job_from_arm(body)


# A job's optional fields, where they lie in its `properties`, and the type each must have.
_OPTIONAL_FIELDS = {
    ("startTime",): str,
    ("endTime",): str,
    ("outputs",): dict,
    ("properties",): dict,
    ("properties", "azureml.deploymentname"): str,
}


@given(
    path=st.sampled_from(sorted(_OPTIONAL_FIELDS)),
    value=st.one_of(
        st.none(),
        st.just(""),  # empty text: absent, as a null is
        st.text(min_size=1, max_size=5),
        st.integers(),
        st.floats(),
        st.booleans(),
        st.lists(st.text(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    ),
)
def test_a_jobs_optional_field_is_read_only_when_of_its_type(
    path: tuple[str, ...], value: object
) -> None:
    properties: dict[str, Any] = {"status": "Completed", "properties": {}}
    *inside, last = path
    (properties[inside[0]] if inside else properties)[last] = value
    body = {"name": "j1", "properties": properties}

    if value in (None, "") or isinstance(value, _OPTIONAL_FIELDS[path]):
        job = job_from_arm(body)
        read = {
            ("startTime",): job.start_time,
            ("endTime",): job.end_time,
            ("outputs",): job.outputs or None,
            ("properties",): None,
            ("properties", "azureml.deploymentname"): job.deployment,
        }[path]
        assert read == (value if path != ("properties",) and value not in ({}, "") else None)
    else:
        with pytest.raises(UnexpectedResponseError, match=f"job j1: no {last}"):
            job_from_arm(body)


@pytest.mark.parametrize(
    ("error", "text"),
    [
        ({"code": "UserError", "message": "disk full"}, "disk full"),
        ({"code": "UserError"}, "UserError"),  # no message: the code, never "None"
        ({"details": []}, '{"details": []}'),
        ("out of memory", "out of memory"),
        (None, None),
        ({"code": "", "message": ""}, '{"code": "", "message": ""}'),
    ],
)
def test_both_kinds_of_job_read_azures_error_the_same_way(error: object, text: str | None) -> None:
    body = {"name": "j1", "properties": {"status": "Failed", "error": error}}
    assert job_from_arm(body).error == text
    assert app_job_from_arm(body).error == text


# ------------------------------------------------- an answer about another resource is refused


def _lookalikes(resource: str, tails: list[str]) -> st.SearchStrategy[str | None]:
    """ARM IDs for `resource` of PROD as Azure could answer them: PROD's own in any case, and
    lookalikes (another workspace, one whose name begins with PROD's, another child), or none."""
    children = st.sampled_from([resource, *tails])
    ids = st.builds(lambda ws, tail: ws + tail, LOOKALIKE_WORKSPACES, children)
    return st.one_of(ids, st.none())


def _answering(answered: str | None) -> Any:
    """A rewrite of Azure's answer: its `id` is `answered` (None: it has none)."""

    def rewrite(body: dict[str, Any]) -> None:
        body.pop("id", None)
        if answered is not None:
            body["id"] = answered

    return rewrite


# A read, the resource it asks for (under PROD), lookalike tails, what the read decides and the
# refusal's words. The endpoint: its scoring URI receives the caller's input (and the app's ML
# token), its default scores. The deployment: a scoring request naming it is accepted on it.
Read = Callable[[BatchScoringAdapter], object]
ENDPOINT_READS: dict[str, tuple[str, list[str], Read, str]] = {
    "ml.batch_endpoint.get": (
        "/batchEndpoints/churn-batch",
        ["/batchEndpoints/other", "/batchEndpoints/churn-batch/deployments/blue"],
        lambda adapter: adapter.get_endpoint(ENDPOINT).default_deployment == "blue",
        f"asked for batch endpoint {ENDPOINT}",
    ),
    "ml.batch_deployment.get": (
        "/batchEndpoints/churn-batch/deployments/green",
        ["/batchEndpoints/churn-batch/deployments/blue", "/batchEndpoints/other/deployments/green"],
        lambda adapter: adapter.deployment_exists(ENDPOINT, "green"),
        "asked for batch deployment green of",
    ),
}


@pytest.mark.parametrize("route", sorted(ENDPOINT_READS))
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_an_endpoint_or_deployment_read_is_only_ever_of_what_was_asked(
    app: App, adapter: BatchScoringAdapter, route: str, data: st.DataObject
) -> None:
    # An answer about another endpoint or deployment of that name, or one that does not say
    # which, is refused.
    resource, tails, decided, refusal = ENDPOINT_READS[route]
    answered = data.draw(_lookalikes(resource, tails))
    app.sim.rewrite_reply(route, _answering(answered))
    if answered is not None and answered.lower() == f"{scene.PROD}{resource}".lower():
        assert decided(adapter) is True
    else:
        with pytest.raises(UnexpectedAnswerError, match=refusal):
            decided(adapter)


JOB = "batchjob-1"


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    answered=_lookalikes(
        f"/jobs/{JOB}",
        ["/jobs/other", f"/jobs/{JOB}/x", f"/jobs/{JOB}x", f"/batchEndpoints/e/jobs/{JOB}"],
    )
)
def test_a_job_read_is_only_ever_of_that_workspaces_job(
    app: App, adapter: BatchScoringAdapter, answered: str | None
) -> None:
    # A job's status decides scoring, announcements and what a caller is shown: an answer about
    # another workspace's job of that name (or another job) is refused by both kinds of read.
    from shared.adapters.retraining_jobs import RetrainingJobsAdapter

    body = {"id": f"{scene.PROD}/jobs/{JOB}", "name": JOB, "properties": {"status": "Completed"}}
    app.sim.ml.add_job(scene.PROD, body)
    jobs = RetrainingJobsAdapter(clients_for(get_settings()))
    ours = answered is not None and answered.lower() == f"{scene.PROD}/jobs/{JOB}".lower()
    for read in (adapter.get_job, jobs.get_job):
        app.sim.rewrite_reply("ml.job.get", _answering(answered))
        if ours:
            assert getattr(read(PROD, JOB), "status", None) == "Completed"
        else:
            with pytest.raises(UnexpectedAnswerError, match=f"asked for job '{JOB}'"):
                read(PROD, JOB)


# ----------------------------------------------------------------- the scoring URI check

DOMAIN = "inference.ml.azure.com"
_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(endpoint=_label, region=_label)
def test_scoring_uris_under_the_domain_pass(endpoint: str, region: str) -> None:
    uri = f"https://{endpoint}.{region}.{DOMAIN}/jobs"
    assert check_scoring_uri(uri, DOMAIN) == f"https://{endpoint}.{region}.{DOMAIN}"


@given(host=st.lists(_label, min_size=1, max_size=4).map(".".join))
def test_hosts_not_under_the_domain_are_rejected(host: str) -> None:
    # Lookalikes: the domain glued to a label, or followed by another domain.
    for candidate in (host, f"{host}{DOMAIN}", f"{DOMAIN}.{host}", f"{host}-{DOMAIN}"):
        if candidate == DOMAIN or candidate.endswith("." + DOMAIN):
            continue
        with pytest.raises(ScoringUriRejectedError):
            check_scoring_uri(f"https://{candidate}/jobs", DOMAIN)


@given(endpoint=_label, evil=_label)
def test_http_user_info_and_odd_hosts_are_rejected(endpoint: str, evil: str) -> None:
    good_host = f"{endpoint}.eastus.{DOMAIN}"
    for uri in (
        f"http://{good_host}/jobs",
        f"https://{good_host}@{evil}.example.com/jobs",
        f"https://user:pw@{good_host}/jobs",
        f"https://{evil}.example.com\\@{good_host}/jobs",
        f"https://{good_host}\u3002evil.com/jobs",
        f"ftp://{good_host}/jobs",
        f"//{good_host}/jobs",
    ):
        with pytest.raises(ScoringUriRejectedError):
            check_scoring_uri(uri, DOMAIN)


@given(
    user=st.text(alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=", max_size=20),
    secret=st.text(alphabet=string.ascii_letters + string.digits + "-._~%!$&'()*+,;=", min_size=1),
    where=st.sampled_from(["", "/jobs", "/jobs?x=1", "#f"]),
)
def test_a_scoring_uri_with_user_info_is_refused_without_repeating_it(
    user: str, secret: str, where: str
) -> None:
    # The refusal is the 422's detail and an audit row: the credential stays in Azure's answer.
    uri = f"https://{user}:pw-{secret}@fraud.eastus.{DOMAIN}{where}"
    with pytest.raises(ScoringUriRejectedError, match="user info") as refused:
        check_scoring_uri(uri, DOMAIN)
    assert f"pw-{secret}" not in str(refused.value)


def test_scoring_input_kind_follows_the_trailing_slash() -> None:
    assert ScoringInput.from_setting("azureml://datastores/d/paths/in/").kind == "uri_folder"
    assert ScoringInput.from_setting("azureml://datastores/d/paths/in.csv").kind == "uri_file"


@given(st.data(), st.sampled_from(["name", "id"]))
def test_a_refused_scoring_job_answer_shows_no_piece_of_a_credential(
    data: st.DataObject, field: str
) -> None:
    # Azure's job name and ID are repeated cut (100 and 300 characters) in the refusal.
    text, secret = data.draw(placed(100 if field == "name" else 300, before=8))
    endpoint = BatchEndpoint(ENDPOINT, PROD, "churn-batch", "https://e", None)
    name, job_id = (text, f"{ENDPOINT}/deployments/d/jobs/j") if field == "name" else ("j", text)
    with pytest.raises(UnexpectedAnswerError) as raised:
        _started_deployment(endpoint, name, job_id)
    # Every sink (ledger, log, answer) redacts it: what the cut let through is what shows.
    assert leaked(secret, redacted(str(raised.value))) is None, str(raised.value)
