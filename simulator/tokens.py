"""Managed-identity access tokens as the simulator issues them: unsigned JWTs with a managed
identity's claims (azure-ai-ml decodes the `https://ml.azure.com` token and checks its `aud`). The
simulator trusts only tokens it issued (by value); nothing in the app verifies a signature.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any


def _segment(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unsigned_jwt(
    audience: str, tenant_id: str, object_id: str, client_id: str, lifetime: int = 3600
) -> str:
    """A JWT (`alg: none`) for `audience`, with the claims of a managed identity's token."""
    now = int(time.time())
    claims = {
        # Azure AD writes the resource as requested, without "/.default".
        "aud": audience.removesuffix("/.default"),
        "iss": f"https://sts.windows.net/{tenant_id}/",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "appid": client_id,
        "idtyp": "app",
        "oid": object_id,
        "sub": object_id,
        "tid": tenant_id,
        "ver": "1.0",
        # Two tokens issued in the same second must differ.
        "uti": secrets.token_urlsafe(16),
    }
    return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (for tests and for checks of the audience)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT: expected three dot-separated segments")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    decoded = json.loads(base64.urlsafe_b64decode(payload))
    if not isinstance(decoded, dict):
        raise ValueError("not a JWT: the claims are not a JSON object")
    return decoded


def creator(headers: Mapping[str, str]) -> tuple[str, str]:
    """Who ARM records as the creator of what a request makes (``systemData.createdBy`` and
    ``createdByType``): the application (client) ID of the app's token. The server has already
    accepted the token as one it issued."""
    claims = claims_of(headers.get("authorization", "").partition(" ")[2].strip())
    return str(claims["appid"]), "Application"
