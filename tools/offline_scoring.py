"""The offline run's scoring step: a Logic App starts batch scoring over HTTP and follows it.

Through the registered HTTP functions with real `func.HttpRequest` objects, as App Service
authentication would pass them (the caller's object ID, identity provider and claims):
a scoring request with an Idempotency-Key, its polling (202 while the simulated service moves
the job along, 200 once it completed), the same request again (the Logic App's retry: the same
job, nothing submitted), and a request refused for carrying a SAS token (nothing submitted, no
secret stored).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Protocol

from tools import host, scene
from tools import scoring_scene as ss
from tools.report import Column, Report

if TYPE_CHECKING:
    import azure.functions as func

    from simulator import AzureSimulator


class Expect(Protocol):
    def expect(self, ok: bool, what: str) -> None: ...


_LOGIC_APP_HEADERS = {
    "Content-Type": "application/json",
    **ss.caller_headers(ss.LOGIC_APP),
    "x-ms-workflow-run-id": "08584320000000000001",
    "x-ms-client-tracking-id": "nightly-churn",
    "Idempotency-Key": "08584320000000000001",
}
_REQUEST = {"endpoint": "fraud-scoring", "input": {"type": "uri_folder", "path": ss.INPUT}}


def _post(body: dict[str, Any], headers: dict[str, str]) -> func.HttpResponse:
    return host.call_http(
        "start_scoring",
        method="POST",
        url=f"{ss.APP_URL}/scoring-jobs",
        headers=headers,
        body=json.dumps(body).encode(),
    )


def _get(url: str) -> func.HttpResponse:
    return host.call_http(
        "get_scoring_job",
        method="GET",
        url=url,
        headers=ss.caller_headers(ss.LOGIC_APP),
        route_params={"job_name": url.rsplit("/", 1)[-1]},
    )


def _line(response: func.HttpResponse) -> str:
    body = json.loads(response.get_body())
    shown = {k: body[k] for k in ("name", "status", "title", "field") if k in body}
    retry = response.headers.get("Retry-After")
    return f"HTTP {response.status_code}" + (f" Retry-After {retry}" if retry else "") + f" {shown}"


def run(sim: AzureSimulator, checks: Expect, report: Report) -> None:
    """The scoring step; prints what happens and reports through `checks`."""
    from shared.config import get_settings
    from shared.runtime import runtime

    ss.seed(sim)
    os.environ.update(ss.settings_env())
    get_settings.cache_clear()
    sim.reset_counts()
    # Earlier chapters (scoring after a retrain) may have scored already: count this step's own.
    posts_before = len(sim.ml.scoring_posts)

    report.heading("6. Scoring over HTTP: a Logic App starts batch scoring and follows it")
    report.line("POST /api/scoring-jobs (Logic App identity, Idempotency-Key = the run's name)")
    started = _post(_REQUEST, _LOGIC_APP_HEADERS)
    report.line("   " + _line(started))
    checks.expect(started.status_code == 202, "scoring request accepted: 202")
    location = started.headers.get("Location", "")
    report.line(f"   Location: {location}")
    name = location.rsplit("/", 1)[-1]

    report.line("Polling the Location, as the Logic Apps HTTP action does")
    polls = []
    for status in ("Running", "Completed"):
        polls.append(_get(location))
        report.line("   " + _line(polls[-1]))
        sim.ml.set_job_status(scene.PROD, name, status)
    polls.append(_get(location))
    report.line("   " + _line(polls[-1]))
    checks.expect(
        [p.status_code for p in polls] == [202, 202, 200]
        and json.loads(polls[-1].get_body())["status"] == "Completed",
        "polling: 202 while the job runs, 200 with status Completed at the end",
    )

    report.line("The same request again (a Logic Apps retry: same Idempotency-Key)")
    again = _post(_REQUEST, _LOGIC_APP_HEADERS)
    report.line("   " + _line(again))
    checks.expect(
        again.status_code == 202 and json.loads(again.get_body())["name"] == name,
        "retry with the same key: the first job, nothing submitted again",
    )

    report.line("A request whose input carries a SAS token")
    sas = "https://mlstore.blob.core.windows.net/scoring/in/?sv=2024-11-04&sig=c2VjcmV0"
    refused = _post(
        {"endpoint": "fraud-scoring", "input": {"type": "uri_folder", "path": sas}},
        {**_LOGIC_APP_HEADERS, "Idempotency-Key": "08584320000000000002"},
    )
    report.line("   " + _line(refused))
    checks.expect(
        refused.status_code == 400
        and refused.headers.get("Content-Type") == "application/problem+json",
        "SAS token refused: 400 problem details",
    )
    submitted = len(sim.ml.scoring_posts) - posts_before
    checks.expect(submitted == 1, f"scoring jobs submitted over HTTP: {submitted}")

    rows = [
        [
            row["Outcome"],
            row["HttpStatus"],
            row["Caller"][:8],
            row["ClientTrackingId"],
            row["JobName"] or row["Field"],
        ]
        for row in reversed(runtime().scoring.records.requests())
    ]
    report.line()
    report.table(
        "Scoring requests in the ledger (oldest first)",
        ["outcome", "http", "caller", "tracking id", Column("job / field at fault", wrap=True)],
        rows,
    )
    stored = json.dumps(runtime().scoring.records.requests())
    checks.expect("sig=" not in stored, "no SAS token in the ledger")
