"""Azure SDK clients, created lazily and cached, all built from the validated settings.

One credential per process (azure-identity caches tokens inside it). Every management client is
pointed at `ARM_ENDPOINT` with the matching token scope, so a sovereign cloud, or the local
simulator, is a matter of settings only.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shared.config import Settings

if TYPE_CHECKING:
    from azure.core import PipelineClient
    from azure.core.credentials import TokenCredential
    from azure.core.rest import HttpRequest, HttpResponse

# azure-core's retry policy, tuned for a function invocation: a handful of tries honouring
# Retry-After, then the error goes up so Event Grid redelivers later (its own backoff is longer).
RETRY_SETTINGS: dict[str, Any] = {
    "retry_total": 4,
    "retry_backoff_factor": 0.8,
    "retry_backoff_max": 20,
}
PUBLIC_SYNAPSE_DEV_AUDIENCE = "https://dev.azuresynapse.net"


@functools.cache
def credential(client_id: str | None) -> TokenCredential:
    """The process's credential: managed identity in Azure (user-assigned when `client_id` is
    set), `az login` on a laptop. Imported here, not at module load, to keep cold starts short."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(
        managed_identity_client_id=client_id, exclude_interactive_browser_credential=True
    )


def synapse_dev_scope(template: str) -> str:
    """The token scope of the Synapse data plane that `SYNAPSE_DEV_ENDPOINT` points at.

    `https://{workspace}.dev.azuresynapse.net` gives `https://dev.azuresynapse.net/.default`; a
    sovereign cloud's template gives its own audience. A template whose host does not start with
    the workspace name (a proxy, the local simulator) keeps the public cloud's audience.
    """
    host = urlsplit(template.replace("{workspace}", "workspace")).hostname or ""
    prefix = "workspace."
    if template.startswith("https://{workspace}.") and host.startswith(prefix):
        return f"https://{host[len(prefix) :]}/.default"
    return f"{PUBLIC_SYNAPSE_DEV_AUDIENCE}/.default"


class AzureClients:
    """The SDK clients the adapters use, one per subscription or endpoint, made on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._credential = credential(settings.azure_client_id)

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def token_credential(self) -> TokenCredential:
        return self._credential

    def _arm_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self._settings.arm_endpoint,
            "credential_scopes": [self._settings.arm_scope],
            **RETRY_SETTINGS,
        }

    @functools.cache  # noqa: B019 - one AzureClients per settings value, kept for the process
    def machine_learning(self, subscription_id: str) -> Any:
        """`MachineLearningServicesMgmtClient` for one subscription (API 2023-04-01)."""
        from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient

        return MachineLearningServicesMgmtClient(
            self._credential, subscription_id, **self._arm_kwargs()
        )

    @functools.cache  # noqa: B019
    def authorization(self, subscription_id: str) -> Any:
        """`AuthorizationManagementClient` for one subscription (role assignments 2022-04-01)."""
        from azure.mgmt.authorization import AuthorizationManagementClient

        return AuthorizationManagementClient(
            self._credential, subscription_id, **self._arm_kwargs()
        )

    @functools.cache  # noqa: B019
    def resources(self, subscription_id: str) -> Any:
        """`ResourceManagementClient` for generic reads of resources of other providers."""
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient(self._credential, subscription_id, **self._arm_kwargs())

    @functools.cache  # noqa: B019
    def synapse_dev(self, workspace_name: str) -> PipelineClient[HttpRequest, HttpResponse]:
        """A raw azure-core pipeline to one Synapse workspace's data plane.

        Raw on purpose: the managed private endpoint model of azure-synapse-managedprivateendpoints
        drops `properties.resourceId`, the very field that proves where an endpoint comes from.
        """
        from azure.core import PipelineClient
        from azure.core.pipeline import policies

        endpoint = self._settings.synapse_endpoint_for(workspace_name)
        return PipelineClient(
            base_url=endpoint,
            policies=[
                policies.RequestIdPolicy(),
                policies.HeadersPolicy(),
                policies.UserAgentPolicy(sdk_moniker="synapse-aml-automation"),
                policies.ContentDecodePolicy(),
                policies.RedirectPolicy(),
                policies.RetryPolicy(**RETRY_SETTINGS),
                policies.BearerTokenCredentialPolicy(
                    self._credential, synapse_dev_scope(self._settings.synapse_dev_endpoint)
                ),
                policies.HttpLoggingPolicy(),
                policies.DistributedTracingPolicy(),
            ],
        )


@functools.cache
def clients_for(settings: Settings) -> AzureClients:
    """The clients for a settings value: one set per process in practice."""
    return AzureClients(settings)
