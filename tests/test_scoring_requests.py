"""Scoring requests: who may call, what a body may hold, which inputs a job may read (pure).

Strict JSON (depth, duplicate members, non-JSON numbers, charsets), caller headers in any other
form than one object ID, lookalike endpoint names."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.arm import ArmId
from shared.bounds import redacted
from shared.scoring.contract import MAX_BODY_BYTES, MAX_INPUT_PATH
from shared.scoring.inputs import input_path_problem
from shared.scoring.requests import (
    Caller,
    RefusedError,
    authorize,
    caller_of,
    idempotency_key,
    parse_body,
    resolve_endpoint,
    validate,
)
from tests.credentials import leaked, placed
from tools import scene
from tools import scoring_scene as ss

WS = (
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/"
    "Microsoft.MachineLearningServices/workspaces/"
)
EP_A = ArmId(WS + "mlw-a/batchEndpoints/churn-scoring")
EP_B = ArmId(WS + "mlw-b/batchEndpoints/churn-scoring")
EP_C = ArmId(WS + "mlw-a/batchEndpoints/fraud")
ALLOWED = (EP_A, EP_B, EP_C)
CALLER = "7f3c2b1a-0d4e-4f5a-8b6c-9d0e1f2a3b4c"

VALID_PATHS = [
    "azureml://datastores/workspaceblobstore/paths/scoring/in/",
    "azureml://datastores/ws_store_2/paths/a/b/c.parquet",
    "azureml:churn-input:3",
    "azureml:churn.input_v2:2024.11.01",
    "https://mlstore.blob.core.windows.net/scoring/in/",
    "https://mlstore01.dfs.core.windows.net/data-lake/year=2025/part-0.csv",
]


def _refusal(call: object, *args: object) -> tuple[int, str | None, str]:
    with pytest.raises(RefusedError) as caught:
        call(*args)  # type: ignore[operator]
    problem = caught.value.problem
    return problem.status, problem.field, problem.detail


# --- input paths -------------------------------------------------------------------------


@pytest.mark.parametrize("path", VALID_PATHS)
def test_the_three_accepted_input_forms_pass(path: str) -> None:
    assert input_path_problem(path) is None


@pytest.mark.parametrize(
    "path",
    [
        "abfss://data@mlstore.dfs.core.windows.net/in/",
        "http://mlstore.blob.core.windows.net/scoring/in/",
        "https://mlstore.blob.core.windows.net.evil.example/scoring/in/",
        "https://evil.example/mlstore.blob.core.windows.net/scoring/in/",
        "https://user@mlstore.blob.core.windows.net/scoring/in/",
        "https://mlstore.blob.core.windows.net:8443/scoring/in/",
        "https://mlstore.blob.core.windows.net/scoring",
        "https://mlstore.queue.core.windows.net/scoring/in/",
        "https://MLSTORE.blob.core.windows.net/scoring/in/",
        "azureml://datastores/ws/paths/",
        "azureml://datastores/ws/paths/a/../../other",
        "azureml://datastores/ws/paths/a/%2e%2e/other",
        "azureml://datastores/ws/paths/a/%2E%2E/other",
        "azureml://datastores/ws/paths/a/./b",
        "azureml://datastores/ws/paths//etc",
        "azureml://datastores/ws/paths/a%2Fb",
        "azureml://subscriptions/x/datastores/ws/paths/a",
        "azureml:churn-input",
        "azureml:churn-input@latest",
        "azureml:churn-input:3:4",
        "file:///etc/passwd",
        "/mnt/data",
        "azureml://datastores/ws/paths/a b",
        "azureml://datastores/ws/paths/a\\b",
        "azureml://datastores/ws/paths/a\n",
        "azureml://datastores/wś/paths/a",
        "https://mlstore.blob.core.windows.net/scoring/in/#frag",
        "azureml://datastores/ws/paths/" + "a" * MAX_INPUT_PATH,
    ],
)
def test_anything_else_is_refused(path: str) -> None:
    assert input_path_problem(path) is not None


_SAS = st.from_regex(r"sv=20[0-9]{2}-[0-9]{2}-[0-9]{2}&s[a-z]=[a-z]{1,4}&sig=[A-Za-z0-9%]{8,40}",
                     fullmatch=True)  # fmt: skip


@settings(max_examples=300)
@given(base=st.sampled_from(VALID_PATHS), sas=_SAS)
def test_a_sas_token_never_passes_and_is_never_echoed(base: str, sas: str) -> None:
    path = f"{base}?{sas}"
    reason = input_path_problem(path)
    assert reason is not None
    body = {"endpoint": "fraud", "input": {"type": "uri_folder", "path": path}}
    status, field, detail = _refusal(validate, body, ALLOWED)
    assert (status, field) == (400, "input.path")
    assert "sig=" not in detail
    assert sas not in detail
    assert sas not in reason


@settings(max_examples=300)
@given(
    base=st.sampled_from(VALID_PATHS),
    before=st.lists(st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=8),
                    max_size=3),
    dots=st.sampled_from(["..", "%2e%2e", "%2E%2e", ".%2E", "."]),
    after=st.lists(st.text(string.ascii_letters + string.digits, min_size=1, max_size=8),
                   min_size=1, max_size=3),
)  # fmt: skip
def test_no_dot_segment_passes_however_it_is_spelt(
    base: str, before: list[str], dots: str, after: list[str]
) -> None:
    if base.startswith("azureml:") and not base.startswith("azureml://"):
        base = VALID_PATHS[0]
    path = base.rstrip("/") + "/" + "/".join([*before, dots, *after])
    assert input_path_problem(path) is not None


# Any text, or an accepted path cut anywhere with anything glued on: text alone is all but never
# accepted, and then what passing takes would go unchecked.
path_texts = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda path, cut, tail: path[:cut] + tail,
        st.sampled_from(VALID_PATHS),
        st.none() | st.integers(0, 80),  # whole, or cut there
        st.sampled_from(["", "/..", "/../x", "/./x", "/%2e%2E/x", "?sv=1", "#x", "/a%2Fb", "//x"])
        | st.text(max_size=30),
    ),
)


@settings(max_examples=300)
@given(path_texts)
def test_arbitrary_text_passes_only_in_an_accepted_form(path: str) -> None:
    if input_path_problem(path) is None:
        assert path.startswith(("azureml://datastores/", "azureml:", "https://"))
        assert "?" not in path
        assert "#" not in path
        assert ".." not in path.split("/")


@given(length=st.integers(min_value=1, max_value=3000))
def test_length_limit_is_2048_characters(length: int) -> None:
    prefix = "azureml://datastores/ws/paths/"
    path = prefix + "a" * max(1, length - len(prefix))
    assert (input_path_problem(path) is None) == (len(path) <= MAX_INPUT_PATH)


# --- bodies --------------------------------------------------------------------------------


def test_json_content_types_are_accepted_and_others_are_415() -> None:
    body = b'{"a": 1}'
    assert parse_body("application/json", body) == {"a": 1}
    assert parse_body("application/json; charset=utf-8", body) == {"a": 1}
    assert parse_body("application/merge-patch+json", body) == {"a": 1}
    for content_type in (None, "", "text/plain", "application/x-www-form-urlencoded", "text/json"):
        status, field, _ = _refusal(parse_body, content_type, body)
        assert (status, field) == (415, "Content-Type")


def test_a_body_over_64_kib_is_413_and_up_to_it_is_read() -> None:
    fits = json.dumps({"pad": "x" * (MAX_BODY_BYTES - 20)}).encode()
    assert len(fits) <= MAX_BODY_BYTES
    assert parse_body("application/json", fits)
    status, _, _ = _refusal(parse_body, "application/json", b" " * (MAX_BODY_BYTES + 1))
    assert status == 413


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", b"", b"{'a': 1}"])
def test_bad_json_is_400(raw: bytes) -> None:
    status, field, _ = _refusal(parse_body, "application/json", raw)
    assert (status, field) == (400, "(body)")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "(body)"),
        ({}, "endpoint"),
        ({"endpoint": "fraud"}, "input"),
        ({"endpoint": 3, "input": {"type": "uri_folder", "path": VALID_PATHS[0]}}, "endpoint"),
        ({"endpoint": "", "input": {"type": "uri_folder", "path": VALID_PATHS[0]}}, "endpoint"),
        ({"endpoint": "fraud", "input": {"type": "mltable", "path": VALID_PATHS[0]}},
         "input.type"),
        ({"endpoint": "fraud", "input": {"type": "uri_folder"}}, "input.path"),
        ({"endpoint": "fraud", "input": "azureml:churn-input:3"}, "input"),
        ({"endpoint": "fraud", "input": {"type": "uri_folder", "path": VALID_PATHS[0], "x": 1}},
         "input.x"),
        ({"endpoint": "fraud", "input": {"type": "uri_folder", "path": VALID_PATHS[0]},
          "compute": "big"}, "compute"),
        ({"endpoint": "fraud", "deployment": "blue green",
          "input": {"type": "uri_folder", "path": VALID_PATHS[0]}}, "deployment"),
        ({"endpoint": "fraud", "input": {"type": "uri_folder", "path": "s3://bucket/x"}},
         "input.path"),
    ],
)  # fmt: skip
def test_bad_fields_are_400_naming_the_field(body: object, field: str) -> None:
    status, named, _ = _refusal(validate, body, ALLOWED)
    assert (status, named) == (400, field)


@pytest.mark.parametrize("deployment", ["blue\n", "blue\r\nX-Injected: 1", "blue ", "-blue"])
def test_a_deployment_name_with_a_trailing_newline_or_header_text_is_400(deployment: str) -> None:
    body = {"endpoint": "fraud", "deployment": deployment,
            "input": {"type": "uri_folder", "path": VALID_PATHS[0]}}  # fmt: skip
    status, field, _ = _refusal(validate, body, ALLOWED)
    assert (status, field) == (400, "deployment")


def test_a_valid_body_becomes_a_scoring_request() -> None:
    request = validate(
        {"endpoint": EP_C.upper(), "deployment": "blue",
         "input": {"type": "uri_file", "path": VALID_PATHS[1]}},
        ALLOWED,
    )  # fmt: skip
    assert request.endpoint_id == EP_C
    assert (request.deployment, request.input_type, request.input_path) == (
        "blue", "uri_file", VALID_PATHS[1],
    )  # fmt: skip


# --- endpoints -----------------------------------------------------------------------------


def test_a_bare_name_is_accepted_only_when_exactly_one_allowed_endpoint_has_it() -> None:
    assert resolve_endpoint("fraud", ALLOWED) == EP_C
    assert resolve_endpoint("FRAUD", ALLOWED) == EP_C
    status, field, detail = _refusal(resolve_endpoint, "churn-scoring", ALLOWED)
    assert (status, field) == (422, "endpoint")
    assert "ARM ID" in detail
    assert resolve_endpoint(EP_B, ALLOWED) == EP_B


@settings(max_examples=200)
@given(
    name=st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=20),
    subscription=st.uuids(),
)
def test_an_endpoint_outside_the_allow_list_is_422_whatever_its_spelling(
    name: str, subscription: object
) -> None:
    candidates = [
        f"/subscriptions/{subscription}/resourceGroups/rg/providers/"
        f"Microsoft.MachineLearningServices/workspaces/mlw-a/batchEndpoints/{name}",
        EP_C + "x",
        EP_C + "/",
        EP_C.replace("fraud", "fraud\u200b"),
    ]
    if name.lower() not in ("fraud", "churn-scoring"):
        candidates.append(name)
    for candidate in candidates:
        if candidate.lower() in (e.lower() for e in ALLOWED):
            continue
        status, field, _ = _refusal(resolve_endpoint, candidate, ALLOWED)
        assert (status, field) == (422, "endpoint")


# --- callers -------------------------------------------------------------------------------


def test_no_principal_is_401_an_unknown_one_403_and_an_allowed_one_passes() -> None:
    allowed = frozenset({CALLER})
    assert _refusal(authorize, Caller(None), allowed)[0] == 401
    assert _refusal(authorize, Caller(CALLER), allowed)[0] == 401  # not authenticated
    assert _refusal(authorize, Caller("not-a-guid", authenticated=True), allowed)[0] == 403
    assert _refusal(authorize, Caller(CALLER, authenticated=True), frozenset())[0] == 403
    assert authorize(Caller(CALLER.upper(), authenticated=True), allowed) == CALLER


@given(st.uuids())
def test_an_empty_allow_list_lets_nobody_in(principal: object) -> None:
    caller = Caller(str(principal), authenticated=True)
    assert _refusal(authorize, caller, frozenset())[0] == 403


def test_caller_and_tracking_headers_are_read_case_insensitively_and_bounded() -> None:
    caller = caller_of(
        {
            "X-MS-CLIENT-PRINCIPAL-ID": CALLER,
            "x-ms-workflow-run-id": "08585\x00" + "7" * 400,
            "X-Ms-Client-Tracking-Id": "order-42",
        }
    )
    assert caller.principal_id == CALLER
    assert caller.client_tracking_id == "order-42"
    assert caller.workflow_run_id is not None
    assert "\x00" not in caller.workflow_run_id
    assert len(caller.workflow_run_id) == 256


def test_idempotency_keys_are_bounded_printable_ascii() -> None:
    assert idempotency_key({}) is None
    assert idempotency_key({"Idempotency-Key": "08585012345"}) == "08585012345"
    assert idempotency_key({"idempotency-key": '"quoted"'}) == "quoted"
    for bad in ("", "  ", "k" * 256, "naïve", "a\tb"):
        status, field, _ = _refusal(idempotency_key, {"Idempotency-Key": bad})
        assert (status, field) == (400, "Idempotency-Key")


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


# --- bodies, callers, endpoints (pure) ------------------------------------------------------


@pytest.mark.slow
def test_json_nested_deeper_than_the_parser_goes_is_400_not_a_crash() -> None:
    for opener in (b"[", b'{"a":'):
        body = opener * (MAX_BODY_BYTES // len(opener))
        status, field, _ = _refusal(parse_body, "application/json", body)
        assert (status, field) == (400, "(body)")


@pytest.mark.slow
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
    status, field, _ = _refusal(parse_body, "application/json", body)
    assert (status, field) == (400, "(body)")


@pytest.mark.slow
@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=iso-8859-1", "application/json;charset=utf-16", "text/json"],
)
def test_json_in_another_charset_or_media_type_is_415(content_type: str) -> None:
    assert _refusal(parse_body, content_type, b"{}")[0] == 415


@pytest.mark.slow
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


def test_json_after_a_utf8_byte_order_mark_is_read_and_still_strict() -> None:
    # What Windows PowerShell 5.1's `Set-Content -Encoding UTF8` writes, and `-InFile` sends;
    # RFC 8259 section 8.1 lets a parser ignore it. Not a second one, nor one in the text.
    assert parse_body("application/json", b'\xef\xbb\xbf{"a": "b"}') == {"a": "b"}
    for body in (b'\xef\xbb\xbf\xef\xbb\xbf{"a": "b"}', b'{"a": "b"}\xef\xbb\xbf'):
        assert _refusal(parse_body, "application/json", body)[:2] == (400, "(body)")


APP_CALLER = ss.LOGIC_APP


@pytest.mark.slow
@pytest.mark.parametrize(
    "header",
    [
        "{" + APP_CALLER + "}",
        "urn:uuid:" + APP_CALLER,
        APP_CALLER.replace("-", ""),
        "urn:urn:urn:urn:" + APP_CALLER,
        "-".join(APP_CALLER.replace("-", "")[i : i + 2] for i in range(0, 32, 2)),
        APP_CALLER + "\x00",
        APP_CALLER[:4] + "\x00" + APP_CALLER[4:],
        APP_CALLER[:4] + "\u200b" + APP_CALLER[4:],
        f"{APP_CALLER}, {ss.ANALYST}",
        f"{APP_CALLER},{APP_CALLER}",
        APP_CALLER + "x" * 40,
    ],
)
def test_a_caller_header_that_is_not_exactly_one_object_id_is_refused(header: str) -> None:
    # Even when the claims agree with it (401 when a non-ASCII claim cannot agree with anything).
    caller = caller_of(ss.caller_headers(header))
    status, field, _ = _refusal(authorize, caller, frozenset({APP_CALLER}))
    assert (status, field) == (403 if header.isascii() else 401, "X-MS-CLIENT-PRINCIPAL-ID")


@pytest.mark.slow
def test_an_upper_case_object_id_is_the_same_caller() -> None:
    headers = {
        **ss.caller_headers(APP_CALLER.upper()),
        "X-MS-CLIENT-PRINCIPAL-ID": f"  {APP_CALLER.upper()} ",
    }
    assert authorize(caller_of(headers), frozenset({APP_CALLER})) == APP_CALLER


@pytest.mark.slow
def test_a_non_ascii_lookalike_of_an_endpoint_name_names_nothing() -> None:
    endpoint = ArmId(f"{scene.PROD}/batchEndpoints/kscore")
    assert resolve_endpoint("KSCORE", (endpoint,)) == endpoint
    for lookalike in ("\u212ascore", "k\u0455core", "kscore\u200b", "\uff4bscore"):
        status, field, _ = _refusal(resolve_endpoint, lookalike, (endpoint,))
        assert (status, field) == (422, "endpoint")


@given(st.data())
def test_a_refused_content_type_shows_no_piece_of_a_credential(data: st.DataObject) -> None:
    # Repeated cut to 100 characters in the answer, the ledger's reason, the log.
    content_type, secret = data.draw(placed(100, before=8))
    status, _, detail = _refusal(parse_body, content_type, b"{}")
    assert status == 415
    # The answer redacts its detail: what the cut let through is what shows.
    assert leaked(secret, redacted(detail)) is None, detail


@given(st.data(), st.sampled_from(["x-ms-client-tracking-id", "x-ms-workflow-run-id"]))
def test_a_tracking_header_is_kept_with_no_piece_of_a_credential(
    data: st.DataObject, header: str
) -> None:
    # Cut to 256 characters, then recorded with the request and logged, where it is redacted.
    value, secret = data.draw(placed(256, before=0))
    caller = caller_of({header: value})
    kept = f"{caller.client_tracking_id} {caller.workflow_run_id}"
    assert leaked(secret, redacted(kept)) is None, kept
