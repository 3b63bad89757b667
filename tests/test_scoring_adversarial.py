"""Scoring over HTTP under attack: the cases an outside caller may try, through the registered
functions with real `func.HttpRequest` objects over the simulator, and the pure checks behind
them. Each refusal must be a problem document, submit nothing and keep nothing secret."""

from __future__ import annotations

import json
import string
from typing import Any

import azure.functions as func
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.arm import ArmId
from shared.scoring.contract import MAX_BODY_BYTES, MAX_INPUT_PATH
from shared.scoring.inputs import input_path_problem
from shared.scoring.requests import (
    RefusedError,
    authorize,
    caller_of,
    parse_body,
    resolve_endpoint,
)
from tests.conftest import App
from tools import host, scene
from tools import scoring_scene as ss

JOBS_URL = f"{ss.APP_URL}/scoring-jobs"
DATASTORE = "azureml://datastores/workspaceblobstore/paths/"
STORAGE = "https://mlstore.blob.core.windows.net/scoring/"


def _refused(call: Any, *args: object) -> tuple[int, str | None, str]:
    with pytest.raises(RefusedError) as caught:
        call(*args)
    problem = caught.value.problem
    return problem.status, problem.field, problem.detail


# --- input paths (pure) --------------------------------------------------------------------


@pytest.mark.parametrize(
    "segment",
    [
        "%252e%252e",  # decoded twice: '..'
        "%25252E%25252E",  # three times
        ".%252e",
        "%252F",  # a separator after two decodings
        "%255C",
    ],
)
def test_a_traversal_or_separator_encoded_more_than_once_is_refused(segment: str) -> None:
    for base in (DATASTORE, STORAGE):
        assert input_path_problem(f"{base}a/{segment}/b") is not None


@pytest.mark.parametrize(
    "segment", ["%00", "%0a", "%0D%0A", "%7f", "%2500", "%ff", "%C3", "%e2%80%ae"]
)
def test_a_percent_encoded_control_character_or_non_utf8_byte_is_refused(segment: str) -> None:
    # %e2%80%ae is U+202E (right-to-left override): not printable, it would disguise a path.
    assert input_path_problem(f"{DATASTORE}in/{segment}.csv") is not None


@pytest.mark.parametrize("segment", ["%3Fsv%3D1%26sig%3Dabc", "x%3f", "%23sig=abc", "%253Fsig"])
def test_a_query_or_fragment_hidden_in_percent_encoding_is_refused(segment: str) -> None:
    for base in (DATASTORE, STORAGE):
        reason = input_path_problem(f"{base}in/{segment}")
        assert reason is not None
        assert "sig" not in reason


@pytest.mark.parametrize("segment", ["%", "%2", "%zz", "a%g0"])
def test_a_malformed_percent_escape_is_refused(segment: str) -> None:
    assert input_path_problem(f"{DATASTORE}in/{segment}") is not None


@pytest.mark.parametrize(
    "path",
    [
        f"{DATASTORE}in/caf%C3%A9.csv",  # encoded UTF-8 text is a real file name
        f"{DATASTORE}in/my%20file.csv",
        f"{STORAGE}in/100%25.csv",  # a literal '%' in a blob name
        f"{DATASTORE}in/.../x",  # three dots is a name, not a traversal
    ],
)
def test_plain_percent_encoded_names_still_pass(path: str) -> None:
    assert input_path_problem(path) is None


@pytest.mark.parametrize(
    "path",
    [
        "AzureML://datastores/workspaceblobstore/paths/in/",
        "HTTPS://mlstore.blob.core.windows.net/scoring/in/",
        "https://MLSTORE.blob.core.windows.net/scoring/in/",
        "https://mlstore.blob.core.windows.net:443/scoring/in/",
        "https://user@mlstore.blob.core.windows.net/scoring/in/",
        "https://mlstore.blob.core.windows.net.evil.com/scoring/in/",
        "https://mlstore.blob.core.windows.net@evil.com/scoring/in/",
        "https://mlstore.blob.core.windows.net./scoring/in/",
        "https://10.1.2.3/scoring/in/",
        "https://[::1]/scoring/in/",
        "https://mlstore.blob.core.windows.net//in/",
        "https://mlstore.blob.core.windows.net/scoring//in/",
        "azureml://datastores//paths/in/",
        "azureml://datastores/ws/paths/",
        "azureml://datastores/ws/paths//in",
        "azureml:churn-input:",
        "azureml:churn-input",
        "azureml:churn-input:-1",
        "azureml:churn-input:1:2",
        "azureml:churn-input:1/../x",
        "azureml:churn-input@latest",
        "azureml:churn-input:1 ",
        " azureml:churn-input:1",
        "azureml:churn-input:1\x00",
        "https://mlstore.blob.core.windows.net/scoring/in/\u2024\u2024/x",
        "https://mlstore.blob.core.windows.net/scoring/in/\uff0e\uff0e/x",
        "https://mlstore.blob.core.windows.net/scoring/in\\..\\x",
    ],
)
def test_spellings_outside_the_three_forms_are_refused(path: str) -> None:
    assert input_path_problem(path) is not None


@given(
    base=st.sampled_from([DATASTORE, STORAGE]),
    name=st.text(string.ascii_letters + string.digits + "%._-", min_size=1, max_size=30),
)
def test_whatever_passes_has_no_traversal_query_or_control_after_any_number_of_decodings(
    base: str, name: str
) -> None:
    from urllib.parse import unquote

    path = f"{base}in/{name}"
    if input_path_problem(path) is not None:
        return
    text = path
    for _ in range(len(path)):
        decoded = unquote(text, errors="strict")
        if decoded == text:
            break
        text = decoded
    relative = text.removeprefix(base)
    assert relative.isprintable()
    assert not {"?", "#", "\\"} & set(relative)
    assert not {".", ".."} & set(relative.split("/"))


# --- bodies, callers, endpoints (pure) ------------------------------------------------------


def test_json_nested_deeper_than_the_parser_goes_is_400_not_a_crash() -> None:
    for opener in (b"[", b'{"a":'):
        body = opener * (MAX_BODY_BYTES // len(opener))
        status, field, _ = _refused(parse_body, "application/json", body)
        assert (status, field) == (400, "(body)")


@pytest.mark.parametrize(
    "body",
    [
        b'{"endpoint": "fraud-scoring", "endpoint": "churn-scoring"}',
        b'{"endpoint": "e", "input": {"type": "uri_file", "path": "a", "path": "b"}}',
        b'{"endpoint": NaN}',
        b'{"endpoint": "e", "input": Infinity}',
        b"-Infinity",
    ],
)
def test_duplicate_members_and_non_json_numbers_are_400(body: bytes) -> None:
    status, field, _ = _refused(parse_body, "application/json", body)
    assert (status, field) == (400, "(body)")


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=iso-8859-1", "application/json;charset=utf-16", "text/json"],
)
def test_json_in_another_charset_or_media_type_is_415(content_type: str) -> None:
    assert _refused(parse_body, content_type, b"{}")[0] == 415


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        'application/json; charset="utf-8"',
    ],
)
def test_json_declared_as_utf8_is_read(content_type: str) -> None:
    assert parse_body(content_type, b'{"a": "b"}') == {"a": "b"}


CALLER = ss.LOGIC_APP


@pytest.mark.parametrize(
    "header",
    [
        "{" + CALLER + "}",
        "urn:uuid:" + CALLER,
        CALLER.replace("-", ""),
        "urn:urn:urn:urn:" + CALLER,
        "-".join(CALLER.replace("-", "")[i : i + 2] for i in range(0, 32, 2)),
        CALLER + "\x00",
        CALLER[:4] + "\x00" + CALLER[4:],
        CALLER[:4] + "\u200b" + CALLER[4:],
        f"{CALLER}, {ss.ANALYST}",
        f"{CALLER},{CALLER}",
        CALLER + "x" * 40,
    ],
)
def test_a_caller_header_that_is_not_exactly_one_object_id_is_refused(header: str) -> None:
    # Even when the claims agree with it (401 when a non-ASCII claim cannot agree with anything).
    caller = caller_of(ss.caller_headers(header))
    status, field, _ = _refused(authorize, caller, frozenset({CALLER}))
    assert (status, field) == (403 if header.isascii() else 401, "X-MS-CLIENT-PRINCIPAL-ID")


def test_an_upper_case_object_id_is_the_same_caller() -> None:
    headers = {
        **ss.caller_headers(CALLER.upper()),
        "X-MS-CLIENT-PRINCIPAL-ID": f"  {CALLER.upper()} ",
    }
    assert authorize(caller_of(headers), frozenset({CALLER})) == CALLER


def test_a_non_ascii_lookalike_of_an_endpoint_name_names_nothing() -> None:
    endpoint = ArmId(f"{scene.PROD}/batchEndpoints/kscore")
    assert resolve_endpoint("KSCORE", (endpoint,)) == endpoint
    for lookalike in ("\u212ascore", "k\u0455core", "kscore\u200b", "\uff4bscore"):
        status, field, _ = _refused(resolve_endpoint, lookalike, (endpoint,))
        assert (status, field) == (422, "endpoint")


# --- through the registered functions, over the simulator ----------------------------------


def _headers(caller: str | None = ss.LOGIC_APP, **extra: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if caller is not None:
        headers.update(ss.caller_headers(caller))
    return {**headers, **extra}


def _body(endpoint: str = "fraud-scoring", path: str = ss.INPUT, **fields: Any) -> bytes:
    return json.dumps(
        {"endpoint": endpoint, "input": {"type": "uri_folder", "path": path}, **fields}
    ).encode()


def post(body: bytes, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return host.call_http(
        "start_scoring",
        method="POST",
        url=JOBS_URL,
        headers=_headers() if headers is None else headers,
        body=body,
    )


def get(name: str, caller: str | None = ss.LOGIC_APP) -> func.HttpResponse:
    return host.call_http(
        "get_scoring_job",
        method="GET",
        url=f"{JOBS_URL}/{name}",
        headers=_headers(caller),
        route_params={"job_name": name},
    )


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


pytestmark = pytest.mark.slow


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


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
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
    from shared.scoring.openapi import build_spec

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
    from shared.scoring.openapi import build_spec

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
        {"name": dotted, "properties": {"status": "Completed", "jobType": "Pipeline"}},
    )
    done = get(dotted)
    assert done.status_code == 200, done.get_body()
    assert json.loads(done.get_body())["status"] == "Completed"


@given(st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=260))
def test_every_job_name_the_adapter_accepts_can_be_polled_and_no_other(name: str) -> None:
    import re

    from shared.ml_events import JOB_NAME
    from shared.scoring.contract import JOB_NAME_PATTERN

    assert bool(JOB_NAME.fullmatch(name)) == bool(re.fullmatch(JOB_NAME_PATTERN, name))


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
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
