"""The Swagger 2.0 description: valid, built from the validation's definitions, and exactly the
HTTP routes the app registers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV2SpecValidator, validate

from shared.scoring import contract, requests
from shared.scoring.contract import API_PREFIX, build_spec
from tools import host

HTTP_FUNCTIONS = {"start_scoring", "get_scoring_job", "openapi_spec"}


def _http_trigger(name: str) -> dict[str, Any]:
    bindings = [json.loads(raw) for raw in host.function(name).get_raw_bindings()]
    return next(b for b in bindings if b["type"] == "httpTrigger")


def _registered_routes() -> set[tuple[str, str]]:
    routes = set()
    for name in host.indexed():
        if host.trigger_type(name) != "httpTrigger":
            continue
        trigger = _http_trigger(name)
        for method in trigger["methods"]:
            routes.add((f"{API_PREFIX}/{trigger['route']}", method.lower()))
    return routes


def test_the_spec_is_valid_swagger_2() -> None:
    spec = build_spec(host="func-scoring.azurewebsites.net")
    validate(spec, cls=OpenAPIV2SpecValidator)
    assert spec["swagger"] == "2.0"


def test_a_broken_spec_is_caught_by_the_validator() -> None:
    # The validator is strict enough to matter: a response without a description is refused.
    spec = build_spec(host="h")
    del spec["paths"]["/scoring-jobs"]["post"]["responses"]["202"]["description"]
    with pytest.raises(Exception, match="description"):
        validate(spec, cls=OpenAPIV2SpecValidator)


def test_paths_are_exactly_the_registered_http_routes() -> None:
    spec = build_spec(host="h")
    documented = {
        (spec["basePath"] + path, method)
        for path, operations in spec["paths"].items()
        for method in operations
    }
    assert documented == _registered_routes()
    assert {name for name in host.indexed() if host.trigger_type(name) == "httpTrigger"} == (
        HTTP_FUNCTIONS
    )


def test_every_http_function_is_anonymous_at_function_level() -> None:
    for name in HTTP_FUNCTIONS:
        assert _http_trigger(name)["authLevel"] == "ANONYMOUS", name


def test_operations_have_ids_summaries_and_problem_responses() -> None:
    spec = build_spec(host="h")
    post = spec["paths"]["/scoring-jobs"]["post"]
    get = spec["paths"]["/scoring-jobs/{job_name}"]["get"]
    assert (post["operationId"], get["operationId"]) == ("StartScoring", "GetScoringJob")
    for operation in (post, get):
        assert operation["x-ms-summary"]
        assert set(operation["responses"]) >= {"200", "202", "401", "403", "503"}
        assert operation["responses"]["503"]["headers"]["Retry-After"]["type"] == "integer"
        assert set(operation["responses"]["202"]["headers"]) == {"Location", "Retry-After"}
    assert set(post["responses"]) >= {"400", "413", "415", "422"}
    assert get["responses"]["404"]["schema"] == {"$ref": "#/definitions/Problem"}
    assert spec["securityDefinitions"]["oauth2_auth"]["type"] == "oauth2"
    assert spec["security"] == [{"oauth2_auth": []}]


def test_the_host_is_the_apps_own_or_left_to_the_server_and_the_scheme_is_https() -> None:
    spec = build_spec(host="scoring.contoso.com")
    assert (spec["host"], spec["schemes"]) == ("scoring.contoso.com", ["https"])
    # Swagger 2.0: without `host`, the host serving the document is meant.
    relative = build_spec(host=None)
    assert "host" not in relative
    validate(relative, cls=OpenAPIV2SpecValidator)


def test_the_body_schema_is_the_one_requests_are_validated_with() -> None:
    spec = build_spec(host="h")
    assert spec["definitions"]["ScoringRequest"] == contract.DEFINITIONS["ScoringRequest"]
    assert spec["definitions"]["ScoringInput"] == contract.DEFINITIONS["ScoringInput"]
    body = spec["paths"]["/scoring-jobs"]["post"]["parameters"][1]
    assert body["schema"] == {"$ref": "#/definitions/ScoringRequest"}
    # And a change to the definitions changes validation: the enum is what the checker uses.
    assert contract.DEFINITIONS["ScoringInput"]["properties"]["type"]["enum"] == list(
        contract.INPUT_TYPES
    )


def test_every_property_has_an_x_ms_summary_for_the_logic_apps_designer() -> None:
    spec = build_spec(host="h")
    for name, definition in spec["definitions"].items():
        for field, schema in definition.get("properties", {}).items():
            if "$ref" not in schema:
                assert schema.get("x-ms-summary"), f"{name}.{field}"


def test_the_checker_refuses_schema_keywords_it_does_not_implement() -> None:
    contract.DEFINITIONS["Probe"] = {"type": "string", "format": "uri", "minimum": 1}
    try:
        with pytest.raises(NotImplementedError, match="minimum"):
            requests.check("Probe", "x")
    finally:
        del contract.DEFINITIONS["Probe"]


def test_the_function_app_sets_its_http_auth_level_and_indexes_without_warning() -> None:
    import subprocess
    import sys

    from tests.test_infra import REPO

    code = (
        "import logging, function_app, azure.functions as func\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "assert function_app.app.auth_level is func.AuthLevel.ANONYMOUS\n"
        "print(len(function_app.app.get_functions()))\n"
    )
    child = subprocess.run(  # noqa: S603 - this interpreter, code written above
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert child.returncode == 0, child.stderr
    assert int(child.stdout.strip()) == len(host.indexed())
    assert "Auth level" not in child.stderr
