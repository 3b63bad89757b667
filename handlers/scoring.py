"""Scoring over HTTP: `start_scoring`, `get_scoring_job`, `openapi_spec`. Anonymous at function
level on purpose (no function keys: callers hold no secrets): App Service authentication (Entra
ID) sits in front; they serve only while it is on, trust the caller only when its headers agree,
authorise against SCORING_ALLOWED_CALLERS, and record every start and every refusal."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import azure.functions as func
from azure.core.exceptions import AzureError

from shared.adapters.errors import describe, is_transient, redact_in_place
from shared.arm import ML_NAME
from shared.config import Settings, get_settings
from shared.outcome import Outcome, Status
from shared.runtime import runtime
from shared.scoring import contract
from shared.scoring.contract import Problem
from shared.scoring.records import RequestRecord, tracking_fields
from shared.scoring.requests import Caller, RefusedError, authorize, caller_of
from shared.telemetry import operation

log = logging.getLogger(__name__)

bp = func.Blueprint()
Handle = Callable[[func.HttpRequest, Settings], func.HttpResponse]


def _json(
    status: int, body: Any, headers: dict[str, str] | None = None, kind: str = "application/json"
) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype=kind, headers=headers)


def _problem(problem: Problem) -> func.HttpResponse:
    retry = {"Retry-After": str(problem.retry_after)} if problem.retry_after else {}
    headers = {"Content-Type": contract.PROBLEM_CONTENT_TYPE, **retry}
    return _json(problem.status, problem.body(), headers, contract.PROBLEM_CONTENT_TYPE)


def _accepted(settings: Settings, body: dict[str, Any]) -> func.HttpResponse:
    """202 with Location and statusUrl on the app's own host name (API_HOSTNAME, else
    WEBSITE_HOSTNAME), relative without one; never the request's Host."""
    path = f"{contract.API_PREFIX}/{contract.JOBS_ROUTE}/{quote(body['name'], safe='')}"
    url = f"https://{settings.api_host}{path}" if settings.api_host else path
    headers = {"Location": url, "Retry-After": str(contract.RETRY_AFTER_SECONDS)}
    return _json(202, {**body, "statusUrl": url}, headers)


def _serve(function: str, route: str, method: str, handle: Handle) -> None:
    """Serves `handle` as `function` only while App Service authentication is on (else 503: the
    caller's headers would be the client's own); a failure: a problem without the table's words."""

    def unserved(why: str, problem: Problem, verdict: str = "unavailable") -> func.HttpResponse:
        # No caller's fault: a failed action, for on-call's alert.
        failed = Outcome(Status.FAILED, f"{problem.status}, nothing recorded")
        RequestRecord(function, verdict, 0, None).line(log, why, failed, logging.ERROR)
        return _problem(problem)

    def serve(req: func.HttpRequest) -> func.HttpResponse:
        settings = get_settings()
        if not settings.http_auth_enabled:
            why = "App Service authentication is not enabled (WEBSITE_AUTH_ENABLED)"
            return unserved(why, contract.AUTH_NOT_CONFIGURED)
        try:
            return handle(req, settings)
        except AzureError as error:
            # Adapter errors never get here (the starter refuses with them): this is the table,
            # where it is and what it said for the log, not the caller.
            wait = contract.RETRY_AFTER_SECONDS
            problem = (
                Problem("unavailable", "the ledger is unavailable", None, wait)
                if is_transient(error)
                else Problem("internal-error", "the app could not use its ledger; its log says why")
            )
            return unserved(f"the ledger is unavailable: {describe(error)}", problem)
        except Exception as error:
            redact_in_place(error)  # the traceback is logged as its text reads
            log.exception("[http:%s] the request failed", function)  # the traceback, for the fix
            detail = "the app failed to handle the request; its log says why"
            why = f"the app failed to handle the request: {describe(error)}"
            return unserved(why, Problem("internal-error", detail), "failed")

    serve.__name__ = serve.__qualname__ = function
    auth, served = func.AuthLevel.ANONYMOUS, operation(serve)
    bp.function_name(function)(bp.route(route=route, methods=[method], auth_level=auth)(served))


def _received(function: str, caller: Caller) -> RequestRecord:
    """Log a request's arrival; the record of what it came to (refused until it is more)."""
    run, tracking = caller.workflow_run_id, caller.client_tracking_id
    record = RequestRecord(function, "received", 0, caller.principal_id, run, tracking)
    message = f"caller {caller.principal_id}, workflow run {run}, client tracking id {tracking}"
    record.line(log, message, "", logging.INFO)
    return replace(record, outcome="refused")


def _audit(record: RequestRecord, **answer: Any) -> None:
    runtime().scoring.records.audit(replace(record, **answer), log)


def _refuse(record: RequestRecord, problem: Problem) -> func.HttpResponse:
    fault = {"problem_type": problem.type, "field": problem.field or "", "detail": problem.detail}
    _audit(record, http_status=problem.status, **fault)
    return _problem(problem)


def _start_scoring(req: func.HttpRequest, settings: Settings) -> func.HttpResponse:
    """Start a batch scoring job: 202 + Location + Retry-After, or a problem; dry-run: 200."""
    from shared.adapters.batch_scoring import ScoringInput
    from shared.scoring.requests import idempotency_key, parse_body, validate
    from shared.scoring.service import ScoringOrder, Started

    record = _received("start_scoring", caller := caller_of(req.headers))
    try:
        principal = authorize(caller, settings.scoring_allowed_callers)
        record = replace(record, caller=principal)
        key = idempotency_key(req.headers)
        record = replace(record, idempotency_key=key)
        document = parse_body(req.headers.get("content-type"), req.get_body())
        request = validate(document, settings.scoring_allowed_endpoints)
        # Validated, so free of query strings: the input may be recorded from here on.
        record = replace(record, endpoint_id=request.endpoint_id, input_path=request.input_path)
        order = ScoringOrder(
            request.endpoint_id,
            request.deployment,
            ScoringInput(request.input_type, request.input_path),
            "http:start_scoring",
            caller=principal,
            tracking=tracking_fields(caller.workflow_run_id, caller.client_tracking_id),
            idempotency_key=key,
        )
        outcome = runtime().scoring.start(order)
    except RefusedError as refused:
        return _refuse(record, refused.problem)
    if not isinstance(outcome, Started):
        _audit(record, outcome="dry-run", http_status=200)
        return _json(200, {"dryRun": True, "wouldSubmit": outcome})
    started = "replayed" if outcome.replayed else "started"
    _audit(record, outcome=started, http_status=202, job_name=outcome.name)
    body = {"name": outcome.name, "status": outcome.status, "endpoint": outcome.endpoint_id}
    return _accepted(settings, {**body, "workspace": outcome.workspace_id})


def _get_scoring_job(req: func.HttpRequest, settings: Settings) -> func.HttpResponse:
    """A job started through this API: 202 while it runs, 200 once it has ended, else 404."""
    record = _received("get_scoring_job", caller := caller_of(req.headers))
    job_name = req.route_params.get("job_name", "")
    named = ML_NAME.fullmatch(job_name) is not None
    try:
        principal = authorize(caller, settings.scoring_allowed_callers)
        record = replace(record, caller=principal)
        if not named:
            raise RefusedError(contract.NOT_STARTED_BY_YOU)
        started, job = runtime().scoring.status(job_name, principal)
    except RefusedError as refused:
        shown = job_name if named else "(not a job name)"
        return _refuse(replace(record, job_name=shown), refused.problem)
    body: dict[str, Any] = {"name": started.job_name, "status": job.status}
    body |= {"endpoint": started.endpoint_id, "workspace": started.workspace_id}
    if not job.finished:
        return _accepted(settings, body)
    body |= {"deployment": job.deployment or started.deployment, "startTime": job.start_time}
    body |= {"endTime": job.end_time, "outputs": job.outputs, "error": job.error}
    # A failed or canceled job ends the polling: it is a finished job, not an HTTP error.
    return _json(200, {name: value for name, value in body.items() if value is not None})


def _openapi_spec(req: func.HttpRequest, settings: Settings) -> func.HttpResponse:
    """The Swagger 2.0 description of these functions, for any authenticated caller."""
    if not (caller := caller_of(req.headers)).authenticated:
        return _refuse(_received("openapi_spec", caller), contract.UNAUTHENTICATED)
    return _json(200, contract.build_spec(host=settings.api_host))


_serve("start_scoring", contract.JOBS_ROUTE, "POST", _start_scoring)
_serve("get_scoring_job", contract.JOB_ROUTE, "GET", _get_scoring_job)
_serve("openapi_spec", contract.SPEC_ROUTE, "GET", _openapi_spec)
