"""Azure SDK clients, made lazily from the settings and cached: management clients use
`ARM_ENDPOINT` and its scope (a sovereign cloud or the simulator is a matter of settings), carry the
transport policies and spend the ARM read budget. One credential per process: it caches tokens."""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from azure.core.exceptions import ClientAuthenticationError

from shared.adapters import transport
from shared.adapters.read_budget import read_budget
from shared.arm import name_of, resource_group_of, subscription_of
from shared.config import ARM_CLOUDS, SYNAPSE_DEV, Settings
from shared.ownership import AppIdentity

if TYPE_CHECKING:
    from azure.core import PipelineClient
    from azure.core.credentials import AccessToken, AccessTokenInfo, TokenCredential
    from azure.core.rest import HttpRequest, HttpResponse

    Pipeline = PipelineClient[HttpRequest, HttpResponse]


def prepare_azure_ai_ml() -> None:
    """Call before azure-ai-ml is imported: its import reads AZUREML_CURRENT_CLOUD, and a name a
    parent process registered makes it fetch cloud metadata from the public ARM endpoint, then
    refuse to submit (`ml_client` names the cloud). Its "experimental class" warnings are noise."""
    logging.getLogger("azure.ai.ml._utils._experimental").setLevel(logging.ERROR)
    if "azure.ai.ml" not in sys.modules:
        os.environ.pop("AZUREML_CURRENT_CLOUD", None)


@functools.cache
def credential(client_id: str | None) -> TokenCredential:
    """Managed identity in Azure (user-assigned when `client_id` is set), `az login` on a laptop."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(
        managed_identity_client_id=client_id,
        exclude_interactive_browser_credential=True,
        # A Retry-After from the identity endpoint is capped as every other client's is.
        raw_response_hook=transport.RetryAfterCapPolicy(),
    )


class AudienceBoundCredential:
    """The process's credential, for one audience only: azure-data-tables asks for whatever
    resource a 401 challenge names, so any host it talks to could ask for an ARM token."""

    def __init__(self, inner: TokenCredential, audience: str) -> None:
        self._inner = inner
        self.scope = f"{audience.rstrip('/')}/.default"

    def _check(self, scopes: tuple[str, ...]) -> None:
        if [scope.lower() for scope in scopes] != [self.scope.lower()]:
            raise ClientAuthenticationError(
                f"refused a token for {', '.join(scopes)[:200]}: this client's audience is "
                f"{self.scope} (its endpoint's settings)"
            )

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self._check(scopes)
        return self._inner.get_token(*scopes, **kwargs)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        self._check(scopes)
        return self._inner.get_token_info(*scopes, options=options)  # type: ignore[attr-defined, no-any-return]


def synapse_dev_scope(template: str, audience: str | None = None) -> str:
    return f"{SYNAPSE_DEV.audience(template, audience)}/.default"


class AzureClients:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.token_credential = credential(settings.azure_client_id)
        self._budget = read_budget(settings.arm_reads_burst, settings.arm_reads_per_second)

    @functools.cache  # noqa: B019 - one AzureClients per settings value, kept for the process
    def _arm_client(self, client_class: Any, *args: str) -> Any:
        arm, scope = self.settings.arm_endpoint, self.settings.arm_scope
        options = transport.client_options(arm, budget=self._budget)
        return client_class(
            self.token_credential, *args, base_url=arm, credential_scopes=[scope], **options
        )

    @functools.cache  # noqa: B019
    def app_identity(self) -> AppIdentity:
        """Who the app is, from its own ARM token's claims: the token comes from the platform's
        identity endpoint, not from anything a user can write, so no signature check is needed."""
        import base64
        import json

        payload = self.token_credential.get_token(self.settings.arm_scope).token.split(".")[1:2]
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload[0] + "=" * (-len(payload[0]) % 4)))
        except (IndexError, ValueError) as error:
            raise ValueError("the app's ARM access token is not a JWT") from error
        if not isinstance(claims, dict):
            raise ValueError("the app's ARM access token has no claims")
        return AppIdentity.from_claims(claims)

    def machine_learning(self, subscription_id: str) -> Any:
        from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient

        return self._arm_client(MachineLearningServicesMgmtClient, subscription_id)

    def authorization(self, subscription_id: str) -> Any:
        from azure.mgmt.authorization import AuthorizationManagementClient

        return self._arm_client(AuthorizationManagementClient, subscription_id)

    def resources(self, subscription_id: str) -> Any:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return self._arm_client(ResourceManagementClient, subscription_id)

    def resource_graph(self) -> Any:
        # Resource Graph is served by ARM_ENDPOINT, with ARM's token.
        from azure.mgmt.resourcegraph import ResourceGraphClient

        return self._arm_client(ResourceGraphClient)

    @functools.cache  # noqa: B019
    def _pipeline(self, url: str, scope: str, arm: bool = False) -> Pipeline:
        budget = self._budget if arm else None
        return transport.pinned_pipeline(url, self.token_credential, scope, budget=budget)

    def synapse_dev(self, workspace_name: str) -> Pipeline:
        # Raw: the Synapse SDK's model drops `properties.resourceId`, an endpoint's provenance.
        settings = self.settings
        scope = synapse_dev_scope(settings.synapse_dev_endpoint, settings.synapse_dev_audience)
        return self._pipeline(settings.synapse_endpoint_for(workspace_name), scope)

    def arm_pipeline(self) -> Pipeline:
        """For ARM calls that no installed management SDK speaks (batch endpoints, jobs, ...)."""
        return self._pipeline(self.settings.arm_endpoint, self.settings.arm_scope, arm=True)

    def batch_scoring(self, origin: str) -> Pipeline:
        """Only for an origin that passed the scoring URI check."""
        return self._pipeline(origin, f"{self.settings.aml_audience}/.default")

    @functools.cache  # noqa: B019
    def ml_client(self, workspace_id: str) -> Any:
        """azure-ai-ml's client: 1.1-2.5 s to import, so only retraining calls this."""
        prepare_azure_ai_ml()
        from azure.ai.ml import MLClient

        arm = self.settings.arm_endpoint
        host = urlsplit(arm).netloc
        cloud: dict[str, Any] = {"cloud": ARM_CLOUDS.get(host)}
        if cloud["cloud"] is None:
            # Any other ARM endpoint (Azure Stack, a proxy, the simulator) is a cloud of its own.
            cloud = {
                "cloud": f"custom:{host}",
                "cloud_metadata": {
                    "azure_portal": "https://portal.azure.com/",
                    "resource_manager": f"{arm}/",
                    "active_directory": "https://login.microsoftonline.com/",
                    "aml_resource_id": f"{self.settings.aml_audience}/",
                    "storage_endpoint": "core.windows.net",
                    "registry_discovery_endpoint": f"{arm}/",
                },
            }
        return MLClient(
            self.token_credential,
            subscription_of(workspace_id),
            resource_group_of(workspace_id),
            name_of(workspace_id),
            show_progress=False,
            enable_telemetry=False,
            **cloud,
            # azure-ai-ml hands these to the service clients it builds: the guard pins every
            # request and token to ARM_ENDPOINT, the only origin submission needs. Its own
            # pipeline (a local run's ARM token to a URL of the job's answer, discovery URLs)
            # takes only named policies: the guard is its custom hook.
            custom_hook_policy=transport.EndpointGuardPolicy(arm),
            **transport.client_options(arm, budget=self._budget),
        )

    @functools.cache  # noqa: B019
    def logs_query(self) -> Any:
        # Its token audience follows the endpoint: a sovereign cloud's endpoint gets its own.
        from azure.monitor.query import LogsQueryClient

        endpoint = self.settings.logs_query_endpoint
        options = transport.client_options(endpoint)
        return LogsQueryClient(self.token_credential, endpoint=endpoint, **options)


clients_for = functools.cache(AzureClients)
