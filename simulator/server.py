"""The simulator's one HTTPS server: TLS, routing, recording, fault injection, authentication.

It mounts a list of :class:`Service` objects (the list's order is the match order);
:meth:`SimulatorServer.handle` is the one dispatch point. Error bodies are ARM's
(``{"error": {"code", "message"}}``, as in every example under ``/work/shared/reference``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import http
import json
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final, Protocol, Self, cast

import trustme

from .permissions import Permissions
from .shapes import JSON

SYNAPSE_AUDIENCE: Final = "https://dev.azuresynapse.net"
EVENTGRID_AUDIENCE: Final = "https://eventgrid.azure.net"
#: Audience of Azure ML's data plane (batch scoring URIs, the ``x-azureml-token`` of job PUTs).
ML_AUDIENCE: Final = "https://ml.azure.com"
#: Token audiences of the non-ARM route audiences (``"arm"`` is the simulator's own URL).
_AUDIENCES: Final = {
    "synapse": SYNAPSE_AUDIENCE,
    "eventgrid": EVENTGRID_AUDIENCE,
    "ml": ML_AUDIENCE,
}
WRITE_METHODS: Final = frozenset({"PUT", "PATCH", "POST", "DELETE"})
# Routes whose POST reads: a token, a Resource Graph query, a Log Analytics query, a run's metric.
POST_READS: Final = frozenset({"token", "resourcegraph.query", "logs.query", "ml.run.metric"})
#: Items per page on the paged lists (``page_size``) until a test sets another size.
DEFAULT_PAGE_SIZE: Final = 50

# ARM's error codes for injected faults where they are not the HTTP phrase run together
# (``TooManyRequests``, ``ServiceUnavailable``...).
_FAULT_CODES: Final = {
    401: "AuthenticationFailed",
    403: "AuthorizationFailed",
    404: "ResourceNotFound",
}


def _fault_code(status: int) -> str:
    return _FAULT_CODES.get(status) or http.HTTPStatus(status).phrase.replace(" ", "")


@dataclass(frozen=True)
class Request:
    """One request as the simulator saw and answered it."""

    method: str
    path: str
    route: str
    status: int
    api_version: str | None
    # Not compared, so a Request of the five fields above still equals a recorded one.
    host: str | None = field(default=None, compare=False)  # as sent: localhost is another origin
    #: Whether the request carried an ``Authorization`` header (a token, valid or not).
    authorized: bool = field(default=False, compare=False)
    #: When it arrived (``time.monotonic()``): a client's wait between two requests, such as a
    #: retry's, is the gap, however long the rest of the client's work took.
    at: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # percent-decoded, original casing, no trailing slash, no query
    query: Mapping[str, str]
    headers: Mapping[str, str]  # keys lower-cased
    body: Any  # parsed JSON, or None when the request had no body
    match: re.Match[str]

    def group(self, name: str) -> str:
        """A named group in the path's original casing (routes match the lower-cased path, but
        IDs keep the caller's casing)."""
        start, end = self.match.span(name)
        return self.path[start:end]

    def at(self, *names: str) -> Any:
        """The body's value at the path ``names`` of nested objects (None where one is missing)."""
        value = self.body
        for name in names:
            value = value.get(name) if isinstance(value, dict) else None
        return value


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Bytes sent as they are instead of ``body`` as JSON (an HTML page, broken JSON).
    raw: bytes | None = None


Handler = Callable[[Call], Reply]


class ReadThrottle:
    """ARM's read throttling: a token bucket per principal (all one here) of ``burst`` reads
    refilled at ``per_second``; an empty bucket answers 429 with Retry-After, and every ARM
    read's answer says how many reads are left."""

    HEADER: Final = "x-ms-ratelimit-remaining-subscription-reads"

    def __init__(
        self,
        burst: int,
        per_second: float,
        *,
        spent: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst, self.per_second, self.clock = burst, per_second, clock
        # Spent: other clients have just emptied the bucket, and it refills only from the next
        # read on, so that read is refused however long it takes to come.
        self.tokens = 0.0 if spent else float(burst)
        self.at: float | None = None if spent else clock()

    def take(self) -> Reply | None:
        """Spend one read (None), or the 429 to answer."""
        now = self.clock()
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        wait = max(1, int(-(-(1 - self.tokens) // self.per_second)))
        message = (
            "Number of 'read' requests for subscription actor exceeded. Please try again after "
            f"'{wait}' seconds after the additional tokens are available."
        )
        headers = {"Retry-After": str(wait), self.HEADER: "0"}
        return arm_error(429, "SubscriptionRequestsThrottled", message, headers)


@dataclass(frozen=True)
class Route:
    """One row of the routing table; ``audience`` is the token audience it requires (``"arm"``,
    ``"synapse"``, ``"eventgrid"``, ``"ml"``, or None: the token route checks its own header)."""

    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler
    audience: str | None
    #: Whether the route demands ``?api-version=`` (ARM does; data planes such as a batch
    #: scoring URI or the Log Analytics query API do not).
    needs_api_version: bool = True


def route(
    method: str,
    pattern: str,
    name: str,
    handler: Handler,
    audience: str | None = "arm",
    *,
    needs_api_version: bool = True,
) -> Route:
    """A :class:`Route`; ``pattern`` matches the lower-cased path (ARM paths ignore case)."""
    return Route(method.upper(), re.compile(pattern), name, handler, audience, needs_api_version)


class Service(Protocol):
    """What the server mounts: one simulated service with its state."""

    def routes(self) -> list[Route]: ...  # in match order; names are what tests inject and count

    def reset(self) -> None: ...  # forget the state, seeded and written


def arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """An ARM-style error reply: ``{"error": {"code": ..., "message": ...}}``."""
    return Reply(status, {"error": {"code": code, "message": message}}, headers or {})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, router: SimulatorServer, ssl_context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _RequestHandler)
        self.router = router
        self.ssl_context = ssl_context
        self.live_sockets: set[socket.socket] = set()
        self.live_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that drop a connection or refuse the certificate are not the simulator's errors.
        return


class _RequestHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 with keep-alive: the SDKs reuse connections from their pools.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two sends; with Nagle's algorithm the body would wait for the
    # client's delayed ACK (~40 ms on Linux) and every request would cost that.
    disable_nagle_algorithm = True
    # An idle keep-alive connection gives its thread back after this long.
    timeout = 60

    def setup(self) -> None:
        # TLS is set up per connection in the handler thread, not in accept(),
        # so a slow or failing handshake never blocks the accept loop.
        server = cast(_Server, self.server)
        raw = cast(socket.socket, self.request)
        raw.settimeout(self.timeout)
        self.request = server.ssl_context.wrap_socket(raw, server_side=True)
        with server.live_lock:
            server.live_sockets.add(self.request)
        super().setup()

    def finish(self) -> None:
        server = cast(_Server, self.server)
        tls = cast(socket.socket, self.request)
        try:
            super().finish()
        finally:
            with server.live_lock:
                server.live_sockets.discard(tls)
            # socketserver closes the raw socket it accepted, but wrap_socket()
            # detached that one; the TLS socket must be closed here.
            with contextlib.suppress(OSError):
                tls.close()

    def log_message(self, format: str, *args: Any) -> None:
        return  # tests read sim.requests instead of stderr

    def _dispatch(self) -> None:
        server = cast(_Server, self.server)
        # The SDKs send a Content-Length (none of their calls here streams a chunked body).
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = server.router.handle(self.command, self.path, headers, raw_body)
        payload = reply.raw if reply.raw is not None else b""
        if reply.raw is None and reply.body is not None:
            payload = json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        if reply.body is not None and reply.raw is None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("x-ms-request-id", secrets.token_hex(16))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        # Always send a length so keep-alive connections stay usable.
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    # The handler looks up do_<METHOD>; every method goes to the one dispatch.
    do_GET = do_PUT = do_PATCH = do_POST = do_DELETE = do_HEAD = _dispatch  # noqa: N815


class SimulatorServer:
    """The HTTPS server every simulated service is mounted on: the routing table, the record of
    requests, the queues of injected faults and rewrites, and a throwaway CA."""

    def __init__(self, *, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        #: Handlers, seeding and inspection all run under this one lock.
        self.lock = threading.RLock()
        self.page_size = DEFAULT_PAGE_SIZE
        self.services: list[Service] = []
        self._requests: list[Request] = []
        #: Replies queued by route: injected faults and replies; lost responses.
        self._faults: dict[str, deque[Reply]] = {}
        self._lost: dict[str, deque[Reply]] = {}
        self._rewrites: dict[str, deque[Callable[[JSON], None]]] = {}
        self._routes: list[Route] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tempdir: Path | None = None
        #: Azure RBAC: the app's actions (infra/permissions.json) and what each call needs.
        self.permissions = Permissions.load()
        #: ARM read throttling, off until :meth:`throttle_arm_reads`.
        self.read_throttle: ReadThrottle | None = None

    def throttle_arm_reads(
        self,
        burst: int = 250,
        per_second: float = 25.0,
        *,
        spent: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Throttle ARM reads (GET, HEAD) as ARM does, by default with ARM's own bucket; off
        again at :meth:`reset`. ``spent``: the bucket starts empty at the next ARM read;
        ``clock``: the time it refills by (a stopped one for answers exact to the read)."""
        with self.lock:
            self.read_throttle = ReadThrottle(burst, per_second, spent=spent, clock=clock)

    def token_audience(self, token: str) -> str | None:
        """The audience ``token`` was issued for, or None for a token this server never issued."""
        return None

    @property
    def started(self) -> bool:
        return self._server is not None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Self:
        """Create a throwaway CA and serve HTTPS on 127.0.0.1 (free port) in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the simulator is already started")
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self._tempdir = Path(tempfile.mkdtemp(prefix="azure-simulator-"))
        ca.cert_pem.write_to_path(str(self._tempdir / "ca.pem"))
        self._server = _Server(self, context)
        serve = functools.partial(self._server.serve_forever, poll_interval=0.1)
        self._thread = threading.Thread(target=serve, name="azure-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and delete the CA bundle."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            with server.live_lock:
                live = list(server.live_sockets)
            for sock in live:
                # Wake handler threads blocked on idle keep-alive connections.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def ca_bundle_path(self) -> str:
        if self._tempdir is None:
            raise RuntimeError("the simulator is not started")
        return str(self._tempdir / "ca.pem")

    @property
    def foreign_url(self) -> str:
        """This simulator under another host name (``https://localhost:PORT``): the same
        server and certificate, but another origin for a client that pins 127.0.0.1."""
        return self.url.replace("https://127.0.0.1:", "https://localhost:")

    @property
    def requests(self) -> list[Request]:
        """Every request so far, in arrival order (a copy)."""
        with self.lock:
            return list(self._requests)

    def count(self, route: str | None = None, method: str | None = None) -> int:
        """Number of recorded requests, optionally only for a route and/or method."""
        method = method and method.upper()
        return sum(route in (None, r.route) and method in (None, r.method) for r in self.requests)

    def writes(self) -> list[Request]:
        """Recorded PUT/PATCH/POST/DELETE requests, not counting the reads made by POST
        (`POST_READS`)."""
        return [r for r in self.requests if r.method in WRITE_METHODS and r.route not in POST_READS]

    def requests_to(self, host_prefix: str) -> list[Request]:
        """Recorded requests whose Host header starts with ``host_prefix`` (``"localhost"``)."""
        return [r for r in self.requests if (r.host or "").startswith(host_prefix)]

    def reset_counts(self) -> None:
        """Forget recorded requests (state stays)."""
        with self.lock:
            self._requests.clear()

    def reset(self) -> None:
        """Forget every service's state, recorded requests, faults and rewrites; the page size
        is the default again, and no ABAC condition is checked."""
        with self.lock:
            self.clear_faults()
            self.reset_counts()
            self.page_size = DEFAULT_PAGE_SIZE
            self.read_throttle = None
            self.permissions.grantable = None  # no deployment's condition until one is seeded
            for service in self.services:
                service.reset()

    def _queue(self, queues: dict[str, deque[Any]], route: str, item: Any, times: int) -> None:
        if route not in self.route_names():
            raise ValueError(f"unknown route {route!r}; known: {sorted(self.route_names())}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self.lock:
            queues.setdefault(route, deque()).extend([item] * times)

    def inject(
        self,
        route: str,
        *,
        status: int,
        times: int = 1,
        retry_after: float | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Make the next ``times`` requests to ``route`` fail with ``status``: an ARM error body
        (and ``Retry-After`` when given), recorded like any request; no state changes."""
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        message = message or f"Fault injected by the simulator (HTTP {status})."
        fault = arm_error(status, code or _fault_code(status), message, headers)
        self._queue(self._faults, route, fault, times)

    def inject_reply(
        self,
        route: str,
        *,
        status: int = 200,
        body: Any = None,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` requests to ``route`` get exactly this reply: what a service
        should never send but a client must survive (a ``nextLink`` or redirect to another origin,
        a malformed 200). Queued with ``inject`` faults, answered before authentication."""
        reply = Reply(status, copy.deepcopy(body), dict(headers or {}), raw)
        self._queue(self._faults, route, reply, times)

    def lose_response(self, route: str, *, status: int = 503, times: int = 1) -> None:
        """The next ``times`` successful requests to ``route`` take effect but are answered
        with ``status`` (a response lost on the way back): the client cannot tell it worked."""
        lost = arm_error(status, _fault_code(status), "The response was lost (simulated).")
        self._queue(self._lost, route, lost, times)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()
            self._lost.clear()
            self._rewrites.clear()

    def rewrite_reply(self, route: str, rewrite: Callable[[JSON], None], *, times: int = 1) -> None:
        """Let ``rewrite`` change the JSON body of the next ``times`` successful replies of
        ``route``, after the handler ran: answers that say other than what happened."""
        self._queue(self._rewrites, route, rewrite, times)

    def _take_rewrite(self, route: str, reply: Reply) -> Reply:
        with self.lock:
            queue = self._rewrites.get(route)
            if not queue or reply.status >= 300 or not isinstance(reply.body, dict):
                return reply
            rewrite = queue.popleft()
        body = copy.deepcopy(reply.body)
        rewrite(body)
        return Reply(reply.status, body, dict(reply.headers))

    def route_names(self) -> set[str]:
        return {r.name for r in self._routes}

    def add_route(self, *routes: Route) -> None:
        """Add routes (made with :func:`route`) ahead of the generic ARM GET."""
        self._insert(list(routes))

    def mount(self, *services: Service) -> None:
        """Mount services: their routes match in this order (the first match wins), the
        generic ARM GET (``arm.generic.get``) always last; ``reset()`` resets them all."""
        for service in services:
            self.services.append(service)
            self._insert(service.routes())

    def _insert(self, routes: list[Route]) -> None:
        with self.lock:
            generic = [r for r in self._routes if r.name == "arm.generic.get"]
            rest = [r for r in self._routes if r.name != "arm.generic.get"]
            self._routes = [*rest, *routes, *generic]

    def page(
        self,
        call: Call,
        items: list[JSON],
        token: str,
        *,
        error_code: str = "BadRequest",
    ) -> Reply:
        """One page of ``items`` (:attr:`page_size` of them) from the offset in the query
        parameter ``token``; the nextLink repeats the query with the next offset."""
        offset = call.query.get(token, "0")
        if not offset.isdigit():
            return arm_error(400, error_code, f"Invalid {token}.")
        skip, size = int(offset), max(1, self.page_size)
        body: JSON = {"value": copy.deepcopy(items[skip : skip + size])}
        if skip + size < len(items):
            query = {**{k: v for k, v in call.query.items() if k != token}, token: skip + size}
            body["nextLink"] = (
                f"{self.url}{urllib.parse.quote(call.path)}?"
                f"{urllib.parse.urlencode(query, safe='$', quote_via=urllib.parse.quote)}"
            )
        return Reply(200, body)

    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes) -> Reply:
        """Answer one request: route, fault or authentication failure, handler, rewrite, lost
        response; record. The one dispatch point of every request."""
        arrived = time.monotonic()
        split = urllib.parse.urlsplit(raw_path)
        path = re.sub(r"/{2,}", "/", urllib.parse.unquote(split.path))
        if len(path) > 1:
            path = path.rstrip("/")
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query).items()}
        api_version = query.get("api-version")
        lowered = path.lower()
        if len(lowered) != len(path):
            # Non-ASCII case mapping can change lengths; keep spans aligned.
            path = lowered

        with self.lock:
            routes = list(self._routes)
        found = next(
            ((r, m) for r in routes if r.method == method and (m := r.pattern.match(lowered))),
            None,
        )
        if found is None:
            name = "unknown"
            reply = arm_error(
                404, "NoRouteInSimulator", f"The simulator has no route for {method} {path}."
            )
        else:
            matched, match = found
            name = matched.name
            with self.lock:
                arm_read = matched.audience == "arm" and method in ("GET", "HEAD")
                throttle = self.read_throttle if arm_read else None
            early = (
                self._take(self._faults, name)
                or self._authenticate(matched, headers, api_version)
                or self.permissions.check(matched.audience, method, path, headers, raw_body)
                or self._spend(throttle)
            )
            call = Call(method, path, query, headers, None, match)
            reply = early or self._take_rewrite(name, self._run_handler(matched, call, raw_body))
            if early is None and reply.status < 300:
                reply = self._take(self._lost, name) or reply
            if throttle is not None:
                left = {throttle.HEADER: str(int(throttle.tokens))}
                reply = dataclasses.replace(reply, headers={**left, **reply.headers})
        host, authorized = headers.get("host"), "authorization" in headers
        with self.lock:
            self._requests.append(
                Request(method, path, name, reply.status, api_version, host, authorized, arrived)
            )
        return reply

    def _spend(self, throttle: ReadThrottle | None) -> Reply | None:
        with self.lock:
            return throttle.take() if throttle is not None else None

    def _run_handler(self, route: Route, call: Call, raw_body: bytes) -> Reply:
        if raw_body:
            try:
                call = dataclasses.replace(call, body=json.loads(raw_body))
            except ValueError:
                message = "The request content is not valid JSON."
                return arm_error(400, "InvalidRequestContent", message)
        with self.lock:
            return route.handler(call)

    def _take(self, queues: dict[str, deque[Reply]], route: str) -> Reply | None:
        with self.lock:
            queue = queues.get(route)
            return copy.deepcopy(queue.popleft()) if queue else None

    def _authenticate(
        self, route: Route, headers: Mapping[str, str], api_version: str | None
    ) -> Reply | None:
        if route.audience is None:
            return None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self.lock:
            resource = self.token_audience(token) if scheme.lower() == "bearer" else None
        expected = self.url if route.audience == "arm" else _AUDIENCES[route.audience]
        if scheme.lower() != "bearer" or not token:
            code, message = "AuthenticationFailed", "The 'Authorization' header is missing."
            message = f"Authentication failed. {message}"
        elif resource is None:
            code = "InvalidAuthenticationToken"
            message = "The access token is invalid (not issued by this simulator)."
        elif resource.rstrip("/").lower() != expected.lower():
            code = "InvalidAuthenticationTokenAudience"
            message = (
                f"The access token has been obtained for wrong audience or resource '{resource}'. "
                f"It should exactly match with one of the allowed audiences '{expected}', "
                f"'{expected}/'."
            )
        elif api_version is None and route.needs_api_version:
            message = (
                "The api-version query parameter (?api-version=) is required for all requests."
            )
            return arm_error(400, "MissingApiVersionParameter", message)
        else:
            return None
        challenge = (
            f'Bearer authorization_uri="https://login.microsoftonline.com/{self.tenant_id}", '
            'error="invalid_token", error_description="The authentication failed"'
        )
        return arm_error(401, code, message, {"WWW-Authenticate": challenge})
