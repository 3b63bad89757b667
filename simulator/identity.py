"""The App Service managed identity endpoint (protocol 2019-08-01): ``GET /msi/token?resource=``
with the secret in ``X-IDENTITY-HEADER``. Tokens (:mod:`simulator.tokens`) are remembered by
value: the server accepts only tokens issued here, and only for the route's audience."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from . import shapes, tokens
from .server import Call, Reply, Route, route

if TYPE_CHECKING:
    from .server import SimulatorServer

TOKEN_PATH = "/msi/token"


class ManagedIdentity:
    """The system-assigned identity of the app, its token endpoint and the tokens it issued."""

    def __init__(self, sim: SimulatorServer) -> None:
        self.sim = sim
        self._lock = sim.lock
        #: Stable across runs: the client ID the endpoint reports, and the object ID.
        self.client_id = shapes.stable_uuid("simulator", "client_id")
        self.principal_id = shapes.stable_uuid("simulator", "principal_id")
        #: The secret the token endpoint expects in ``X-IDENTITY-HEADER``.
        self.header = secrets.token_urlsafe(24)
        self._tokens: dict[str, str] = {}
        self._token_requests: list[dict[str, str | None]] = []

    def routes(self) -> list[Route]:
        return [route("GET", rf"^{TOKEN_PATH}$", "token", self.token, None)]

    @property
    def endpoint(self) -> str:
        """The App Service managed identity endpoint (``IDENTITY_ENDPOINT``)."""
        return f"{self.sim.url}{TOKEN_PATH}"

    def issue_token(self, resource: str) -> str:
        """Issue a bearer token for ``resource`` directly (for negative tests)."""
        token = tokens.unsigned_jwt(resource, self.sim.tenant_id, self.principal_id, self.client_id)
        with self._lock:
            self._tokens[token] = resource
        return token

    def token_audience(self, token: str) -> str | None:
        """The resource a token issued by this simulator was issued for, or None."""
        with self._lock:
            return self._tokens.get(token.strip())

    @property
    def token_requests(self) -> list[dict[str, str | None]]:
        """Token requests seen: ``resource``, ``client_id``, ``object_id``, ``mi_res_id``,
        ``api_version``."""
        with self._lock:
            return [dict(r) for r in self._token_requests]

    def reset(self) -> None:
        """Forget the token requests seen (issued tokens stay valid: SDK credentials cache them
        across tests, and a reset world should not look like an authentication failure)."""
        with self._lock:
            self._token_requests.clear()

    def token(self, call: Call) -> Reply:
        """``GET /msi/token``: a token for ``resource``, or 401 without the right secret."""
        if call.headers.get("x-identity-header") != self.header:
            body = {
                "statusCode": 401,
                "message": "Unauthorized: X-IDENTITY-HEADER is missing or wrong.",
                "error": {"code": "Unauthorized", "message": "X-IDENTITY-HEADER is wrong."},
            }
            return Reply(401, body)
        if not (resource := call.query.get("resource")):
            message = "The 'resource' parameter is required."
            return Reply(400, {"statusCode": 400, "message": message})
        asked = {name: call.query.get(name) for name in ("client_id", "object_id", "mi_res_id")}
        self._token_requests.append(
            {"resource": resource, **asked, "api_version": call.query.get("api-version")}
        )
        expires_on = str(int(time.time()) + 3600)  # protocol 2019-08-01: epoch seconds, a string
        body = {"access_token": self.issue_token(resource), "expires_on": expires_on}
        body |= {"resource": resource, "token_type": "Bearer"}
        return Reply(200, {**body, "client_id": asked["client_id"] or self.client_id})
