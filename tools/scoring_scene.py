"""The scoring part of the scene: batch endpoints in the scene's workspaces, and the callers.

Used by the tests, the offline run and the benchmarks, on top of `tools.scene`:
- `churn-scoring` in mlw-prod (deployments blue and green, blue by default) and in mlw-dev
  (blue): the same name twice, so a bare name is ambiguous and an ARM ID is needed;
- `fraud-scoring` in mlw-prod (blue): unique, so its bare name works;
- `no-default` in mlw-prod: a deployment but no default (callers must name one);
- the Logic App's managed identity and a person are allowed callers; a third identity is not.
"""

from __future__ import annotations

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
APP_URL = "https://func-synapse-aml.azurewebsites.net/api"


def seed(sim: AzureSimulator) -> None:
    """Create the batch endpoints (the scene's workspaces must exist)."""
    sim.ml.add_batch_endpoint(CHURN_PROD, deployments=["blue", "green"], default_deployment="blue")
    sim.ml.add_batch_endpoint(CHURN_DEV, deployments=["blue"], default_deployment="blue")
    sim.ml.add_batch_endpoint(FRAUD, deployments=["blue"], default_deployment="blue")
    sim.ml.add_batch_endpoint(NO_DEFAULT, deployments=["blue"], default_deployment=None)


def settings_env() -> dict[str, str]:
    """The scoring settings on top of `tools.scene.settings_env`."""
    return {
        "SCORING_ALLOWED_ENDPOINTS": ",".join(ALLOWED_ENDPOINTS),
        "SCORING_ALLOWED_CALLERS": f"{LOGIC_APP},{ANALYST}",
    }
