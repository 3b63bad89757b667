"""Scoring over HTTP: `start_scoring`, `get_scoring_job` and `openapi_spec`.

Anonymous at function level on purpose: App Service authentication (Entra ID, configured in
infra/) sits in front, rejects unauthenticated requests and forwards the caller's object ID and
claims; these functions serve only while the platform reports it on (WEBSITE_AUTH_ENABLED),
trust the caller only when those headers agree, and authorise it against
SCORING_ALLOWED_CALLERS. No function keys: callers hold no secrets.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import azure.functions as func
from azure.core.exceptions import AzureError

from shared.adapters.errors import describe, is_transient
from shared.config import Settings, get_settings
from shared.logs import decision_log
from shared.scoring import problems
from shared.scoring.contract import JOB_NAME_PATTERN
from shared.scoring.openapi import (
    API_PREFIX,
    JOB_ROUTE,
    JOBS_ROUTE,
    RETRY_AFTER_SECONDS,
    SPEC_ROUTE,
    build_spec,
)
from shared.scoring.problems import PROBLEM_CONTENT_TYPE, Problem
from shared.scoring.records import RequestRecord, ScoringRecords
from shared.scoring.requests import (
    Caller,
    RefusedError,
    authorize,
    caller_of,
    idempotency_key,
    parse_body,
    validate,
)

log = logging.getLogger(__name__)

REQUEST_KIND = "scoring-request"

bp = func.Blueprint()

_JOB_NAME = re.compile(JOB_NAME_PATTERN)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body), status_code=status, mimetype="application/json", headers=headers
    )


def _problem(problem: Problem) -> func.HttpResponse:
    headers = {"Retry-After": str(problem.retry_after)} if problem.retry_after else None
    return func.HttpResponse(
        json.dumps(problem.body()),
        status_code=problem.status,
        mimetype=PROBLEM_CONTENT_TYPE,
        headers={"Content-Type": PROBLEM_CONTENT_TYPE, **(headers or {})},
    )


def _status_url(settings: Settings, job_name: str) -> str:
    """A job's Location and statusUrl: on the app's own host name (API_HOSTNAME, else the
    platform's WEBSITE_HOSTNAME), relative without one; never the request's Host."""
    path = f"{API_PREFIX}/{JOBS_ROUTE}/{quote(job_name, safe='')}"
    return f"https://{settings.api_host}{path}" if settings.api_host else path


def _unserved(function: str, settings: Settings) -> func.HttpResponse | None:
    """A 503 problem while App Service authentication is off: the headers that name the caller
    would then be the client's own."""
    if settings.http_auth_enabled:
        return None
    log.error(
        "[http:%s] refused: App Service authentication is not enabled (WEBSITE_AUTH_ENABLED)",
        function,
    )
    return _problem(problems.auth_not_configured())


def _accepted(body: dict[str, Any], status_url: str) -> func.HttpResponse:
    return _json(202, body, {"Location": status_url, "Retry-After": str(RETRY_AFTER_SECONDS)})


def tracking_fields(workflow_run_id: str | None, client_tracking_id: str | None) -> dict[str, str]:
    """The Logic Apps tracking IDs as log fields (custom dimensions `workflow_run_id`,
    `client_tracking_id` in Application Insights, the names the README gives)."""
    return {
        "workflow_run_id": workflow_run_id or "",
        "client_tracking_id": client_tracking_id or "",
    }


def _workspace_of(endpoint_id: str) -> str:
    marker = endpoint_id.lower().find("/batchendpoints/")
    return endpoint_id[:marker] if marker > 0 else ""


def _log_request(function: str, caller: Caller) -> None:
    decision_log(
        log,
        f"caller {caller.principal_id}, workflow run {caller.workflow_run_id}, "
        f"client tracking id {caller.client_tracking_id}",
        trigger=f"http:{function}",
        kind=REQUEST_KIND,
        verdict="received",
        extra=tracking_fields(caller.workflow_run_id, caller.client_tracking_id),
    )


# What a request came to, as the decision line's outcome (planned/applied/skipped).
_OUTCOMES = {
    "started": "applied: scoring job started",
    "replayed": "skipped: the Idempotency-Key's job, nothing new started",
    "dry-run": "planned: nothing started (dry-run)",
    "refused": "skipped: refused, nothing started",
}


def _ledger_unavailable(function: str, error: AzureError) -> func.HttpResponse:
    """The ledger (or the token for it) failed: 503 when worth retrying, else a 500 problem.

    Adapter errors never get here (the service turns them into problems): this is the table.
    A refusal that will not pass by itself (a key or role missing) is the operator's to fix;
    the caller gets a problem document all the same, without the table's own words.
    """
    transient = is_transient(error)
    decision_log(
        log,
        f"the ledger is unavailable: {describe(error)}",
        trigger=f"http:{function}",
        kind=REQUEST_KIND,
        verdict="unavailable",
        outcome=f"failed: {503 if transient else 500}, nothing recorded",
        level=logging.ERROR,
    )
    if not transient:
        return _problem(problems.internal("the app could not use its ledger; its log says why"))
    return _problem(
        problems.unavailable(f"the ledger is unavailable: {describe(error)}", RETRY_AFTER_SECONDS)
    )


def _failed(function: str) -> func.HttpResponse:
    """Anything else that went wrong: logged with its traceback, answered as a problem."""
    log.exception("[http:%s] the request failed", function)
    return _problem(problems.internal("the app failed to handle the request; its log says why"))


def _record(records: ScoringRecords, record: RequestRecord) -> None:
    """Record a request; a failure is logged, not raised: the answer matters more than its
    audit row (a retry after a 5xx would start a second job when no Idempotency-Key is sent)."""
    decision_log(
        log,
        (f"{record.detail} (field {record.field or '-'}) " if record.outcome == "refused" else "")
        + f"HTTP {record.http_status} for caller {record.caller or '-'}",
        trigger=f"http:{record.function}",
        workspace_id=_workspace_of(record.endpoint_id),
        kind=REQUEST_KIND,
        verdict=record.outcome,
        outcome=_OUTCOMES.get(record.outcome, record.outcome),
        subject_id=record.job_name or record.endpoint_id,
        level=logging.WARNING if record.outcome == "refused" else logging.INFO,
        extra=tracking_fields(record.workflow_run_id, record.client_tracking_id),
    )
    try:
        records.record_request(record)
    except AzureError as error:
        decision_log(
            log,
            f"could not record the request: {describe(error)}",
            trigger=f"http:{record.function}",
            workspace_id=_workspace_of(record.endpoint_id),
            kind=REQUEST_KIND,
            verdict=record.outcome,
            outcome="failed: not recorded in the ledger",
            subject_id=record.job_name or record.endpoint_id,
            level=logging.ERROR,
            extra=tracking_fields(record.workflow_run_id, record.client_tracking_id),
        )


@bp.function_name("start_scoring")
@bp.route(route=JOBS_ROUTE, methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def start_scoring(req: func.HttpRequest) -> func.HttpResponse:
    """Start a batch scoring job: 202 + Location + Retry-After, or a problem; dry-run: 200."""
    try:
        return _start_scoring(req)
    except AzureError as error:
        return _ledger_unavailable("start_scoring", error)
    except Exception:
        return _failed("start_scoring")


def _start_scoring(req: func.HttpRequest) -> func.HttpResponse:
    from shared.scoring.service import DryRun
    from shared.scoring.wiring import scoring_service

    settings = get_settings()
    if (unserved := _unserved("start_scoring", settings)) is not None:
        return unserved
    service = scoring_service()
    caller = caller_of(req.headers)
    _log_request("start_scoring", caller)
    record = RequestRecord(
        function="start_scoring",
        outcome="refused",
        http_status=0,
        caller=caller.principal_id,
        workflow_run_id=caller.workflow_run_id,
        client_tracking_id=caller.client_tracking_id,
    )
    try:
        principal = authorize(caller, settings.scoring_allowed_callers)
        record = replace(record, caller=principal)
        key = idempotency_key(req.headers)
        record = replace(record, idempotency_key=key)
        document = parse_body(req.headers.get("content-type"), req.get_body())
        request = validate(
            document, settings.scoring_allowed_endpoints, settings.scoring_allowed_inputs
        )
        # Validated, so free of query strings: the input may be recorded from here on.
        record = replace(record, endpoint_id=request.endpoint_id, input_path=request.input_path)
        outcome = service.start(request, principal, caller, key)
    except RefusedError as refused:
        return _refuse(service.records, record, refused.problem)
    if isinstance(outcome, DryRun):
        _record(service.records, replace(record, outcome="dry-run", http_status=200))
        return _json(200, {"dryRun": True, "wouldSubmit": outcome.would_submit})
    status_url = _status_url(settings, outcome.name)
    _record(
        service.records,
        replace(
            record,
            outcome="replayed" if outcome.replayed else "started",
            http_status=202,
            job_name=outcome.name,
        ),
    )
    return _accepted(
        {
            "name": outcome.name,
            "status": outcome.status,
            "endpoint": outcome.endpoint_id,
            "workspace": outcome.workspace_id,
            "statusUrl": status_url,
        },
        status_url,
    )


def _refuse(records: ScoringRecords, record: RequestRecord, problem: Problem) -> func.HttpResponse:
    """Record a refusal with its caller, log it (`_record`), and answer with the problem."""
    _record(
        records,
        replace(
            record,
            outcome="refused",
            http_status=problem.status,
            problem_type=problem.type,
            field=problem.field or "",
            detail=problem.detail,
        ),
    )
    return _problem(problem)


@bp.function_name("get_scoring_job")
@bp.route(route=JOB_ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_scoring_job(req: func.HttpRequest) -> func.HttpResponse:
    """A job started through this API: 202 while it runs, 200 once it has ended, else 404."""
    try:
        return _get_scoring_job(req)
    except AzureError as error:
        return _ledger_unavailable("get_scoring_job", error)
    except Exception:
        return _failed("get_scoring_job")


def _get_scoring_job(req: func.HttpRequest) -> func.HttpResponse:
    from shared.scoring.wiring import scoring_service

    settings = get_settings()
    if (unserved := _unserved("get_scoring_job", settings)) is not None:
        return unserved
    service = scoring_service()
    caller = caller_of(req.headers)
    _log_request("get_scoring_job", caller)
    job_name = req.route_params.get("job_name", "")
    record = RequestRecord(
        function="get_scoring_job",
        outcome="refused",
        http_status=0,
        caller=caller.principal_id,
        workflow_run_id=caller.workflow_run_id,
        client_tracking_id=caller.client_tracking_id,
    )
    try:
        principal = authorize(caller, settings.scoring_allowed_callers)
        if not _JOB_NAME.fullmatch(job_name):
            raise RefusedError(problems.not_found("no scoring job of that name was started by you"))
        view = service.status(job_name, principal)
    except RefusedError as refused:
        shown = job_name if _JOB_NAME.fullmatch(job_name) else "(not a job name)"
        return _refuse(service.records, replace(record, job_name=shown), refused.problem)
    job, started = view.job, view.record
    body: dict[str, Any] = {
        "name": started.job_name,
        "status": job.status,
        "endpoint": started.endpoint_id,
        "workspace": started.workspace_id,
    }
    if not job.finished:
        status_url = _status_url(settings, job_name)
        return _accepted({**body, "statusUrl": status_url}, status_url)
    body.update(
        deployment=job.deployment or started.deployment,
        startTime=job.start_time,
        endTime=job.end_time,
        outputs=job.outputs,
    )
    if job.error:
        body["error"] = job.error
    # A failed or canceled job ends the polling: it is a finished job, not an HTTP error.
    return _json(200, {name: value for name, value in body.items() if value is not None})


@bp.function_name("openapi_spec")
@bp.route(route=SPEC_ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi_spec(req: func.HttpRequest) -> func.HttpResponse:
    """The Swagger 2.0 description of these functions, for any authenticated caller."""
    settings = get_settings()
    if (unserved := _unserved("openapi_spec", settings)) is not None:
        return unserved
    if not caller_of(req.headers).authenticated:
        return _problem(problems.unauthenticated())
    return _json(200, build_spec(host=settings.api_host))
