"""Transport guards: tokens and evidence stay on the configured endpoints, reads are bounded,
and a response of the wrong shape is a recorded, permanent error. For every client: the
approval's, retraining's (azure-ai-ml and ARM), the drift query's and scoring's.

Everything runs the real SDK clients over HTTPS against the simulator. Another origin is easy to
reach there: the simulator's certificate also covers `localhost`, so `https://localhost:<port>`
is the same server under another host (which would answer, with the real data, if a client went
there), and a plain TCP listener on another port sees any connection attempt at all.
"""

from __future__ import annotations

import contextlib
import socket
import string
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import AzureError, HttpResponseError, ODataV4Format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from shared.adapters.authorization import AuthorizationAdapter
from shared.adapters.errors import describe
from shared.adapters.synapse import SynapseAdapter
from shared.adapters.transport import (
    MAX_PAGES,
    RETRY_AFTER_CAP_SECONDS,
    EndpointGuardPolicy,
    ForeignEndpointError,
    MalformedResponseError,
    PagingError,
    RetryAfterCapPolicy,
    json_object,
    json_pages,
    malformed_is_permanent,
    pinned_pipeline,
)
from shared.adapters.workspace_facts import WorkspaceFactsAdapter
from shared.arm import ArmId
from shared.config import get_settings, origin_of
from shared.ml_events import APP_TAG
from shared.model import ConnectionStatus
from shared.runtime import runtime
from simulator import AzureSimulator
from tests.conftest import App
from tests.credentials import leaked, placed
from tests.retraining import (
    completed_event,
    deliver_ml_event,
    event_outcome,
    our_jobs,
    recorded_actions,
)
from tools import host, scene
from tools import retraining_scene as rs

pytestmark = pytest.mark.slow

PROD = ArmId(scene.PROD)
ANALYTICS = ArmId(scene.ANALYTICS)
MPE_PATH = "/synapse-dev/syn-analytics/managedVirtualNetworks/default/managedPrivateEndpoints"
MPE_QUERY = "?api-version=2020-12-01"


class Listener:
    """A TCP port that counts the connections made to it (and answers none)."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(8)
        self._socket.settimeout(0.2)
        self.port = self._socket.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()


def foreign_base(kind: str, sim: AzureSimulator, listener: Listener) -> str:
    """Another origin than the simulator's https://127.0.0.1:<port>: host, port or scheme."""
    return {
        "host": sim.foreign_url,
        "port": f"https://127.0.0.1:{listener.port}",
        "scheme": f"http://127.0.0.1:{listener.port}",
    }[kind]


def nothing_reached(sim: AzureSimulator, listener: Listener) -> None:
    assert sim.requests_to("localhost") == [], "a request went to the foreign host"
    assert listener.connections == 0, "a connection was made to the foreign port"


def prod_event(app: App) -> dict[str, Any]:
    verified = app.connection("listed by allow-listed")
    return scene.resource_write_event(
        f"{verified.workspace_id}/privateEndpointConnections/{verified.name}",
        scene.CONNECTION_WRITE,
    )


def leave_pending_reasons(app: App, workspace_id: str = scene.PROD) -> list[str]:
    return [
        a["Reason"] for a in app.ledger.actions(workspace_id) if a["Verdict"] == "leave-pending"
    ]


# --- the guard itself -------------------------------------------------------------------------

ALLOWED = "https://127.0.0.1:8443"
_hosts = st.sampled_from(
    ["127.0.0.1", "localhost", "127.0.0.2", "127.0.0.1.nip.io", "evil.example", "[::1]"]
)


@given(
    scheme=st.sampled_from(["https", "http", "HTTPS", "ftp"]),
    host_name=_hosts,
    port=st.sampled_from([None, 443, 8443, 8444, 80]),
    path=st.sampled_from(["", "/", "/subscriptions/x?api-version=1", "/@evil.example/"]),
)
def test_the_guard_lets_through_only_the_configured_origin(
    scheme: str, host_name: str, port: int | None, path: str
) -> None:
    guard = EndpointGuardPolicy(ALLOWED)
    url = f"{scheme}://{host_name}{'' if port is None else f':{port}'}{path}"
    same = scheme.lower() == "https" and host_name == "127.0.0.1" and port == 8443
    if same:
        guard.check(url)
    else:
        with pytest.raises(ForeignEndpointError):
            guard.check(url)


@given(
    userinfo=st.sampled_from(["user@", "user:pw@", "127.0.0.1:8443@"]),
)
def test_the_guard_refuses_credentials_in_the_url(userinfo: str) -> None:
    with pytest.raises(ForeignEndpointError):
        EndpointGuardPolicy(ALLOWED).check(f"https://{userinfo}127.0.0.1:8443/x")


@given(secret=st.text(alphabet=string.ascii_letters + string.digits + "-._~%!$&'()*+,;=:"))
def test_the_guards_refusal_never_repeats_a_credential_in_the_url(secret: str) -> None:
    # A nextLink is the service's choice: its user info must not reach a log or the ledger.
    for url in (f"https://u:pw-{secret}@127.0.0.1:8443/x", f"https://u:pw-{secret}@[/x"):
        with pytest.raises(ForeignEndpointError) as refused:
            EndpointGuardPolicy(ALLOWED).check(url)
        assert f"pw-{secret}" not in str(refused.value)


def test_default_ports_are_the_same_origin() -> None:
    assert origin_of("https://Management.Azure.com") == origin_of(
        "https://management.azure.com:443/subscriptions"
    )
    assert origin_of("https://a.example") != origin_of("http://a.example")


@dataclass
class _Response:
    headers: Any


@dataclass
class _PipelineResponse:
    http_response: _Response


@given(
    seconds=st.floats(min_value=0, max_value=10**7, allow_nan=False),
    header=st.sampled_from(["retry-after", "retry-after-ms", "x-ms-retry-after-ms"]),
)
def test_no_retry_after_longer_than_the_cap_reaches_the_retry_policy(
    seconds: float, header: str
) -> None:
    from azure.core.pipeline.policies import RetryPolicy

    value = seconds * 1000 if header != "retry-after" else seconds
    response = _PipelineResponse(_Response(CaseInsensitiveDict({header: f"{value:g}"})))
    RetryAfterCapPolicy().on_response(None, response)  # type: ignore[arg-type]

    waited = RetryPolicy().get_retry_after(response)  # type: ignore[arg-type]
    assert waited is not None
    assert waited <= RETRY_AFTER_CAP_SECONDS + 1e-9
    # Short waits the service asks for are kept as they are.
    asked = float(f"{value:g}") / (1 if header == "retry-after" else 1000)
    assert waited == pytest.approx(min(asked, RETRY_AFTER_CAP_SECONDS))


@pytest.mark.parametrize("value", ["nan", "inf", "1e400"])
def test_a_retry_after_that_is_no_number_of_seconds_is_capped(value: str) -> None:
    headers = CaseInsensitiveDict({"Retry-After": value})
    RetryAfterCapPolicy().on_response(None, _PipelineResponse(_Response(headers)))  # type: ignore[arg-type]
    assert headers["Retry-After"] == f"{RETRY_AFTER_CAP_SECONDS:g}"


def test_an_http_date_retry_after_is_capped_too() -> None:
    from email.utils import format_datetime

    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    headers = CaseInsensitiveDict({"Retry-After": later})
    RetryAfterCapPolicy().on_response(None, _PipelineResponse(_Response(headers)))  # type: ignore[arg-type]
    assert headers["Retry-After"] == f"{RETRY_AFTER_CAP_SECONDS:g}"


# Links a service may chain, and which page each one is.
_PAGES = {
    f"{ALLOWED}/list?api-version=1": "first",
    f"{ALLOWED}/LIST?api-version=2": "first",  # path case and api-version do not count
    f"{ALLOWED}/list?a=1&b=2": "a-b",
    f"{ALLOWED}/list?b=2&a=1&api-version=1": "a-b",  # nor does the order of the query
    f"{ALLOWED}/list?page=3": "3",
    f"{ALLOWED}/list?page=4": "4",
    f"{ALLOWED}/list?page=5": "5",
    # Another origin is another page (the endpoint guard refuses it, not the paging bounds).
    "https://localhost:8443/list?api-version=1": "elsewhere",
}
_FIRST = next(iter(_PAGES))


@given(
    links=st.lists(st.sampled_from([*_PAGES, None]), min_size=1, max_size=12),
    max_pages=st.integers(min_value=1, max_value=8),
)
def test_a_paged_read_never_asks_for_a_page_twice_nor_for_too_many(
    links: list[str | None], max_pages: int
) -> None:
    """However a service chains its nextLinks (`links[i]` on the i-th page), a read asks for no
    page twice and for at most `max_pages` pages, and it is stopped (`PagingError`) only when
    the next link would break one of these rules."""
    from azure.core.pipeline import PipelineContext, PipelineRequest, PipelineResponse
    from azure.core.rest import HttpRequest

    from shared.adapters.transport import PagingPolicy

    policy = PagingPolicy()
    read: list[str] = []
    url = _FIRST
    for link in links:
        request = PipelineRequest(
            HttpRequest("GET", url), PipelineContext(None, paging_max_pages=max_pages)
        )
        over_limit = len(read) == max_pages
        try:
            policy.on_request(request)
        except PagingError:
            assert over_limit, read
            return
        assert not over_limit, read
        read.append(_PAGES[url])

        body = '{"value": []' + ("" if link is None else f', "nextLink": "{link}"') + "}"
        response = _Response(CaseInsensitiveDict())
        response.text = lambda body=body: body  # type: ignore[attr-defined]
        repeats = link is not None and _PAGES[link] in read
        try:
            policy.on_response(request, PipelineResponse(request.http_request, response, None))  # type: ignore[arg-type]
        except PagingError:
            assert repeats, (read, link)
            return
        assert not repeats, (read, link)
        if link is None:
            return
        url = link


# --- requests and tokens go only to the configured origins ------------------------------------


@pytest.mark.parametrize("kind", ["host", "port", "scheme"])
@pytest.mark.parametrize("how", ["nextLink", "redirect"])
def test_synapse_evidence_from_another_origin_is_refused_and_approves_nothing(
    app: App, listener: Listener, kind: str, how: str
) -> None:
    foreign = foreign_base(kind, app.sim, listener) + MPE_PATH + MPE_QUERY
    if how == "nextLink":
        # The real endpoint's first page is empty and points elsewhere for "the rest", where
        # the real list (which would verify the connection) would be served.
        app.sim.inject_reply("synapse.mpe.list", body={"value": [], "nextLink": foreign})
    else:
        app.sim.inject_reply("synapse.mpe.list", status=307, headers={"Location": foreign})
    payload = prod_event(app)

    app.deliver(payload)

    nothing_reached(app.sim, listener)
    assert app.status(app.connection("listed by allow-listed")) == "Pending"
    assert [w for w in app.sim.writes() if w.route != "eventgrid.publish"] == []
    record = app.ledger.event(payload["id"])
    assert record is not None
    assert record["Outcome"] == "reconciled"
    reasons = leave_pending_reasons(app)
    assert reasons
    assert all("ForeignEndpointError" in reason for reason in reasons), reasons


def test_without_the_foreign_link_the_same_connection_is_approved(app: App) -> None:
    """The control for the test above: the foreign link is what stops the approval."""
    app.deliver(prod_event(app))
    assert app.status(app.connection("listed by allow-listed")) == "Approved"


_LIST = MPE_PATH.removeprefix("/synapse-dev/syn-analytics")
# Another workspace's list (any case), a child or parent of this one's: never this one's pages.
_other_paths = st.one_of(
    st.sampled_from(["syn-partner", "SYN-PARTNER", "syn-analytics2", "syn-analytic"]).map(
        lambda workspace: f"/synapse-dev/{workspace}{_LIST}"
    ),
    st.sampled_from(["/x", "/", "%2F..%2Fsyn-partner", "/../../syn-partner" + _LIST]).map(
        lambda tail: MPE_PATH + tail
    ),
    st.just(MPE_PATH.removesuffix("/managedPrivateEndpoints")),
)


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=_other_paths)
def test_a_next_link_to_another_path_on_the_same_origin_is_never_its_evidence(
    app: App, path: str
) -> None:
    """A data plane served under a path per workspace (SYNAPSE_DEV_ENDPOINT with `{workspace}` in
    its path) shares one origin: allow-listed syn-analytics' "next page" must not be read from
    another path, such as syn-partner's list, whose endpoint would pass as syn-analytics'."""
    app.sim.inject_reply(
        "synapse.mpe.list", body={"value": [], "nextLink": app.sim.url + path + MPE_QUERY}
    )
    app.sim.reset_counts()
    rogue = app.connection("listed by syn-partner")

    app.deliver(
        scene.resource_write_event(
            f"{rogue.workspace_id}/privateEndpointConnections/{rogue.name}",
            scene.CONNECTION_WRITE,
        )
    )

    assert app.status(rogue) == "Pending"
    listed = [r.path for r in app.sim.requests if r.route == "synapse.mpe.list"]
    assert listed == [MPE_PATH], listed
    assert any(
        "nextLink leaves" in reason for reason in leave_pending_reasons(app, rogue.workspace_id)
    )


@pytest.mark.parametrize(
    ("route", "how", "read"),
    [
        (
            "aml.compute.list",
            "nextLink",
            lambda rt: WorkspaceFactsAdapter(rt.clients).computes(PROD),
        ),
        (
            "authz.ra.list",
            "nextLink",
            lambda rt: AuthorizationAdapter(rt.clients).list_at_scope(scene.PROD),
        ),
        (
            "authz.pe.list",
            "nextLink",
            lambda rt: WorkspaceFactsAdapter(rt.clients).policy_exemptions(PROD),
        ),
        (
            "authz.pe.list",
            "redirect",
            lambda rt: WorkspaceFactsAdapter(rt.clients).policy_exemptions(PROD),
        ),
        ("aml.workspace.get", "redirect", lambda rt: rt.machine_learning_workspace(scene.PROD)),
        (
            "synapse.workspace.get",
            "redirect",
            lambda rt: SynapseAdapter(rt.clients).get_workspace(ANALYTICS),
        ),
        (
            "network.pe.get",
            "redirect",
            lambda rt: rt.network.private_link_targets(ArmId(scene.private_endpoint_id("pe-x"))),
        ),
        (
            "aml.pec.put",
            "redirect",
            lambda rt: rt.machine_learning.set_connection_state(
                scene.PROD, "any", ConnectionStatus.APPROVED, "approved"
            ),
        ),
    ],
)
def test_every_arm_client_refuses_links_to_another_host(
    app: App, route: str, how: str, read: Any
) -> None:
    foreign = app.sim.foreign_url + "/subscriptions/x/resourceGroups/y?api-version=2023-04-01"
    if how == "nextLink":
        app.sim.inject_reply(route, body={"value": [], "nextLink": foreign})
    else:
        app.sim.inject_reply(route, status=307, headers={"Location": foreign})

    rt = runtime()
    with pytest.raises(ForeignEndpointError):
        read(_with_workspace_read(rt))

    assert app.sim.requests_to("localhost") == []
    assert app.sim.count(route) == 1


def _with_workspace_read(rt: Any) -> Any:
    """The runtime, plus a plain read of an AML workspace through the ML client."""

    class Reads:
        def __getattr__(self, name: str) -> Any:
            return getattr(rt, name)

        def machine_learning_workspace(self, workspace_id: str) -> Any:
            return WorkspaceFactsAdapter(rt.clients).workspace(ArmId(workspace_id))

    return Reads()


def test_a_long_running_operation_polled_at_another_host_is_refused(app: App) -> None:
    status_url = app.sim.foreign_url + "/subscriptions/x/providers/op?api-version=2023-04-01"
    compute = app.sim.ml.compute(scene.PROD, "cpu-cluster")
    compute["properties"]["provisioningState"] = "Updating"
    app.sim.inject_reply(
        "aml.compute.patch",
        body=compute,
        headers={"Azure-AsyncOperation": status_url, "Retry-After": "0"},
    )
    facts = WorkspaceFactsAdapter(runtime().clients)

    with pytest.raises(ForeignEndpointError):
        facts.set_max_nodes(ArmId(scene.PROD), "cpu-cluster", 4)

    assert app.sim.requests_to("localhost") == []


def test_the_outcome_publisher_refuses_a_redirect_to_another_host(app: App) -> None:
    app.sim.inject_reply(
        "eventgrid.publish",
        status=307,
        headers={"Location": app.sim.foreign_url + "/eventgrid-topic/api/events"},
    )

    app.deliver(prod_event(app))

    assert app.sim.requests_to("localhost") == []
    # The approval's events were refused (a later publish, of the role assignment, went on).
    kinds = {event["data"]["kind"] for event in app.sim.eventgrid.published_events}
    assert "private-endpoint-connection" not in kinds
    # The decision itself was taken and recorded; only its announcement was refused.
    assert app.status(app.connection("listed by allow-listed")) == "Approved"


def test_the_ledger_refuses_a_redirect_to_another_host(app: App) -> None:
    from azure.core.exceptions import ResourceExistsError

    from shared.config import LedgerSettings
    from shared.ledger import open_ledger
    from simulator.server import Reply, route

    location = app.sim.foreign_url + "/Tables"
    app.sim.add_route(
        route(
            "POST",
            r"^/tables$",
            "test.tables.create",
            lambda call: Reply(307, headers={"Location": location}),
            None,
        )
    )
    settings = LedgerSettings(table_endpoint=app.sim.url, connection_string=None, table_name="t")

    with pytest.raises(ForeignEndpointError), contextlib.suppress(ResourceExistsError):
        open_ledger(settings, runtime().clients.token_credential)  # type: ignore[arg-type]

    assert app.sim.count("test.tables.create") == 1
    assert app.sim.requests_to("localhost") == []


def _foreign_redirect(app: App) -> dict[str, Any]:
    return {
        "status": 307,
        "headers": {"Location": app.sim.foreign_url + scene.PROD + "/jobs?api-version=2024-04-01"},
        "times": 5,
    }


def test_a_redirect_of_a_job_read_to_another_host_is_refused(rapp: App) -> None:
    rapp.sim.inject_reply("ml.job.get", **_foreign_redirect(rapp))
    event = rs.monitor_breach_event()

    deliver_ml_event(rapp, event)

    assert rapp.sim.requests_to("localhost") == []
    assert rapp.sim.ml.job_puts == []
    assert event_outcome(event["id"]) == "failed"


def test_azure_ml_sdk_requests_never_follow_a_redirect_to_another_host(rapp: App) -> None:
    # azure-ai-ml builds its own service clients: the app's endpoint guard must reach them too,
    # so a redirect elsewhere is refused before the request (and its ARM token) leaves.
    rapp.sim.inject_reply(
        "ml.component.version.list",
        status=307,
        headers={"Location": rapp.sim.foreign_url + "/subscriptions/x/components"},
        times=5,
    )
    rapp.sim.inject_reply(
        "ml.component.version.get",
        status=307,
        headers={"Location": rapp.sim.foreign_url + "/subscriptions/x/components"},
        times=5,
    )
    event = rs.monitor_breach_event()

    deliver_ml_event(rapp, event)

    assert rapp.sim.requests_to("localhost") == []
    assert rapp.sim.ml.job_puts == []
    assert event_outcome(event["id"]) != "retraining-submitted"


@pytest.mark.parametrize("kind", ["host", "port", "scheme"])
def test_a_job_answered_as_a_local_run_sends_no_token_to_its_execution_service(
    rapp: App, listener: Listener, kind: str
) -> None:
    # A job answer with a local-run contract makes azure-ai-ml POST an ARM token to the URL in
    # it (its Execution Service) on a pipeline of its own, then run the script it answers.
    execution = foreign_base(kind, rapp.sim, listener) + "/execution/run?a=1&fake=%7B%7D"

    def local_run(body: dict[str, Any]) -> None:
        body["properties"]["services"] = {"Local": {"endpoint": execution}}

    rapp.sim.rewrite_reply("ml.job.put", local_run)
    event = rs.monitor_breach_event()

    deliver_ml_event(rapp, event)

    nothing_reached(rapp.sim, listener)
    assert event_outcome(event["id"]) == "failed"
    [record] = [a for a in recorded_actions("retraining") if a["Verdict"] == "submit"]
    assert "not a configured endpoint" in record["Outcome"]


def test_every_pipeline_azure_ai_ml_builds_refuses_another_origin(
    rapp: App, listener: Listener
) -> None:
    from azure.core.rest import HttpRequest

    ml = runtime().clients.ml_client(scene.PROD)
    # Its service clients and its own general-purpose pipeline (local runs, discovery URLs).
    sends = [ml._requests_pipeline.get] + [
        lambda url, client=client: client._client.send_request(HttpRequest("GET", url))
        for name, client in vars(ml).items()
        if name.startswith("_service_client")
    ]
    assert len(sends) > 10

    @given(
        kind=st.sampled_from(["host", "port", "scheme"]),
        path=st.text(string.ascii_letters + "/-_.", max_size=30),
        send=st.sampled_from(sends),
    )
    def refused(kind: str, path: str, send: Any) -> None:
        with pytest.raises(ForeignEndpointError):
            send(foreign_base(kind, rapp.sim, listener) + "/" + path)

    refused()
    nothing_reached(rapp.sim, listener)


@pytest.mark.parametrize("route", ["ml.batch_endpoint.get", "ml.scoring.invoke"])
def test_a_redirect_from_the_batch_endpoint_or_scoring_uri_gets_no_token_elsewhere(
    rapp: App, route: str
) -> None:
    event = completed_event(rapp)
    rapp.sim.inject_reply(route, **_foreign_redirect(rapp))

    deliver_ml_event(rapp, event)

    assert rapp.sim.requests_to("localhost") == []
    assert our_jobs(rapp, "scoring") == []
    [refused] = recorded_actions("batch-scoring")
    assert refused["Outcome"].startswith("failed:")
    assert "not a configured endpoint" in refused["Outcome"]


def test_a_redirect_of_the_drift_query_is_refused_and_the_gate_stays_shut(app: App) -> None:
    rs.seed_retraining(app.sim)
    app.set_settings(**_gated_settings())
    app.sim.logs.set_result(rs.DRIFT_WORKSPACE, [[0.9]])
    app.sim.inject_reply(
        "logs.query",
        status=307,
        headers={"Location": app.sim.foreign_url + "/v1/workspaces/x/query"},
        times=5,
    )

    host.fire_timer("scheduled_retrain")

    assert app.sim.requests_to("localhost") == []
    assert our_jobs(app, "retraining") == []
    [gate] = recorded_actions("drift-gate")
    assert gate["Verdict"] == "hold"
    assert "not a configured endpoint" in gate["Reason"]


def test_http_scoring_never_follows_a_redirect_of_the_endpoint_read(app: App) -> None:
    from tests.test_scoring_http_e2e import _json, post
    from tools import scoring_scene as ss

    ss.seed(app.sim)
    app.set_settings(**ss.settings_env())
    app.sim.inject_reply("ml.batch_endpoint.get", **_foreign_redirect(app))

    response = post()

    assert response.status_code == 502
    assert "not a configured endpoint" in _json(response)["detail"]
    assert app.sim.requests_to("localhost") == []
    assert app.sim.ml.scoring_posts == []


# --- bounded reads: page limits, repeated links, deadlines, Retry-After caps ------------------


def test_a_self_referencing_synapse_next_link_stops_the_read(app: App) -> None:
    own = app.sim.url + MPE_PATH + MPE_QUERY
    app.sim.inject_reply("synapse.mpe.list", body={"value": [], "nextLink": own}, times=50)
    payload = prod_event(app)

    started = time.monotonic()
    app.deliver(payload)

    assert time.monotonic() - started < 10
    # A link back to the page just read is caught before it is requested again.
    assert app.sim.count("synapse.mpe.list") == 1
    assert app.status(app.connection("listed by allow-listed")) == "Pending"
    assert any("nextLink repeats" in reason for reason in leave_pending_reasons(app))


def test_a_synapse_next_link_cycle_stops_the_read(app: App) -> None:
    first = app.sim.url + MPE_PATH + MPE_QUERY
    second = first + "&$skipToken=1"
    app.sim.inject_reply("synapse.mpe.list", body={"value": [], "nextLink": second})
    app.sim.inject_reply("synapse.mpe.list", body={"value": [], "nextLink": first}, times=50)

    app.deliver(prod_event(app))

    assert app.sim.count("synapse.mpe.list") == 2
    assert any("nextLink repeats" in reason for reason in leave_pending_reasons(app))


@pytest.mark.parametrize(
    ("route", "path", "read", "requests"),
    [
        # The link is the URL of the page just read: it is never requested again.
        (
            "aml.compute.list",
            f"{scene.PROD}/computes",
            lambda rt: WorkspaceFactsAdapter(rt.clients).computes(PROD),
            1,
        ),
        # The first page was asked with `$filter=atScope()`: the link is another page, read
        # once; its link back to itself is not followed.
        (
            "authz.ra.list",
            f"{scene.PROD}/providers/Microsoft.Authorization/roleAssignments",
            lambda rt: AuthorizationAdapter(rt.clients).list_at_scope(scene.PROD),
            2,
        ),
        (
            "authz.pe.list",
            f"{scene.PROD}/providers/Microsoft.Authorization/policyExemptions",
            lambda rt: WorkspaceFactsAdapter(rt.clients).policy_exemptions(PROD),
            1,
        ),
    ],
)
def test_a_self_referencing_arm_next_link_stops_the_read(
    app: App, route: str, path: str, read: Any, requests: int
) -> None:
    own = f"{app.sim.url}{path}?api-version=2023-04-01"
    app.sim.inject_reply(route, body={"value": [], "nextLink": own}, times=50)

    with pytest.raises(PagingError, match="nextLink repeats"):
        read(runtime())

    assert app.sim.count(route) == requests


def test_a_synapse_list_longer_than_the_page_limit_is_an_incomplete_read(app: App) -> None:
    app.sim.page_size = 1
    for number in range(MAX_PAGES + 1):
        app.sim.synapse.add_managed_private_endpoint(
            scene.ANALYTICS,
            f"mpe-filler-{number:03d}",
            private_link_resource_id=scene.SANDBOX,
            resource_id=scene.private_endpoint_id(f"pe-filler-{number:03d}"),
        )

    app.deliver(prod_event(app))

    assert app.sim.count("synapse.mpe.list") == MAX_PAGES
    assert app.status(app.connection("listed by allow-listed")) == "Pending"
    assert any(f"more than {MAX_PAGES} pages" in r for r in leave_pending_reasons(app))


def test_a_paged_read_stops_at_its_deadline(app: App) -> None:
    app.sim.page_size = 1
    credential = runtime().clients.token_credential
    client = pinned_pipeline(
        app.sim.url + "/synapse-dev/syn-analytics",
        credential,
        "https://dev.azuresynapse.net/.default",
    )
    del credential

    with pytest.raises(PagingError, match="not done after"):
        list(
            json_pages(
                client,
                client.format_url("/managedVirtualNetworks/default/managedPrivateEndpoints"),
                {"api-version": "2020-12-01"},
                what="test",
                deadline_seconds=0.0,
            )
        )
    assert app.sim.count("synapse.mpe.list") == 1


def _retry_wait(app: App, route: str) -> float:
    """How long the client waited to retry `route` after its 429: the gap between the two
    requests' arrivals at the simulator (the rest of the call's time, which a slower machine
    stretches, left out)."""
    throttled, retry = [r for r in app.sim.requests if r.route == route][:2]
    assert throttled.status == 429, throttled
    return retry.at - throttled.at


def test_a_long_retry_after_is_capped(app: App) -> None:
    app.sim.inject("aml.pec.list", status=429, retry_after=25, times=1)

    app.deliver(prod_event(app))

    assert app.sim.count("aml.pec.list") == 2
    waited = _retry_wait(app, "aml.pec.list")
    assert waited < 15, f"waited {waited:.1f} s for a Retry-After of 25 s"
    assert app.status(app.connection("listed by allow-listed")) == "Approved"


def _tables_route(app: App) -> None:
    from simulator.server import Reply, route

    app.sim.add_route(
        route(
            "POST",
            r"^/throttled/tables$",
            "test.tables.throttled",
            lambda call: Reply(204),
            None,
            needs_api_version=False,
        )
    )


def _open_ledger(app: App) -> None:
    from shared.config import LedgerSettings
    from shared.ledger import open_ledger

    # An account of its own (`open_ledger` keeps one ledger per settings value; the simulator
    # keeps the routes tests add).
    settings = LedgerSettings(
        table_endpoint=f"{app.sim.url}/throttled", connection_string=None, table_name="t"
    )
    open_ledger(settings, runtime().clients.token_credential)  # type: ignore[arg-type]


def _drift_settings(app: App) -> None:
    from tools import retraining_scene as rs

    app.set_settings(**rs.retraining_settings(DRIFT_LOG_ANALYTICS_WORKSPACE_ID=rs.DRIFT_WORKSPACE))
    app.sim.logs.set_result(rs.DRIFT_WORKSPACE, [[0.9]])


def _query_drift(app: App) -> None:
    from shared.adapters.drift_query import DriftQueryAdapter
    from tools import retraining_scene as rs

    reading = DriftQueryAdapter(runtime().clients).read(rs.DRIFT_WORKSPACE, "T | take 1")
    assert reading.rows == [[0.9]], reading


@pytest.mark.parametrize(
    ("route", "setup", "call"),
    [
        # The Tables client and the basic-topic Event Grid publisher build their own retry
        # policy, whatever they are given: the cap reaches them all the same.
        ("test.tables.throttled", _tables_route, _open_ledger),
        ("eventgrid.publish", lambda app: None, lambda app: app.deliver(prod_event(app))),
        ("logs.query", _drift_settings, _query_drift),
    ],
)
def test_every_client_caps_a_long_retry_after(app: App, route: str, setup: Any, call: Any) -> None:
    setup(app)
    app.sim.inject(route, status=429, retry_after=60, times=1)

    call(app)

    assert app.sim.count(route) >= 2, "the throttled request was not retried"
    waited = _retry_wait(app, route)
    assert waited < RETRY_AFTER_CAP_SECONDS + 10, f"waited {waited:.1f} s for Retry-After: 60"


def test_a_long_retry_after_from_a_job_read_is_capped(rapp: App) -> None:
    from shared.adapters.transport import RETRY_AFTER_CAP_SECONDS

    rapp.sim.inject_reply("ml.job.get", status=429, headers={"Retry-After": "60"})

    deliver_ml_event(rapp, rs.monitor_breach_event())

    assert _retry_wait(rapp, "ml.job.get") < RETRY_AFTER_CAP_SECONDS + 10
    assert len(our_jobs(rapp, "retraining")) == 1


def test_azure_ai_ml_paging_a_repeated_next_link_stops_and_submits_nothing(rapp: App) -> None:
    # azure-ai-ml reads `name@latest` as a list and follows its nextLinks itself: a link back
    # to the page just read made it loop (60 requests, until the simulator stopped answering
    # so). The MLClient's paging guard stops it at the repeat.
    loop = (
        f"{rapp.sim.url}{scene.PROD}/components/{rs.COMPONENT}/versions"
        "?api-version=2024-01-01-preview&$orderBy=createdtime desc&$top=1"
    )
    rapp.sim.inject_reply(
        "ml.component.version.list", body={"value": [], "nextLink": loop}, times=60
    )
    event = rs.monitor_breach_event()

    deliver_ml_event(rapp, event)

    lists = [r.route for r in rapp.non_token_requests()].count("ml.component.version.list")
    assert lists == 1
    assert rapp.sim.ml.job_puts == []
    assert event_outcome(event["id"]) == "failed"
    [record] = [a for a in recorded_actions("retraining") if a["Verdict"] == "submit"]
    assert "repeats an earlier page" in record["Outcome"]


def test_azure_ai_ml_paging_is_bounded_in_pages(rapp: App) -> None:
    from shared.adapters.transport import MAX_PAGES

    pages = [
        {
            "value": [],
            "nextLink": f"{rapp.sim.url}{scene.PROD}/components/{rs.COMPONENT}/versions"
            f"?api-version=2024-01-01-preview&$skipToken={index}",
        }
        for index in range(MAX_PAGES + 5)
    ]
    for page in pages:
        rapp.sim.inject_reply("ml.component.version.list", body=page)
    event = rs.monitor_breach_event()

    deliver_ml_event(rapp, event)

    lists = [r.route for r in rapp.non_token_requests()].count("ml.component.version.list")
    assert lists == MAX_PAGES
    assert rapp.sim.ml.job_puts == []
    assert event_outcome(event["id"]) == "failed"


# --- a malformed 200 is a recorded, permanent error, never raised -----------------------------

# Valid JSON, nested deeper than Python's parser goes (it raises RecursionError).
DEEP = b'{"value": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

MALFORMED: dict[str, dict[str, Any]] = {
    "a list": {"body": [{"name": "mpe"}]},
    "a string": {"body": "managed private endpoints"},
    "an object-valued value": {"body": {"value": {"name": "mpe-aml-prod"}}},
    "a list of strings": {"body": {"value": ["mpe-aml-prod"]}},
    "properties as a list": {"body": {"value": [{"name": "mpe", "properties": ["x"]}]}},
    "a nextLink object": {"body": {"value": [], "nextLink": {"href": "x"}}},
    "an HTML page": {
        "raw": b"<html><body>Sign in</body></html>",
        "headers": {"Content-Type": "text/html"},
    },
    "broken JSON": {"raw": b'{"value": [', "headers": {"Content-Type": "application/json"}},
    "JSON nested too deep": {"raw": DEEP, "headers": {"Content-Type": "application/json"}},
}


@pytest.mark.parametrize("shape", sorted(MALFORMED))
def test_a_malformed_synapse_page_is_recorded_not_raised(app: App, shape: str) -> None:
    app.sim.inject_reply("synapse.mpe.list", **MALFORMED[shape])
    payload = prod_event(app)

    app.deliver(payload)

    record = app.ledger.event(payload["id"])
    assert record is not None
    assert record["Outcome"] == "reconciled"
    assert app.status(app.connection("listed by allow-listed")) == "Pending"
    reasons = leave_pending_reasons(app)
    assert reasons
    assert all("MalformedResponseError" in r for r in reasons), reasons


@pytest.mark.parametrize("shape", ["a list", "an HTML page", "an object-valued value"])
def test_the_sweep_goes_on_past_a_malformed_synapse_page(app: App, shape: str) -> None:
    app.sim.inject_reply("synapse.mpe.list", **MALFORMED[shape])

    host.fire_timer("reconcile_all")

    # Evidence is gathered once per sweep: both workspaces were reconciled on "unreadable".
    for workspace_id in (scene.PROD, scene.DEV):
        assert any("MalformedResponseError" in r for r in leave_pending_reasons(app, workspace_id))


@pytest.mark.parametrize(
    "shape",
    ["a list", "a string", "an HTML page", "an object-valued value", "JSON nested too deep"],
)
def test_the_sweep_goes_on_past_a_malformed_arm_page(app: App, shape: str) -> None:
    # The first workspace's connection list is malformed; the next one is still reconciled.
    app.sim.inject_reply("aml.pec.list", **MALFORMED[shape])

    host.fire_timer("reconcile_all")

    not_reconciled = [a for a in app.ledger.actions(scene.PROD) if a["Verdict"] == "not-reconciled"]
    assert not_reconciled, list(app.ledger.actions(scene.PROD))
    dev = next(
        c for c in app.scene.connections if c.workspace_id == scene.DEV and c.initial != c.expected
    )
    assert app.status(dev) == "Approved"


SINGLE_READS: dict[str, Any] = {
    "aml.workspace.get": lambda rt: WorkspaceFactsAdapter(rt.clients).workspace(PROD),
    "synapse.workspace.get": lambda rt: SynapseAdapter(rt.clients).get_workspace(ANALYTICS),
    "network.pe.get": lambda rt: rt.network.private_link_targets(
        ArmId(scene.private_endpoint_id("pe-x"))
    ),
    "aml.pec.put": lambda rt: rt.machine_learning.set_connection_state(
        PROD, "any", ConnectionStatus.APPROVED, "approved"
    ),
}
LIST_READS: dict[str, Any] = {
    "aml.compute.list": lambda rt: WorkspaceFactsAdapter(rt.clients).computes(PROD),
    "authz.ra.list": lambda rt: AuthorizationAdapter(rt.clients).list_at_scope(PROD),
}
BAD_BODIES: dict[str, Any] = {
    "a list": [{"id": "/x"}],
    "a string": "resource",
    "properties as a list": {"id": "/x", "name": "x", "properties": ["not", "an object"]},
    "value as an object": {"value": {"id": "/x"}},
    "value of strings": {"value": ["/x", "/y"]},
}
BAD_RESOURCES = ("a list", "a string", "properties as a list")
BAD_LISTS = ("a list", "a string", "value as an object", "value of strings")


@pytest.mark.parametrize(
    ("route", "body"),
    [(route, body) for route in sorted(SINGLE_READS) for body in BAD_RESOURCES]
    + [(route, body) for route in sorted(LIST_READS) for body in BAD_LISTS],
)
def test_every_adapter_read_of_a_malformed_body_is_a_malformed_response(
    app: App, route: str, body: str
) -> None:
    app.sim.inject_reply(route, body=BAD_BODIES[body])
    read = {**SINGLE_READS, **LIST_READS}[route]

    with pytest.raises(MalformedResponseError):
        read(runtime())


@pytest.mark.parametrize("body", ["a list", "a string", "properties as a list"])
def test_the_sweep_goes_on_past_a_malformed_workspace(app: App, body: str) -> None:
    app.sim.inject_reply("aml.workspace.get", body=BAD_BODIES[body])

    host.fire_timer("reconcile_all")

    policy_errors = [
        a
        for a in app.ledger.actions(scene.PROD)
        if a["Kind"] != "private-endpoint-connection" and "MalformedResponseError" in a["Reason"]
    ]
    assert policy_errors, list(app.ledger.actions(scene.PROD))
    assert any(a["Kind"].startswith("policy") for a in app.ledger.actions(scene.DEV))


def test_malformed_errors_are_permanent() -> None:
    from shared.adapters.errors import describe, is_transient

    for error in (
        MalformedResponseError("x"),
        PagingError("x"),
        ForeignEndpointError("refused a request to https://evil:443"),
    ):
        assert isinstance(error, AzureError)
        assert not is_transient(error)
        assert type(error).__name__ in describe(error)


@given(
    cut=st.integers(min_value=440, max_value=520),
    secret=st.text(alphabet="QWXY ", min_size=1, max_size=20),
    kind=st.sampled_from(["http", "other"]),
)
def test_an_errors_description_repeats_no_part_of_a_credential(
    cut: int, secret: str, kind: str
) -> None:
    # Cut at the 500-character limit or at a line's end, user info no longer looks like one.
    from azure.core.exceptions import HttpResponseError, ServiceRequestError

    from shared.adapters.errors import describe

    message = "." * cut + f" https://ZZ:{secret}\nQ@h.example/ and AccountKey=QWXYQWXY"
    error = HttpResponseError(message) if kind == "http" else ServiceRequestError(message)

    shown = describe(error)

    assert not set("QWXYZ") & set(shown), shown


def test_a_refused_urls_credential_is_not_in_the_error() -> None:
    # A ledger connection string's TableEndpoint is checked here, not at start-up.
    with pytest.raises(ValueError, match="REDACTED") as raised:
        origin_of("https://admin:hunter2@127.0.0.1:10002/devstoreaccount1")
    assert "hunter2" not in str(raised.value)


HTML = b"<html><body>Service Unavailable</body></html>"


# A 200 of the wrong shape: a list, a string, an object-valued `value`, an HTML page.
MALFORMED_200S: list[dict[str, Any]] = [
    {"body": [{"name": "x"}]},
    {"body": "ok"},
    {"body": {"value": {"name": "x"}}},
    {"raw": HTML, "headers": {"Content-Type": "text/html"}},
    MALFORMED["JSON nested too deep"],
]


MALFORMED_IDS = ["list", "string", "object-value", "html", "deep"]


@pytest.mark.parametrize("reply", MALFORMED_200S, ids=MALFORMED_IDS)
def test_a_malformed_job_read_is_recorded_and_submits_nothing(
    rapp: App, reply: dict[str, Any]
) -> None:
    rapp.sim.inject_reply("ml.job.get", **reply)
    event = rs.monitor_breach_event()

    deliver_ml_event(rapp, event)  # recorded, never raised

    assert rapp.sim.ml.job_puts == []
    assert event_outcome(event["id"]) == "failed"
    [record] = recorded_actions("retraining")
    assert record["Outcome"].startswith("failed:")


def test_a_job_of_the_wrong_shape_is_recorded_and_submits_nothing(rapp: App) -> None:
    rs.claim_job("odd")  # the app's last retrain, two days ago: read to see if it still runs
    rapp.sim.ml.add_job(
        scene.PROD,
        {
            "id": f"{scene.PROD}/jobs/odd",
            "name": "odd",
            "properties": {"jobType": "Pipeline", "tags": {APP_TAG: "retraining"}},
        },
    )
    event = rs.monitor_breach_event()
    deliver_ml_event(rapp, event)  # recorded, not raised: a redelivery would not fix the answer
    assert rapp.sim.ml.job_puts == []
    assert event_outcome(event["id"]) == "failed"
    [record] = recorded_actions("retraining")
    assert "no status" in record["Outcome"]


@pytest.mark.parametrize("reply", MALFORMED_200S, ids=MALFORMED_IDS)
@pytest.mark.parametrize("route", ["ml.component.version.list", "ml.job.put"])
def test_a_malformed_answer_to_azure_ai_ml_is_recorded_not_raised(
    rapp: App, route: str, reply: dict[str, Any]
) -> None:
    rapp.sim.inject_reply(route, **reply)
    event = rs.monitor_breach_event()

    deliver_ml_event(rapp, event)  # recorded, never raised

    assert event_outcome(event["id"]) == "failed"
    [record] = [a for a in recorded_actions("retraining") if a["Verdict"] == "submit"]
    assert record["Outcome"].startswith("failed:")
    published = [e["eventType"] for e in rapp.sim.eventgrid.published_events]
    assert "SynapseAmlAutomation.Retraining.Submit.Applied" not in published


# The read that gets the malformed answer, and the kind of decision that records it.
_AFTER_RETRAIN = {
    "ml.job.get": "retraining",
    "ml.batch_endpoint.get": "batch-scoring",
    "ml.scoring.invoke": "batch-scoring",
}


@pytest.mark.parametrize("reply", MALFORMED_200S, ids=MALFORMED_IDS)
@pytest.mark.parametrize("route", sorted(_AFTER_RETRAIN))
def test_a_malformed_answer_after_a_retrain_is_recorded_not_raised(
    rapp: App, route: str, reply: dict[str, Any]
) -> None:
    event = completed_event(rapp)
    rapp.sim.inject_reply(route, **reply)

    deliver_ml_event(rapp, event)  # recorded, never raised

    assert event_outcome(event["id"]) == "failed"
    [failed] = [
        a for a in recorded_actions(_AFTER_RETRAIN[route]) if a["Outcome"].startswith("failed:")
    ]
    assert "Malformed" in failed["Outcome"] or "UnexpectedResponse" in failed["Outcome"]
    if route != "ml.scoring.invoke":
        assert rapp.sim.ml.scoring_posts == []


def _gated_settings(**overrides: str) -> dict[str, str]:
    return rs.retraining_settings(
        DRIFT_LOG_ANALYTICS_WORKSPACE_ID=rs.DRIFT_WORKSPACE,
        DRIFT_QUERY="AmlModelMonitorResults | summarize max(DriftScore)",
        DRIFT_THRESHOLD="0.3",
        **overrides,
    )


@pytest.mark.parametrize("reply", MALFORMED_200S, ids=MALFORMED_IDS)
def test_a_malformed_drift_query_answer_is_recorded_and_the_timer_goes_on(
    app: App, reply: dict[str, Any]
) -> None:
    rs.seed_retraining(app.sim)
    app.sim.ml.add_compute(scene.DEV, "cpu-cluster")
    app.set_settings(**_gated_settings(RETRAIN_WORKSPACE_IDS=f"{scene.PROD},{scene.DEV}"))
    app.sim.logs.set_result(rs.DRIFT_WORKSPACE, [[0.9]])
    app.sim.inject_reply("logs.query", **reply)  # the first workspace's reading only

    host.fire_timer("scheduled_retrain")  # does not raise

    [held] = recorded_actions("drift-gate", scene.PROD)
    assert held["Verdict"] == "hold"
    assert "drift query failed" in held["Reason"]
    assert our_jobs(app, "retraining", scene.PROD) == []
    # The next workspace had its turn: its reading opened the gate.
    assert len(our_jobs(app, "retraining", scene.DEV)) == 1


class _NotJson:
    """An answer whose body is not JSON, with whatever content type it came with."""

    status_code = 200

    def __init__(self, content_type: str) -> None:
        self.headers = {"content-type": content_type}

    def json(self) -> object:
        raise ValueError("Expecting value: line 1 column 1 (char 0)")


def _refused_shape(text: str) -> None:
    @malformed_is_permanent
    def read() -> None:
        raise ValueError(text)  # as a shape error carries what Azure answered

    read()


# Where a malformed answer's description cuts Azure's text, behind its own words.
_MALFORMED = {
    "shape": (_refused_shape, 500 - len("read: malformed response: ValueError: ")),
    "not JSON": (lambda text: json_object(_NotJson(text), "a read"), 500 - 60),  # type: ignore[arg-type]
}


@given(st.data(), st.sampled_from(sorted(_MALFORMED)))
def test_a_malformed_answer_is_described_with_no_piece_of_a_credential(
    data: st.DataObject, kind: str
) -> None:
    answer, cut = _MALFORMED[kind]
    text, secret = data.draw(placed(cut))
    with pytest.raises(MalformedResponseError) as raised:
        answer(text)
    assert leaked(secret, describe(raised.value)) is None, describe(raised.value)


@given(st.data(), st.sampled_from(["code", "message"]))
def test_azures_error_is_described_with_no_piece_of_a_credential(
    data: st.DataObject, field: str
) -> None:
    # Its code and its message each go up to the description's 500 characters.
    text, secret = data.draw(placed(500 - len("HTTP 400 ")))
    error = HttpResponseError(message="refused")
    error.status_code = 400
    error.error = ODataV4Format({"code": "Refused", "message": "refused", field: text})
    assert leaked(secret, describe(error)) is None, describe(error)


def test_a_long_retry_after_from_the_identity_endpoint_is_capped(app: App) -> None:
    from shared.adapters import clients

    # A credential of its own: the process's one already holds a token.
    clients.credential.cache_clear()
    app.sim.inject("token", status=429, retry_after=60, times=1)

    clients.credential(None).get_token(get_settings().arm_scope)

    assert app.sim.count("token") >= 2, "the throttled token request was not retried"
    waited = _retry_wait(app, "token")
    assert waited < RETRY_AFTER_CAP_SECONDS + 10, f"waited {waited:.1f} s for Retry-After: 60"
