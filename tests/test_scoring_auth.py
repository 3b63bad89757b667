"""Who calls the HTTP scoring functions, and where their answers point: they serve only behind
App Service authentication, trust a caller only when the whole header set it forwards agrees
(`caller_of`), and build their URLs from the app's own host name, never from the request."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

import azure.functions as func
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.scoring.requests import MAX_CLAIMS_HEADER, caller_of
from tests.conftest import App
from tools import host, scene
from tools import scoring_scene as ss

OID = ss.OBJECT_ID_CLAIM
CALLER = ss.LOGIC_APP
JOBS_PATH = "/api/scoring-jobs"


def _principal(claims: list[dict[str, object]], auth_typ: str = "aad") -> str:
    return ss.principal_header(claims, auth_typ)


# --- the principal check (pure) -------------------------------------------------------------


def test_the_full_header_set_is_trusted() -> None:
    assert caller_of(ss.caller_headers(CALLER)).authenticated
    short = {
        **ss.caller_headers(CALLER),
        "X-MS-CLIENT-PRINCIPAL": _principal([{"typ": "oid", "val": CALLER.upper()}]),
    }
    assert caller_of(short).authenticated


@pytest.mark.parametrize(
    "change",
    [
        {"X-MS-CLIENT-PRINCIPAL": None, "X-MS-CLIENT-PRINCIPAL-IDP": None},
        {"X-MS-CLIENT-PRINCIPAL": None},
        {"X-MS-CLIENT-PRINCIPAL-IDP": None},
        {"X-MS-CLIENT-PRINCIPAL-IDP": "github"},
        {"X-MS-CLIENT-PRINCIPAL-IDP": "AAD "},
        {"X-MS-CLIENT-PRINCIPAL": _principal([{"typ": OID, "val": ss.ANALYST}])},
        {"X-MS-CLIENT-PRINCIPAL": _principal([{"typ": OID, "val": CALLER}], auth_typ="google")},
        {"X-MS-CLIENT-PRINCIPAL": _principal([{"typ": "sub", "val": CALLER}])},
        {"X-MS-CLIENT-PRINCIPAL": _principal([])},
        {
            "X-MS-CLIENT-PRINCIPAL": _principal(
                [{"typ": OID, "val": CALLER}, {"typ": "oid", "val": ss.ANALYST}]
            )
        },
        {"X-MS-CLIENT-PRINCIPAL": _principal([{"typ": OID, "val": [CALLER]}])},
        {"X-MS-CLIENT-PRINCIPAL": "not base64!"},
        {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(b"{not json").decode()},
        {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(b"[" * 100_000).decode()[:60_000]},
        {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps([CALLER]).encode()).decode()},
        {
            "X-MS-CLIENT-PRINCIPAL": _principal(
                [{"typ": OID, "val": CALLER}, {"typ": "pad", "val": "x" * MAX_CLAIMS_HEADER}]
            )
        },
        {"X-MS-CLIENT-PRINCIPAL-ID": ss.ANALYST},
        {"X-MS-CLIENT-PRINCIPAL-ID": None},
    ],
)
def test_a_header_set_that_does_not_agree_is_not_trusted(change: dict[str, str | None]) -> None:
    headers = {**ss.caller_headers(CALLER), **change}
    sent = {name: value for name, value in headers.items() if value is not None}
    assert not caller_of(sent).authenticated


def _object_ids(encoded: str) -> set[str] | None:
    """An independent decoding: the object ID claims, or None when it is not Entra ID's JSON."""
    try:
        principal = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return None
    if not isinstance(principal, dict) or principal.get("auth_typ") != "aad":
        return None
    claims = principal.get("claims")
    if not isinstance(claims, list):
        return None
    return {
        str(claim.get("val")).lower()
        for claim in claims
        if isinstance(claim, dict) and claim.get("typ") in (OID, "oid")
    }


_IDS = st.sampled_from([CALLER, CALLER.upper(), ss.ANALYST, ss.STRANGER, "", "x", CALLER + " "])
_CLAIMS = st.lists(
    st.fixed_dictionaries(
        {
            "typ": st.sampled_from([OID, "oid", "sub", "appid", OID.upper()]),
            "val": st.one_of(_IDS, st.integers(), st.none()),
        }
    ),
    max_size=4,
)


@settings(max_examples=500)
@given(
    principal_id=st.one_of(st.none(), _IDS),
    # Weighted towards sets that nearly agree, so that trusted ones are generated too.
    idp=st.sampled_from(["aad", "aad", "aad", None, "AAD", "github", " aad", ""]),
    claims=_CLAIMS,
    auth_typ=st.sampled_from(["aad", "aad", "aad", "AAD", "facebook", ""]),
    raw=st.one_of(st.none(), st.none(), st.none(), st.text(max_size=40)),
)
def test_no_header_set_without_a_matching_object_id_is_trusted(
    principal_id: str | None,
    idp: str | None,
    claims: list[dict[str, object]],
    auth_typ: str,
    raw: str | None,
) -> None:
    encoded = raw if raw is not None else _principal(claims, auth_typ)
    headers = {
        name: value
        for name, value in {
            "X-MS-CLIENT-PRINCIPAL-ID": principal_id,
            "X-MS-CLIENT-PRINCIPAL-IDP": idp,
            "X-MS-CLIENT-PRINCIPAL": encoded,
        }.items()
        if value is not None
    }
    if caller_of(headers).authenticated:
        assert idp is not None
        assert idp.strip() == "aad"
        assert principal_id is not None
        assert principal_id.strip()
        assert _object_ids(encoded) == {principal_id.strip().lower()}


# --- through the functions -------------------------------------------------------------------


_BODY = json.dumps({"endpoint": "fraud-scoring", "input": {"type": "uri_folder", "path": ss.INPUT}})


def _post(headers: dict[str, str], url: str = f"{ss.APP_URL}/scoring-jobs") -> func.HttpResponse:
    return host.call_http(
        "start_scoring",
        method="POST",
        url=url,
        headers={"Content-Type": "application/json", **headers},
        body=_BODY.encode(),
    )


def _get(name: str, headers: dict[str, str], url: str | None = None) -> func.HttpResponse:
    return host.call_http(
        "get_scoring_job",
        method="GET",
        url=url or f"{ss.APP_URL}/scoring-jobs/{name}",
        headers=headers,
        route_params={"job_name": name},
    )


def _problem(response: func.HttpResponse) -> dict[str, Any]:
    assert response.headers["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(response.get_body())
    return body


@pytest.mark.parametrize(
    "headers",
    [
        {"X-MS-CLIENT-PRINCIPAL-ID": CALLER},
        {"X-MS-CLIENT-PRINCIPAL-ID": CALLER, "X-MS-CLIENT-PRINCIPAL-IDP": "aad"},
        {**ss.caller_headers(ss.STRANGER), "X-MS-CLIENT-PRINCIPAL-ID": CALLER},
    ],
    ids=["id only", "id and provider", "claims of another caller"],
)
def test_a_caller_whose_headers_do_not_agree_is_401_and_starts_nothing(
    scoring: App, headers: dict[str, str]
) -> None:
    response = _post(headers)
    assert response.status_code == 401
    assert _problem(response)["type"] == "/api/problems/unauthenticated"
    assert scoring.sim.ml.scoring_posts == []
    started = _post(ss.caller_headers(CALLER))
    assert started.status_code == 202
    name = json.loads(started.get_body())["name"]
    assert _get(name, headers).status_code == 401
    spec = host.call_http(
        "openapi_spec", method="GET", url=f"{ss.APP_URL}/openapi.json", headers=headers
    )
    assert spec.status_code == 401


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    function=st.sampled_from(["start_scoring", "get_scoring_job", "openapi_spec"]),
    principal_id=st.one_of(st.none(), _IDS),
    idp=st.sampled_from(["aad", "aad", None, "github"]),
    claims=_CLAIMS,
)
def test_every_refusal_of_every_function_is_recorded_with_its_status(
    scoring: App,
    function: str,
    principal_id: str | None,
    idp: str | None,
    claims: list[dict[str, object]],
) -> None:
    """A header set that does not agree is what App Service authentication never forwards:
    worth a row wherever it comes, the description included."""
    from shared.runtime import runtime

    sent = {"X-MS-CLIENT-PRINCIPAL-ID": principal_id, "X-MS-CLIENT-PRINCIPAL-IDP": idp}
    headers = {name: value for name, value in sent.items() if value is not None}
    headers["X-MS-CLIENT-PRINCIPAL"] = _principal(claims)
    before = len(runtime().scoring.records.requests())
    if function == "start_scoring":
        response = _post(headers)
    elif function == "get_scoring_job":
        response = _get("batchjob-1", headers)
    else:
        url = f"{ss.APP_URL}/openapi.json"
        response = host.call_http(function, method="GET", url=url, headers=headers)
    if response.status_code >= 400:
        rows = runtime().scoring.records.requests()
        assert len(rows) == before + 1
        newest = rows[0]
        assert (newest["Function"], newest["Outcome"]) == (function, "refused")
        assert newest["HttpStatus"] == response.status_code
        assert newest["ProblemType"] == _problem(response)["type"]


@pytest.mark.parametrize("enabled", [None, "False", "false", "", "1", "yes"])
def test_without_app_service_authentication_nothing_is_served(
    scoring: App, enabled: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    environment = {**ss.settings_env(), "WEBSITE_AUTH_ENABLED": enabled or ""}
    scoring.set_settings(**environment)
    headers = ss.caller_headers(CALLER)
    with caplog.at_level(logging.INFO):
        answers = [
            _post(headers),
            _get("batchjob-1", headers),
            host.call_http(
                "openapi_spec", method="GET", url=f"{ss.APP_URL}/openapi.json", headers=headers
            ),
        ]
    for response in answers:
        assert response.status_code == 503
        problem = _problem(response)
        assert problem["type"] == "/api/problems/authentication-not-configured"
        assert problem["title"] == "Authentication not configured"
    assert scoring.sim.ml.scoring_posts == []
    assert scoring.non_token_requests() == []  # not even the endpoint was read
    lines = [r for r in caplog.records if r.name == "handlers.scoring"]
    assert len(lines) == 3  # one line per request
    assert all("WEBSITE_AUTH_ENABLED" in r.getMessage() for r in lines)


_ELSEWHERE = "https://user:pw@evil.example:8443/api/scoring-jobs"
_SPOOFED = {
    "Host": "evil.example",
    "X-Forwarded-Host": "evil.example",
    "X-Original-Host": "evil.example",
}


@pytest.mark.parametrize(
    ("environment", "base"),
    [
        ({}, f"https://{ss.APP_HOST}{JOBS_PATH}"),
        ({"API_HOSTNAME": "Scoring.Contoso.com"}, f"https://scoring.contoso.com{JOBS_PATH}"),
        ({"WEBSITE_HOSTNAME": ""}, JOBS_PATH),
        # What `func start` sets (Core Tools, plain HTTP): no HTTPS host of the app's.
        ({"WEBSITE_HOSTNAME": "localhost:7071"}, JOBS_PATH),
    ],
    ids=["platform host name", "custom domain", "relative", "core tools"],
)
def test_location_and_status_url_are_on_the_apps_own_host_never_the_requests(
    scoring: App, environment: dict[str, str], base: str
) -> None:
    scoring.set_settings(**{**ss.settings_env(), **environment})
    headers = {**ss.caller_headers(CALLER), **_SPOOFED}
    started = _post(headers, url=_ELSEWHERE)
    assert started.status_code == 202
    name = json.loads(started.get_body())["name"]
    assert started.headers["Location"] == f"{base}/{name}"
    assert json.loads(started.get_body())["statusUrl"] == f"{base}/{name}"
    polled = _get(name, headers, url=f"{_ELSEWHERE}/{name}")
    assert polled.status_code == 202
    assert polled.headers["Location"] == f"{base}/{name}"
    assert json.loads(polled.get_body())["statusUrl"] == f"{base}/{name}"
    for response in (started, polled):
        assert "evil" not in response.get_body().decode()
        assert "evil" not in response.headers["Location"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        *[
            (name, value)
            for name in ("API_HOSTNAME", "WEBSITE_HOSTNAME")
            for value in ("evil.example/x", "https://evil.example", "a..b")
        ],
        ("API_HOSTNAME", "host:8443"),
    ],
)
def test_a_malformed_host_name_setting_names_itself(name: str, value: str) -> None:
    from shared.config import SettingsError, load_settings

    environment = {
        "ML_WORKSPACE_IDS": scene.PROD,
        "SYNAPSE_WORKSPACE_IDS": scene.ANALYTICS,
        "LEDGER_CONNECTION_STRING": "UseDevelopmentStorage=true",
    }
    with pytest.raises(SettingsError, match=rf"^{name}="):
        load_settings({**environment, name: value})
