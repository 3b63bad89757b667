"""End to end: registered functions → real Azure SDK clients → HTTPS → the local simulator.

Writes are counted at the HTTP boundary (the simulator's request log), never inside the app.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.errors import TransientAzureError
from shared.outcome import INTENT
from tests.conftest import App
from tests.test_decisions_e2e import answers_for
from tools import host, scene

pytestmark = pytest.mark.slow


def writes(app: App) -> list[Any]:
    """Writes to the Azure estate. Outcome events are records, like the ledger (which lives in
    Azurite here): dry-run publishes what it planned, so they are not counted as writes."""
    return [w for w in app.sim.writes() if w.route != "eventgrid.publish"]


def connection_writes(app: App) -> list[Any]:
    return [w for w in app.sim.writes() if w.route == "aml.pec.put"]


@pytest.mark.parametrize("cloud", [False, True], ids=["eventgrid-schema", "cloudevents-schema"])
def test_events_approve_exactly_the_verified_connections(app: App, cloud: bool) -> None:
    # A subscription may deliver either schema; the worker hands over a func.CloudEvent for one.
    for payload in scene.connection_events(app.scene):
        app.deliver(host.as_cloud_event(payload) if cloud else payload)

    for connection in app.scene.connections:
        assert app.status(connection) == connection.expected, connection.why
    approved = {c.name for c in app.scene.connections if c.initial != c.expected}
    assert {w.path.rsplit("/", 1)[-1] for w in connection_writes(app)} == approved
    assert len(connection_writes(app)) == len(approved)
    # Each approval also wires the Synapse identity: one Contributor assignment per workspace.
    assert sorted(w.route for w in writes(app) if w.route != "aml.pec.put") == ["authz.ra.put"] * 2


def test_approval_description_says_what_verified_it(app: App) -> None:
    verified = app.connection("listed by allow-listed")
    app.deliver(scene.connection_events(app.scene)[0])

    stored = app.sim.arm.get(f"{verified.workspace_id}/privateEndpointConnections/{verified.name}")
    assert stored is not None
    description = stored["properties"]["privateLinkServiceConnectionState"]["description"]
    assert "mpe-aml-prod" in description
    assert "syn-analytics" in description


def test_replaying_every_event_twice_writes_nothing_more(app: App) -> None:
    events = scene.connection_events(app.scene)
    for payload in events:
        app.deliver(payload)
    first_pass = len(writes(app))
    app.sim.reset_counts()

    for payload in events + events:
        app.deliver(payload)

    assert first_pass == 4  # two approvals, two role assignments
    assert writes(app) == []
    for connection in app.scene.connections:
        assert app.status(connection) == connection.expected


def test_dry_run_writes_nothing_and_records_the_plan(app: App) -> None:
    app.set_settings(AUTOMATION_MODE="dry-run")

    for payload in scene.connection_events(app.scene):
        app.deliver(payload)
    host.fire_timer("reconcile_all")

    assert writes(app) == []
    assert all(app.status(c) == c.initial for c in app.scene.connections)
    actions = list(app.ledger.actions(scene.PROD))
    planned = [a for a in actions if a["Verdict"] == "approve"]
    assert planned
    assert {a["Outcome"] for a in planned} == {"planned (dry-run)"}
    assert all(a["Mode"].startswith("dry-run") for a in actions)


def test_reject_unverified_rejects_lookalikes_and_strangers(app: App) -> None:
    app.set_settings(REJECT_UNVERIFIED="true")

    for payload in scene.connection_events(app.scene):
        app.deliver(payload)

    assert app.status(app.connection("same name as")) == "Rejected"
    assert app.status(app.connection("listed by syn-partner")) == "Rejected"
    assert app.status(app.connection("listed by allow-listed")) == "Approved"
    # Out of scope: never written, whatever the setting.
    assert app.status(app.connection("workspace not in")) == "Pending"


def test_one_event_costs_one_list_one_data_plane_list_and_one_write(app: App) -> None:
    """The request budget of an approving event, once tokens are warm: one list, one fresh ARM
    read and one data-plane list per allow-listed workspace (the read that decides is never a
    cached one), one write per approval, and (because an Approved connection wires the
    identity) one read of the role assignments, whose Contributor assignment the first event
    already made. (Without an outcome topic: publishing is one more request, tested on its
    own.)"""
    app.set_settings(OUTCOME_TOPIC_ENDPOINT="")
    verified = app.connection("listed by allow-listed")
    payload = scene.resource_write_event(
        f"{verified.workspace_id}/privateEndpointConnections/{verified.name}",
        scene.CONNECTION_WRITE,
    )
    app.deliver(payload)  # warms the tokens
    app.sim.ml.add_private_endpoint_connection(
        verified.workspace_id,
        "second",
        scene.managed_endpoint_id(
            "syn-analytics", "mpe-aml-prod", scene.SYNAPSE_MANAGED_SUBSCRIPTION
        ),
    )
    app.sim.reset_counts()

    app.deliver(payload)

    routes = sorted(r.route for r in app.non_token_requests())
    assert routes == [
        "aml.pec.list",
        "aml.pec.put",
        "authz.ra.list",
        "synapse.mpe.list",
        "synapse.workspace.get",
    ]


def test_timer_sweep_reconciles_every_workspace_in_scope(app: App) -> None:
    host.fire_timer("reconcile_all")

    for connection in app.scene.connections:
        assert app.status(connection) == connection.expected
    # Synapse evidence is read once for the whole sweep, not once per workspace.
    assert app.sim.count(route="synapse.mpe.list") == 1
    sandbox_reads = [r for r in app.sim.requests if "mlw-sandbox" in r.path.lower()]
    assert sandbox_reads == []


def test_a_sweep_rejects_no_connection_made_after_it_read_the_synapse_evidence(app: App) -> None:
    """With REJECT_UNVERIFIED, the sweep reads the Synapse evidence at its first workspace. Just
    after, syn-analytics makes a managed private endpoint to each workspace, and its connection
    appears Pending. The workspace the sweep reaches next lists that connection: the evidence
    read before it was made is no proof it is a stranger's (its event approves it meanwhile).
    Judged on evidence read after it, it is approved; never rejected."""
    app.set_settings(REJECT_UNVERIFIED="true")
    made: list[tuple[str, str]] = []

    def synapse_makes_endpoints(_body: Any) -> None:
        for workspace_id in (scene.PROD, scene.DEV):
            mpe = f"mpe-new-{workspace_id.rsplit('/', 1)[-1]}"
            pe = scene.managed_endpoint_id("syn-analytics", mpe, scene.SYNAPSE_MANAGED_SUBSCRIPTION)
            app.sim.synapse.add_managed_private_endpoint(
                scene.ANALYTICS, mpe, private_link_resource_id=workspace_id, resource_id=pe
            )
            app.sim.ml.add_private_endpoint_connection(workspace_id, mpe, pe)
            made.append((workspace_id, mpe))

    app.sim.rewrite_reply("synapse.mpe.list", synapse_makes_endpoints)
    host.fire_timer("reconcile_all")

    statuses = [app.sim.ml.connection_status(*connection) for connection in made]
    # The workspace swept first listed its connections before: its new one waits for its event.
    assert sorted(statuses) == ["Approved", "Pending"]
    assert app.status(app.connection("same name as")) == "Rejected"  # a stranger's still is


def test_private_endpoint_write_resolves_to_the_workspace_it_targets(app: App) -> None:
    hub = app.connection("approved earlier")
    verified = app.connection("listed by allow-listed")
    app.sim.network.add_private_endpoint(
        hub.private_endpoint_id, private_link_service_id=scene.PROD
    )

    app.deliver(
        scene.resource_write_event(
            hub.private_endpoint_id, "Microsoft.Network/privateEndpoints/write"
        )
    )

    assert app.status(verified) == "Approved"
    assert app.sim.count(route="network.pe.get") == 1


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_private_endpoint_read_answering_another_endpoint_resolves_to_no_workspace(
    app: App, data: st.DataObject
) -> None:
    # What an endpoint links to names the workspaces to reconcile: only that endpoint's own.
    endpoint = app.connection("approved earlier").private_endpoint_id
    app.sim.network.add_private_endpoint(endpoint, private_link_service_id=scene.PROD)
    answered = data.draw(answers_for(endpoint))
    app.sim.rewrite_reply("network.pe.get", lambda body: body.update(id=answered))
    app.sim.reset_counts()
    payload = scene.resource_write_event(endpoint, "Microsoft.Network/privateEndpoints/write")

    app.deliver(payload)

    record = app.ledger.event(payload["id"]) or {}
    if answered.isascii() and answered.lower() == endpoint.lower():
        assert record["Outcome"] == "reconciled"
        assert app.sim.count(route="aml.pec.list") == 1
    else:
        assert record["Outcome"] == "failed"
        assert record["Reason"].startswith("private endpoint not readable: ")
        assert f"asked for {endpoint}, Azure answered" in record["Reason"]
        assert app.sim.count(route="aml.pec.list") == 0


def test_a_private_endpoint_to_no_aml_workspace_is_ignored_naming_it(app: App) -> None:
    # A storage account's endpoint is no concern of the app: said so, not "'' is not in scope".
    endpoint = scene.private_endpoint_id("pe-storage")
    group = scene.PROD.split("/providers/")[0]
    storage = f"{group}/providers/Microsoft.Storage/storageAccounts/st1"
    app.sim.network.add_private_endpoint(
        endpoint, private_link_service_id=storage, group_ids=("blob",)
    )
    app.sim.reset_counts()
    payload = scene.resource_write_event(endpoint, "Microsoft.Network/privateEndpoints/write")

    app.deliver(payload)

    record = app.ledger.event(payload["id"]) or {}
    assert record["Outcome"] == "ignored"
    assert record["Reason"] == f"private endpoint {endpoint} connects to no AML workspace"
    assert app.sim.count(route="aml.pec.list") == 0


def test_throttling_with_retry_after_is_retried_to_the_right_state(app: App) -> None:
    app.sim.inject("aml.pec.list", status=429, retry_after=1)
    app.sim.inject("aml.pec.put", status=503)

    for payload in scene.connection_events(app.scene):
        app.deliver(payload)

    for connection in app.scene.connections:
        assert app.status(connection) == connection.expected
    statuses = [r.status for r in app.sim.requests if r.route == "aml.pec.list"]
    assert statuses[:2] == [429, 200]
    put_statuses = [r.status for r in app.sim.requests if r.route == "aml.pec.put"]
    assert put_statuses[:2] == [503, 200]


def test_forbidden_write_is_recorded_and_does_not_raise(app: App) -> None:
    app.sim.inject("aml.pec.put", status=403, times=10)
    verified = app.connection("listed by allow-listed")

    app.deliver(scene.connection_events(app.scene)[0])

    assert app.status(verified) == "Pending"
    assert app.sim.count(route="aml.pec.put") == 1  # a 403 is not retried
    approvals = [a for a in app.ledger.actions(scene.PROD) if a["Verdict"] == "approve"]
    # Newest first: the outcome, then the intent recorded before the write.
    assert [a["Outcome"] == str(INTENT) for a in approvals] == [False, True]
    failed = approvals[:1]
    assert failed[0]["Outcome"].startswith("failed: HTTP 403 AuthorizationFailed")


def test_a_connection_deleted_before_its_approval_is_said_gone_once_not_failed(app: App) -> None:
    """Deleted in Azure after the app listed it, before its approval: ARM answers the PUT 404.
    Nothing left to approve: said once, neither a failure (no alert, no Failed event) nor a retry,
    and no role assignment follows."""
    verified = app.connection("listed by allow-listed")
    connection_id = f"{verified.workspace_id}/privateEndpointConnections/{verified.name}"
    app.sim.rewrite_reply("aml.pec.list", lambda _body: app.sim.arm.delete(connection_id))
    payload = scene.connection_events(app.scene)[0]

    app.deliver(payload)

    assert app.sim.count(route="aml.pec.put") == 1  # a 404 is not retried
    assert [w.route for w in writes(app)] == ["aml.pec.put"]
    approvals = [a for a in app.ledger.actions(scene.PROD) if a["Verdict"] == "approve"]
    assert [a["Outcome"] == str(INTENT) for a in approvals] == [False, True]
    assert approvals[0]["Outcome"].startswith("no longer exists: HTTP 404 ResourceNotFound")
    published = [e["eventType"] for e in app.sim.eventgrid.published_events]
    assert not [kind for kind in published if ".Approve" in kind]
    assert app.ledger.event(payload["id"])["Outcome"] == "reconciled"


def test_azure_staying_unavailable_raises_for_redelivery(app: App) -> None:
    app.sim.inject("aml.pec.list", status=503, times=50)
    payload = scene.connection_events(app.scene)[0]

    with pytest.raises(Exception, match="503"):
        app.deliver(payload)

    record = app.ledger.event(payload["id"])
    assert record["Outcome"] == "failed"
    assert "redelivered" in record["Reason"]
    assert writes(app) == []


def _unavailable_then_lost(app: App, route: str) -> None:
    """azure-core's tries of the write (one, then its status retries: retry_status, 3 by default)
    answered 503, the last one after it took effect (its answer lost): the retries are spent."""
    from shared.adapters.transport import RETRY_TOTAL

    app.sim.inject(route, status=503, times=min(RETRY_TOTAL, 3), retry_after=0)
    app.sim.lose_response(route, status=503)


def test_an_approval_whose_last_answer_was_lost_is_read_back_as_applied(app: App) -> None:
    """ARM approved the connection, but every answer was an error: read back, it is Approved.
    Applied and announced so, not a failure announced and raised for a redelivery that finds it
    already approved and records nothing."""
    _unavailable_then_lost(app, "aml.pec.put")
    verified = app.connection("listed by allow-listed")

    app.deliver(scene.connection_events(app.scene)[0])

    assert app.status(verified) == "Approved"
    approvals = [a for a in app.ledger.actions(scene.PROD) if a["Verdict"] == "approve"]
    assert [a["Outcome"] for a in approvals] == ["applied: now Approved", str(INTENT)]
    published = [e["eventType"] for e in app.sim.eventgrid.published_events]
    assert "SynapseAmlAutomation.PrivateEndpointConnection.Approve.Applied" in published
    assert "SynapseAmlAutomation.PrivateEndpointConnection.Approve.Failed" not in published


def test_an_approval_azure_never_made_is_still_raised_for_redelivery(app: App) -> None:
    """Every try refused unavailable, nothing written: the read shows it pending, so the
    failure stands (transient: recorded, raised, redelivered) and is not taken as applied."""
    app.sim.inject("aml.pec.put", status=503, times=10, retry_after=0)
    verified = app.connection("listed by allow-listed")

    with pytest.raises(TransientAzureError, match="503"):
        app.deliver(scene.connection_events(app.scene)[0])

    assert app.status(verified) == "Pending"
    [failed] = [
        a
        for a in app.ledger.actions(scene.PROD)
        if a["Verdict"] == "approve" and a["Outcome"] != str(INTENT)
    ]
    assert failed["Outcome"].startswith("failed (will retry): HTTP 503")


def test_synapse_staying_unavailable_is_redelivered_naming_the_synapse_workspace(
    app: App,
) -> None:
    app.sim.inject("synapse.mpe.list", status=503, times=50)
    payload = scene.connection_events(app.scene)[0]

    with pytest.raises(TransientAzureError, match="503"):
        app.deliver(payload)

    record = app.ledger.event(payload["id"])
    assert record is not None
    assert f"Synapse workspace {scene.ANALYTICS}" in record["Reason"]
    assert writes(app) == []


def test_unreadable_synapse_evidence_never_rejects(app: App) -> None:
    app.set_settings(REJECT_UNVERIFIED="true")
    app.sim.inject("synapse.mpe.list", status=403, times=50)

    for payload in scene.connection_events(app.scene):
        app.deliver(payload)

    assert writes(app) == []
    left = [a for a in app.ledger.actions(scene.PROD) if a["Verdict"] == "leave-pending"]
    assert left
    assert all("could not be read" in a["Reason"] for a in left)


def test_exfiltration_protected_synapse_gets_nothing_approved(app: App) -> None:
    app.sim.synapse.add_workspace(
        scene.ANALYTICS, principal_id=scene.ANALYTICS_PRINCIPAL, prevent_data_exfiltration=True
    )

    for payload in scene.connection_events(app.scene):
        app.deliver(payload)

    assert writes(app) == []
    reasons = {a["Reason"] for a in app.ledger.actions(scene.PROD)}
    assert any("data exfiltration protection" in reason for reason in reasons)


def _malformed_events() -> list[tuple[str, dict[str, Any]]]:
    base = scene.resource_write_event(
        f"{scene.PROD}/privateEndpointConnections/pec", scene.CONNECTION_WRITE
    )
    no_data = {k: v for k, v in base.items() if k != "data"}
    wrong_type = {**base, "eventType": "Microsoft.Resources.ResourceDeleteSuccess"}
    out_of_scope = scene.resource_write_event(
        f"{scene.SANDBOX}/privateEndpointConnections/pec", scene.CONNECTION_WRITE
    )
    not_arm = {**base, "subject": "not-an-arm-id", "data": {**base["data"], "resourceUri": "x"}}
    unknown_op = {
        **base,
        "data": {**base["data"], "operationName": "Microsoft.Storage/storageAccounts/write"},
    }
    # A status that is not text says nothing of the operation: not taken for Succeeded.
    status_not_text = {**base, "data": {**base["data"], "status": ["Failed"]}}
    uri_not_text = {**base, "data": {**base["data"], "resourceUri": []}}
    # Fields that disagree: the subject, or the topic (the subscription or resource group that
    # published it), names another resource than data.resourceUri. Azure sends no such event.
    other_subject = {**base, "subject": f"{scene.DEV}/privateEndpointConnections/pec"}
    other_topic = {**base, "topic": f"/subscriptions/{scene.SYNAPSE_SUBSCRIPTION}"}
    return [
        ("invalid", no_data),
        ("invalid", wrong_type),
        ("out-of-scope", out_of_scope),
        ("invalid", not_arm),
        ("invalid", unknown_op),
        ("invalid", status_not_text),
        ("invalid", uri_not_text),
        ("invalid", other_subject),
        ("invalid", other_topic),
    ]


@pytest.mark.parametrize("cloud", [False, True], ids=["eventgrid-schema", "cloudevents-schema"])
@pytest.mark.parametrize(
    ("outcome", "payload"),
    _malformed_events(),
    ids=[
        "missing-data",
        "wrong-event-type",
        "subject-out-of-scope",
        "not-an-arm-id",
        "unknown-op",
        "status-not-text",
        "resource-uri-not-text",
        "subject-names-another-resource",
        "topic-holds-another-resource",
    ],
)
def test_bad_input_costs_no_azure_call_and_is_logged_and_recorded(
    app: App, caplog: pytest.LogCaptureFixture, outcome: str, payload: dict[str, Any], cloud: bool
) -> None:
    # In CloudEvents 1.0 the topic is `source`: the same checks hold (the last case's among them).
    with caplog.at_level(logging.INFO, logger="shared.intake"):
        app.deliver(host.as_cloud_event(payload) if cloud else payload)

    assert app.sim.requests == []  # not even a token was asked for
    assert any(payload["id"] in message for message in caplog.messages)
    record = app.ledger.event(payload["id"])
    assert record is not None
    assert record["Outcome"] == outcome
    assert record["Reason"]


# An ID's parts as Azure's naming rules allow them: a private endpoint's name (up to 64 letters,
# digits, '_', '.', '-', starting with a letter or digit, ending with one or '_'), a resource
# group's, a subscription GUID.
_WITHIN_RULES = {
    "name": r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?",
    "group": r"[A-Za-z0-9_\-().]{0,89}[A-Za-z0-9_\-()]",
    "subscription": r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}",
}


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    part=st.sampled_from(sorted(_WITHIN_RULES)),
    text=st.one_of(
        st.sampled_from(["pe?api-version=1", "pe#x", "..", ".", "pe%2F..", "pe x", "pe\nx", "p"]),
        st.text(st.characters(max_codepoint=127, exclude_characters="/"), min_size=1),
    ),
)
def test_a_private_endpoint_id_outside_azures_naming_rules_costs_no_azure_call(
    app: App, part: str, text: str
) -> None:
    # The ID becomes the URL of the read: `?`, `#`, `%` or dot segments would read another
    # path than the one the event names. No resource Azure holds has such an ID.
    if re.fullmatch(_WITHIN_RULES[part], text):
        return
    parts = {
        "subscription": scene.ML_SUBSCRIPTION,
        "group": "rg-network",
        "name": "pe-1",
        part: text,
    }
    endpoint = (
        f"/subscriptions/{parts['subscription']}/resourceGroups/{parts['group']}"
        f"/providers/Microsoft.Network/privateEndpoints/{parts['name']}"
    )
    app.sim.reset_counts()
    payload = scene.resource_write_event(
        scene.private_endpoint_id("pe-1"), "Microsoft.Network/privateEndpoints/write"
    )
    payload["subject"] = payload["data"]["resourceUri"] = endpoint

    app.deliver(payload)

    assert app.sim.requests == []
    record = app.ledger.event(payload["id"]) or {}
    assert record["Outcome"] == "invalid"


def test_a_connection_left_pending_is_announced_once_on_its_own_write(app: App) -> None:
    lookalike = app.connection("same name as")
    verified = app.connection("listed by allow-listed")

    def write_of(connection: scene.Connection) -> dict[str, Any]:
        return scene.resource_write_event(
            f"{connection.workspace_id}/privateEndpointConnections/{connection.name}",
            scene.CONNECTION_WRITE,
        )

    app.deliver(write_of(lookalike))
    app.deliver(write_of(verified))
    host.fire_timer("reconcile_all")

    published = [
        (e["eventType"], e["subject"].rsplit("/", 1)[-1])
        for e in app.sim.eventgrid.published_events
    ]
    pending = [name for kind, name in published if kind.endswith(".LeavePending")]
    approved = [name for kind, name in published if kind.endswith(".Approve.Applied")]
    assert pending == [lookalike.name]
    assert verified.name in approved
    # Every later reconcile still records the decision for the audit trail.
    rows = [a for a in app.ledger.actions(scene.PROD) if a["Subject"].endswith(lookalike.name)]
    assert len(rows) == 3


def test_tokens_come_from_the_user_assigned_managed_identity_for_each_audience(
    app: App,
) -> None:
    from shared.adapters.clients import credential

    credential.cache_clear()  # a new process: no token cached yet

    app.deliver(scene.connection_events(app.scene)[0])

    requested = app.sim.identity.token_requests
    assert {r["client_id"] for r in requested} == {"5e2f1d3c-4b6a-4c8d-9e0f-a1b2c3d4e5f6"}
    audiences = {str(r["resource"]).rstrip("/") for r in requested}
    # ARM at ARM_ENDPOINT (the simulator here), the Synapse data plane's own audience, and
    # Event Grid's for the outcome events.
    assert audiences == {
        app.sim.url,
        "https://dev.azuresynapse.net",
        "https://eventgrid.azure.net",
    }


def _twin_during(app: App, route: str, payload: dict[str, Any]) -> list[BaseException]:
    """The event delivered again while its first delivery waits for `route`'s answer (Event Grid
    redelivers an event not yet acknowledged; two events may name one connection)."""
    failures: list[BaseException] = []

    def twin(body: object) -> None:
        try:
            app.deliver(payload)
        except BaseException as error:
            failures.append(error)

    app.sim.rewrite_reply(route, twin)
    app.deliver(payload)
    return failures


def _applied(app: App) -> list[str]:
    events = app.sim.eventgrid.published_events
    return sorted(e["eventType"] for e in events if e["eventType"].endswith(".Applied"))


@pytest.mark.parametrize(
    ("route", "verdict"),
    [
        # Both read the connection pending: one approves it (and wires the role).
        ("synapse.mpe.list", "approve"),
        # Both read no Contributor assignment: one creates it.
        ("authz.ra.list", "assign"),
    ],
)
def test_two_deliveries_at_once_write_record_and_announce_one_approval_once(
    app: App, route: str, verdict: str
) -> None:
    payload = scene.connection_events(app.scene)[0]

    assert _twin_during(app, route, payload) == []

    assert sorted(w.route for w in writes(app)) == ["aml.pec.put", "authz.ra.put"]
    assert _applied(app) == [
        "SynapseAmlAutomation.PrivateEndpointConnection.Approve.Applied",
        "SynapseAmlAutomation.RoleAssignment.Assign.Applied",
    ]
    rows = [row for row in app.ledger.actions(scene.PROD) if row["Verdict"] == verdict]
    outcomes = sorted(row["Outcome"].split(":")[0] for row in rows)
    assert outcomes == ["applied", "intent", "not attempted"]
    assert any("taken by another run" in row["Outcome"] for row in rows)
