"""Azure SDK clients, created lazily and cached, all built from the validated settings.

One credential per process (azure-identity caches tokens inside it). Every management client is
pointed at `ARM_ENDPOINT` with the matching token scope, so a sovereign cloud, or the local
simulator, is a matter of settings only.

Every client carries the transport guards of `shared.adapters.transport`: requests (and so
tokens) only to the client's configured endpoint, bounded retries, capped Retry-After, bounded
time. New clients are built through `sdk_options` / `data_plane_pipeline` so they get them too.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from shared.adapters import transport
from shared.config import Settings, synapse_dev_audience

if TYPE_CHECKING:
    from azure.core import PipelineClient
    from azure.core.credentials import TokenCredential
    from azure.core.rest import HttpRequest, HttpResponse

# azure-core's retry policy, tuned for a function invocation: a handful of tries honouring
# Retry-After (capped by the endpoint guard), then the error goes up so Event Grid redelivers
# later (its own backoff is longer). Kept for callers that build a RetryPolicy themselves.
RETRY_SETTINGS: dict[str, Any] = {
    "retry_total": transport.RETRY_TOTAL,
    "retry_backoff_factor": transport.RETRY_BACKOFF_FACTOR,
    "retry_backoff_max": transport.RETRY_BACKOFF_MAX_SECONDS,
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


def synapse_dev_scope(template: str, audience: str | None = None) -> str:
    """The token scope of the Synapse data plane that `SYNAPSE_DEV_ENDPOINT` points at.

    The audience is the cloud's (`https://{workspace}.dev.azuresynapse.azure.cn` gives
    `https://dev.azuresynapse.azure.cn/.default`), or the explicit `SYNAPSE_DEV_AUDIENCE`.
    A host of no known cloud without an explicit audience raises `SettingsError`: it never
    silently gets a token for the public cloud.
    """
    return f"{synapse_dev_audience(template, audience)}/.default"


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

    def sdk_options(self, *allowed_urls: str) -> dict[str, Any]:
        """Keyword arguments that give any azure-core based SDK client the transport guards:
        requests only to the origins (scheme, host, port) of `allowed_urls`, bounded retries,
        capped Retry-After, bounded time. `SomeClient(..., **clients.sdk_options(endpoint))`."""
        return transport.client_options(*allowed_urls)

    def data_plane_pipeline(
        self, base_url: str, scope: str, *, allowed_urls: tuple[str, ...] = ()
    ) -> PipelineClient[HttpRequest, HttpResponse]:
        """A raw azure-core pipeline to `base_url` with this process's credential, a bearer
        token for `scope` that only ever goes to `base_url`'s origin (and `allowed_urls`'),
        and the same retry and time bounds as every other client."""
        return transport.pinned_pipeline(
            base_url, self._credential, scope, allowed_urls=allowed_urls
        )

    def _arm_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self._settings.arm_endpoint,
            "credential_scopes": [self._settings.arm_scope],
            **self.sdk_options(self._settings.arm_endpoint),
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
        return self.data_plane_pipeline(
            self._settings.synapse_endpoint_for(workspace_name),
            synapse_dev_scope(
                self._settings.synapse_dev_endpoint, self._settings.synapse_dev_audience
            ),
        )


@functools.cache
def clients_for(settings: Settings) -> AzureClients:
    """The clients for a settings value: one set per process in practice."""
    return AzureClients(settings)
