"""Signals for on-call: infra/app/on-call.bicep's workbook and alert rules, the
KQL they run (infra/monitor/queries.json) and the README's "Observability", which shows it.

- One text per query: the README shows each query of the file verbatim; the Bicep loads that file
  and uses every query in it; the README's other queries are ad-hoc lookups with a placeholder.
- The queries select what the app logs: their filters, run over real decision lines (the run's
  one write path, `Run.settle`), select exactly the approvals, failures and deferrals; they read
  only custom dimensions a decision line carries, kinds the reconcilers log, outcomes as
  `shared/outcome.py` words them; a write Azure fails is a failed action whichever path made it.
- The workbook has the sections the issue names, each alert runs the query of its name, the
  dead-letter and drop alerts watch every system topic and event subscription of the app, and
  two more every subscription of the outcome topic, with or without the notifications sample:
  one rule per count and topic, from one loop, each in the README with its severity.
- Monitoring is a parameter, settable with azd and on by default; the email is optional.
"""

from __future__ import annotations

import ast
import contextlib
import json
import logging
import operator
import os
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError

from shared.adapters.answers import UnexpectedAnswerError
from shared.adapters.errors import TransientAzureError
from shared.ledger import ActionRecord
from shared.logs import DECISION_FIELDS, decision_log
from shared.outcome import NO_CHANGE, Outcome, Status
from shared.policy.budget import RemediationBudget
from shared.reconcilers import policies, private_endpoints, promotion, retraining, role_assignments
from shared.reconcilers.run import Decision, Run
from shared.scoring.service import KIND_SCORING
from shared.telemetry import DECISION_LOG_FIELDS
from tests.conftest import App
from tests.test_infra import allowed_values, azd_env_names, strip_bicep_comments
from tools import host, scene
from tools.cli import parser as cli_parser

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infra"
QUERIES_FILE = INFRA / "monitor" / "queries.json"
ON_CALL = INFRA / "app" / "on-call.bicep"
MAIN = INFRA / "main.bicep"

# What the issue asks the workbook to show, by the query that shows it.
WORKBOOK_QUERIES = {
    "approvals",
    "findingsByRule",
    "deferredRemediations",
    "runs",
    "scoringEnded",
    "failedActions",
    "notReconciled",
}
# The log alerts that a line pages for, by the query each runs (a row per line it selects).
ALERT_QUERIES = {
    "failed-actions": "failedActions",
    "deferred-remediations": "deferredRemediations",
    "not-reconciled": "notReconciled",
}
# The log alert that silence pages for: its query has a row when no sweep ended in the window.
SILENCE_ALERTS = {"no-sweep-ended": "noSweepEnded"}
# The kinds of decision lines the reconcilers log (their own constants).
LOGGED_KINDS = {
    private_endpoints.KIND,
    policies.FINDING,
    policies.REMEDIATION,
    policies.EXEMPTION,
    retraining.KIND_GATE,
    retraining.KIND_RETRAINING,
    KIND_SCORING,
    promotion.KIND,
}


def queries() -> dict[str, str]:
    loaded: dict[str, str] = json.loads(QUERIES_FILE.read_text(encoding="utf-8"))
    assert loaded, "no query in the file"
    return loaded


def observability_queries() -> list[str]:
    """The ```kusto blocks of the README's "Observability" section."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Observability", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```kusto\n(.*?)```", section, flags=re.DOTALL)


def on_call() -> str:
    return strip_bicep_comments(ON_CALL.read_text(encoding="utf-8"))


def block_opened_by(source: str, header: str) -> str:
    """The text of the resource or module that `header` opens (to its closing brace, or brace and
    bracket of a loop, at the line start)."""
    assert header in source, f"{header!r} not found"
    return re.split(r"\n\}\]?\n", source.split(header, 1)[1], maxsplit=1)[0]


def bicep_block(source: str, var: str) -> str:
    """The text of `var <name> = [ ... ]` (to its closing bracket at the line start)."""
    match = re.search(rf"^var {var} = \[\n(.*?)^\]", source, flags=re.MULTILINE | re.DOTALL)
    assert match, f"var {var} not found"
    return match.group(1)


# --- a filter of the queries, run in Python -----------------------------------------------------

_DIMENSION = re.compile(r"tostring\(customDimensions\.(\w+)\)|customDimensions\.(\w+)")


def kql_filter(query: str) -> Callable[[Mapping[str, str]], bool]:
    """What the query's `where` and `extend` steps over `traces` keep, as a predicate over one
    line's custom dimensions. Only the forms the queries use (==, in, startswith, isnotempty,
    isempty, and, or) are translated: anything else fails the translation, not the test silently."""
    steps = [step.strip() for step in query.split("\n|")]
    assert steps[0] == "traces", steps[0]
    aliases: dict[str, str] = {}
    conditions: list[str] = []
    for step in steps[1:]:
        if step.startswith(("project", "summarize", "join", "order", "count")):
            break
        if step.startswith("extend "):
            name, expression = step.removeprefix("extend ").split(" = ", 1)
            aliases[name.strip()] = expression.strip()
            continue
        assert step.startswith("where "), step
        conditions.append(step.removeprefix("where "))
    expression = " and ".join(f"({c})" for c in conditions)
    for name, value in aliases.items():
        expression = re.sub(rf"\b{name}\b", value, expression)
    expression = re.sub(r"isnotempty\(([^()]*(?:\([^()]*\))?)\)", r"bool(\1)", expression)
    expression = re.sub(r"isempty\(([^()]*(?:\([^()]*\))?)\)", r"not bool(\1)", expression)
    expression = _DIMENSION.sub(lambda m: f'd.get("{m.group(1) or m.group(2)}", "")', expression)
    expression = re.sub(
        r'(d\.get\("\w+", ""\)) startswith ("[^"]*")', r"\1.startswith(\2)", expression
    )
    leftover = re.sub(
        r'"[^"]*"|d\.get|\b(and|or|not|in|bool|startswith)\b|==|[(),.\s]', "", expression
    )
    assert not leftover, f"untranslated KQL: {leftover!r} in {expression!r}"
    code = compile(expression, "<kql>", "eval")
    # Our own file's text, translated above to names, comparisons and string literals only.
    return lambda d: bool(eval(code, {"__builtins__": {"bool": bool}}, {"d": d}))  # noqa: S307


def test_the_filter_translation_reads_each_form_the_queries_use() -> None:
    keep = kql_filter(
        "traces\n| extend outcome = tostring(customDimensions.outcome)\n"
        '| where outcome startswith "failed" or outcome startswith "not applied"\n'
        '| where tostring(customDimensions.kind) in ("a", "b")\n'
        "| where isnotempty(customDimensions.rule_id)\n"
        "| project x"
    )
    assert keep({"outcome": "failed: x", "kind": "a", "rule_id": "r"})
    assert keep({"outcome": "not applied: x", "kind": "b", "rule_id": "r"})
    assert not keep({"outcome": "applied: x", "kind": "a", "rule_id": "r"})
    assert not keep({"outcome": "failed: x", "kind": "c", "rule_id": "r"})
    assert not keep({"outcome": "failed: x", "kind": "a", "rule_id": ""})
    unanswered = kql_filter(
        'traces\n| where isempty(customDimensions.outcome) and tostring(customDimensions.v) == "f"'
    )
    assert unanswered({"v": "f"})
    assert unanswered({"v": "f", "outcome": ""})
    assert not unanswered({"v": "f", "outcome": "failed: x"})
    with pytest.raises(AssertionError, match="untranslated"):
        kql_filter('traces\n| where tostring(customDimensions.kind) has "a"')


# --- one text per query -------------------------------------------------------------------------


def test_the_readme_shows_every_query_of_the_file_verbatim() -> None:
    shown = observability_queries()
    for name, query in queries().items():
        assert query in shown, (
            f"README's Observability does not show the query {name} as the file has it"
        )
    # The README's other queries are lookups of one thing, with its placeholder to fill in.
    others = [q for q in shown if q not in queries().values()]
    assert all(re.search(r'"<[^">]+>"', q) for q in others), others


def test_the_bicep_loads_the_file_and_uses_each_of_its_queries() -> None:
    source = on_call()
    [(var, path)] = re.findall(r"^var (\w+) = loadJsonContent\('([^']+)'\)", source, re.MULTILINE)
    assert (ON_CALL.parent / path).resolve() == QUERIES_FILE
    used = set(re.findall(rf"(?<![/\w]){var}\.(\w+)", source))
    assert used == set(queries()), "the Bicep names a query the file lacks, or leaves one unused"

    sections = re.findall(
        r"name: '[\w-]+'\s+title: '[^']*'\s+query: queries\.(\w+)", bicep_block(source, "sections")
    )
    assert set(sections) == WORKBOOK_QUERIES
    assert "timeContextFromParameter: 'TimeRange'" in source
    alerts = dict(
        re.findall(
            r"name: '([\w-]+)'.*?query: queries\.(\w+)", bicep_block(source, "logAlerts"), re.DOTALL
        )
    )
    assert alerts == {**ALERT_QUERIES, **SILENCE_ALERTS}
    assert re.search(r"scopes: \[\s+applicationInsightsId\s+\]", source), (
        "log alerts scope App Insights"
    )


# --- the queries select what the app logs -------------------------------------------------------


def decision_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    """The custom dimensions of each decision line captured (every `extra` field is one)."""
    return [
        {k: v for k, v in vars(r).items() if k in DECISION_LOG_FIELDS}
        for r in caplog.records
        if hasattr(r, "verdict")
    ]


def _fails(error: Exception) -> Callable[[], str]:
    def write() -> str:
        raise error

    return write


def test_the_queries_select_exactly_the_lines_they_name(caplog: pytest.LogCaptureFixture) -> None:
    workspace = (
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"
    )

    def row(kind: str, verdict: str, subject: str) -> ActionRecord:
        return ActionRecord(
            workspace,
            kind,
            verdict,
            f"{workspace}/{subject}",
            "why",
            "enforce",
            NO_CHANGE,
            "event:e1",
        )

    decisions: Sequence[Decision] = [
        Decision(row(private_endpoints.KIND, "approve", "pec1"), write=lambda: "Approved"),
        Decision(row(private_endpoints.KIND, "reject", "pec2"), write=lambda: "Rejected"),
        Decision(
            row(policies.FINDING, "non-compliant", "computes/c1"),
            outcome=Outcome(Status.NOTED, "recorded"),
            extra={"rule_id": "compute-local-auth"},
        ),
        Decision(
            row(policies.REMEDIATION, "disable-local-auth", "computes/c1"),
            write=_fails(HttpResponseError("denied")),
            budgeted=True,
        ),
        Decision(
            row(policies.REMEDIATION, "lower-max-nodes", "computes/c2"),
            write=_fails(UnexpectedAnswerError("shows 10")),
            budgeted=True,
        ),
        # The run's budget (2) is spent: deferred.
        Decision(
            row(policies.REMEDIATION, "lower-max-nodes", "computes/c3"),
            write=lambda: "now 4",
            budgeted=True,
        ),
    ]
    with caplog.at_level(logging.INFO):
        Run("event:e1", dry_run=False, budget=RemediationBudget(2), sink=None).settle(
            workspace, decisions
        )
    lines = decision_lines(caplog)
    assert len(lines) == len(decisions)

    def selected(name: str) -> list[str]:
        keep = kql_filter(queries()[name])
        return [line["subject_id"].rsplit("/", 1)[-1] for line in lines if keep(line)]

    assert selected("approvals") == ["pec1"]
    assert selected("findingsByRule") == ["c1"]
    assert selected("failedActions") == ["c1", "c2"]
    assert selected("deferredRemediations") == ["c3"]
    assert selected("runs") == []


def test_a_workspace_whose_reads_failed_is_selected_by_not_reconciled_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A read that stops a workspace's reconcile (a role lost, Azure refusing) decides and writes
    nothing, so no failed action shows it: the Not reconciled query and its alert do."""
    workspace = (
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"
    )
    refused = HttpResponseError("(AuthorizationFailed) The client does not have authorization")
    run = Run("event:e1", dry_run=False, budget=RemediationBudget(2), sink=None)
    with caplog.at_level(logging.INFO):
        run.not_reconciled(workspace, private_endpoints.KIND, refused, mode="enforce")
        run.not_reconciled(workspace, role_assignments.KIND, refused, mode="enforce")
        verdicts = {"verdict": "not-evaluated", "outcome": "not evaluated"}
        run.not_reconciled(workspace, policies.FINDING, refused, mode="audit", **verdicts)
        approve = ActionRecord(
            workspace, private_endpoints.KIND, "approve", f"{workspace}/p", "why", "enforce",
            NO_CHANGE, "event:e1",
        )  # fmt: skip
        run.settle(workspace, [Decision(approve, write=_fails(HttpResponseError("denied")))])
    lines = decision_lines(caplog)
    assert len(lines) == 4
    keep, failed = kql_filter(queries()["notReconciled"]), kql_filter(queries()["failedActions"])
    assert [(line["kind"], line["verdict"]) for line in lines if keep(line)] == [
        (private_endpoints.KIND, "not-reconciled"),
        (role_assignments.KIND, "not-reconciled"),
        (policies.FINDING, "not-evaluated"),
    ]
    assert [line["verdict"] for line in lines if failed(line)] == ["approve"]


@pytest.mark.slow
@pytest.mark.parametrize("status", [403, 503])
def test_an_event_whose_read_failed_is_selected_by_not_reconciled_alone(
    app: App, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    """The event's private endpoint could not be read (refused, or unavailable through the
    retries): nothing was looked at for it, nothing written, so no failed action shows it."""
    endpoint = app.connection("approved earlier").private_endpoint_id
    app.sim.network.add_private_endpoint(endpoint, private_link_service_id=scene.PROD)
    app.sim.inject("network.pe.get", status=status, times=10, retry_after=0.01)
    payload = scene.resource_write_event(endpoint, "Microsoft.Network/privateEndpoints/write")

    # A transient failure is raised, for Event Grid to deliver the event again.
    raised = pytest.raises(HttpResponseError) if status == 503 else contextlib.nullcontext()
    with caplog.at_level(logging.INFO), raised:
        app.deliver(payload)

    keep, failed = kql_filter(queries()["notReconciled"]), kql_filter(queries()["failedActions"])
    lines = decision_lines(caplog)
    assert [(line["kind"], line["verdict"]) for line in lines if keep(line)] == [
        ("event", "failed")
    ]
    assert [line for line in lines if failed(line)] == []


@pytest.mark.slow
def test_an_event_whose_private_endpoint_was_deleted_since_is_selected_by_no_alert(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """Created and deleted before its write event was handled (or the event delivered again
    after): nothing is left to reconcile, as for a deleted workspace; not a read that failed."""
    endpoint = app.connection("approved earlier").private_endpoint_id
    payload = scene.resource_write_event(endpoint, "Microsoft.Network/privateEndpoints/write")
    app.sim.inject("network.pe.get", status=404, code="ResourceNotFound", times=10)

    with caplog.at_level(logging.INFO):
        app.deliver(payload)

    [line] = decision_lines(caplog)
    assert (line["kind"], line["verdict"]) == ("event", "ignored")
    assert alerted(caplog) == []


@pytest.mark.slow
def test_an_event_whose_workspace_was_deleted_since_is_selected_by_no_alert(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """With ML_SCOPE_TAG, its tags are read first: their 404 is a workspace in no scope."""
    app.set_settings(ML_SCOPE_TAG="automation=on")
    app.sim.arm.delete(scene.PROD)
    payload = scene.resource_write_event(scene.PROD, scene.WORKSPACE_WRITE)

    with caplog.at_level(logging.INFO):
        app.deliver(payload, function="on_workspace_event")

    assert [(line["kind"], line["verdict"]) for line in decision_lines(caplog)] == [
        ("event", "out-of-scope")
    ]
    assert alerted(caplog) == []


@pytest.mark.slow
def test_an_event_whose_workspace_stayed_unavailable_is_selected_once(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """The workspace's reads unavailable through the retries: the event's line says it will be
    redelivered, and the error raised for Event Grid adds no line of its own."""
    app.sim.inject("aml.pec.list", status=503, times=50, retry_after=0.01)
    uri = f"{scene.PROD}/privateEndpointConnections/pec-1"
    operation = "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/write"
    with caplog.at_level(logging.INFO), pytest.raises(TransientAzureError):
        app.deliver(scene.resource_write_event(uri, operation))

    keep = kql_filter(queries()["notReconciled"])
    assert [(line["kind"], line["verdict"]) for line in decision_lines(caplog) if keep(line)] == [
        ("event", "failed")
    ]


@pytest.mark.slow
def test_an_ml_event_to_be_read_again_is_selected_once(
    rapp: App, caplog: pytest.LogCaptureFixture
) -> None:
    """Azure ML still says the job runs: the event's line says it will be redelivered, and the
    error raised for Event Grid adds no line of its own."""
    from tests.retraining import submitted_job
    from tools import retraining_scene

    job = submitted_job(rapp)
    rapp.sim.ml.set_job_status(scene.PROD, job["name"], "Running")
    event = retraining_scene.job_finished_event(job["name"], tags=job["properties"]["tags"])
    with caplog.at_level(logging.INFO), pytest.raises(TransientAzureError):
        rapp.deliver(event, "on_ml_event")

    keep = kql_filter(queries()["notReconciled"])
    assert [(line["kind"], line["verdict"]) for line in decision_lines(caplog) if keep(line)] == [
        ("ml-event", "failed")
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("nothing fails", []),
        # An allow-listed Synapse workspace the app may not read: every connection from it is
        # left pending, decided on no evidence.
        ("Synapse refuses", [("synapse-evidence", "incomplete")]),
        # ... or whose answer the app does not take: another workspace's, or no workspaceUID.
        ("Synapse answers for another", [("synapse-evidence", "incomplete")]),
        ("Synapse answers without its UID", [("synapse-evidence", "incomplete")]),
        # Unavailable through the retries, run after run: the next run retries, and no other
        # line of the run names the workspaces.
        ("reads unavailable", [("workspace", "retry"), ("workspace", "retry"), ("sweep", "retry")]),
        # A scope whose workspaces cannot be listed: none of them is reconciled.
        ("scope refuses", [("scope", "unread")]),
    ],
)
def test_a_sweep_that_could_not_reconcile_is_selected_by_not_reconciled_alone(
    app: App, caplog: pytest.LogCaptureFixture, case: str, expected: list[tuple[str, str]]
) -> None:
    if case == "Synapse refuses":
        app.sim.inject("synapse.workspace.get", status=403, times=50)
    elif case == "Synapse answers for another":
        other = {"id": scene.synapse_id("syn-other"), "properties": {}}
        app.sim.inject_reply("synapse.workspace.get", body=other, times=50)
    elif case == "Synapse answers without its UID":
        managed = {"managedVirtualNetwork": "default"}
        body = {"id": scene.ANALYTICS, "properties": managed}
        app.sim.inject_reply("synapse.workspace.get", body=body, times=50)
    elif case == "reads unavailable":
        app.sim.inject("aml.pec.list", status=503, times=50, retry_after=0.01)
    elif case == "scope refuses":
        group = f"/subscriptions/{scene.ML_SUBSCRIPTION}/resourceGroups/rg-ml"
        app.set_settings(ML_SCOPES=json.dumps([group, scene.SANDBOX]), ML_WORKSPACE_IDS="")
        # ARM's lists are the inventory when Resource Graph is unavailable (the count, the survey).
        app.sim.inject("resourcegraph.query", status=503, times=10, retry_after=0.01)
        app.sim.inject("aml.workspace.list", status=403, times=10)
    raised = pytest.raises(TransientAzureError) if case == "reads unavailable" else None
    with caplog.at_level(logging.INFO), raised or contextlib.nullcontext():
        host.fire_timer("reconcile_all")

    lines = decision_lines(caplog)
    selected = {
        name: [
            (line["kind"], line["verdict"]) for line in lines if kql_filter(queries()[name])(line)
        ]
        for name in ALERT_QUERIES.values()
    }
    assert selected == {"notReconciled": expected, "failedActions": [], "deferredRemediations": []}


@pytest.mark.slow
@pytest.mark.parametrize("tag", ["", "automation=on"])
def test_a_workspace_deleted_before_the_sweep_reads_it_is_selected_by_no_alert(
    app: App, caplog: pytest.LogCaptureFixture, tag: str
) -> None:
    """Resource Graph still lists a workspace ARM has deleted (every read answers 404, its tags'
    for ML_SCOPE_TAG too): normal operation, said once as gone, nothing for on-call to do."""
    if tag:
        for workspace_id in (scene.PROD, scene.DEV):
            body = app.sim.arm.get(workspace_id) or {}
            app.sim.arm.put(workspace_id, {**body, "tags": {"automation": "on"}})
        app.set_settings(ML_SCOPE_TAG=tag)

    def listed_then_deleted(body: dict[str, list[dict[str, str]]]) -> None:
        if any(str(row.get("id")).lower() == scene.PROD.lower() for row in body["data"]):
            app.sim.arm.delete(scene.PROD)

    app.sim.rewrite_reply("resourcegraph.query", listed_then_deleted, times=10)
    with caplog.at_level(logging.INFO):
        host.fire_timer("reconcile_all")

    # Said gone once; with a tag to read first, in no scope (nothing to say).
    said = [line for line in decision_lines(caplog) if line["workspace_id"] == scene.PROD]
    assert len(said) == (0 if tag else 1), said
    assert alerted(caplog) == []


@pytest.mark.slow
@pytest.mark.parametrize("status", [403, 503])
def test_a_partition_whose_scope_cannot_be_read_is_selected_by_not_reconciled(
    app: App, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    """Whether the message's subscription lies in a scope of the settings is read from ARM (the
    management group's members): that read failing leaves the subscription unswept, delivery
    after delivery, until the message is in the poison queue."""
    from handlers.sweep import MAX_DEQUEUE_COUNT, PARTITION_FUNCTION

    app.sim.management.add_group("mg-landing-zones")
    app.sim.management.place_subscription(scene.ML_SUBSCRIPTION, "mg-landing-zones")
    group = "/providers/Microsoft.Management/managementGroups/mg-landing-zones"
    app.set_settings(ML_SCOPES=json.dumps([group]), ML_WORKSPACE_IDS="")
    app.sim.inject("management.descendants", status=status, times=100, retry_after=0.01)
    body = json.dumps({"subscription": scene.ML_SUBSCRIPTION}).encode()

    with caplog.at_level(logging.INFO), pytest.raises(TransientAzureError):
        host.deliver_queue_message(PARTITION_FUNCTION, body, dequeue_count=MAX_DEQUEUE_COUNT)

    lines = decision_lines(caplog)
    keep = kql_filter(queries()["notReconciled"])
    assert [(line["kind"], line["verdict"]) for line in lines if keep(line)] == [("sweep", "retry")]
    assert [line["verdict"] for line in lines if line["kind"] == "partition"] == ["poison"]


def test_failed_actions_cover_every_failed_outcome_and_deferrals_every_deferral() -> None:
    failed = kql_filter(queries()["failedActions"])
    deferred = kql_filter(queries()["deferredRemediations"])
    for status in Status:
        outcome = str(Outcome(status, "detail"))
        assert failed({"outcome": outcome}) == (status.state == "Failed"), status
        assert deferred({"outcome": outcome, "kind": policies.REMEDIATION}) == (
            status is Status.DEFERRED
        )


@pytest.mark.slow
@pytest.mark.parametrize("status", [403, 500])
def test_an_http_scoring_start_azure_fails_is_a_failed_action_announced_unless_transient(
    scoring: App, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    # The POST was attempted (its intent row is written): Azure failing it is a failed write,
    # for the alert, and, as after a retrain, the notification sample's `.Failed` filter unless
    # transient (every answer may have been lost with the job made: the key's retry finds it).
    from tests.retraining import recorded_actions
    from tests.test_scoring_http_e2e import post

    scoring.sim.inject("ml.scoring.invoke", status=status, times=5, retry_after=0.01)
    with caplog.at_level(logging.INFO):
        assert post().status_code in (502, 503)
    failed = kql_filter(queries()["failedActions"])
    selected = [(line["kind"], line["verdict"]) for line in decision_lines(caplog) if failed(line)]
    assert selected == [("batch-scoring", "start")]
    # The intent row's outcome follows it (newest first).
    outcomes = [
        row["Outcome"].split(":")[0] for row in recorded_actions("batch-scoring", intents=True)
    ]
    assert outcomes == ["failed" if status == 403 else "failed (will retry)", "intent"]
    types = [event["eventType"] for event in scoring.sim.eventgrid.published_events]
    assert types == (["SynapseAmlAutomation.BatchScoring.Start.Failed"] if status == 403 else [])


@pytest.mark.slow
def test_scoring_served_without_app_service_authentication_is_a_failed_action(
    scoring: App, caplog: pytest.LogCaptureFixture
) -> None:
    # Every request refused (503) until the platform's authentication is back on: no caller's
    # fault, and nothing else says the API serves nothing.
    from tests.test_scoring_http_e2e import get, post
    from tools import scoring_scene

    scoring.set_settings(**{**scoring_scene.settings_env(), "WEBSITE_AUTH_ENABLED": ""})
    with caplog.at_level(logging.INFO):
        assert [post().status_code, get("batchjob-1").status_code] == [503, 503]
    failed = kql_filter(queries()["failedActions"])
    selected = [(line["kind"], line["verdict"]) for line in decision_lines(caplog) if failed(line)]
    assert selected == [("scoring-request", "unavailable")] * 2


def test_a_scoring_request_the_app_failed_on_is_a_failed_action(
    scoring: App, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app's own fault (a bug, not Azure's answer): a 500 the caller sees, and on-call too.
    import handlers.scoring
    from tests.test_scoring_http_e2e import post

    def fails(*args: object) -> None:
        raise RuntimeError("the app's own fault")

    monkeypatch.setattr(handlers.scoring, "caller_of", fails)
    with caplog.at_level(logging.INFO):
        assert post().status_code == 500
    failed = kql_filter(queries()["failedActions"])
    selected = [(line["kind"], line["verdict"]) for line in decision_lines(caplog) if failed(line)]
    assert selected == [("scoring-request", "failed")]


def kinds_in(query: str) -> set[str]:
    """The kinds a query compares `customDimensions.kind` with (== or in)."""
    kinds = set(re.findall(r'tostring\(customDimensions\.kind\) == "([\w-]+)"', query))
    for group in re.findall(r"tostring\(customDimensions\.kind\) in \(([^)]*)\)", query):
        kinds |= set(re.findall(r'"([\w-]+)"', group))
    return kinds


def test_the_runs_query_reads_every_retraining_kind_and_no_other() -> None:
    assert kinds_in(queries()["runs"]) == {
        retraining.KIND_GATE,
        retraining.KIND_RETRAINING,
        KIND_SCORING,
        promotion.KIND,
    }


def _extra_keys() -> set[str]:
    """The keys a decision line is given in shared/ and handlers/: of every literal
    `extra={...}`, and of the dict literals returned by the functions called as `extra=f(...)`."""
    trees = [
        ast.parse(path.read_text(encoding="utf-8"))
        for path in [*(REPO / "shared").rglob("*.py"), *(REPO / "handlers").rglob("*.py")]
    ]
    dicts: list[ast.Dict] = []
    builders: set[str] = set()
    for node in (n for tree in trees for n in ast.walk(tree)):
        if isinstance(node, ast.keyword) and node.arg == "extra":
            if isinstance(node.value, ast.Dict):
                dicts.append(node.value)
            elif isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name):
                builders.add(node.value.func.id)
    for node in (n for tree in trees for n in ast.walk(tree)):
        if isinstance(node, ast.FunctionDef) and node.name in builders:
            dicts += [
                r.value
                for r in ast.walk(node)
                if isinstance(r, ast.Return) and isinstance(r.value, ast.Dict)
            ]
    return {
        k.value
        for d in dicts
        for k in d.keys
        if isinstance(k, ast.Constant) and isinstance(k.value, str)
    }


def _handler_kinds() -> set[str]:
    """The kinds handlers/ gives its own decision lines (`kind="..."` literals: the sweep's)."""
    return {
        node.value.value
        for path in (REPO / "handlers").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.keyword) and node.arg == "kind"
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }


def test_every_query_reads_only_what_a_decision_line_carries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        decision_log(logging.getLogger("probe"), "m", trigger="event:e", kind="k", verdict="v")
    [record] = caplog.records
    carried = {name for name in DECISION_FIELDS if hasattr(record, name)} | _extra_keys()
    logged_kinds = LOGGED_KINDS | _handler_kinds()
    assert "sweep" in logged_kinds, "the handlers' kinds were not found"
    assert {"rule_id", "workflow_run_id"} <= carried, "the extra fields were not found"
    for query in [*queries().values(), *observability_queries()]:
        used = {a or b for a, b in _DIMENSION.findall(query)}
        assert used, query
        assert used <= carried, f"not logged: {used - carried}"
        assert used <= set(DECISION_LOG_FIELDS), (
            f"not documented: {used - set(DECISION_LOG_FIELDS)}"
        )
        kinds = kinds_in(query)
        assert kinds <= logged_kinds, f"kinds nothing logs: {kinds - logged_kinds}"


def test_a_count_of_workspaces_counts_each_once_however_azure_spells_it() -> None:
    # ARM IDs are case-insensitive, and one workspace's lines carry it as each trigger spelled
    # it (an event's subject: `resourcegroups`, an upper-case group; Resource Graph's row; the
    # settings): counted as written, one workspace would be several.
    counted = re.compile(r"dcount\(([^,\n]*)")  # to the argument's end
    texts = [*queries().values(), *observability_queries()]
    ids = [e for query in texts for e in counted.findall(query) if "_id" in e]
    assert ids, "no count of IDs found"
    assert [e for e in ids if not e.startswith("tolower(")] == []


def test_findings_by_rule_counts_each_resource_once_however_often_it_was_evaluated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every run that evaluates a workspace (each of its events, the sweep once its fingerprint
    # lapses) logs its findings again: counted by line, one compute would be dozens of findings.
    workspace = (
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"
    )
    finding = ActionRecord(
        workspace, policies.FINDING, "non-compliant", f"{workspace}/computes/c1", "why",
        "audit", NO_CHANGE, "event:e1",
    )  # fmt: skip
    with caplog.at_level(logging.INFO):
        for trigger in ("event:e1", "sweep:s1"):
            decision = Decision(finding, outcome=Outcome(Status.NOTED, "recorded"),
                                extra={"rule_id": "compute-local-auth"})  # fmt: skip
            Run(trigger, dry_run=False, budget=RemediationBudget(2), sink=None).settle(
                workspace, [decision]
            )
    query = queries()["findingsByRule"]
    selected = [line for line in decision_lines(caplog) if kql_filter(query)(line)]
    assert len(selected) == 2, "the same finding, logged by each run"
    counted = re.search(
        r"findings = dcount\(tolower\(tostring\(customDimensions\.(\w+)\)\)\)", query
    )
    assert counted, "findings counts lines, not resources"
    assert len({line[counted.group(1)].lower() for line in selected}) == 1


def test_a_line_joined_with_the_calls_that_failed_stays_one_row() -> None:
    # One failed write is several failed dependencies of its operation: the SDK method's span and
    # its HTTP span, one per retry of a 503 (and a sweep's operation holds every workspace's).
    # Joined call by call, one failed action shows as many rows: the calls are gathered per
    # operation.
    joins = [
        (name, join)
        for name, query in queries().items()
        for join in re.findall(r"\| join kind=leftouter \((.*?)\) on operation_Id", query, re.S)
    ]
    assert {name for name, _ in joins} == {"failedActions", "notReconciled"}
    for name, join in joins:
        last = re.split(r"\n\s*\|", join)[-1].strip()
        assert re.fullmatch(r"summarize .+ by operation_Id", last, re.S), (name, last)


# --- the silence alert (a dead man's switch) ----------------------------------------------------

_COUNT_TEST = {
    "==": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def result_rows(query: str, lines: Sequence[Mapping[str, str]]) -> int:
    """How many rows the query returns over a window's decision lines: the lines its filter keeps,
    or, after `| count`, the count's one row (one even over no line at all, as KQL's `count`),
    kept by each `where Count <op> N` after it. Any other step after `count` fails the test."""
    kept = [line for line in lines if kql_filter(query)(line)]
    steps = [step.strip() for step in query.split("\n|")]
    if "count" not in steps:
        return len(kept)
    rows = [len(kept)]
    for step in steps[steps.index("count") + 1 :]:
        test = re.fullmatch(r"where Count (==|<=|>=|<|>) (\d+)", step)
        assert test, f"untranslated step after count: {step!r}"
        rows = [n for n in rows if _COUNT_TEST[test.group(1)](n, int(test.group(2)))]
    return len(rows)


def log_alert_rule() -> str:
    return block_opened_by(
        on_call(),
        "resource logAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = "
        "[for alert in logAlerts: {",
    )


def log_alert(name: str) -> dict[str, str]:
    """The fields of one entry of on-call.bicep's `logAlerts`, as Bicep text."""
    entries = re.split(r"^  \}\n", bicep_block(on_call(), "logAlerts"), flags=re.MULTILINE)
    [entry] = [e for e in entries if f"name: '{name}'" in e]
    return dict(re.findall(r"^    (\w+): (.+)$", entry, re.MULTILINE))


def sweep_end_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    """Real lines of handlers/sweep.py's `_done`: a sweep that ended, one with workspaces to retry
    (it raises after its line), a fanned-out partition's."""
    from handlers.sweep import _done
    from shared.reconcilers.sweep import SweepReport

    with caplog.at_level(logging.INFO):
        _done(SweepReport((), (), unchanged=3), [], "sweep:a")
        with pytest.raises(TransientAzureError):
            _done(SweepReport((), ("w: 503",)), ["w: 503"], "sweep:b")
        _done(SweepReport((), ()), [], "sweep:c", "subscription s: ")
    return decision_lines(caplog)


def test_the_silence_alert_fires_when_no_sweep_ended_and_not_after_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every log alert fires on a row (GreaterThan 0, one shared resource); the silence alert's
    query has one exactly when no sweep's end line is in the window, App Insights empty included."""
    rule = log_alert_rule()
    assert re.search(r"timeAggregation: 'Count'\s+operator: 'GreaterThan'\s+threshold: 0\s", rule)
    query = queries()["noSweepEnded"]
    ended = sweep_end_lines(caplog)
    assert [(line["kind"], line["verdict"]) for line in ended] == [
        ("sweep", "done"),
        ("sweep", "retry"),
        ("sweep", "done"),
    ]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        # What a window holds while no sweep ends: a late sweep starting (and hanging), a
        # function failing before its line, an event handled.
        log = logging.getLogger("handlers.sweep")
        decision_log(log, "running late", trigger="sweep:d", kind="sweep", verdict="past-due")
        decision_log(log, "boom", trigger="sweep:d", kind="invocation", verdict="failed")
        decision_log(log, "seen", trigger="event:e", kind="event", verdict="ignored")
    others = decision_lines(caplog)
    assert len(others) == 3

    assert result_rows(query, []) == 1, "nothing at all in App Insights: silent"
    assert result_rows(query, others) == 1, "no sweep ended: silent"
    for line in ended:
        assert result_rows(query, [*others, line]) == 0, line
    assert result_rows(query, ended) == 0


@pytest.mark.slow
@pytest.mark.parametrize("fan_out", [False, True])
def test_a_sweep_the_timer_ran_silences_the_alert(
    app: App, caplog: pytest.LogCaptureFixture, fan_out: bool
) -> None:
    """The timer's own run, sweeping or fanning out, writes a line the query counts as an end."""
    if fan_out:
        app.set_settings(SWEEP_FAN_OUT_WORKSPACES="1")
    with caplog.at_level(logging.INFO):
        host.fire_timer("reconcile_all")
    lines = decision_lines(caplog)
    ends = [line["verdict"] for line in lines if line["kind"] == "sweep"]
    assert ends == (["fan-out"] if fan_out else ["done"])
    query = queries()["noSweepEnded"]
    assert result_rows(query, lines) == 0
    assert result_rows(query, [line for line in lines if line["kind"] != "sweep"]) == 1


def _duration_minutes(duration: str) -> int:
    """An ISO 8601 duration of the forms log alerts take (PTnM, PTnH, PnD), in minutes."""
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?", duration)
    assert match, duration
    assert any(match.groups()), duration
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return (days * 24 + hours) * 60 + minutes


# The windowSize values of a log search alert: Azure Monitor's "Resource Manager template samples
# for log search alert rules" (MicrosoftDocs/azure-monitor-docs, resource-manager-alerts-log.md);
# the REST API (Microsoft.Insights 2023-12-01) types it as any duration.
LOG_ALERT_WINDOW_SIZES = {
    "PT1M", "PT5M", "PT10M", "PT15M", "PT30M", "PT45M",
    "PT1H", "PT2H", "PT3H", "PT4H", "PT5H", "PT6H", "P1D", "P2D",
}  # fmt: skip


def test_the_silence_window_is_a_parameter_that_reaches_the_rule() -> None:
    main = strip_bicep_comments(MAIN.read_text(encoding="utf-8"))
    assert re.search(r"^param sweepSilenceWindow string = 'PT1H'$", main, re.MULTILINE)
    allowed = allowed_values(main, "sweepSilenceWindow")
    assert allowed, "param sweepSilenceWindow needs @allowed: the window sizes log alerts take"
    assert "PT1H" in allowed
    assert allowed <= LOG_ALERT_WINDOW_SIZES, allowed - LOG_ALERT_WINDOW_SIZES
    # Longer than the default schedule's period, or the alert fires between two sweeps.
    schedule = re.search(r"^param reconcileSchedule string = '0 \*/(\d+) \* \* \* \*'$", main, re.M)
    assert schedule, "reconcileSchedule's default is not every N minutes"
    assert min(_duration_minutes(value) for value in allowed) > int(schedule.group(1))

    module = block_opened_by(main, "module onCall 'app/on-call.bicep' = if (deployMonitoring) {")
    assert "sweepSilenceWindow: sweepSilenceWindow" in module
    assert "functionAppName: functionApp.outputs.name" in module
    source = on_call()
    assert re.search(r"^param sweepSilenceWindow string$", source, re.MULTILINE)
    alert = log_alert("no-sweep-ended")
    assert alert["window"] == "sweepSilenceWindow"
    assert alert["query"] == "queries.noSweepEnded"
    # Evaluated at least as often as the shortest window allows.
    frequency = _duration_minutes(alert["frequency"].strip("'"))
    assert frequency <= min(_duration_minutes(value) for value in allowed)
    rule = log_alert_rule()
    assert "windowSize: alert.window" in rule
    assert "evaluationFrequency: alert.frequency" in rule


def test_the_silence_window_is_settable_with_azd() -> None:
    from tests.azd_envsubst import load_parameters

    assert azd_env_names()["sweepSilenceWindow"] == "SWEEP_SILENCE_WINDOW"
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    entry = {"parameters": {"sweepSilenceWindow": parameters["parameters"]["sweepSilenceWindow"]}}
    bicep = MAIN.read_text(encoding="utf-8")
    assert entry["parameters"]["sweepSilenceWindow"]["value"] == "${SWEEP_SILENCE_WINDOW=PT1H}"
    assert load_parameters(entry, bicep, {})["sweepSilenceWindow"] == "PT1H"
    env = {"SWEEP_SILENCE_WINDOW": "P1D"}
    assert load_parameters(entry, bicep, env)["sweepSilenceWindow"] == "P1D"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "`SWEEP_SILENCE_WINDOW` (default `PT1H`" in readme


def test_the_silence_alert_tells_on_call_what_to_check_first() -> None:
    alert = log_alert("no-sweep-ended")
    # The app doing nothing anywhere: as severe as a failed action or a dropped event.
    assert alert["severity"] == "1"
    assert alert["severity"] == log_alert("failed-actions")["severity"]
    description = description_of(alert)
    for words in (
        "ended in the last ${sweepSilenceWindow}",
        "not running, its timer is not firing, or its telemetry is not arriving",
        "az functionapp show --name ${functionAppName} --resource-group "
        "${resourceGroup().name} --query state",
        "the last deployment",
        "AzureWebJobsStorage__",
        "Storage Blob Data Owner and Storage Queue Data Contributor",
        "Monitoring Metrics Publisher on Application Insights",
        "the Not reconciled alert",
    ):
        assert words in description, words
    # What it names is what the deployment sets: the host's settings and the roles of its two
    # identities, in the storage account the description names.
    function = (INFRA / "app" / "function.bicep").read_text(encoding="utf-8")
    assert "name: 'AzureWebJobsStorage__clientId'" in function
    rbac = strip_bicep_comments((INFRA / "app" / "rbac.bicep").read_text(encoding="utf-8"))
    for role, principal in (
        ("storageBlobDataOwner", "hostPrincipalId"),
        ("storageQueueDataContributor", "hostPrincipalId"),
        ("monitoringMetricsPublisher", "appPrincipalId"),
    ):
        assert re.search(rf"name: guid\([\w.]+, {principal}, roles\.{role}\)", rbac), role
    main = strip_bicep_comments(MAIN.read_text(encoding="utf-8"))
    module = block_opened_by(main, "module onCall 'app/on-call.bicep' = if (deployMonitoring) {")
    assert "storageAccountName: storage.outputs.name" in module
    assert "storageBlobEndpoint: storage.outputs.blobEndpoint" in main


def test_the_readme_lists_the_silence_alert_with_its_severity_and_window() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    row = re.search(r"^\| no sweep ended \(log alert\) \|[^\n]*", readme, re.MULTILINE)
    assert row, "no README row for the silence alert"
    columns = row.group(0).strip("| ").split(" | ")
    assert len(columns) == 3, columns
    alert = log_alert("no-sweep-ended")
    assert columns[2].startswith(f"{alert['severity']}, every 15 minutes over ")
    assert alert["frequency"] == "'PT15M'"
    assert "`SWEEP_SILENCE_WINDOW`" in columns[2]


# --- the dead-letter and drop alerts ------------------------------------------------------------

# What Event Grid counts of the events it gave up on: dead-lettered (a blob records each) and
# dropped (lost with no record), each on the system topics and on the outcome topic.
LOSS_METRICS = DEAD_LETTERED, DROPPED = ("'DeadLetteredCount'", "'DroppedEventCount'")
TOPIC_NAMESPACES = SYSTEM_TOPICS, OUTCOME_TOPIC = (
    "'Microsoft.EventGrid/systemTopics'",
    "'Microsoft.EventGrid/topics'",
)
METRIC_ALERT_FIELDS = {
    "name",
    "severity",
    "description",
    "scope",
    "namespace",
    "metric",
    "subscriptions",
    "perTopic",
}


def metric_alerts() -> dict[str, dict[str, str]]:
    """The entries on-call.bicep's metric alert loop runs over (one rule each), by name: each
    field's Bicep text, and `perTopic` 'true' for the entry of a loop over the system topics."""
    source = on_call()
    listed = re.search(r"^var metricAlerts = concat\((.*)\)$", source, re.MULTILINE)
    assert listed, "var metricAlerts not found"
    alerts: dict[str, dict[str, str]] = {}
    for var in listed.group(1).split(", "):
        loop = re.search(
            rf"^var {var} = \[for topicId in topicIds: \{{\n(.*?)^\}}\]$",
            source,
            re.MULTILINE | re.DOTALL,
        )
        bodies = (
            [loop.group(1)] if loop else re.split(r"^  \}\n", bicep_block(source, var), flags=re.M)
        )
        for body in filter(str.strip, bodies):
            one_line = re.sub(r"\[\s+('[^']*')\s+\]", r"[\1]", body)
            fields = dict(re.findall(r"^ +(\w+): (.+)$", one_line, re.MULTILINE))
            fields["perTopic"] = str(bool(loop)).lower()
            name = fields["name"].strip("'")
            assert name not in alerts, name
            alerts[name] = fields
    return alerts


def watched(alert: Mapping[str, str]) -> tuple[str, ...]:
    """Where a metric alert looks and what it counts there: a loop over the system topics or not,
    its scope, namespace, metric and event subscriptions."""
    return tuple(
        alert[field] for field in ("perTopic", "scope", "namespace", "metric", "subscriptions")
    )


def description_of(alert: Mapping[str, str]) -> str:
    quoted = re.fullmatch(r"'(.*)'", alert["description"])
    assert quoted, alert["description"]
    return quoted.group(1)


def test_each_count_of_each_topic_is_a_metric_alert_of_its_own() -> None:
    """A rule's criteria must all hold together (allOf): dead-lettered and dropped events each
    need a rule, on the system topics and on the outcome topic, all from one loop that evaluates
    them alike and alerts on-call the same way."""
    alerts = metric_alerts()
    assert all(set(alert) == METRIC_ALERT_FIELDS for alert in alerts.values()), alerts
    watched = sorted((alert["namespace"], alert["metric"]) for alert in alerts.values())
    assert watched == sorted((ns, metric) for ns in TOPIC_NAMESPACES for metric in LOSS_METRICS)

    source = on_call()
    assert source.count("'Microsoft.Insights/metricAlerts@") == 1, "one loop for all of them"
    rule = block_opened_by(
        source,
        "resource metricAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = "
        "[for alert in metricAlerts: {",
    )
    for expected in (
        "name: 'alert-${namePrefix}-${alert.name}'",
        "description: alert.description",
        "severity: alert.severity",
        "evaluationFrequency: 'PT5M'",
        "windowSize: 'PT15M'",
        "metricNamespace: alert.namespace",
        "metricName: alert.metric",
        "autoMitigate: true",
        # The same action group and email handling as the other alerts.
        "actions: [for actionGroupId in alertActions: {",
    ):
        assert expected in rule, expected
    assert re.search(r"scopes: \[\s+alert\.scope\s+\]", rule)
    assert rule.count("criterionType:") == 1, "one count per rule"
    assert re.search(
        r"name: 'EventSubscriptionName'\s+operator: 'Include'\s+values: alert\.subscriptions", rule
    )
    assert re.search(r"operator: 'GreaterThan'\s+threshold: 0\s+timeAggregation: 'Total'", rule)
    assert re.search(r"dependsOn: \[\s+actionGroup\s+\]", rule)


def test_a_dead_letter_alert_watches_each_system_topic_for_the_app_s_subscriptions() -> None:
    alert = metric_alerts()["dead-lettered-${uniqueString(topicId)}"]
    assert watched(alert) == ("true", "topicId", SYSTEM_TOPICS, DEAD_LETTERED, "appSubscriptions")
    assert alert["severity"] == "2"
    assert "python -m tools.cli replay" in description_of(alert)
    source = on_call()
    assert "var appSubscriptions = union(subscriptionNames, upperSubscriptionNames)" in source
    assert "var topicIds = concat(armTopicIds, mlTopicIds)" in source
    assert (
        "var subscriptionNames = [for subscription in eventSubscriptions: subscription.name]"
        in source
    )

    main = strip_bicep_comments(MAIN.read_text(encoding="utf-8"))
    module = block_opened_by(main, "module onCall 'app/on-call.bicep' = if (deployMonitoring) {")
    # Every topic the app's event subscriptions are deployed on, created or adopted ...
    assert (
        "armTopicIds: [for i in range(0, length(armTopics)): armEventTopics[i].outputs.id]"
        in module
    )
    assert (
        "mlTopicIds: [for i in range(0, length(mlTopics)): mlEventTopics[i].outputs.id]" in module
    )
    assert "eventSubscriptions: concat(armEventSubscriptions, mlEventSubscriptions)" in module
    # ... and those are the topics and lists the subscription modules deploy.
    assert re.search(
        r"systemTopicName: armEventTopics\[i\]\.outputs\.name\s+"
        r"subscriptions: armEventSubscriptions",
        main,
    )
    assert re.search(
        r"systemTopicName: mlEventTopics\[i\]\.outputs\.name\s+subscriptions: mlEventSubscriptions",
        main,
    )
    topic = strip_bicep_comments(
        (INFRA / "app" / "eventgrid-topic.bicep").read_text(encoding="utf-8")
    )
    assert "var topicId = resourceId('Microsoft.EventGrid/systemTopics', name)" in topic
    assert "output id string = topicId" in topic


def dead_letter_writers() -> tuple[str, str]:
    """rbac.bicep's principals that may write the dead-letter container, and that role's text."""
    rbac = strip_bicep_comments((INFRA / "app" / "rbac.bicep").read_text(encoding="utf-8"))
    writers = re.search(r"^var deadLetterWriters = (.+)$", rbac, re.MULTILINE)
    assert writers, "var deadLetterWriters not found"
    role = block_opened_by(
        rbac,
        "resource deadLetter 'Microsoft.Authorization/roleAssignments@2022-04-01' = "
        "[for principalId in deadLetterWriters: {",
    )
    return writers.group(1), role


def test_a_drop_alert_watches_each_system_topic_for_the_app_s_subscriptions() -> None:
    """An event for the app that Event Grid could not dead-letter either is lost with no blob to
    replay: the same topics and subscriptions as the dead-letter alert, a higher severity, and a
    description that says what to run and what to fix."""
    alerts = metric_alerts()
    dead_lettered = alerts["dead-lettered-${uniqueString(topicId)}"]
    alert = alerts["dropped-${uniqueString(topicId)}"]
    # The same topic list and filter to the app's subscriptions as the dead-letter alert.
    assert watched(alert) == (*watched(dead_lettered)[:3], DROPPED, dead_lettered["subscriptions"])
    # Lost with no record is worse than dead-lettered: a failed action's severity.
    assert alert["severity"] == "1"
    assert int(alert["severity"]) < int(dead_lettered["severity"])

    description = description_of(alert)
    for words in (
        "dropped by ${last(split(topicId, '/'))}",
        "no blob for tools.cli replay",
        "container ${deadLetterContainerName} of storage account ${storageAccountName}",
        "trusted Azure services",
        "system-assigned identity must hold Storage Blob Data Contributor",
        "infra/app/rbac.bicep",
    ):
        assert words in description, words
    # The commands it names are the CLI's, as written.
    commands = re.findall(r"python -m tools\.cli (\w+(?: --[\w-]+ [A-Z]+)*)", description)
    assert {command.split()[0] for command in commands} == {"plan", "apply"}, commands
    for command in commands:
        args = cli_parser().parse_args(command.split())
        assert args.command == command.split()[0]
    assert "apply --workspace ID" in " ".join(commands)
    # What it tells to check is what the deployment sets: the topics' role on the container ...
    writers, role = dead_letter_writers()
    assert writers.startswith("concat(armTopicPrincipalIds, mlTopicPrincipalIds,")
    assert "scope: deadLetterContainer" in role
    assert "roles.storageBlobDataContributor" in role
    # ... written with their system-assigned identity, through the storage firewall's bypass.
    subscriptions = strip_bicep_comments(
        (INFRA / "app" / "eventgrid-subscriptions.bicep").read_text(encoding="utf-8")
    )
    assert re.search(
        r"deadLetterWithResourceIdentity: \{\s+identity: \{\s+type: 'SystemAssigned'", subscriptions
    )
    storage = strip_bicep_comments((INFRA / "app" / "storage.bicep").read_text(encoding="utf-8"))
    assert re.search(r"bypass: 'AzureServices'\s+defaultAction: 'Deny'", storage)


def test_a_dead_letter_alert_watches_every_subscription_of_the_outcome_topic() -> None:
    """The outcome topic is the app's own: every subscription on it is watched (split by name, all
    current and future values), with or without the notifications sample, whose subscriptions
    dead-letter to the container the alert's description names."""
    alert = metric_alerts()["notifications-dead-lettered"]
    assert watched(alert) == ("false", "outcomeTopicId", OUTCOME_TOPIC, DEAD_LETTERED, "['*']")
    assert alert["severity"] == "2"
    # On-call is told what it means and where the record is, and that replay does not apply.
    description = description_of(alert)
    for words in (
        "people were not told",
        "tools.cli replay does not apply",
        "${deadLetterContainerName}",
        "${storageAccountName}",
    ):
        assert words in description, words

    source = on_call()
    assert "var outcomeTopicName = last(split(outcomeTopicId, '/'))" in source
    main = strip_bicep_comments(MAIN.read_text(encoding="utf-8"))
    module = block_opened_by(main, "module onCall 'app/on-call.bicep' = if (deployMonitoring) {")
    assert "outcomeTopicId: outcomeTopic.outputs.id" in module
    assert "storageAccountName: storage.outputs.name" in module
    assert "deadLetterContainerName: storage.outputs.deadLetterContainerName" in module
    # Deployed whether the sample is or not: nothing of the alert depends on its webhook.
    assert "notificationWebhookUrl" not in module
    assert "notificationWebhookUrl" not in source
    # The sample subscribes on that topic and dead-letters where the description says.
    sample = block_opened_by(main, "module notifications 'app/notifications-logic-app.bicep'")
    assert "outcomeTopicName: outcomeTopic.outputs.name" in sample
    assert "deadLetterStorageAccountId: storage.outputs.id" in sample
    assert "deadLetterContainerName: storage.outputs.deadLetterContainerName" in sample
    logic_app = strip_bicep_comments(
        (INFRA / "app" / "notifications-logic-app.bicep").read_text(encoding="utf-8")
    )
    on_the_topic = (
        r"'Microsoft\.EventGrid/topics/eventSubscriptions@[\w-]+' = \{\s+parent: outcomeTopic\s"
    )
    subscriptions = len(re.findall(on_the_topic, logic_app))
    assert subscriptions >= 1
    assert logic_app.count("deadLetterWithResourceIdentity: {") == subscriptions


def test_a_drop_alert_watches_every_subscription_of_the_outcome_topic() -> None:
    """A notification Event Grid could neither deliver nor dead-letter is lost with no record:
    the same topic and subscriptions as its dead-letter alert, and the same severity (people not
    told either way; the ledger keeps what the app did)."""
    alerts = metric_alerts()
    dead_lettered = alerts["notifications-dead-lettered"]
    alert = alerts["notifications-dropped"]
    assert watched(alert) == (*watched(dead_lettered)[:3], DROPPED, "['*']")
    assert alert["severity"] == dead_lettered["severity"]
    description = description_of(alert)
    for words in (
        "published to ${outcomeTopicName}) were dropped",
        "no dead-letter destination",
        "container ${deadLetterContainerName} of storage account ${storageAccountName}",
        "Storage Blob Data Contributor role infra/app/rbac.bicep assigns",
        "Lost with no record: people were not told",
        "tools.cli replay does not apply",
        "its ledger and the on-call workbook",
    ):
        assert words in description, words
    # The outcome topic's identity is one of the container's writers.
    writers, _ = dead_letter_writers()
    assert writers.endswith(", [outcomeTopicPrincipalId])")


# The README's alert rows for the metric alerts, by the entry each describes.
README_METRIC_ALERTS = {
    "dead-lettered events (metric alert, one per system topic": "dead-lettered-",
    "dropped events (metric alert, one per system topic": "dropped-",
    "dead-lettered notifications (metric alert on the outcome topic": "notifications-dead-lettered",
    "dropped notifications (metric alert on the outcome topic": "notifications-dropped",
}


def test_the_readme_lists_each_metric_alert_with_its_count_and_severity() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    alerts = metric_alerts()
    described = set()
    for row_start, name in README_METRIC_ALERTS.items():
        [alert] = [alert for key, alert in alerts.items() if key.startswith(name)]
        described.add(alert["name"])
        row = re.search(rf"^\| {re.escape(row_start)}[^\n]*", readme, re.MULTILINE)
        assert row, row_start
        columns = row.group(0).strip("| ").split(" | ")
        assert len(columns) == 3, columns
        topic = "system topic" if alert["perTopic"] == "true" else "outcome topic"
        assert topic in columns[0], columns[0]
        assert f"`{alert['metric'].strip(chr(39))}`" in columns[1], columns[1]
        assert "dimension `EventSubscriptionName`" in columns[1], columns[1]
        assert columns[2] == f"{alert['severity']}, every 5 minutes over 15", columns[2]
    assert described == {alert["name"] for alert in alerts.values()}, "a metric alert unlisted"


# --- turning it on and off ----------------------------------------------------------------------


def test_monitoring_is_on_by_default_and_settable_with_azd() -> None:
    main = strip_bicep_comments(MAIN.read_text(encoding="utf-8"))
    assert re.search(r"^param deployMonitoring bool = true$", main, re.MULTILINE)
    assert re.search(r"^param alertEmailAddress string = ''$", main, re.MULTILINE)
    assert "module onCall 'app/on-call.bicep' = if (deployMonitoring) {" in main
    env = azd_env_names()
    assert env["deployMonitoring"] == "DEPLOY_MONITORING"
    assert env["alertEmailAddress"] == "ALERT_EMAIL_ADDRESS"
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    assert parameters["parameters"]["deployMonitoring"]["value"] == "${DEPLOY_MONITORING=true}"
    source = on_call()
    # No email: no action group, and no alert points at one.
    assert (
        "resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = "
        "if (!empty(alertEmailAddress))" in source
    )
    assert "var alertActions = empty(alertEmailAddress) ? [] : [" in source
    # Both kinds of alert take their actions from that one list.
    assert "actionGroups: alertActions" in source
    assert "actions: [for actionGroupId in alertActions: {" in source


def alerted(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str]]:
    """The alert's query, kind and verdict of each line an alert selects."""
    return [
        (name, line["kind"], line["verdict"])
        for line in decision_lines(caplog)
        for name in ALERT_QUERIES.values()
        if kql_filter(queries()[name])(line)
    ]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("trigger", "line"),
    [
        # Timers and the queue fail before any line of their own: `operation` writes it.
        ("reconcile_all", ("notReconciled", "invocation", "failed")),
        # Fanning out, the timer's own work is the scoring backstop, whose ledger read failed.
        ("reconcile_all fanning out", ("notReconciled", "sweep", "retry")),
        ("sweep_partition", ("notReconciled", "invocation", "failed")),
        ("scheduled_retrain", ("notReconciled", "invocation", "failed")),
        # The event's line (its endpoint's read refused), written before its ledger row failed:
        # that error is the same one.
        ("on_private_endpoint_event", ("notReconciled", "event", "failed")),
        ("on_ml_event", ("notReconciled", "invocation", "failed")),
        ("start_scoring", ("failedActions", "scoring-request", "unavailable")),
    ],
)
def test_a_trigger_whose_ledger_is_unreachable_is_selected_once(
    rapp: App,
    scoring: App,
    caplog: pytest.LogCaptureFixture,
    trigger: str,
    line: tuple[str, str, str],
) -> None:
    """The ledger (its connection refused, as behind a storage firewall) fails every trigger: each
    leaves exactly one line on-call's alerts select, whether its own code or `operation` wrote
    it (a timer has no dead-letter: that line is all that pages)."""
    from tests.test_scoring_http_e2e import post
    from tools import retraining_scene, scoring_scene

    ledger = f"TableEndpoint=http://127.0.0.1:{_closed_port()}/devstoreaccount1"
    connection = re.sub(r"TableEndpoint=[^;]*", ledger, os.environ["LEDGER_CONNECTION_STRING"])
    settings = {**retraining_scene.retraining_settings(), **scoring_scene.settings_env()}
    fan_out = {"SWEEP_FAN_OUT_WORKSPACES": "1"} if trigger.endswith("fanning out") else {}
    rapp.set_settings(**settings, **fan_out, LEDGER_CONNECTION_STRING=connection)
    fire: dict[str, Callable[[], object]] = {
        "reconcile_all": lambda: host.fire_timer("reconcile_all"),
        "reconcile_all fanning out": lambda: host.fire_timer("reconcile_all"),
        "sweep_partition": lambda: host.deliver_queue_message(
            "sweep_partition", json.dumps({"subscription": scene.ML_SUBSCRIPTION}).encode()
        ),
        "scheduled_retrain": lambda: host.fire_timer("scheduled_retrain"),
        "on_private_endpoint_event": lambda: rapp.deliver(
            scene.resource_write_event(
                rapp.connection("approved earlier").private_endpoint_id,
                "Microsoft.Network/privateEndpoints/write",
            )
        ),
        "on_ml_event": lambda: rapp.deliver(retraining_scene.dataset_drift_event(), "on_ml_event"),
        "start_scoring": post,
    }
    rapp.sim.inject("network.pe.get", status=403, times=10)
    with caplog.at_level(logging.INFO), contextlib.suppress(Exception):
        fire[trigger]()

    assert alerted(caplog) == [line]


@pytest.mark.slow
def test_a_scoring_start_its_ledger_did_not_record_is_selected_once(
    rapp: App, caplog: pytest.LogCaptureFixture
) -> None:
    """Scoring started after a retrain, its row not recorded (the table failing right then): its
    own line says so, and the error it raises (for Event Grid to redeliver) is no second one."""
    from tests.retraining import completed_event
    from tests.test_ledger import ledger_fails_on

    event = completed_event(rapp)
    applied = lambda r: r.kind == KIND_SCORING and r.outcome.status is Status.APPLIED  # noqa: E731
    with caplog.at_level(logging.INFO), ledger_fails_on(applied):
        rapp.deliver(event, "on_ml_event")

    assert alerted(caplog) == [("failedActions", KIND_SCORING, "start")]
    [line] = [line for line in decision_lines(caplog) if line["kind"] == KIND_SCORING]
    assert line["outcome"] == "failed: not recorded in the ledger"


@pytest.mark.slow
def test_the_error_a_scheduled_retrain_raises_after_its_lines_is_not_selected_again(
    gated: App, caplog: pytest.LogCaptureFixture
) -> None:
    """Each workspace that failed has its lines (the retrain's own, the timer's); the error the
    timer raises at the end, so that the run shows as failed, adds none."""
    from tools import retraining_scene

    gated.sim.logs.set_result(retraining_scene.DRIFT_WORKSPACE, [[0.9]])
    gated.sim.inject("logs.query", status=503, times=20, retry_after=0)
    with caplog.at_level(logging.INFO), pytest.raises(TransientAzureError):
        host.fire_timer("scheduled_retrain")

    assert alerted(caplog) == [
        ("failedActions", "retraining", "retry"),
        ("failedActions", "scheduled-retrain", "failed"),
    ]
