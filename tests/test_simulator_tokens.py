"""The simulator's managed-identity tokens: JWTs whose `aud` is the resource asked for, accepted
only by routes of that audience (Azure ML's data plane included)."""

from __future__ import annotations

import pytest
from azure.identity import ManagedIdentityCredential

from simulator import AzureSimulator
from simulator.tokens import claims_of

pytestmark = pytest.mark.usefixtures("clean_sim")


@pytest.mark.parametrize(
    "scope",
    ["https://ml.azure.com/.default", "https://management.azure.com/.default"],
)
def test_tokens_are_jwts_with_the_requested_audience(
    sim: AzureSimulator, credential: ManagedIdentityCredential, scope: str
) -> None:
    token = credential.get_token(scope).token
    claims = claims_of(token)

    assert claims["aud"] == scope.removesuffix("/.default")
    assert claims["tid"] == sim.tenant_id
    assert claims["exp"] > claims["iat"]
    assert sim.token_audience(token) == scope.removesuffix("/.default")


def test_azure_ai_ml_reads_the_audience_it_checks(
    credential: ManagedIdentityCredential,
) -> None:
    # azure-ai-ml decodes the token with PyJWT, unverified, before it submits a pipeline job.
    import jwt

    token = credential.get_token("https://ml.azure.com/.default").token
    decoded = jwt.decode(token, options={"verify_signature": False, "verify_aud": False})
    assert decoded["aud"] == "https://ml.azure.com"


def test_two_tokens_for_one_audience_differ(sim: AzureSimulator) -> None:
    assert sim.identity.issue_token("https://ml.azure.com") != sim.identity.issue_token(
        "https://ml.azure.com"
    )


def test_scoring_uri_refuses_an_arm_token(sim: AzureSimulator) -> None:
    import requests

    uri = sim.ml.add_batch_endpoint(
        "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/"
        "Microsoft.MachineLearningServices/workspaces/ws/batchEndpoints/ep"
    )
    body = {"properties": {"inputData": {"UriFolder": {"jobInputType": "UriFolder", "uri": "x"}}}}
    wrong = sim.identity.issue_token(sim.url)
    right = sim.identity.issue_token("https://ml.azure.com")
    refused = requests.post(
        uri,
        json=body,
        headers={"Authorization": f"Bearer {wrong}"},
        verify=sim.ca_bundle_path,
        timeout=10,
    )
    accepted = requests.post(
        uri,
        json=body,
        headers={"Authorization": f"Bearer {right}"},
        verify=sim.ca_bundle_path,
        timeout=10,
    )

    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    assert accepted.status_code == 200
    assert accepted.json()["properties"]["status"] == "NotStarted"
