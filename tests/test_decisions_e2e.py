"""End to end: decisions follow Azure's state and Azure's answers, never a plan, a cache or an ID
Azure returned. Registered functions → real SDK clients → HTTPS → the local simulator.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import azure.functions as func
import pytest
from azure.core.exceptions import ServiceResponseError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.errors import TransientAzureError
from shared.arm import name_of
from shared.ledger import ActionRecord, partition_rows
from shared.ml_events import APP_TAG
from shared.outcome import INTENT
from shared.runtime import runtime
from shared.scoring.records import JOBS_PARTITION
from simulator import AzureSimulator
from tests.conftest import App
from tests.retraining import (
    add_completed_job,
    completed_event,
    deliver_ml_event,
    event_outcome,
    recorded_actions,
)
from tests.test_planning_private_endpoints import lookalike_of
from tools import cli, host, scene
from tools import retraining_scene as rs
from tools import scoring_scene as ss
from tools.scene import Connection

pytestmark = pytest.mark.slow

NEW_PRINCIPAL = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
OTHER_TENANT = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def connection_event(connection: Connection) -> dict[str, Any]:
    return scene.resource_write_event(
        f"{connection.workspace_id}/privateEndpointConnections/{connection.name}",
        scene.CONNECTION_WRITE,
    )


def workspace_event(app: App, workspace_id: str) -> None:
    app.deliver(
        scene.resource_write_event(workspace_id, scene.WORKSPACE_WRITE),
        function="on_workspace_event",
    )


def principals(app: App, scope: str) -> list[str]:
    return sorted(
        a["properties"]["principalId"] for a in app.sim.authorization.role_assignments(scope)
    )


def outcomes(app: App, workspace_id: str, kind: str, verdict: str) -> list[dict[str, Any]]:
    """Ledger rows (outcomes, not intents) of one kind and verdict, newest first."""
    return [
        row
        for row in app.ledger.actions(workspace_id)
        if row["Kind"] == kind and row["Verdict"] == verdict and row["Outcome"] != str(INTENT)
    ]


def change_synapse(app: App, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the allow-listed Synapse workspace as ARM stores it."""
    body = app.sim.arm.get(scene.ANALYTICS)
    assert body is not None
    change(body)
    app.sim.arm.put(scene.ANALYTICS, body)


# -- every write reaches the ledger, and roles follow from what is Approved ---------------------


def test_an_approval_whose_ledger_write_failed_gets_its_role_on_redelivery(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified = app.connection("listed by allow-listed")
    payload = connection_event(verified)
    # The app's sink: the ledger, then the outcome topic.
    ledger = runtime().sink
    record_actions = ledger.record_actions

    def ledger_fails_after_the_approval(records: Sequence[ActionRecord]) -> None:
        if any(r.verdict == "approve" and str(r.outcome).startswith("applied") for r in records):
            raise ServiceResponseError("the ledger's table is unavailable")
        record_actions(records)

    monkeypatch.setattr(ledger, "record_actions", ledger_fails_after_the_approval)
    with pytest.raises(ServiceResponseError):
        app.deliver(payload)

    # Azure approved it; the ledger holds the intent written before the PUT.
    assert app.status(verified) == "Approved"
    assert principals(app, scene.PROD) == []
    intents = [r for r in ledger.actions(scene.PROD) if r["Verdict"] == "approve"]
    assert [r["Outcome"] for r in intents] == [str(INTENT)]
    assert intents[0]["Subject"] == f"{scene.PROD}/privateEndpointConnections/{verified.name}"

    monkeypatch.setattr(ledger, "record_actions", record_actions)
    app.deliver(payload)  # Event Grid redelivers the failed event

    assert principals(app, scene.PROD) == [scene.ANALYTICS_PRINCIPAL]
    (assigned,) = outcomes(app, scene.PROD, "role-assignment", "assign")
    assert assigned["Outcome"] == "applied: created"
    # The redelivery wrote no second approval.
    assert app.sim.count(route="aml.pec.put") == 1


def test_a_connection_a_person_approved_brings_in_its_role_on_any_connection_event(
    app: App,
) -> None:
    # On DEV nothing is left to approve: the legacy connection was approved by hand, and the
    # connection the app would approve was rejected by someone.
    verified_dev = next(
        c
        for c in app.scene.connections
        if c.workspace_id == scene.DEV and c.initial == "Pending" and c.expected == "Approved"
    )
    app.sim.ml.add_private_endpoint_connection(
        scene.DEV, verified_dev.name, verified_dev.private_endpoint_id, status="Rejected"
    )
    rogue = app.connection("listed by syn-partner")

    app.deliver(connection_event(rogue))

    assert app.status(rogue) == "Pending"
    assert app.sim.count(route="aml.pec.put") == 0
    assert principals(app, scene.DEV) == [scene.ANALYTICS_PRINCIPAL]


def test_dry_run_records_the_plan_and_no_intent(app: App) -> None:
    app.set_settings(AUTOMATION_MODE="dry-run")

    app.deliver(connection_event(app.connection("listed by allow-listed")))

    rows = list(app.ledger.actions(scene.PROD))
    assert [r["Outcome"] for r in rows if r["Verdict"] == "approve"] == ["planned (dry-run)"]
    assert all(r["Outcome"] != str(INTENT) for r in rows)


# -- dry-run and audit write nothing to Azure, whatever triggers them --------------------------

Drive = Callable[[], object]
REMEDIATE = {"POLICY_MODE": "remediate"}
RETRAINING = {**rs.retraining_settings(), **ss.settings_env(), **REMEDIATE}
PROMOTING = {**RETRAINING, "PROMOTION_METRIC": "accuracy", "PROMOTION_MODEL_NAME": "churn-model"}
PARTITION = f'{{"subscription": "{scene.ML_SUBSCRIPTION}"}}'.encode()


def _scoring(method: str, name: str = "") -> func.HttpResponse:
    headers = {**ss.caller_headers(ss.LOGIC_APP), "Content-Type": "application/json"}
    url = f"{ss.APP_URL}/scoring-jobs" + (f"/{name}" if name else "")
    body = b'{"endpoint": "fraud-scoring", "input": {"type": "uri_folder", "path": "%s"}}'
    function = "get_scoring_job" if name else "start_scoring"
    return host.call_http(
        function,
        method=method,
        url=url,
        headers=headers,
        body=b"" if name else body % ss.INPUT.encode(),
        route_params={"job_name": name} if name else None,
    )


def _completed_retrain(app: App, accuracy: float | None = None) -> dict[str, Any]:
    """Enforced: a retraining job submitted on drift, Completed (its step logged `accuracy`)."""
    event = completed_event(app)
    name = event["subject"].rsplit("/", 1)[-1]
    if accuracy is not None:
        app.sim.ml.promotion.log_metric(scene.PROD, name, "accuracy", accuracy)
    return event


def _promotion_left_deploying(app: App) -> dict[str, Any]:
    """Enforced: a better model registered and deployed; the switch failed through the retries."""
    event = _completed_retrain(app, accuracy=0.95)
    app.sim.inject("ml.batch_endpoint.put", status=503, times=10, retry_after=0)
    with pytest.raises(TransientAzureError):
        deliver_ml_event(app, event)
    app.sim.clear_faults()
    return event


def _started_job(app: App) -> str:
    """Enforced: a scoring job started over HTTP; its name."""
    return str(json.loads(_scoring("POST").get_body())["name"])


def _hub_endpoint_event(app: App) -> Drive:
    """A private endpoint written in a hub network, linked to PROD: PROD is looked at."""
    hub = app.connection("approved earlier").private_endpoint_id
    app.sim.network.add_private_endpoint(hub, private_link_service_id=scene.PROD)
    event = scene.resource_write_event(hub, "Microsoft.Network/privateEndpoints/write")
    return lambda: app.deliver(event)


def _ml_drive(event: dict[str, Any]) -> Drive:
    return lambda: host.deliver_event("on_ml_event", event)


WRITES, REMEDIATES = "writes", "remediates"  # what the trigger does when enforced ("": reads)
TRIGGERS: dict[str, tuple[dict[str, str], Callable[[App], Drive], str]] = {
    # name: (settings, the enforced state it starts from -> the trigger, what enforce does)
    "connection event": (
        {},
        lambda app: lambda: app.deliver(connection_event(app.connection("listed by allow-listed"))),
        WRITES,
    ),
    "private endpoint event": ({}, _hub_endpoint_event, WRITES),
    "workspace event": (
        REMEDIATE,
        lambda app: lambda: workspace_event(app, scene.PROD),
        REMEDIATES,
    ),
    "compute event": (
        REMEDIATE,
        lambda app: (
            lambda: app.deliver(
                scene.resource_write_event(
                    f"{scene.PROD}/computes/cpu-cluster",
                    "Microsoft.MachineLearningServices/workspaces/computes/write",
                ),
                function="on_workspace_event",
            )
        ),
        REMEDIATES,
    ),
    "sweep timer": (
        REMEDIATE,
        lambda app: lambda: host.fire_timer("reconcile_all"),
        REMEDIATES,
    ),
    "sweep partition": (
        REMEDIATE,
        lambda app: lambda: host.deliver_queue_message("sweep_partition", PARTITION),
        REMEDIATES,
    ),
    "drift, model monitor": (RETRAINING, lambda app: _ml_drive(rs.monitor_breach_event()), WRITES),
    "drift, dataset v1": (RETRAINING, lambda app: _ml_drive(rs.dataset_drift_event()), WRITES),
    "retrain timer": (RETRAINING, lambda app: lambda: host.fire_timer("scheduled_retrain"), WRITES),
    "scoring after a retrain": (
        RETRAINING,
        lambda app: _ml_drive(_completed_retrain(app)),
        WRITES,
    ),
    "retrain timer's scoring backstop": (
        {**RETRAINING, "RETRAIN_COOLDOWN_MINUTES": "100000"},
        lambda app: (_completed_retrain(app), lambda: host.fire_timer("scheduled_retrain"))[1],
        WRITES,
    ),
    "promotion": (PROMOTING, lambda app: _ml_drive(_completed_retrain(app, 0.95)), WRITES),
    "promotion left mid-way": (
        PROMOTING,
        lambda app: _ml_drive(_promotion_left_deploying(app)),
        WRITES,
    ),
    "HTTP start": (RETRAINING, lambda app: lambda: _scoring("POST"), WRITES),
    "HTTP status": (
        RETRAINING,
        lambda app: functools.partial(_scoring, "GET", _started_job(app)),
        "",
    ),
    "CLI plan": (REMEDIATE, lambda app: lambda: cli.main(["plan"]), ""),
    "CLI apply": (REMEDIATE, lambda app: lambda: cli.main(["apply"]), REMEDIATES),
}


def _seeded(app: App) -> None:
    rs.seed_retraining(app.sim)
    ss.seed(app.sim)
    app.sim.ml.promotion.add_model_version(
        scene.PROD, "drift-model", "2", properties={"accuracy": "0.80"}
    )
    app.sim.ml.add_compute(scene.PROD, "wide", max_node_count=10)


@pytest.mark.parametrize("mode", ["enforce", "dry-run", "audit"])
@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_dry_run_and_audit_write_nothing_to_azure_through_any_trigger(
    app: App, trigger: str, mode: str
) -> None:
    settings_of, prepare, enforced = TRIGGERS[trigger]
    _seeded(app)
    app.set_settings(**settings_of, MAX_CLUSTER_NODES="4")
    drive = prepare(app)  # the state an enforced app left: work is called for
    automation = {"AUTOMATION_MODE": "dry-run" if mode == "dry-run" else "enforce"}
    audit = {"POLICY_MODE": "audit"} if mode == "audit" else {}
    app.set_settings(**{**settings_of, **audit, **automation}, MAX_CLUSTER_NODES="4")
    app.sim.reset_counts()
    announced, unmapped = len(app.sim.eventgrid.published_events), len(app.sim.permissions.unmapped)

    with contextlib.suppress(TransientAzureError):
        drive()

    # Every call maps to actions in infra/permissions.json, checked against the app's roles.
    assert app.sim.permissions.unmapped[unmapped:] == []

    # The outcome topic is the app's own (what it decided, announced): not a change in Azure.
    writes = [w.route for w in app.sim.writes() if w.route != "eventgrid.publish"]
    remediations = [r for r in writes if r in ("aml.workspace.patch", "aml.compute.patch")]
    if mode == "enforce":  # the trigger does call for writes (and remediations)
        assert bool(writes) is bool(enforced), writes
        assert bool(remediations) is (enforced == REMEDIATES), writes
        return
    if mode == "audit":  # POLICY_MODE=audit: the rest as enforced, no remediation
        assert remediations == [], writes
        return
    assert writes == []
    # What the app itself recorded and announced says planned, never applied or about to write.
    rows = [r for w in (scene.PROD, scene.DEV) for r in app.ledger.actions(w)]
    dry = [r["Outcome"] for r in rows if r["Mode"].startswith("dry-run")]
    assert not [o for o in dry if o.startswith(("applied", "intent"))], dry
    if enforced:  # (an HTTP start's record is its request's row: `dry-run`, HTTP 200)
        assert "planned (dry-run)" in dry or trigger == "HTTP start"
    types = [e["eventType"] for e in app.sim.eventgrid.published_events[announced:]]
    assert not [t for t in types if t.endswith(".Applied")], types


# The same rule over generated scenes (allow-listed, partner or unlisted endpoints in any state;
# hardened or not workspaces; clusters within the policy or not) and generated sequences of the
# events the app handles, redeliveries included: dry-run leaves Azure as it found it, audit
# remediates nothing.

REMEDIATIONS = ("aml.workspace.patch", "aml.compute.patch")  # the policy set's two fixes
ML = "Microsoft.MachineLearningServices"
POLICED = (f"{ML}/workspaces", f"{ML}/workspaces/computes")
WORKSPACES = (scene.PROD, scene.DEV, scene.SANDBOX)
PE_EVENTS = "on_private_endpoint_event"
OUR_JOB = "retrain-earlier"  # the app's retraining job (its claim says so), Completed in Azure
OFF = {"PROMOTION_METRIC": ""}  # retraining and scoring without promotion
SOURCES = {"allow-listed": scene.ANALYTICS, "partner": scene.ROGUE, "nobody": None}


def azure_state(sim: AzureSimulator) -> Any:
    """What Azure holds, as one value: every ARM resource (workspaces, computes, connections,
    role assignments, private endpoints, Synapse workspaces), Synapse's managed private
    endpoints, jobs, batch endpoints and their deployments, registered models."""
    with sim.lock:
        jobs = [sim.ml.jobs(w) for w in WORKSPACES]
        held = (
            sim.arm.resources,
            sim.synapse.mpes,
            jobs,
            sim.ml.endpoints,
            sim.ml.promotion.models,
        )
        return copy.deepcopy(held)


def policed(sim: AzureSimulator) -> dict[str, Any]:
    """The workspaces and computes as stored: what a remediation changes."""
    with sim.lock:
        found = {k: v for k, v in sim.arm.resources.items() if str(v.get("type")) in POLICED}
        return copy.deepcopy(found)


def _generated_scene(app: App, data: st.DataObject) -> dict[str, Drive]:
    """Seed a drawn scene in the emptied simulator; the events the app could receive in it, by
    name (each payload made once: drawing a name twice is Event Grid's redelivery)."""
    sim = app.sim
    sim.reset()
    seeded = scene.seed(sim)
    _seeded(app)
    for ws in (scene.PROD, scene.DEV):
        scene.seed_workspace(sim, ws, hardened=data.draw(st.booleans(), label=f"{ws} hardened"))
    if data.draw(st.booleans(), label="allow-listed Synapse protects against exfiltration"):
        sim.synapse.add_workspace(
            scene.ANALYTICS, principal_id=scene.ANALYTICS_PRINCIPAL, prevent_data_exfiltration=True
        )
    computes = st.tuples(
        st.sampled_from([scene.PROD, scene.DEV]),
        st.sampled_from(["Standard_DS3_v2", "Standard_NC24"]),
        st.integers(1, 10),
        st.booleans(),
    )
    for i, (ws, size, nodes, local_auth) in enumerate(data.draw(st.lists(computes, max_size=2))):
        sim.ml.add_compute(
            ws, f"gen-{i}", vm_size=size, max_node_count=nodes, disable_local_auth=not local_auth
        )
    connections = st.tuples(
        st.sampled_from(WORKSPACES),
        st.sampled_from(sorted(SOURCES)),
        st.sampled_from(["Pending", "Approved", "Rejected"]),
    )
    made = [(c.workspace_id, c.name, c.private_endpoint_id) for c in seeded.connections]
    for i, (ws, source, status) in enumerate(data.draw(st.lists(connections, max_size=3))):
        owner = SOURCES[source]
        synapse = name_of(owner) if owner else "syn-unlisted"
        pe = scene.managed_endpoint_id(synapse, f"mpe-gen-{i}", scene.SYNAPSE_MANAGED_SUBSCRIPTION)
        if owner is not None:  # its Synapse lists the endpoint
            sim.synapse.add_managed_private_endpoint(
                owner, f"mpe-gen-{i}", private_link_resource_id=ws, resource_id=pe
            )
        sim.ml.add_private_endpoint_connection(ws, f"gen-{i}", pe, status=status)
        made.append((ws, f"gen-{i}", pe))
    for ws, _, pe in made:  # the private endpoint as the network holds it
        sim.network.add_private_endpoint(pe, private_link_service_id=ws)
    add_completed_job(app, OUR_JOB)
    sim.ml.promotion.log_metric(scene.PROD, OUR_JOB, "accuracy", 0.95)
    network = "Microsoft.Network/privateEndpoints/write"
    events = {
        **{
            f"connection: {name}": (
                f"{ws}/privateEndpointConnections/{name}",
                scene.CONNECTION_WRITE,
            )
            for ws, name, _ in made
        },
        **{f"endpoint: {name}": (pe, network) for _, name, pe in made},
        **{f"workspace: {name_of(ws)}": (ws, scene.WORKSPACE_WRITE) for ws in WORKSPACES},
        **{
            f"compute: {name_of(c['id'])}": (c["id"], f"{POLICED[1]}/write")
            for ws in (scene.PROD, scene.DEV)
            for c in sim.arm.children(ws, "computes")
        },
    }
    drives: dict[str, Drive] = {
        name: functools.partial(
            host.deliver_event,
            "on_workspace_event" if name.startswith(("workspace", "compute")) else PE_EVENTS,
            scene.resource_write_event(*event),
        )
        for name, event in events.items()
    }
    ml_events = {
        **{
            f"drift: {how} in {name_of(ws)}": make(ws)
            for ws in (scene.PROD, scene.DEV)
            for how, make in (("monitor", rs.monitor_breach_event), ("v1", rs.dataset_drift_event))
        },
        **{
            f"run: {OUR_JOB} {kind}": rs.job_finished_event(
                OUR_JOB, tags={APP_TAG: "retraining"}, event_type=f"{ML}.{kind}", status=status
            )
            for kind, status in (("RunCompleted", None), ("RunStatusChanged", "Completed"))
        },
    }
    drives |= {name: _ml_drive(event) for name, event in ml_events.items()}
    drives["timer: sweep"] = functools.partial(host.fire_timer, "reconcile_all")
    drives["timer: retrain"] = functools.partial(host.fire_timer, "scheduled_retrain")
    drives["queue: sweep partition"] = functools.partial(
        host.deliver_queue_message, "sweep_partition", PARTITION
    )
    return drives


@pytest.mark.parametrize("mode", ["dry-run", "audit"])
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_dry_run_changes_nothing_in_azure_and_audit_remediates_nothing_whatever_the_events(
    app: App, mode: str, data: st.DataObject
) -> None:
    drives = _generated_scene(app, data)
    dry = mode == "dry-run"
    drawn = {
        "AUTOMATION_MODE": mode if dry else "enforce",
        # Dry-run plans the remediations too; audit only reports them.
        "POLICY_MODE": data.draw(st.sampled_from(["audit", "remediate"])) if dry else "audit",
        "REJECT_UNVERIFIED": data.draw(st.sampled_from(["true", "false"]), label="reject"),
        # A ledger of the example's own: no claim or hold of an earlier example's.
        "LEDGER_TABLE_NAME": f"t{uuid.uuid4().hex[:16]}",
    }
    promotion = {} if data.draw(st.booleans(), label="promotion") else OFF
    app.set_settings(**{**PROMOTING, **promotion, **drawn}, MAX_CLUSTER_NODES="4")
    rs.claim_job(OUR_JOB)
    # Each kind of event as likely as another, whatever the number of connections.
    kinds = sorted({name.split(":")[0] for name in drives})
    one = st.sampled_from(kinds).flatmap(
        lambda kind: st.sampled_from(sorted(n for n in drives if n.startswith(f"{kind}:")))
    )
    steps = data.draw(st.lists(one, min_size=1, max_size=5), label="events")
    before, workspaces = azure_state(app.sim), policed(app.sim)
    app.sim.reset_counts()

    for step in steps:
        with contextlib.suppress(TransientAzureError):  # raised for Event Grid to redeliver
            drives[step]()

    # The outcome topic is the app's own (what it decided, announced): not a change in Azure.
    writes = [
        (w.method, w.route, w.path) for w in app.sim.writes() if w.route != "eventgrid.publish"
    ]
    if dry:
        assert writes == []
        assert azure_state(app.sim) == before
    else:  # approvals, rejections, role assignments, jobs may be written; no remediation
        assert [w for w in writes if w[1] in REMEDIATIONS] == []
        assert policed(app.sim) == workspaces


# -- applied means Azure's answer shows it ------------------------------------------------------


def test_an_approval_answered_still_pending_is_not_applied_and_assigns_nothing(app: App) -> None:
    verified = app.connection("listed by allow-listed")

    def still_pending(body: dict[str, Any]) -> None:
        body["properties"]["privateLinkServiceConnectionState"]["status"] = "Pending"

    app.sim.rewrite_reply("aml.pec.put", still_pending)
    app.deliver(connection_event(verified))

    (approval,) = outcomes(app, scene.PROD, "private-endpoint-connection", "approve")
    assert approval["Outcome"].startswith("not applied: ARM's answer shows the connection Pending")
    assert app.sim.count(route="authz.ra.put") == 0
    # Announced as what it is: an approval that did not take, never as one that did.
    types = [event["eventType"] for event in app.sim.eventgrid.published_events]
    assert "SynapseAmlAutomation.PrivateEndpointConnection.Approve.Failed" in types
    assert not any(
        t.startswith("SynapseAmlAutomation.PrivateEndpointConnection.Approve")
        and not t.endswith(".Failed")
        for t in types
    )
    assert principals(app, scene.PROD) == []

    # Azure did approve it after all: the next event sees it Approved and wires the role.
    app.deliver(connection_event(verified))
    assert principals(app, scene.PROD) == [scene.ANALYTICS_PRINCIPAL]


def test_a_role_assignment_answered_for_another_principal_is_not_applied(app: App) -> None:
    def another_principal(body: dict[str, Any]) -> None:
        body["properties"]["principalId"] = NEW_PRINCIPAL

    app.sim.rewrite_reply("authz.ra.put", another_principal)
    workspace_event(app, scene.DEV)

    (row,) = outcomes(app, scene.DEV, "role-assignment", "assign")
    assert row["Outcome"].startswith("not applied: ARM answered with another assignment")
    assert "principalId" in row["Outcome"]


def test_a_role_assignment_on_a_workspace_deleted_before_the_write_is_said_gone(app: App) -> None:
    # The workspace is deleted after its assignments were read: ARM answers the PUT 404.
    message = "The Resource 'Microsoft.MachineLearningServices/workspaces/mlw-dev' was not found."
    app.sim.inject("authz.ra.put", status=404, code="ResourceNotFound", message=message)

    workspace_event(app, scene.DEV)

    assert app.sim.count(route="authz.ra.put") == 1
    (row,) = outcomes(app, scene.DEV, "role-assignment", "assign")
    assert row["Outcome"].startswith("no longer exists: HTTP 404 ResourceNotFound")
    published = [e["eventType"] for e in app.sim.eventgrid.published_events]
    assert not [kind for kind in published if ".RoleAssignment." in kind]


def remediate(app: App) -> None:
    app.set_settings(POLICY_MODE="remediate", MAX_CLUSTER_NODES="4")


def test_a_compute_patch_answered_with_other_settings_is_not_applied(app: App) -> None:
    remediate(app)
    app.sim.ml.add_compute(scene.PROD, "wide", max_node_count=10)

    def unchanged(body: dict[str, Any]) -> None:
        if body["name"] == "wide":
            body["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = 10

    # Every compute read, the one that ends the long-running operation included.
    app.sim.rewrite_reply("aml.compute.get", unchanged, times=20)
    workspace_event(app, scene.PROD)

    rows = [
        r
        for r in outcomes(app, scene.PROD, "policy-remediation", "lower-max-nodes")
        if r["Subject"].endswith("/wide")
    ]
    assert len(rows) == 1, [r["Outcome"] for r in rows]
    assert rows[0]["Outcome"] == "not applied: ARM's answer shows maxNodeCount 10, not 4"


def test_a_workspace_patch_answered_with_public_access_enabled_is_not_applied(app: App) -> None:
    remediate(app)
    # A private path exists on PROD only once its verified connection is approved.
    app.deliver(connection_event(app.connection("listed by allow-listed")))

    def still_enabled(body: dict[str, Any]) -> None:
        body["properties"]["publicNetworkAccess"] = "Enabled"

    app.sim.rewrite_reply("aml.workspace.patch", still_enabled, times=5)
    workspace_event(app, scene.PROD)

    (row,) = [
        r
        for r in app.ledger.actions(scene.PROD)
        if r["Kind"] == "policy-remediation"
        and r["Subject"] == scene.PROD
        and r["Outcome"] != str(INTENT)
    ]
    assert (
        row["Outcome"]
        == "not applied: ARM's answer shows publicNetworkAccess Enabled, not Disabled"
    )


# -- write targets are built from the configured workspace ---------------------------------------


def test_a_compute_listed_with_other_casing_is_patched_in_the_configured_workspace_only(
    app: App,
) -> None:
    remediate(app)
    # An out-of-scope workspace named like the compute, with a same-named compute: where a
    # target parsed from the returned ID used to land.
    stranger = scene.workspace_id("wide")
    app.sim.ml.add_workspace(stranger)
    app.sim.ml.add_compute(stranger, "wide", max_node_count=10)
    app.sim.ml.add_compute(scene.PROD, "wide", max_node_count=10)
    stored = app.sim.arm.get(f"{scene.PROD}/computes/wide")
    assert stored is not None
    stored["id"] = f"{scene.PROD}/Computes/wide"
    app.sim.arm.put(f"{scene.PROD}/computes/wide", stored)

    workspace_event(app, scene.PROD)

    patched = [r.path.lower() for r in app.sim.requests if r.route == "aml.compute.patch"]
    assert f"{scene.PROD.lower()}/computes/wide" in patched
    assert all(path.startswith(scene.PROD.lower() + "/computes/") for path in patched)
    assert (
        app.sim.ml.compute(stranger, "wide")["properties"]["properties"]["scaleSettings"][
            "maxNodeCount"
        ]
        == 10
    )
    assert (
        app.sim.ml.compute(scene.PROD, "wide")["properties"]["properties"]["scaleSettings"][
            "maxNodeCount"
        ]
        == 4
    )


def _compute_listed_with_another_workspaces_id(app: App) -> None:
    """mlw-prod lists a cluster over the node limit whose ID names mlw-elsewhere's."""
    remediate(app)
    stranger = scene.workspace_id("mlw-elsewhere")
    app.sim.ml.add_workspace(stranger)
    app.sim.ml.add_compute(stranger, "wide", max_node_count=10)
    app.sim.ml.add_compute(scene.PROD, "wide", max_node_count=10)
    stored = app.sim.arm.get(f"{scene.PROD}/computes/wide")
    assert stored is not None
    stored["id"] = f"{stranger}/computes/wide"
    app.sim.arm.put(f"{scene.PROD}/computes/wide", stored)


def test_a_compute_listed_with_another_workspaces_id_is_never_written(app: App) -> None:
    _compute_listed_with_another_workspaces_id(app)

    workspace_event(app, scene.PROD)

    patched = [r.path.lower() for r in app.sim.requests if r.route == "aml.compute.patch"]
    assert not any("mlw-elsewhere" in path for path in patched)
    assert not any(path.endswith("/computes/wide") for path in patched)
    refused = [
        r
        for r in outcomes(app, scene.PROD, "policy-remediation", "lower-max-nodes")
        if r["Subject"].lower().endswith("mlw-elsewhere/computes/wide")
    ]
    assert [r["Outcome"] for r in refused] == [
        "refused: target is not this in-scope workspace or one of its computes"
    ]


def test_plan_shows_a_compute_listed_with_another_workspaces_id_as_refused(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plan says what the run does with it (refuses it), not that it would be written."""
    _compute_listed_with_another_workspaces_id(app)

    assert cli.main(["plan", "--json"]) == 0

    (prod,) = [w for w in json.loads(capsys.readouterr().out) if w["workspace"] == scene.PROD]
    (shown,) = [
        r
        for r in prod["remediations"]
        if r["target_id"].lower().endswith("elsewhere/computes/wide")
    ]
    refused = "target is not this in-scope workspace or one of its computes"
    assert (shown["disposition"], shown["reason"]) == ("refused", refused)
    assert app.sim.writes() == []


def test_a_connection_listed_with_another_workspaces_id_is_never_written(app: App) -> None:
    verified = app.connection("listed by allow-listed")
    stored = app.sim.arm.get(f"{scene.PROD}/privateEndpointConnections/{verified.name}")
    assert stored is not None
    # Listed under mlw-prod, but its ID names a connection of the out-of-scope sandbox.
    stored["id"] = f"{scene.SANDBOX}/privateEndpointConnections/{verified.name}"
    app.sim.arm.put(f"{scene.PROD}/privateEndpointConnections/{verified.name}", stored)

    app.deliver(connection_event(verified))

    assert app.sim.count(route="aml.pec.put") == 0
    assert app.status(verified) == "Pending"
    rows = outcomes(app, scene.PROD, "private-endpoint-connection", "leave-pending")
    (row,) = [r for r in rows if r["Subject"].startswith(scene.SANDBOX)]
    assert "is not this workspace's connection" in row["Reason"]


# -- the Synapse workspace that vouches is the one allow-listed, as it is now ---------------------


def test_a_deleted_synapse_workspace_whose_name_is_taken_elsewhere_vouches_for_nothing(
    app: App,
) -> None:
    # A first event reads (and, before this fix, cached) the allow-listed workspace.
    app.deliver(connection_event(app.connection("listed by allow-listed")))
    app.sim.arm.delete(scene.ANALYTICS)
    attacker = scene.synapse_id("syn-analytics", subscription=scene.LOOKALIKE_SUBSCRIPTION)
    app.sim.synapse.add_workspace(
        attacker, principal_id=scene.ROGUE_PRINCIPAL, workspace_uid=str(uuid.uuid4())
    )
    attacker_pe = scene.managed_endpoint_id(
        "syn-analytics", "mpe-evil", scene.LOOKALIKE_SUBSCRIPTION
    )
    app.sim.synapse.add_managed_private_endpoint(
        attacker, "mpe-evil", private_link_resource_id=scene.PROD, resource_id=attacker_pe
    )
    app.sim.ml.add_private_endpoint_connection(scene.PROD, "evil", attacker_pe)
    app.sim.reset_counts()

    app.deliver(
        scene.resource_write_event(
            f"{scene.PROD}/privateEndpointConnections/evil", scene.CONNECTION_WRITE
        )
    )

    assert app.sim.ml.connection_status(scene.PROD, "evil") == "Pending"
    assert app.sim.count(route="aml.pec.put") == 0
    # The deciding read went to ARM for the allow-listed ID, not to the name's data plane.
    assert app.sim.count(route="synapse.workspace.get") == 1
    assert app.sim.count(route="synapse.mpe.list") == 0
    (row,) = [
        r
        for r in outcomes(app, scene.PROD, "private-endpoint-connection", "leave-pending")
        if r["Subject"].endswith("/evil")
    ]
    assert "could not be read" in row["Reason"]


def test_a_synapse_workspace_reporting_another_data_plane_vouches_for_nothing(app: App) -> None:
    verified = app.connection("listed by allow-listed")

    def public_endpoint(body: dict[str, Any]) -> None:
        # What Azure reports, while SYNAPSE_DEV_ENDPOINT points at the simulator.
        body["properties"]["connectivityEndpoints"]["dev"] = (
            "https://syn-analytics.dev.azuresynapse.net"
        )

    change_synapse(app, public_endpoint)
    app.deliver(connection_event(verified))

    assert app.status(verified) == "Pending"
    assert app.sim.count(route="synapse.mpe.list") == 0
    (row,) = outcomes(app, scene.PROD, "private-endpoint-connection", "leave-pending")[:1]
    assert "reports its data plane at 'https://syn-analytics.dev.azuresynapse.net'" in row["Reason"]


def test_a_synapse_data_plane_with_user_info_is_logged_and_recorded_without_it(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    verified = app.connection("listed by allow-listed")

    def with_user_info(body: dict[str, Any]) -> None:
        body["properties"]["connectivityEndpoints"]["dev"] = "https://u:hunter2@syn.example"

    change_synapse(app, with_user_info)
    app.deliver(connection_event(verified))

    assert app.status(verified) == "Pending"
    assert "REDACTED@syn.example" in caplog.text
    assert "hunter2" not in caplog.text
    assert "hunter2" not in json.dumps(list(app.ledger.actions(scene.PROD)), default=str)


def test_a_recreated_synapse_workspace_gets_its_role_once_provisioned_and_the_old_one_is_reported(
    app: App,
) -> None:
    workspace_event(app, scene.DEV)
    assert principals(app, scene.DEV) == [scene.ANALYTICS_PRINCIPAL]

    app.sim.arm.delete(scene.ANALYTICS)
    app.sim.synapse.add_workspace(
        scene.ANALYTICS, principal_id=NEW_PRINCIPAL, workspace_uid=str(uuid.uuid4())
    )
    legacy = app.connection("approved by hand")
    app.sim.synapse.add_managed_private_endpoint(
        scene.ANALYTICS,
        "mpe-aml-dev-old",
        private_link_resource_id=scene.DEV,
        resource_id=legacy.private_endpoint_id,
        status="Approved",
    )
    app.sim.reset_counts()

    workspace_event(app, scene.DEV)

    # The granter's ABAC condition names the identities as they were at deployment: ARM refuses
    # the new one until infra/ is provisioned again (README), and the refusal is recorded.
    assert principals(app, scene.DEV) == [scene.ANALYTICS_PRINCIPAL]
    refused = outcomes(app, scene.DEV, "role-assignment", "assign")[0]  # the newest
    assert refused["Outcome"].startswith("failed: HTTP 403 AuthorizationFailed")
    app.sim.permissions.grantable = frozenset({NEW_PRINCIPAL})  # `azd provision`
    app.sim.reset_counts()

    workspace_event(app, scene.DEV)

    # The new identity is wired; the old assignment stays, reported to people.
    assert principals(app, scene.DEV) == sorted([scene.ANALYTICS_PRINCIPAL, NEW_PRINCIPAL])
    assert [w.method for w in app.sim.writes() if w.route.startswith("authz")] == ["PUT"]
    (stale, _) = outcomes(app, scene.DEV, "role-assignment", "stale-assignment")
    assert stale["Evidence"] == scene.ANALYTICS_PRINCIPAL
    assert stale["Outcome"] == "reported: not deleted"
    (published, _) = [
        e for e in app.sim.eventgrid.published_events if e["data"]["verdict"] == "stale-assignment"
    ]
    assert published["eventType"] == "SynapseAmlAutomation.RoleAssignment.StaleAssignment"
    assert published["data"]["evidence"] == scene.ANALYTICS_PRINCIPAL


@pytest.mark.parametrize("made_by_app", [False, True])
def test_only_an_assignment_arm_says_the_app_made_is_reported_as_its_stale_one(
    app: App, made_by_app: bool
) -> None:
    from shared.planning.role_assignments import (
        assignment_description,
        assignment_name,
        contributor_role_definition_id,
    )

    # A person wrote the app's own description on an assignment for some other principal:
    # the description is theirs to write, ARM's createdBy is not.
    app.sim.authorization.add_role_assignment(
        scene.DEV,
        assignment_name(scene.DEV, NEW_PRINCIPAL),
        NEW_PRINCIPAL,
        contributor_role_definition_id(scene.DEV),
        description=assignment_description(scene.ANALYTICS),
        **({"created_by": app.sim.authorization.updated_by()} if made_by_app else {}),
    )

    workspace_event(app, scene.DEV)

    stale = outcomes(app, scene.DEV, "role-assignment", "stale-assignment")
    assert [row["Evidence"] for row in stale] == ([NEW_PRINCIPAL] if made_by_app else [])


# -- unclear flags and identities fail closed ----------------------------------------------------


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            lambda b: b["properties"]["managedVirtualNetworkSettings"].update(
                preventDataExfiltration="false"
            ),
            "not a JSON boolean",
        ),
        (
            lambda b: (
                b["properties"]["managedVirtualNetworkSettings"].update(
                    {"PreventDataExfiltration": False}
                )
                or b["properties"]["managedVirtualNetworkSettings"].pop("preventDataExfiltration")
            ),
            "preventDataExfiltration is missing",
        ),
        (lambda b: b["properties"].update(managedVirtualNetworkSettings=None), "is missing"),
        (lambda b: b["properties"].update(managedVirtualNetwork="Default "), "not 'default'"),
    ],
)
def test_an_unclear_network_flag_approves_nothing_and_says_why(
    app: App, change: Callable[[dict[str, Any]], Any], said: str
) -> None:
    verified = app.connection("listed by allow-listed")
    change_synapse(app, change)

    app.deliver(connection_event(verified))

    assert app.status(verified) == "Pending"
    assert app.sim.count(route="aml.pec.put") == 0
    rows = outcomes(app, scene.PROD, "private-endpoint-connection", "leave-pending")
    (row,) = [r for r in rows if r["Subject"].endswith(verified.name)]
    assert said in row["Reason"]


@pytest.mark.parametrize(
    ("identity", "said"),
    [
        ({"tenantId": OTHER_TENANT}, "is not the AML workspace's tenant"),
        ({"type": "UserAssigned"}, "not SystemAssigned"),
        ({"type": "None"}, "not SystemAssigned"),
    ],
)
def test_an_identity_of_the_wrong_type_or_tenant_gets_no_role(
    app: App, identity: dict[str, str], said: str
) -> None:
    change_synapse(app, lambda body: body["identity"].update(identity))

    workspace_event(app, scene.DEV)

    assert principals(app, scene.DEV) == []
    assert app.sim.count(route="authz.ra.put") == 0
    (row,) = outcomes(app, scene.DEV, "role-assignment", "skip")
    assert said in row["Reason"]


def another_workspace(tenant: str, public_access: str) -> Callable[[dict[str, Any]], None]:
    """A workspace read answered for the sandbox, of `tenant`, public access `public_access`."""

    def answer(body: dict[str, Any]) -> None:
        body["id"], body["name"] = scene.SANDBOX, "mlw-sandbox"
        body["properties"] |= {"tenantId": tenant, "publicNetworkAccess": public_access}
        body["identity"]["tenantId"] = tenant

    return answer


def test_a_workspace_read_answering_another_workspace_grants_no_role(app: App) -> None:
    # The Synapse identity is of another tenant than mlw-dev; asked for mlw-dev's tenant, ARM
    # answers with another workspace, of the identity's tenant.
    change_synapse(app, lambda body: body["identity"].update({"tenantId": OTHER_TENANT}))
    app.sim.rewrite_reply("aml.workspace.get", another_workspace(OTHER_TENANT, "Enabled"), times=5)

    workspace_event(app, scene.DEV)

    assert principals(app, scene.DEV) == []
    assert app.sim.count(route="authz.ra.put") == 0
    (row,) = outcomes(app, scene.DEV, "role-assignment", "not-reconciled")
    assert row["Reason"].startswith(f"asked for {scene.DEV}, Azure answered")


def test_a_workspace_read_answering_another_workspace_evaluates_no_policy(app: App) -> None:
    # mlw-dev allows public access; asked for it, ARM answers with a workspace that does not.
    app.sim.rewrite_reply(
        "aml.workspace.get", another_workspace(app.sim.tenant_id, "Disabled"), times=5
    )

    workspace_event(app, scene.DEV)

    rows = [r for r in app.ledger.actions(scene.DEV) if r["Kind"] == "policy-finding"]
    assert [r["Verdict"] for r in rows] == ["not-evaluated"]
    assert rows[0]["Reason"].startswith(f"asked for {scene.DEV}, Azure answered")


def answers_for(resource_id: str) -> st.SearchStrategy[str]:
    """What ARM could answer a read of `resource_id` with: its own ID in any case, a lookalike
    (another subscription or group, a name that begins with its, trailing characters, ...), the
    same name as another type, or a child of it."""
    head, _, name = resource_id.rpartition("/")
    group = head.split("/providers/")[0]
    types = [
        "Microsoft.KeyVault/vaults",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.Web/sites",
    ]
    others = [f"{group}/providers/{kind}/{name}" for kind in types] + [f"{resource_id}/default/x"]
    return st.one_of(
        st.sampled_from([resource_id, resource_id.upper(), resource_id.lower()]),
        lookalike_of(resource_id),
        st.sampled_from([other for other in others if other.lower() != resource_id.lower()]),
    )


DEV_STORAGE = (
    scene.DEV.split("/providers/")[0] + "/providers/Microsoft.Storage/storageAccounts/stmlwdev"
)
DEV_BLOB_ENDPOINT = scene.private_endpoint_id("pe-stmlwdev-blob")


@pytest.mark.parametrize(
    ("route", "asked"),
    [("arm.generic.get", DEV_STORAGE), ("network.pe.get", DEV_BLOB_ENDPOINT)],
    ids=["the-dependency", "its-private-endpoint"],
)
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_dependency_read_answering_another_resource_is_reported_unreadable(
    app: App, route: str, asked: str, data: st.DataObject
) -> None:
    # mlw-dev's storage account has approved endpoints for every group. Its read (the first
    # generic GET), or that of its first endpoint, answered about another resource says nothing
    # of it: neither compliant nor not, the finding says it could not be read.
    answered = data.draw(answers_for(asked))

    def answer(body: dict[str, Any]) -> None:
        assert body["id"].lower() == asked.lower()
        body["id"] = answered

    app.sim.rewrite_reply(route, answer)

    workspace_event(app, scene.DEV)

    summary = next(r for r in app.ledger.actions(scene.DEV) if r["Kind"] == "policy-summary")
    rows = [
        r
        for r in app.ledger.actions(scene.DEV)
        if r["Trigger"] == summary["Trigger"] and r["Kind"] == "policy-finding"
    ]
    if answered.isascii() and answered.lower() == asked.lower():
        assert rows == []  # compliant: only problems get rows of their own
    else:
        ((subject, verdict, reason),) = [(r["Subject"], r["Verdict"], r["Reason"]) for r in rows]
        assert (subject, verdict) == (DEV_STORAGE, "unknown")
        said = f"storage account 'stmlwdev' could not be read: asked for {asked}, Azure answered"
        assert said in reason


# ------------------------------------------- acting on Azure's answer, targets from settings


@pytest.mark.parametrize("same_name", [False, True], ids=["another-job", "same-name-elsewhere"])
def test_a_job_read_answering_another_job_starts_nothing(rapp: App, same_name: bool) -> None:
    event = completed_event(rapp)
    name = event["data"]["runId"] if same_name else "someone-elses-job"

    def other_job(body: dict[str, Any]) -> None:
        # Another job, or the app's own job of that name in another workspace: completed too.
        body["name"] = name
        body["id"] = f"{scene.DEV}/jobs/{name}"

    rapp.sim.rewrite_reply("ml.job.get", other_job)

    deliver_ml_event(rapp, event)

    assert rapp.sim.ml.scoring_posts == []
    assert event_outcome(event["id"]) == "failed"
    [record] = [a for a in recorded_actions("retraining") if a["Verdict"] == "read"]
    assert (f"{scene.DEV}/jobs/{name}" if same_name else name) in record["Outcome"]


def test_a_submission_answered_with_a_job_of_another_workspace_is_not_applied(
    rapp: App,
) -> None:
    def elsewhere(body: dict[str, Any]) -> None:
        body["id"] = body["id"].replace(scene.PROD, scene.DEV)

    rapp.sim.rewrite_reply("ml.job.put", elsewhere)
    event = rs.monitor_breach_event()

    deliver_ml_event(rapp, event)

    assert event_outcome(event["id"]) == "failed"
    [record] = [a for a in recorded_actions("retraining") if a["Verdict"] == "submit"]
    assert record["Outcome"].startswith("not applied: ")
    assert scene.DEV in record["Outcome"]
    published = [e["eventType"] for e in rapp.sim.eventgrid.published_events]
    assert "SynapseAmlAutomation.Retraining.Submit.Applied" not in published


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda body: body.update(id=body["id"].replace(scene.PROD, scene.DEV)),
        lambda body: body.update(name="../../other"),
        lambda body: body.update(id=body["id"].replace("churn-batch", "other-endpoint")),
    ],
    ids=["other-workspace", "not-a-name", "other-endpoint"],
)
def test_a_scoring_answer_naming_another_job_is_not_applied(rapp: App, rewrite: Any) -> None:
    event = completed_event(rapp)
    rapp.sim.rewrite_reply("ml.scoring.invoke", rewrite)

    deliver_ml_event(rapp, event)

    [record] = recorded_actions("batch-scoring")
    assert record["Outcome"].startswith("not applied: ")
    from shared.claims import retraining_scoring

    key = retraining_scoring(scene.PROD, event["data"]["runId"], "")
    assert runtime().claims.scored(key) is None


def test_a_batch_endpoint_read_answering_another_endpoint_gets_no_post(rapp: App) -> None:
    event = completed_event(rapp)
    rapp.sim.rewrite_reply(
        "ml.batch_endpoint.get",
        lambda body: body.update(id=body["id"].replace(scene.PROD, scene.DEV)),
    )

    deliver_ml_event(rapp, event)

    assert rapp.sim.ml.scoring_posts == []
    [record] = recorded_actions("batch-scoring")
    assert record["Outcome"].startswith("not applied: ")


def test_http_scoring_answered_with_another_workspaces_job_is_502_and_not_recorded(
    app: App,
) -> None:
    from shared.runtime import runtime
    from tests.test_scoring_http_e2e import _json, post
    from tools import scoring_scene as ss

    ss.seed(app.sim)
    app.set_settings(**ss.settings_env())
    app.sim.rewrite_reply(
        "ml.scoring.invoke",
        lambda body: body.update(id=body["id"].replace(scene.PROD, scene.DEV)),
    )

    response = post()

    assert response.status_code == 502
    assert "another" in _json(response)["detail"] or scene.DEV in _json(response)["detail"]
    assert list(partition_rows(runtime().ledger.table, JOBS_PARTITION)) == []


def test_writes_are_preceded_by_an_intent_row(rapp: App) -> None:
    event = completed_event(rapp)
    deliver_ml_event(rapp, event)

    rows = list(runtime().ledger.actions(scene.PROD))
    intents = [(r["Kind"], r["Verdict"]) for r in rows if r["Outcome"] == str(INTENT)]
    assert ("retraining", "submit") in intents
    assert ("batch-scoring", "start") in intents


def test_a_retraining_job_goes_to_the_workspace_as_retrain_workspace_ids_spells_it(
    rapp: App,
) -> None:
    # ML_WORKSPACE_IDS spells the workspace otherwise (ARM IDs are case-insensitive): the job
    # is written under RETRAIN_WORKSPACE_IDS' own ID, the setting that allows retraining there.
    other_spelling = scene.PROD.replace("/rg-ml/", "/RG-ML/").replace("mlw-prod", "MLW-PROD")
    rapp.set_settings(**rs.retraining_settings(), ML_WORKSPACE_IDS=f"{other_spelling},{scene.DEV}")
    event = rs.monitor_breach_event()

    deliver_ml_event(rapp, event)

    [put] = [r for r in rapp.sim.requests if r.route == "ml.job.put"]
    assert put.path.startswith(f"{scene.PROD}/jobs/")
    [record] = [a for a in recorded_actions("retraining") if a["Verdict"] == "submit"]
    assert record["Outcome"] == "applied: submitted"
