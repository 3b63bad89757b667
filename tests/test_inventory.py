"""The sweep's inventory from Resource Graph, end to end: the real SDK clients over
HTTPS to the simulator's Resource Graph, whose rows come from the simulator's own state.

Resource Graph decides what the sweep looks at, never what it writes: a workspace whose rows
changed (or that was never settled) is reconciled from ARM; an unchanged one costs no ARM read;
when Resource Graph refuses, the sweep lists and reconciles from ARM, and says so. Requests are
counted at the simulator's HTTP boundary.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import AzureError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.reconcilers import sweep as sweep_module
from shared.reconcilers.sweep import SweepReport, sweep
from shared.runtime import runtime
from tests.conftest import App
from tools import scene

pytestmark = pytest.mark.slow

ML_SUB = scene.ML_SUBSCRIPTION
FLEET = f"/subscriptions/{ML_SUB}/resourceGroups/rg-fleet"
# What the app sends, word for word: the simulator answers this shape and no other.
ML = "microsoft.machinelearningservices/workspaces"
QUERIES = [
    f"resources | where type =~ '{ML}' | project id, tags, identity, sku, properties",
    f"resources | where type =~ '{ML}/computes' "
    "| summarize computes = make_list(pack('id', id, 'properties', properties)) "
    "by id = tolower(tostring(split(id, '/computes/')[0]))",
    f"resources | where type =~ '{ML}' | mv-expand target = pack_array(id, "
    "properties.storageAccount, properties.keyVault, properties.containerRegistry, "
    "properties.applicationInsights) | extend target = tolower(tostring(target)) "
    "| join kind=inner (resources | where type =~ 'microsoft.network/privateendpoints' "
    "| mv-expand link = array_concat(properties.privateLinkServiceConnections, "
    "properties.manualPrivateLinkServiceConnections) "
    "| extend target = tolower(tostring(link.properties.privateLinkServiceId)) "
    "| project target, endpoint = pack('id', id, 'properties', properties)) on target "
    "| summarize endpoints = make_set(endpoint) by id = tolower(id)",
    "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' "
    "| extend scope = tolower(tostring(properties.scope)) "
    f"| where scope contains '/providers/{ML}/' "
    "| summarize assignments = make_list(pack('id', id, 'properties', properties)) "
    "by id = strcat_array(array_slice(split(scope, '/'), 0, 8), '/')",
]

# A partition's (one subscription's): its workspaces' endpoints from any subscription of the scope.
PARTITION_ENDPOINTS = QUERIES[2].replace(
    f"'{ML}' |", f"'{ML}' and subscriptionId =~ '{ML_SUB}' |", 1
)
assert PARTITION_ENDPOINTS.startswith(f"resources | where type =~ '{ML}' and subscriptionId =~ ")

REMEDIATE = {"POLICY_MODE": "remediate", "MAX_CLUSTER_NODES": "4"}


def fleet(app: App, count: int, **settings: str) -> list[str]:
    """`count` hardened workspaces in rg-fleet (two computes each), the scope that holds them."""
    workspaces = [scene.workspace_id(f"mlw-{n:03d}", group="rg-fleet") for n in range(count)]
    for workspace_id in workspaces:
        scene.seed_workspace(app.sim, workspace_id, hardened=True)
        for compute in ("cpu", "gpu"):
            app.sim.ml.add_compute(workspace_id, compute, disable_local_auth=True)
    app.set_settings(ML_SCOPES=json.dumps([FLEET]), ML_WORKSPACE_IDS="", **settings)
    return workspaces


def tag(app: App, workspace_id: str, tags: dict[str, str]) -> None:
    """Set a workspace's tags in ARM (not through an API: no event, no other change)."""
    with app.sim.lock:
        stored = app.sim.arm.stored(workspace_id)
        assert stored is not None
        stored["tags"] = tags


def run(app: App, name: str) -> SweepReport:
    app.sim.reset_counts()
    return sweep(runtime(), trigger=f"sweep:{name}")


def arm_reads(app: App) -> list[str]:
    """ARM requests other than Resource Graph's (tokens aside)."""
    return [
        f"{r.method} {r.path}"
        for r in app.non_token_requests()
        if r.route not in {"resourcegraph.query", "eventgrid.publish"}
    ]


def reconciled(report: SweepReport) -> set[str]:
    return {w.workspace_id.lower() for w in report.workspaces}


def writes(app: App) -> list[str]:
    return [w.path for w in app.sim.writes() if w.route != "eventgrid.publish"]


def settled_fleet(app: App, count: int, **settings: str) -> list[str]:
    """A fleet swept until nothing is left to reconcile."""
    workspaces = fleet(app, count, **settings)
    first = run(app, "first")
    assert first.inventory == "resource graph"
    assert reconciled(first) == {w.lower() for w in workspaces}, "never seen: all reconciled"
    assert first.transient_failures == ()
    return workspaces


def test_the_sweep_sends_these_queries_and_unchanged_workspaces_cost_no_arm_read(
    app: App,
) -> None:
    workspaces = settled_fleet(app, 50)

    report = run(app, "again")

    assert app.sim.resourcegraph.queries[-4:] == QUERIES
    assert report.inventory == "resource graph"
    assert (report.workspaces, report.unchanged) == ((), 50)
    reads = arm_reads(app)
    assert len(reads) <= 0.05 * len(workspaces), reads
    assert app.sim.count("resourcegraph.query") == 4


def test_a_partition_narrows_the_endpoints_query_to_its_workspaces_only(app: App) -> None:
    settled_fleet(app, 3)
    app.sim.reset_counts()

    report = sweep(runtime(), trigger="sweep:partition", subscription=ML_SUB)

    assert app.sim.resourcegraph.queries[-4:] == [*QUERIES[:2], PARTITION_ENDPOINTS, QUERIES[3]]
    assert (report.workspaces, report.unchanged) == ((), 3)


def test_rows_over_more_than_one_page_are_all_read(app: App) -> None:
    settled_fleet(app, 12)
    app.sim.resourcegraph.page_size = 5

    report = run(app, "paged")

    # One row per workspace: 12 workspaces are 3 pages of 5 for each query that has them
    # (workspaces, computes, endpoints; no role assignment here: one empty page), each a request.
    assert app.sim.count("resourcegraph.query") == 3 * 3 + 1
    assert (reconciled(report), report.unchanged) == (set(), 12)


def test_a_changed_workspace_is_reconciled_and_only_it_is_read_from_arm(app: App) -> None:
    workspaces = settled_fleet(app, 10, **REMEDIATE)
    changed = workspaces[3]
    app.sim.ml.add_compute(changed, "cpu", max_node_count=10)

    report = run(app, "changed")

    assert (reconciled(report), report.unchanged) == ({changed.lower()}, 9)
    assert arm_reads(app), "the changed workspace was read from ARM"
    others = [r for r in arm_reads(app) if "/workspaces/mlw-" in r and changed not in r]
    assert others == []
    assert writes(app) == [f"{changed}/computes/cpu"], "remediated from what ARM said"
    assert (reconciled(run(app, "after")), app.sim.count("resourcegraph.query")) == (
        {changed.lower()},
        4,
    ), "its own write changed its rows: read once more, then settled"
    assert (run(app, "settled").unchanged, arm_reads(app)) == (10, [])


def test_a_stale_row_never_causes_a_write(app: App) -> None:
    workspaces = fleet(app, 3, **REMEDIATE)
    stale = workspaces[0]
    app.sim.ml.add_compute(stale, "cpu", max_node_count=10)
    app.sim.resourcegraph.lag = 3600.0
    app.sim.resourcegraph.snapshot()
    # ARM moves on: the cluster is back within bounds; Resource Graph still shows 10 nodes.
    app.sim.ml.add_compute(stale, "cpu", max_node_count=4)

    report = run(app, "stale")

    assert stale.lower() in reconciled(report), "the stale row chose what to read"
    assert writes(app) == [], "ARM's answer decided: nothing to write"


# Where a workspace row's connection states lie, each level with a value of another shape.
_CONNECTION_PATHS = [
    ("properties",),
    ("properties", "privateEndpointConnections"),
    ("properties", "privateEndpointConnections", 0),
    ("properties", "privateEndpointConnections", 0, "properties"),
    (
        "properties",
        "privateEndpointConnections",
        0,
        "properties",
        "privateLinkServiceConnectionState",
    ),
]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(_CONNECTION_PATHS),
    value=st.one_of(
        st.integers(), st.floats(), st.text(max_size=5), st.lists(st.text(), max_size=2)
    ),
)
def test_a_row_whose_connections_cannot_be_read_is_reported_and_read_from_arm(
    app: App, path: tuple[str | int, ...], value: object, caplog: pytest.LogCaptureFixture
) -> None:
    odd, kept = (scene.workspace_id(f"mlw-{n:03d}", group="rg-fleet").lower() for n in (0, 1))
    if app.sim.arm.stored(odd) is None:  # the first example
        settled_fleet(app, 2)
        app.sim.resourcegraph.quota = 10_000  # examples sweep faster than 15 queries in 5 s
    if isinstance(value, list) and path[-1] == "privateEndpointConnections":
        value = [*value, 1]  # a list, but not of objects
    empty = {"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}

    def rewrite(body: dict[str, Any]) -> None:
        [row] = [r for r in body["data"] if r["id"].lower() == odd]
        row["properties"]["privateEndpointConnections"] = [copy.deepcopy(empty)]
        *inside, last = path
        for step in inside:
            row = row[step]
        row[last] = value

    app.sim.rewrite_reply("resourcegraph.query", rewrite)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="shared.reconcilers.sweep"):
        report = run(app, "odd row")

    assert (report.inventory, reconciled(report), report.unchanged) == ("resource graph", {odd}, 1)
    [warned] = [r.getMessage() for r in caplog.records if odd in r.getMessage().lower()]
    assert "MalformedResponseError: Resource Graph row of " in warned
    assert kept not in warned


@pytest.mark.parametrize("status", ["Pending", "pending", "PENDING"])
def test_a_pending_connection_in_any_casing_is_looked_at_by_every_sweep(
    app: App, status: str
) -> None:
    # Its evidence (Synapse's data plane) is in no row: an unchanged digest must not hide it, in
    # whatever casing the row reports the status (the connection reconciler reads any).
    waiting, settled = fleet(app, 2)
    endpoint = scene.private_endpoint_id("pe-unknown")
    app.sim.ml.add_private_endpoint_connection(waiting, "unknown", endpoint)

    def recased(body: dict[str, Any]) -> None:
        for row in body.get("data", []):
            for c in (row.get("properties") or {}).get("privateEndpointConnections") or []:
                c["properties"]["privateLinkServiceConnectionState"]["status"] = status

    app.sim.rewrite_reply("resourcegraph.query", recased, times=100)
    run(app, "first")

    assert reconciled(run(app, "again")) == {waiting.lower()}, f"not {settled}"


def test_a_stale_tag_never_brings_a_workspace_into_scope(app: App) -> None:
    workspaces = fleet(app, 2, ML_SCOPE_TAG="team=ml", **REMEDIATE)
    for workspace_id in workspaces:
        tag(app, workspace_id, {"team": "ml"})
        app.sim.ml.add_compute(workspace_id, "cpu", max_node_count=10)
    app.sim.resourcegraph.lag = 3600.0
    app.sim.resourcegraph.snapshot()
    tagged, untagged = workspaces
    tag(app, untagged, {})

    report = run(app, "untagged")

    assert reconciled(report) == {tagged.lower()}
    assert writes(app) == [f"{tagged}/computes/cpu"], "only where ARM shows the tag"


def test_an_exemption_that_ends_between_sweeps_brings_its_workspace_back(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No row changes when an exemption ends: the sweep's digest of the settings does.
    workspaces = fleet(app, 2, **REMEDIATE)
    spared = workspaces[0]
    app.sim.ml.add_compute(spared, "cpu", max_node_count=10)
    # The time the sweep judges exemptions by (its digest, the policies' findings) stands
    # until the test moves it past the end: a first sweep slower than the exemption's
    # remaining seconds found it ended already.
    now = [datetime.now(UTC)]

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return now[0].astimezone(tz)

    for module in ("shared.reconcilers.sweep", "shared.reconcilers.policies"):
        monkeypatch.setattr(f"{module}.datetime", Clock)
    ends = now[0] + timedelta(seconds=6)
    exemption = {"rule": "compute-max-nodes", "scope": spared, "reason": "load test"}
    app.set_settings(
        ML_SCOPES=json.dumps([FLEET]),
        ML_WORKSPACE_IDS="",
        POLICY_EXEMPTIONS=json.dumps([{**exemption, "expires": ends.isoformat()}]),
        **REMEDIATE,
    )
    run(app, "spared")
    assert writes(app) == [], "exempt"
    now[0] = ends + timedelta(seconds=0.5)

    report = run(app, "ended")

    assert reconciled(report) == {w.lower() for w in workspaces}
    assert writes(app) == [f"{spared}/computes/cpu"]


@pytest.mark.parametrize("refusal", ["429", "quota"])
def test_the_sweep_falls_back_to_arm_when_resource_graph_refuses_and_says_so(
    app: App, refusal: str, caplog: pytest.LogCaptureFixture
) -> None:
    workspaces = fleet(app, 3)
    if refusal == "429":
        # azure-core retries no POST on 429: the sweep falls back at once.
        app.sim.inject("resourcegraph.query", status=429)
    else:
        # One request a minute: the quota resets too far off to wait for.
        app.sim.resourcegraph.quota, app.sim.resourcegraph.window = 1, 60.0

    with caplog.at_level(logging.WARNING, logger="shared.reconcilers.sweep"):
        report = run(app, "fallback")

    assert report.inventory.startswith("arm (Resource Graph unavailable: ")
    assert ("HTTP 429" if refusal == "429" else "quota spent") in report.inventory
    assert reconciled(report) == {w.lower() for w in workspaces}
    assert any("fallback" in r.getMessage() for r in caplog.records)
    # The quota's last request is answered; the app asks no more of it (no 429 seen).
    statuses = [r.status for r in app.sim.requests if r.route == "resourcegraph.query"]
    assert statuses == ([429] if refusal == "429" else [200])


def test_each_row_changes_the_digest_of_its_own_workspace_only() -> None:
    from shared.inventory import fingerprints

    one, ten = scene.workspace_id("mlw-1"), scene.workspace_id("mlw-10")

    def rows(compute: Any = None, tags: Any = None, order: int = 1) -> dict[str, Any]:
        endpoints = [{"id": f"/pe{n}", "properties": {"n": n}} for n in range(3)][::order]
        return {
            "workspaces": [{"id": one, "properties": {}}, {"id": ten, "properties": {}}],
            "computes": [{"id": ten.lower(), "computes": [{"id": "c", "properties": compute}]}],
            "private_endpoints": [{"id": one.lower(), "endpoints": endpoints}],
            "role_assignments": [{"id": one.lower(), "assignments": [{"id": "/ra", "t": tags}]}],
        }

    before = fingerprints(rows(), "settings")
    assert set(before) == {one.lower(), ten.lower()}
    # A compute of mlw-10 (whose ID starts with mlw-1's): mlw-10's digest only.
    after = fingerprints(rows(compute={"maxNodes": 9}), "settings")
    assert (after[one.lower()], after[ten.lower()] != before[ten.lower()]) == (
        before[one.lower()],
        True,
    )
    # The assignment at mlw-1: mlw-1's only.
    after = fingerprints(rows(tags={"x": "y"}), "settings")
    assert (after[one.lower()] != before[one.lower()], after[ten.lower()]) == (
        True,
        before[ten.lower()],
    )
    # Resource Graph's lists come in no fixed order: the same members, the same digest.
    assert fingerprints(rows(order=-1), "settings") == before
    assert fingerprints(rows(), "other settings")[ten.lower()] != before[ten.lower()]


def test_an_endpoint_to_a_dependency_changes_only_its_workspace_from_one_row_each(
    app: App,
) -> None:
    workspaces = settled_fleet(app, 3)
    storage = app.sim.arm.stored(workspaces[1])["properties"]["storageAccount"]  # type: ignore[index]
    pe_id = scene.private_endpoint_id("pe-extra")
    app.sim.network.add_dependency_private_endpoint(storage, pe_id, "web", "Approved")

    report = run(app, "endpoint")

    assert (reconciled(report), report.unchanged) == ({workspaces[1].lower()}, 2)
    # One row per workspace: each query is one page for these three.
    assert app.sim.count("resourcegraph.query") == 4


@pytest.mark.parametrize(
    ("answer", "requests"), [("redirect", 1), ("repeated $skipToken", 2), ("$skipToken cycle", 3)]
)
def test_resource_graph_goes_only_where_the_settings_point_and_pages_end(
    app: App, answer: str, requests: int
) -> None:
    workspaces = fleet(app, 2)
    if answer == "redirect":
        foreign = app.sim.foreign_url + "/providers/Microsoft.ResourceGraph/resources"
        app.sim.inject_reply("resourcegraph.query", status=307, headers={"Location": foreign})
    # A token already followed, the last one or one before it, is a loop: the read stops.
    for token in {"repeated $skipToken": "aa", "$skipToken cycle": "aba"}.get(answer, ""):
        page = {"totalRecords": 9, "count": 0, "data": [], "$skipToken": token}
        app.sim.inject_reply("resourcegraph.query", body=page)

    report = run(app, "guarded")

    assert app.sim.requests_to("localhost") == [], "nothing, and no token, to another origin"
    assert app.sim.count("resourcegraph.query") == requests
    assert report.inventory.startswith("arm (Resource Graph unavailable: ")
    assert reconciled(report) == {w.lower() for w in workspaces}


def test_a_sweep_stopped_part_way_keeps_its_first_batches_and_the_next_resumes(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspaces = fleet(app, 5)
    monkeypatch.setattr(sweep_module, "FINGERPRINTS_BATCH", 2)
    done: list[str] = []

    def killed_after_three(workspace_id: str) -> None:
        done.append(workspace_id.lower())
        if len(done) == 3:
            raise TimeoutError("the host's functionTimeout")

    # A partition, as a redelivered queue message runs it.
    with pytest.raises(TimeoutError):
        sweep(runtime(), trigger="sweep:killed", progress=killed_after_three, subscription=ML_SUB)
    kept = set(app.ledger.fingerprints(ML_SUB))
    assert kept == set(done[:2]), "the first batch kept, the third workspace's lost"

    report = sweep(runtime(), trigger="sweep:again", subscription=ML_SUB)

    assert reconciled(report) == {w.lower() for w in workspaces} - kept
    assert report.unchanged == 2
    assert set(app.ledger.fingerprints()) == {w.lower() for w in workspaces}


# azure-core retries a status with a Retry-After 3 times: a read is 4 requests.
@pytest.mark.parametrize(("status", "retry_after", "attempts"), [(403, None, 1), (503, 0.001, 4)])
def test_a_group_that_cannot_be_read_is_read_once_per_survey_not_once_per_workspace(
    app: App, status: int, retry_after: float | None, attempts: int
) -> None:
    workspaces = fleet(app, 20)
    app.sim.management.add_group("mg-landing-zones")
    app.sim.management.place_subscription(ML_SUB, "mg-landing-zones")
    group = "/providers/Microsoft.Management/managementGroups/mg-landing-zones"
    # The group, and the fleet named one by one: each one a scope of its own.
    app.set_settings(ML_SCOPES=json.dumps([group]), ML_WORKSPACE_IDS=",".join(workspaces))
    app.sim.inject("management.descendants", status=status, times=10_000, retry_after=retry_after)
    inventory = runtime().inventory

    def reads() -> int:
        count = app.sim.count("management.descendants")
        app.sim.reset_counts()
        return count

    for _ in range(2):  # a failure is not kept for the next survey: it reads again
        app.sim.reset_counts()
        survey = inventory.changed_workspaces({}, "salt")
        assert reads() == attempts
        problems = [p.lower() for p, _ in survey.problems]
        assert {w.lower() for w in workspaces} <= set(problems), "each workspace's problem"
        assert len(problems) == len(set(problems))
        assert survey.workspaces == []
    found, unread = inventory.workspaces()
    assert reads() == attempts
    assert (found, len(unread)) == ([], 1 + len(workspaces)), "the group's and each workspace's"
    with pytest.raises(AzureError):
        inventory.partitions()
    assert reads() == attempts
