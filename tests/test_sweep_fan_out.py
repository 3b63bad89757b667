"""The sweep's fan-out by subscription, through the registered functions as the
host calls them (`reconcile_all`'s queue output, `sweep_partition`'s queue trigger), the real SDK
clients over HTTPS to the simulator, the ledger in Azurite.

Over `SWEEP_FAN_OUT_WORKSPACES` the timer sweeps nothing itself and sets one message per in-scope
subscription on its output binding (the host writes them to the queue); each message, delivered
to `sweep_partition`, reconciles that subscription's in-scope workspaces only. A message is not
trusted: one naming anything else is recorded as invalid and changes nothing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.sweep import MAX_DEQUEUE_COUNT, PARTITION_FUNCTION
from shared.adapters import estate as estate_module
from shared.adapters.errors import TransientAzureError, describe
from shared.ledger import EVENTS_PARTITION, partition_rows
from shared.reconcilers.sweep import PARTITION_QUEUE, partition_of, settings_digest
from shared.runtime import runtime
from tests.conftest import App
from tests.credentials import leaked, placed
from tools import host, scene

pytestmark = pytest.mark.slow

A, B = scene.ML_SUBSCRIPTION, "3c1d5e7f-9a2b-4c6d-8e0f-1a2b3c4d5e6f"
OUTSIDE = scene.LOOKALIKE_SUBSCRIPTION
# What the app asks Resource Graph before fanning out, word for word.
COUNT_QUERY = (
    "resources | where type =~ 'microsoft.machinelearningservices/workspaces' "
    "| summarize workspaces = count() by id = subscriptionId"
)


def estate(app: App, **settings: str) -> dict[str, list[str]]:
    """Two workspaces in rg-fleet of A, two in B (its whole subscription in scope), one in a
    subscription outside every scope."""
    found = {
        A: [scene.workspace_id(f"mlw-a{n}", A, "rg-fleet") for n in range(2)],
        B: [scene.workspace_id(f"mlw-b{n}", B, "rg-b") for n in range(2)],
        OUTSIDE: [scene.workspace_id("mlw-out", OUTSIDE, "rg-out")],
    }
    for workspace_id in [w for listed in found.values() for w in listed]:
        scene.seed_workspace(app.sim, workspace_id, hardened=True)
    scopes = [f"/subscriptions/{A}/resourceGroups/rg-fleet", f"/subscriptions/{B}"]
    app.set_settings(ML_SCOPES=json.dumps(scopes), ML_WORKSPACE_IDS="", **settings)
    return found


def workspaces_read(app: App) -> set[str]:
    """The AML workspaces whose own ARM resource was read (GET)."""
    return {
        "/".join(r.path.split("/")[:9]).lower()
        for r in app.non_token_requests()
        if r.method == "GET" and "/microsoft.machinelearningservices/workspaces/" in r.path.lower()
    }


def settled(app: App) -> set[str]:
    return set(app.ledger.fingerprints())


def test_over_the_threshold_the_timer_enqueues_one_message_per_in_scope_subscription(
    app: App,
) -> None:
    found = estate(app, SWEEP_FAN_OUT_WORKSPACES="3")
    app.sim.reset_counts()

    outputs: dict[str, Any] = {}
    host.fire_timer("reconcile_all", outputs=outputs)

    assert outputs == {"fan_out": [json.dumps({"subscription": s}) for s in sorted([A, B])]}
    assert app.sim.resourcegraph.queries == [COUNT_QUERY]
    assert workspaces_read(app) == set(), "the timer swept nothing"
    assert settled(app) == set()
    assert app.sim.writes() == []
    # Each partition: exactly its subscription's in-scope workspaces, each its own run.
    for message, subscription in zip(outputs["fan_out"], sorted([A, B]), strict=True):
        app.sim.reset_counts()
        host.deliver_queue_message(PARTITION_FUNCTION, message.encode())
        assert workspaces_read(app) == {w.lower() for w in found[subscription]}
    assert settled(app) == {w.lower() for w in found[A] + found[B]}


def test_at_or_below_the_threshold_the_sweep_runs_in_process_as_before(app: App) -> None:
    found = estate(app, SWEEP_FAN_OUT_WORKSPACES="1000")

    outputs: dict[str, Any] = {}
    host.fire_timer("reconcile_all", outputs=outputs)
    assert outputs == {}

    assert settled(app) == {w.lower() for w in found[A] + found[B]}


def test_when_resource_graph_cannot_count_the_sweep_runs_in_process(app: App) -> None:
    found = estate(app, SWEEP_FAN_OUT_WORKSPACES="1")
    app.sim.inject("resourcegraph.query", status=429)

    outputs: dict[str, Any] = {}
    host.fire_timer("reconcile_all", outputs=outputs)
    assert outputs == {}

    assert settled(app) == {w.lower() for w in found[A] + found[B]}


def test_a_count_refused_for_a_quota_another_instance_spent_still_fans_out(app: App) -> None:
    estate(app, SWEEP_FAN_OUT_WORKSPACES="3")
    # The last run's partitions, still querying as the same identity, spent the quota.
    app.sim.resourcegraph.quota, app.sim.resourcegraph.window = 1, 1.0
    runtime().inventory.partitions()

    outputs: dict[str, Any] = {}
    host.fire_timer("reconcile_all", outputs=outputs)

    assert outputs == {"fan_out": [json.dumps({"subscription": s}) for s in sorted([A, B])]}
    assert workspaces_read(app) == set(), "not swept in-process"


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    count=st.one_of(
        st.floats(),  # Infinity and NaN too: JSON as Python reads it
        st.text(max_size=4).filter(lambda text: not (text.isascii() and text.isdigit())),
        st.sampled_from(["\u0663", "\uff13", "3_0", "03.0"]),  # Arabic-Indic, full-width 3
        st.booleans() | st.none() | st.lists(st.integers(), max_size=2),
    )
)
def test_a_count_that_is_no_whole_number_is_refused_and_the_sweep_runs_in_process(
    app: App, count: object, caplog: pytest.LogCaptureFixture
) -> None:
    if not app.ledger.fingerprints():  # the first example
        estate(app, SWEEP_FAN_OUT_WORKSPACES="1")
        app.sim.resourcegraph.quota = 10_000  # examples ask faster than 15 queries in 5 s

    def rewrite(body: dict[str, Any]) -> None:
        for row in body["data"]:
            row["workspaces"] = count

    app.sim.rewrite_reply("resourcegraph.query", rewrite)
    outputs: dict[str, Any] = {}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="shared.reconcilers.sweep"):
        host.fire_timer("reconcile_all", outputs=outputs)

    assert outputs == {}
    assert any(
        "no fan-out, Resource Graph unavailable: MalformedResponseError" in r.getMessage()
        for r in caplog.records
    )
    assert len(settled(app)) == 4


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_count_holding_a_credential_shows_no_piece_of_it(
    app: App, data: st.DataObject, caplog: pytest.LogCaptureFixture
) -> None:
    # Azure's text in the refusal is cut to 40 characters: redacted before the cut.
    if not app.ledger.fingerprints():  # the first example
        estate(app, SWEEP_FAN_OUT_WORKSPACES="1")
        app.sim.resourcegraph.quota = 10_000
    count, secret = data.draw(placed(40 - len("'"), before=8))

    def rewrite(body: dict[str, Any]) -> None:
        for row in body["data"]:
            row["workspaces"] = count

    app.sim.rewrite_reply("resourcegraph.query", rewrite)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="shared.reconcilers.sweep"):
        host.fire_timer("reconcile_all", outputs={})

    assert "a count of" in caplog.text
    assert leaked(secret, caplog.text) is None, caplog.text


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"subscription": OUTSIDE}).encode(),
        json.dumps({"subscription": "{" + B + "}"}).encode(),
        json.dumps({"subscription": 5}).encode(),
        json.dumps([B]).encode(),
        b"not json",
        b"\xff\xfe",
        json.dumps({"subscription": B, "padding": "x" * 300}).encode(),
    ],
    ids=["outside", "braces", "number", "array", "text", "bytes", "oversized"],
)
def test_a_message_naming_anything_else_is_recorded_as_invalid_and_changes_nothing(
    app: App, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    estate(app)
    app.sim.reset_counts()

    with caplog.at_level(logging.WARNING, logger="handlers.sweep"):
        host.deliver_queue_message(PARTITION_FUNCTION, body)

    assert app.non_token_requests() == []
    assert settled(app) == set()
    events = partition_rows(app.ledger.table, EVENTS_PARTITION)
    assert [(e["Function"], e["Outcome"]) for e in events] == [(PARTITION_FUNCTION, "invalid")]
    assert any("invalid" in r.getMessage() for r in caplog.records)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subscription=st.uuids().map(str) | st.sampled_from([A, B, OUTSIDE]))
def test_only_a_subscription_of_the_settings_scopes_is_a_partition(
    app: App, subscription: str
) -> None:
    estate(app)
    body = json.dumps({"subscription": subscription}).encode()
    if subscription in (A, B):
        assert partition_of(runtime(), body) == subscription
    else:
        with pytest.raises(ValueError, match="lies in no scope"):
            partition_of(runtime(), body)


def test_an_excluded_subscription_is_no_partition(app: App) -> None:
    estate(app, ML_SCOPE_EXCLUDE=json.dumps([f"/subscriptions/{B}"]))

    with pytest.raises(ValueError, match="lies in no scope"):
        partition_of(runtime(), json.dumps({"subscription": B}).encode())


def test_a_partition_that_keeps_failing_says_it_goes_to_the_poison_queue(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    found = estate(app)
    # Resource Graph refuses, and ARM's list of B's workspaces stays unavailable.
    app.sim.inject("resourcegraph.query", status=429, times=10)
    app.sim.inject("aml.workspace.list", status=503, times=100, retry_after=0.001)
    body = json.dumps({"subscription": B}).encode()

    with pytest.raises(TransientAzureError):
        host.deliver_queue_message(PARTITION_FUNCTION, body, dequeue_count=1)
    assert not any("poison" in r.getMessage() for r in caplog.records)
    with (
        caplog.at_level(logging.ERROR, logger="handlers.sweep"),
        pytest.raises(TransientAzureError),
    ):
        host.deliver_queue_message(PARTITION_FUNCTION, body, dequeue_count=MAX_DEQUEUE_COUNT)
    assert any(f"{PARTITION_QUEUE}-poison" in r.getMessage() for r in caplog.records)
    assert settled(app).isdisjoint(w.lower() for w in found[B])


def test_the_queue_settings_the_partition_relies_on() -> None:
    root = Path(__file__).resolve().parents[1]
    queues = json.loads((root / "host.json").read_text(encoding="utf-8"))["extensions"]["queues"]
    assert queues["maxDequeueCount"] == MAX_DEQUEUE_COUNT
    assert queues["messageEncoding"] == "base64"
    bindings = {
        b.get_dict_repr()["name"]: b.get_dict_repr()
        for name in ("reconcile_all", PARTITION_FUNCTION)
        for b in host.function(name).get_bindings()
    }
    for name in ("fan_out", "message"):
        assert bindings[name]["queueName"] == PARTITION_QUEUE
        assert bindings[name]["connection"] == "AzureWebJobsStorage"


def test_a_partition_falls_back_to_arm_for_its_own_subscription_only(app: App) -> None:
    found = estate(app)
    app.sim.inject("resourcegraph.query", status=429)
    app.sim.reset_counts()

    host.deliver_queue_message(PARTITION_FUNCTION, json.dumps({"subscription": A}).encode())

    listed = [r.path for r in app.non_token_requests() if r.route == "aml.workspace.list"]
    assert listed, "ARM listed the partition's scopes"
    assert all(p.lower().startswith(f"/subscriptions/{A}/") for p in listed), listed
    assert workspaces_read(app) == {w.lower() for w in found[A]}


def test_a_partition_refused_for_a_quota_another_instance_spent_waits_for_its_reset(
    app: App,
) -> None:
    found = estate(app)
    # Partitions run at once on several instances as one identity, which shares Resource Graph's
    # quota: another's query spends it just before this partition's first one.
    app.sim.resourcegraph.quota, app.sim.resourcegraph.window = 1, 1.0
    runtime().inventory.partitions()
    app.sim.reset_counts()

    host.deliver_queue_message(PARTITION_FUNCTION, json.dumps({"subscription": A}).encode())

    statuses = [r.status for r in app.sim.requests if r.route == "resourcegraph.query"]
    assert statuses[0] == 429, "refused: the quota was spent"
    assert not [r for r in app.non_token_requests() if r.route == "aml.workspace.list"], "no ARM"
    assert settled(app) == {w.lower() for w in found[A]}, "surveyed by Resource Graph"


def test_a_partition_sees_its_workspaces_endpoints_in_another_subscription_of_the_scope(
    app: App,
) -> None:
    found = estate(app)
    workspace = found[A][0]
    storage = app.sim.arm.stored(workspace)["properties"]["storageAccount"]  # type: ignore[index]
    # A landing zone's hub network: the endpoint lives in B, the workspace in A.
    hub = (
        f"/subscriptions/{B}/resourceGroups/rg-hub/providers/Microsoft.Network/privateEndpoints/pe"
    )
    app.sim.network.add_dependency_private_endpoint(storage, hub, "blob")
    partition = json.dumps({"subscription": A}).encode()
    host.deliver_queue_message(PARTITION_FUNCTION, partition)
    assert settled(app) == {w.lower() for w in found[A]}

    # A whole sweep's digests of the same state are the partition's: only B's are new to it.
    digest = settings_digest(runtime().settings)
    whole = runtime().inventory.changed_workspaces(app.ledger.fingerprints(), digest)
    assert {w.lower() for w in whole.workspaces} == {w.lower() for w in found[B]}
    assert whole.unchanged == len(found[A])
    app.sim.reset_counts()
    host.deliver_queue_message(PARTITION_FUNCTION, partition)
    assert workspaces_read(app) == set(), "nothing changed"

    with app.sim.lock:
        app.sim.arm.stored(hub)["properties"]["customNetworkInterfaceName"] = "nic-2"  # type: ignore[index]
    app.sim.reset_counts()
    host.deliver_queue_message(PARTITION_FUNCTION, partition)

    assert workspaces_read(app) == {workspace.lower()}


@pytest.mark.parametrize(
    ("hub_named", "batch", "joined", "requests"),
    [
        (True, 1000, True, 1),
        # Past the limit, the scope's own request sets: the named hub and the group do not meet.
        (True, 1, False, 2),
        (False, 1000, True, 1),
        # A group holding both subscriptions is one request whatever its size.
        (False, 1, True, 1),
    ],
    ids=["hub named, one request", "hub named, past the limit", "group", "group, past the limit"],
)
def test_a_hub_endpoint_changes_a_workspace_under_a_named_group(
    app: App,
    monkeypatch: pytest.MonkeyPatch,
    hub_named: bool,
    batch: int,
    joined: bool,
    requests: int,
) -> None:
    found = estate(app)
    app.sim.management.add_group("mg-landing-zones")
    for subscription in (A,) if hub_named else (A, B):
        app.sim.management.place_subscription(subscription, "mg-landing-zones")
    group = "/providers/Microsoft.Management/managementGroups/mg-landing-zones"
    # A's workspaces only through the group; the hub's subscription B named directly, or in it.
    scopes = [group, f"/subscriptions/{B}"] if hub_named else [group]
    app.set_settings(ML_SCOPES=json.dumps(scopes), ML_WORKSPACE_IDS="")
    host.fire_timer("reconcile_all", outputs={})
    assert {w.lower() for w in found[A] + found[B]} <= settled(app)
    workspace = found[A][0]
    storage = app.sim.arm.stored(workspace)["properties"]["storageAccount"]  # type: ignore[index]
    hub = (
        f"/subscriptions/{B}/resourceGroups/rg-hub/providers/Microsoft.Network/privateEndpoints/pe"
    )
    digest = settings_digest(runtime().settings)
    # Resource Graph's limit of subscriptions a request, as if the scope held 1,000 times more.
    monkeypatch.setattr(estate_module, "GRAPH_MAX_SUBSCRIPTIONS", batch)
    app.sim.resourcegraph.quota = 100  # four surveys at once: not what this test is about

    def changed(subscription: str | None = None) -> tuple[set[str], dict[str, str]]:
        known = app.ledger.fingerprints(subscription)
        survey = runtime().inventory.changed_workspaces(known, digest, subscription)
        return {w.lower() for w in survey.workspaces}, survey.fingerprints

    (whole, _), (part, _) = changed(), changed(A)
    app.sim.network.add_dependency_private_endpoint(storage, hub, "blob")
    app.sim.resourcegraph.queries.clear()

    (whole_now, digests), (part_now, part_digests) = changed(), changed(A)
    new = {workspace.lower()} if joined else set()
    assert (whole_now - whole, part_now - part) == (new, new)
    joins = [q for q in app.sim.resourcegraph.queries if "| join " in q]
    assert len(joins) == 2 * requests, "a whole sweep's and a partition's"
    assert part_digests == {k: digests[k] for k in part_digests}, "a partition's are a sweep's"


def test_a_group_whose_membership_cannot_be_read_is_each_workspaces_problem(app: App) -> None:
    found = estate(app)
    app.sim.management.add_group("mg-landing-zones")
    app.sim.management.place_subscription(A, "mg-landing-zones")
    group = "/providers/Microsoft.Management/managementGroups/mg-landing-zones"
    app.set_settings(ML_SCOPES=json.dumps([group, f"/subscriptions/{B}"]), ML_WORKSPACE_IDS="")
    app.sim.inject("management.descendants", status=403, times=100)

    survey = runtime().inventory.changed_workspaces({}, "salt")

    # Not raised (which would make the sweep fall back to ARM): the join goes by the scope's
    # request sets, and each workspace, whose scope needs the membership, is a problem of its own.
    assert survey.workspaces == []
    problems = {p.lower(): describe(error) for p, error in survey.problems}
    assert {w.lower() for w in found[A] + found[B]} <= set(problems)
    assert all("403" in why for why in problems.values())
