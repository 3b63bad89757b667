"""The scoring part of the scene: batch endpoints in the scene's workspaces, and the callers.

Used by the tests, the offline run and the benchmarks, on top of `tools.scene`:
- `churn-scoring` in mlw-prod (deployments blue and green, blue by default) and in mlw-dev
  (blue): the same name twice, so a bare name is ambiguous and an ARM ID is needed;
- `fraud-scoring` in mlw-prod (blue): unique, so its bare name works;
- `no-default` in mlw-prod: a deployment but no default (callers must name one);
- the Logic App's managed identity and a person are allowed callers; a third identity is not.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

from tools import scene

if TYPE_CHECKING:
    from simulator import AzureSimulator

CHURN_PROD = f"{scene.PROD}/batchEndpoints/churn-scoring"
CHURN_DEV = f"{scene.DEV}/batchEndpoints/churn-scoring"
FRAUD = f"{scene.PROD}/batchEndpoints/fraud-scoring"
NO_DEFAULT = f"{scene.PROD}/batchEndpoints/no-default"
# Allowed, but never created in the workspace (deleted since the settings were written).
GONE = f"{scene.PROD}/batchEndpoints/retired-scoring"
ALLOWED_ENDPOINTS = (CHURN_PROD, CHURN_DEV, FRAUD, NO_DEFAULT, GONE)

LOGIC_APP = "0b5c3a2e-6f1d-4e8a-9c7b-2d4e6f8a0c1e"  # the Logic App's managed identity
ANALYST = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"  # a person, signed in with Entra ID
STRANGER = "f0e1d2c3-b4a5-4968-8776-655443322110"  # authenticated, but not allowed

INPUT = "azureml://datastores/workspaceblobstore/paths/scoring/in/"
APP_HOST = "func-synapse-aml.azurewebsites.net"
APP_URL = f"https://{APP_HOST}/api"
OBJECT_ID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"


def principal_header(claims: list[dict[str, object]], auth_typ: str = "aad") -> str:
    """`X-MS-CLIENT-PRINCIPAL` as App Service authentication writes it: base64 JSON."""
    principal = {
        "auth_typ": auth_typ,
        "claims": claims,
        "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
    }
    return base64.b64encode(json.dumps(principal).encode()).decode()


def caller_headers(object_id: str) -> dict[str, str]:
    """The headers App Service authentication (Entra ID) forwards for a caller with this object
    ID: the ID, the identity provider and the claims, which agree."""
    claims: list[dict[str, object]] = [
        {"typ": "aud", "val": "api://synapse-aml-automation"},
        {"typ": OBJECT_ID_CLAIM, "val": object_id},
        {"typ": "appid", "val": "5e2f7a9c-1b3d-4e6f-8a0c-2d4f6b8e0a1c"},
    ]
    return {
        "X-MS-CLIENT-PRINCIPAL-ID": object_id,
        "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
        "X-MS-CLIENT-PRINCIPAL": principal_header(claims),
    }


def seed(sim: AzureSimulator) -> None:
    """Create the batch endpoints (the scene's workspaces must exist)."""
    sim.ml.add_batch_endpoint(CHURN_PROD, deployments=["blue", "green"], default_deployment="blue")
    sim.ml.add_batch_endpoint(CHURN_DEV, deployments=["blue"], default_deployment="blue")
    sim.ml.add_batch_endpoint(FRAUD, deployments=["blue"], default_deployment="blue")
    sim.ml.add_batch_endpoint(NO_DEFAULT, deployments=["blue"], default_deployment=None)


def settings_env() -> dict[str, str]:
    """The scoring settings on top of `tools.scene.settings_env`, with the two the platform sets
    in Azure: App Service authentication on, and the app's host name."""
    return {
        "SCORING_ALLOWED_ENDPOINTS": ",".join(ALLOWED_ENDPOINTS),
        "SCORING_ALLOWED_CALLERS": f"{LOGIC_APP},{ANALYST}",
        "WEBSITE_AUTH_ENABLED": "True",
        "WEBSITE_HOSTNAME": APP_HOST,
    }
