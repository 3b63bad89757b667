"""The App Service managed identity endpoint (``IDENTITY_ENDPOINT``, protocol 2019-08-01).

azure-identity's ``ManagedIdentityCredential`` finds it through ``IDENTITY_ENDPOINT`` and
``IDENTITY_HEADER`` and asks ``GET /msi/token?resource=...&api-version=2019-08-01`` with the
secret in ``X-IDENTITY-HEADER``; the answer has ``access_token``, ``expires_on`` (epoch seconds as
a string), ``resource``, ``token_type`` and ``client_id``, as App Service sends it. Tokens are
unsigned JWTs (:mod:`simulator.tokens`) the simulator remembers by value: the server accepts only
tokens issued here, and only for the route's audience. Route: ``token``.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from . import shapes, tokens
from .server import Call, Reply, Route, route

if TYPE_CHECKING:
    from .server import SimulatorServer

#: Path of the token endpoint under the simulator's URL.
TOKEN_PATH = "/msi/token"


class ManagedIdentity:
    """The system-assigned identity of the app, its token endpoint and the tokens it issued."""

    def __init__(self, sim: SimulatorServer) -> None:
        """An identity in the simulator's tenant with ids derived from nothing else (stable
        across runs)."""
        self.sim = sim
        self.tenant_id = sim.tenant_id
        self._lock = sim.lock
        #: client_id the token endpoint reports for the system-assigned identity.
        self.client_id = shapes.stable_uuid("simulator", "client_id")
        #: Object id of that identity; role assignments it writes name it as ``updatedBy``.
        self.principal_id = shapes.stable_uuid("simulator", "principal_id")
        #: The secret the token endpoint expects in ``X-IDENTITY-HEADER``.
        self.header = secrets.token_urlsafe(24)
        self._tokens: dict[str, str] = {}
        self._token_requests: list[dict[str, str | None]] = []

    def routes(self) -> list[Route]:
        """The token route; it checks its own secret header instead of a bearer token."""
        return [route("GET", rf"^{TOKEN_PATH}$", "token", self.token, None)]

    @property
    def endpoint(self) -> str:
        """The App Service managed identity endpoint (``IDENTITY_ENDPOINT``)."""
        return f"{self.sim.url}{TOKEN_PATH}"

    def issue_token(self, resource: str) -> str:
        """Issue a bearer token for ``resource`` directly (handy for negative tests).

        The token is an unsigned JWT whose ``aud`` is ``resource`` (azure-ai-ml decodes the
        ``https://ml.azure.com`` token before it submits a job); the simulator still accepts only
        tokens it issued itself.
        """
        token = tokens.unsigned_jwt(
            audience=resource,
            tenant_id=self.tenant_id,
            object_id=self.principal_id,
            client_id=self.client_id,
        )
        with self._lock:
            self._tokens[token] = resource
        return token

    def token_audience(self, token: str) -> str | None:
        """The resource a token issued by this simulator was issued for, or None."""
        with self._lock:
            return self._tokens.get(token.strip())

    @property
    def token_requests(self) -> list[dict[str, str | None]]:
        """Token requests seen, as dicts.

        Keys: ``resource``, ``client_id``, ``object_id``, ``mi_res_id``, ``api_version``.
        """
        with self._lock:
            return [dict(r) for r in self._token_requests]

    def reset(self) -> None:
        """Forget the token requests seen (issued tokens stay valid: SDK credentials cache them
        across tests, and a reset world should not look like an authentication failure)."""
        with self._lock:
            self._token_requests.clear()

    # ------------------------------------------------------------------ handler

    def token(self, call: Call) -> Reply:
        """``GET /msi/token``: a token for ``resource``, or 401 without the right secret."""
        if call.headers.get("x-identity-header") != self.header:
            body = {
                "statusCode": 401,
                "message": "Unauthorized: X-IDENTITY-HEADER is missing or wrong.",
                "error": {"code": "Unauthorized", "message": "X-IDENTITY-HEADER is wrong."},
            }
            return Reply(401, body)
        resource = call.query.get("resource")
        if not resource:
            return Reply(
                400, {"statusCode": 400, "message": "The 'resource' parameter is required."}
            )
        client_id = call.query.get("client_id")
        self._token_requests.append(
            {
                "resource": resource,
                "client_id": client_id,
                "object_id": call.query.get("object_id"),
                "mi_res_id": call.query.get("mi_res_id"),
                "api_version": call.query.get("api-version"),
            }
        )
        token = self.issue_token(resource)
        return Reply(
            200,
            {
                "access_token": token,
                # App Service protocol 2019-08-01: epoch seconds as a string.
                "expires_on": str(int(time.time()) + 3600),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": client_id or self.client_id,
            },
        )
