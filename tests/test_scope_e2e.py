"""Scope by containers, end to end: registered functions → real SDK clients → HTTPS →
the simulator, whose management group hierarchy and workspace lists answer the app's reads.

A workspace created under a scope is handled by its own creation event with no setting changed,
and is in the next sweep; nothing outside the scope is read beyond what deciding takes, and
nothing outside it is ever written.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.estate import EstateAdapter
from shared.adapters.transport import MalformedResponseError
from shared.reconcilers.sweep import sweep
from shared.runtime import runtime
from tests.conftest import App
from tests.credentials import leaked, placed
from tests.test_decisions_e2e import answers_for
from tools import scene

pytestmark = pytest.mark.slow

GROUP = f"/subscriptions/{scene.ML_SUBSCRIPTION}/resourceGroups/rg-ml"
SUBSCRIPTION = f"/subscriptions/{scene.ML_SUBSCRIPTION}"
NEW = scene.workspace_id("mlw-new")
# Shares a prefix with rg-ml and mlw-new: never under them.
NEIGHBOUR = scene.workspace_id("mlw-new", group="rg-ml2")
TWIN = scene.workspace_id("mlw-new-2")
OTHER_SUBSCRIPTION = "0f0e0d0c-0b0a-4909-8807-060504030201"
ELSEWHERE = scene.workspace_id("mlw-far", subscription=OTHER_SUBSCRIPTION)
MG = "/providers/Microsoft.Management/managementGroups/mg-landing-zones"


def scoped(app: App, *scopes: str, **extra: str) -> None:
    """The scene's settings with ML_SCOPES instead of ML_WORKSPACE_IDS."""
    app.set_settings(ML_SCOPES=json.dumps(list(scopes)), ML_WORKSPACE_IDS="", **extra)


def workspace_event(app: App, workspace_id: str, **data: Any) -> dict[str, Any]:
    payload = scene.resource_write_event(workspace_id, scene.WORKSPACE_WRITE)
    payload["data"].update(data)
    app.deliver(payload, function="on_workspace_event")
    return app.ledger.event(payload["id"]) or {}


def written(app: App) -> list[str]:
    """The resources written in the Azure estate (outcome events are records)."""
    return [w.path for w in app.sim.writes() if w.route != "eventgrid.publish"]


def under(paths: list[str], workspace_id: str) -> list[str]:
    return [p for p in paths if p.lower().startswith(workspace_id.lower() + "/")]


def new_workspaces(app: App) -> None:
    for workspace_id in (NEW, NEIGHBOUR, TWIN, ELSEWHERE):
        scene.seed_workspace(app.sim, workspace_id, hardened=True)
    app.sim.reset_counts()


def test_a_workspace_created_under_a_resource_group_scope_is_handled_by_its_event(
    app: App,
) -> None:
    scoped(app, GROUP)
    new_workspaces(app)

    record = workspace_event(app, NEW)

    assert record["Outcome"] == "reconciled", record
    assert app.ledger.actions(NEW), "the new workspace's policies were recorded"
    for outside in (NEIGHBOUR, scene.SANDBOX, ELSEWHERE):
        app.sim.reset_counts()
        record = workspace_event(app, outside)
        assert record["Outcome"] == "out-of-scope", (outside, record)
        # Decided from the ID alone: not one ARM read, let alone a write.
        assert app.non_token_requests() == []


def test_the_sweep_lists_the_workspaces_under_each_scope_and_only_those(app: App) -> None:
    scoped(app, GROUP, scene.workspace_id("mlw-far", subscription=OTHER_SUBSCRIPTION))
    new_workspaces(app)
    app.sim.page_size = 2  # the listing is paged: every page is read

    report = sweep(runtime(), trigger=f"sweep:{uuid.uuid4().hex[:8]}")

    swept = {w.workspace_id.lower() for w in report.workspaces}
    assert swept == {w.lower() for w in (scene.PROD, scene.DEV, NEW, TWIN, ELSEWHERE)}
    assert report.transient_failures == ()
    for outside in (NEIGHBOUR, scene.SANDBOX):
        assert under([r.path for r in app.sim.requests], outside) == []
    assert [w for w in written(app) if "mlw-new/" in w.lower() and "rg-ml2" in w.lower()] == []


def test_exclusions_carve_out_of_a_subscription_scope(app: App) -> None:
    scoped(app, SUBSCRIPTION, ML_SCOPE_EXCLUDE=json.dumps([scene.DEV, GROUP.upper() + "2"]))
    new_workspaces(app)

    assert workspace_event(app, scene.DEV)["Outcome"] == "out-of-scope"
    assert workspace_event(app, NEIGHBOUR)["Outcome"] == "out-of-scope"
    assert workspace_event(app, NEW)["Outcome"] == "reconciled"
    report = sweep(runtime(), trigger="sweep:exclusions")
    swept = {w.workspace_id.lower() for w in report.workspaces}
    assert swept == {w.lower() for w in (scene.PROD, NEW, TWIN, scene.SANDBOX)}


@pytest.mark.parametrize("carved", [False, True], ids=["a group beside", "an excluded group"])
def test_a_management_group_scope_follows_the_hierarchy_arm_reports(app: App, carved: bool) -> None:
    app.sim.management.add_group("mg-root")
    app.sim.management.add_group("mg-landing-zones", parent="mg-root")
    app.sim.management.add_group("corp", parent="mg-landing-zones")
    # The other subscription beside the scope's group, or in a group under it, carved out.
    app.sim.management.add_group(
        "mg-landing-zones2", parent="mg-landing-zones" if carved else "mg-root"
    )
    app.sim.management.place_subscription(scene.ML_SUBSCRIPTION, "corp")
    app.sim.management.place_subscription(OTHER_SUBSCRIPTION, "mg-landing-zones2")
    scoped(app, MG, ML_SCOPE_EXCLUDE=json.dumps([f"{MG}2"] if carved else []))
    new_workspaces(app)

    assert workspace_event(app, NEW)["Outcome"] == "reconciled"
    assert workspace_event(app, ELSEWHERE)["Outcome"] == "out-of-scope"
    assert [r.route for r in app.sim.requests].count("management.descendants") == 1 + carved, (
        "each group's membership is read once and kept for the process"
    )
    report = sweep(runtime(), trigger="sweep:mg")
    swept = {w.workspace_id.lower() for w in report.workspaces}
    assert swept == {
        w.lower() for w in (scene.PROD, scene.DEV, NEW, NEIGHBOUR, TWIN, scene.SANDBOX)
    }
    assert under(written(app), ELSEWHERE) == []


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_management_group_holds_only_what_arm_lists_under_it(
    app: App, data: st.DataObject
) -> None:
    # mg-landing-zones holds corp (the ML subscription) and the other subscription. Asked for its
    # descendants, ARM answers with one whose parent is another group (or says none): that is
    # another group's member, and the group's membership, which decides the scope, is not read.
    corp = f"{MG[: -len('mg-landing-zones')]}corp"
    app.sim.management.add_group("mg-landing-zones")
    app.sim.management.add_group("corp", parent="mg-landing-zones")
    app.sim.management.place_subscription(scene.ML_SUBSCRIPTION, "corp")
    app.sim.management.place_subscription(OTHER_SUBSCRIPTION, "mg-landing-zones")
    which = data.draw(st.sampled_from(["corp", scene.ML_SUBSCRIPTION, OTHER_SUBSCRIPTION]))
    parent = MG if which != scene.ML_SUBSCRIPTION else corp
    answered = data.draw(st.one_of(answers_for(parent), st.sampled_from([MG, corp, None])))

    def answer(body: dict[str, Any]) -> None:
        (item,) = [i for i in body["value"] if i["name"] == which]
        assert item["properties"]["parent"]["id"].lower() == parent.lower()
        item["properties"]["parent"] = {} if answered is None else {"id": answered}

    app.sim.rewrite_reply("management.descendants", answer)
    read = EstateAdapter(runtime().clients).subscriptions_under

    under = [MG] if which == "corp" else [MG, corp]
    if answered is not None and answered.isascii() and answered.lower() in map(str.lower, under):
        assert read(MG) == {scene.ML_SUBSCRIPTION, OTHER_SUBSCRIPTION}
    else:
        with pytest.raises(MalformedResponseError, match=f"asked for descendants of {MG}"):
            read(MG)


def test_the_tag_is_read_from_arm_never_taken_from_the_event(app: App) -> None:
    scoped(app, GROUP, ML_SCOPE_TAG="automation=on")
    app.sim.ml.add_workspace(NEW, tags={"Automation": "on"})
    app.sim.ml.add_workspace(TWIN, tags={"automation": "off"})
    app.sim.reset_counts()

    assert workspace_event(app, NEW)["Outcome"] == "reconciled"
    # The event claims the tag; ARM says otherwise.
    claimed = workspace_event(app, TWIN, tags={"automation": "on"}, claims={"automation": "on"})
    assert claimed["Outcome"] == "out-of-scope"
    # Asked for the twin's tags, ARM answers with the tagged workspace: not the twin's tags.
    tagged = {"id": NEW, "name": "mlw-new", "tags": {"automation": "on"}}
    app.sim.rewrite_reply("aml.workspace.get", lambda body: body.update(tagged))
    answered = workspace_event(app, TWIN)
    assert answered["Outcome"] == "failed"
    assert "scope could not be decided" in answered["Reason"]
    assert under(written(app), TWIN) == []
    report = sweep(runtime(), trigger="sweep:tag")
    assert {w.workspace_id.lower() for w in report.workspaces} == {NEW.lower()}


@pytest.mark.parametrize("answered", [5, True, [NEW], {"id": NEW}], ids=repr)
def test_a_workspace_answered_with_an_id_that_is_no_text_is_not_the_one_asked_for(
    app: App, answered: object
) -> None:
    # Azure answers the scope read with an `id` of another JSON type: no workspace's, said so.
    scoped(app, GROUP, ML_SCOPE_TAG="automation=on")
    app.sim.ml.add_workspace(TWIN, tags={"automation": "on"})
    app.sim.rewrite_reply("aml.workspace.get", lambda body: body.update(id=answered))

    record = workspace_event(app, TWIN)

    assert record["Outcome"] == "failed"
    assert f"asked for workspace {TWIN}, Azure answered {str(answered)!r}" in record["Reason"]
    assert under(written(app), TWIN) == []


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(credential=placed(300, before=8))
def test_a_workspace_answered_with_another_id_records_no_piece_of_a_credential(
    app: App, credential: tuple[str, str]
) -> None:
    # Azure's ID is told cut to 300 characters; the ledger redacts only after that cut.
    answered, secret = credential
    scoped(app, GROUP, ML_SCOPE_TAG="automation=on")
    app.sim.ml.add_workspace(TWIN, tags={"automation": "on"})
    app.sim.rewrite_reply("aml.workspace.get", lambda body: body.update(id=answered))

    record = workspace_event(app, TWIN)

    assert "Azure answered" in record["Reason"]
    assert leaked(secret, record["Reason"]) is None, record["Reason"]


def test_a_scope_that_cannot_be_decided_writes_nothing(app: App) -> None:
    scoped(app, GROUP, ML_SCOPE_TAG="automation=on")
    app.sim.ml.add_workspace(NEW, tags={"automation": "on"})
    app.sim.reset_counts()

    app.sim.inject("aml.workspace.get", status=403, code="AuthorizationFailed")
    record = workspace_event(app, NEW)
    assert record["Outcome"] == "failed"
    assert "scope could not be decided" in record["Reason"]
    assert written(app) == []

    app.sim.inject("aml.workspace.get", status=503, times=10)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - Event Grid redelivers on any raise
        workspace_event(app, NEW)
    assert "503" in str(raised.value) or "Service" in str(raised.value)
    assert written(app) == []


def test_a_sweep_that_cannot_list_a_scope_says_so_and_still_does_the_rest(app: App) -> None:
    scoped(app, GROUP, scene.SANDBOX)
    # ARM's lists are the sweep's inventory when Resource Graph refuses (5 tries: 4 retries).
    app.sim.inject("resourcegraph.query", status=503, times=5, retry_after=0.001)
    app.sim.inject("aml.workspace.list", status=503, times=10)

    report = sweep(runtime(), trigger="sweep:unlisted")

    assert {w.workspace_id.lower() for w in report.workspaces} == {scene.SANDBOX.lower()}
    assert len(report.transient_failures) == 1
    assert "rg-ml could not be read (transient)" in report.transient_failures[0]


def test_retraining_runs_in_a_workspace_that_a_container_scope_holds(app: App) -> None:
    from tools import retraining_scene as rs

    rs.seed_retraining(app.sim)
    app.set_settings(**rs.retraining_settings(), ML_SCOPES=json.dumps([GROUP]), ML_WORKSPACE_IDS="")
    app.sim.reset_counts()

    app.deliver(rs.monitor_breach_event(), "on_ml_event")

    assert len(app.sim.ml.job_puts) == 1
    outside = rs.monitor_breach_event()
    outside["topic"] = scene.SANDBOX
    app.deliver(outside, "on_ml_event")
    assert app.ledger.event(outside["id"])["Outcome"] == "out-of-scope"
    assert len(app.sim.ml.job_puts) == 1


def _tag(app: App, workspace_id: str, value: str) -> None:
    body = app.sim.arm.get(workspace_id)
    assert body is not None
    app.sim.arm.put(workspace_id, {**body, "tags": {"automation": value}})


@pytest.mark.parametrize("trigger", ["drift", "completion", "timer"])
@pytest.mark.parametrize("rule", ["tag", "excluded group"])
def test_retraining_writes_nothing_to_a_workspace_the_scope_rule_leaves_out(
    app: App, trigger: str, rule: str
) -> None:
    # RETRAIN_WORKSPACE_IDS is checked at start-up as far as the IDs tell; ARM tells the rest
    # (the workspace's tag, its subscription's management group) at each trigger, as for any
    # other write. Left out: a drift event, a completion and the timer write nothing.
    from tests.retraining import completed_event
    from tools import host
    from tools import retraining_scene as rs

    rs.seed_retraining(app.sim)
    app.sim.management.add_group("mg-landing-zones")
    app.sim.management.add_group("corp", parent="mg-landing-zones")
    app.sim.management.place_subscription(scene.ML_SUBSCRIPTION, "corp")
    _tag(app, scene.PROD, "on")
    scope = {"ML_SCOPES": json.dumps([MG]), "ML_SCOPE_TAG": "automation=on"}
    app.set_settings(**rs.retraining_settings(), **scope)
    # In scope until now (a retrain of the app completed, for the completion event).
    event = completed_event(app) if trigger == "completion" else rs.monitor_breach_event()
    if rule == "tag":
        _tag(app, scene.PROD, "off")
    else:
        corp = f"{MG[: -len('mg-landing-zones')]}corp"
        app.set_settings(**rs.retraining_settings(), **scope, ML_SCOPE_EXCLUDE=json.dumps([corp]))
    app.sim.reset_counts()

    if trigger == "timer":
        host.fire_timer("scheduled_retrain")
    else:
        app.deliver(event, "on_ml_event")
        assert app.ledger.event(event["id"])["Outcome"] == "out-of-scope"
    assert written(app) == []
