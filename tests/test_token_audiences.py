"""Every setting that names a host the app sends a token to is tied to that token's audience: a
host of a known Azure cloud gets its cloud's audience, any other host only the audience an explicit
setting states, or the app refuses to start."""

from __future__ import annotations

import string

import pytest
from azure.core.exceptions import AzureError
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.adapters.clients import clients_for
from shared.config import (
    AML_INFERENCE,
    ARM_ML,
    LEDGER_TABLE,
    OUTCOME_TOPIC,
    SYNAPSE_DEV,
    Settings,
    SettingsError,
    TokenDestination,
    get_settings,
    load_settings,
)
from shared.ledger import open_ledger
from tests.conftest import App

GROUP = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-1234"
ML = f"{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/testworkspace"
SYNAPSE = f"{GROUP}/providers/Microsoft.Synapse/workspaces/exampleworkspace"
AZURITE = "UseDevelopmentStorage=true"


def load(**overrides: str | None) -> Settings:
    values: dict[str, str | None] = {
        "ML_WORKSPACE_IDS": ML,
        "SYNAPSE_WORKSPACE_IDS": SYNAPSE,
        "LEDGER_CONNECTION_STRING": AZURITE,
        **overrides,
    }
    return load_settings({k: v for k, v in values.items() if v is not None})


def refused(**overrides: str | None) -> str:
    with pytest.raises(SettingsError) as raised:
        load(**overrides)
    return str(raised.value)


# --- LEDGER_TABLE_ENDPOINT -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.1:10002/devstoreaccount1",
        "https://ledger.contoso.com",
        "https://mystorage.table.core.windows.net.evil.example",
        "https://mystorage.tablecore.windows.net",
        "https://mystorage.blob.core.windows.net",
    ],
)
def test_a_ledger_endpoint_of_no_known_cloud_needs_its_audience(endpoint: str) -> None:
    message = refused(LEDGER_CONNECTION_STRING=None, LEDGER_TABLE_ENDPOINT=endpoint)

    assert message.startswith(f"LEDGER_TABLE_ENDPOINT={endpoint!r} is on no known Azure cloud")
    assert "set LEDGER_TABLE_AUDIENCE" in message


def test_a_ledger_endpoint_of_no_known_cloud_uses_the_stated_audience() -> None:
    loaded = load(
        LEDGER_CONNECTION_STRING=None,
        LEDGER_TABLE_ENDPOINT="https://ledger.contoso.com",
        LEDGER_TABLE_AUDIENCE="https://storage.azure.com/",
    )

    assert loaded.ledger.table_audience == "https://storage.azure.com"


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://mystorage.table.core.windows.net",
        "https://mystorage.table.core.chinacloudapi.cn",
        "https://MyStorage.Table.Core.UsGovCloudApi.Net",
    ],
)
def test_a_ledger_endpoint_of_a_known_cloud_gets_the_storage_audience(endpoint: str) -> None:
    loaded = load(LEDGER_CONNECTION_STRING=None, LEDGER_TABLE_ENDPOINT=endpoint)

    assert loaded.ledger.table_audience == "https://storage.azure.com"
    message = refused(
        LEDGER_CONNECTION_STRING=None,
        LEDGER_TABLE_ENDPOINT=endpoint,
        LEDGER_TABLE_AUDIENCE="https://management.azure.com",
    )
    assert message.startswith("LEDGER_TABLE_AUDIENCE='https://management.azure.com' does not")


# --- OUTCOME_TOPIC_ENDPOINT ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.1:8443/eventgrid-topic/api/events",
        "https://outcomes.westeurope-1.eventgrid.azure.net.evil.example/api/events",
        "https://outcomes.contoso.com/api/events",
    ],
)
def test_an_outcome_topic_of_no_known_cloud_needs_its_audience(endpoint: str) -> None:
    message = refused(OUTCOME_TOPIC_ENDPOINT=endpoint)

    assert message.startswith(f"OUTCOME_TOPIC_ENDPOINT={endpoint!r} is on no known Azure cloud")
    assert "set OUTCOME_TOPIC_AUDIENCE" in message
    stated = load(
        OUTCOME_TOPIC_ENDPOINT=endpoint, OUTCOME_TOPIC_AUDIENCE="https://eventgrid.azure.net"
    )
    assert stated.outcome_topic_audience == "https://eventgrid.azure.net"


def test_an_outcome_topic_audience_the_publisher_cannot_ask_for_is_refused() -> None:
    # azure-eventgrid asks for https://eventgrid.azure.net whatever the host: any other stated
    # audience would only fail at the first publish.
    message = refused(
        OUTCOME_TOPIC_ENDPOINT="https://outcomes.contoso.com/api/events",
        OUTCOME_TOPIC_AUDIENCE="https://outcomes.contoso.com",
    )

    assert message.startswith("OUTCOME_TOPIC_AUDIENCE='https://outcomes.contoso.com' is not valid")


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://outcomes.westeurope-1.eventgrid.azure.net/api/events",
        "https://outcomes.chinaeast2-1.eventgrid.azure.cn/api/events",
        "https://outcomes.usgovvirginia-1.eventgrid.azure.us/api/events",
    ],
)
def test_an_outcome_topic_of_a_known_cloud_needs_no_audience(endpoint: str) -> None:
    assert load(OUTCOME_TOPIC_ENDPOINT=endpoint).outcome_topic_audience == (
        "https://eventgrid.azure.net"
    )


# --- URL settings with user info (item 8) --------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("OUTCOME_TOPIC_ENDPOINT", "https://user@outcomes.westeurope-1.eventgrid.azure.net/api"),
        ("OUTCOME_TOPIC_ENDPOINT", "https://u:p@outcomes.westeurope-1.eventgrid.azure.net/api"),
        ("ARM_ENDPOINT", "https://management.azure.com@evil.example"),
        ("SYNAPSE_DEV_ENDPOINT", "https://x@{workspace}.dev.azuresynapse.net"),
        ("LOGS_QUERY_ENDPOINT", "https://user@api.loganalytics.io/v1"),
        ("LEDGER_TABLE_ENDPOINT", "https://user@mystorage.table.core.windows.net"),
        ("SYNAPSE_DEV_AUDIENCE", "https://user@dev.azuresynapse.net"),
        ("AML_AUDIENCE", "https://user@ml.azure.com"),
        ("OUTCOME_TOPIC_ENDPOINT", "https://outcomes.westeurope-1.eventgrid.azure.net:99999/api"),
    ],
)
def test_a_url_setting_with_user_info_or_a_bad_port_is_refused_at_load(
    setting: str, value: str
) -> None:
    # It loaded before, and then failed at the first request (the endpoint guard refuses it).
    overrides: dict[str, str | None] = {setting: value}
    if setting == "LEDGER_TABLE_ENDPOINT":
        overrides["LEDGER_CONNECTION_STRING"] = None

    message = refused(**overrides)

    assert message.startswith(f"{setting}=")
    assert "expected an https:// URL (without user info)" in message


_URL_SETTINGS = (
    "OUTCOME_TOPIC_ENDPOINT",
    "ARM_ENDPOINT",
    "LOGS_QUERY_ENDPOINT",
    "LEDGER_TABLE_ENDPOINT",
    "SYNAPSE_DEV_AUDIENCE",
    "AML_AUDIENCE",
    "OUTCOME_TOPIC_AUDIENCE",
    "LEDGER_TABLE_AUDIENCE",
)


@given(
    setting=st.sampled_from(_URL_SETTINGS),
    secret=st.text(alphabet=string.ascii_letters + string.digits + "-._~%!$&'()*+,;=:"),
)
def test_a_url_settings_credential_is_not_repeated_by_its_error(setting: str, secret: str) -> None:
    # The error goes to the host's log at start-up: the password stays in the setting.
    overrides: dict[str, str | None] = {setting: f"https://user:pw-{secret}@ml.azure.com/x"}
    if setting == "LEDGER_TABLE_ENDPOINT":
        overrides["LEDGER_CONNECTION_STRING"] = None

    message = refused(**overrides)

    assert message.startswith(f"{setting}=")
    assert f"pw-{secret}" not in message


# --- Azure ML's data plane: ARM_ENDPOINT and AML_INFERENCE_DOMAIN ---------------------------------


@pytest.mark.parametrize(
    "domain", ["com", "net", "co.uk", "azure.com", "ml.azure.com", "azure.us", "contoso.com"]
)
def test_an_inference_domain_anyone_can_have_hosts_under_is_refused(domain: str) -> None:
    # Even with an audience stated: a scoring URI only has to be under the domain.
    message = refused(AML_INFERENCE_DOMAIN=domain, AML_AUDIENCE="https://ml.azure.com")

    assert message.startswith(f"AML_INFERENCE_DOMAIN={domain!r} is not valid: a public suffix")


@pytest.mark.parametrize(
    ("domain", "arm", "audience"),
    [
        ("inference.ml.azure.com", "https://management.azure.com", "https://ml.azure.com"),
        ("inference.ml.azure.cn", "https://management.chinacloudapi.cn", "https://ml.azure.cn"),
        ("inference.ml.azure.us", "https://management.usgovcloudapi.net", "https://ml.azure.us"),
        (
            "westeurope.inference.ml.azure.com",
            "https://management.azure.com",
            "https://ml.azure.com",
        ),
    ],
)
def test_a_known_clouds_inference_domain_needs_no_audience(
    domain: str, arm: str, audience: str
) -> None:
    loaded = load(AML_INFERENCE_DOMAIN=domain, ARM_ENDPOINT=arm)

    assert loaded.aml_audience == audience


@pytest.mark.parametrize("domain", ["127.0.0.1", "inference.contoso.com", "inference.ml.azure.co"])
def test_an_inference_domain_of_no_known_cloud_needs_the_ml_audience(domain: str) -> None:
    message = refused(AML_INFERENCE_DOMAIN=domain)

    assert message.startswith(f"AML_INFERENCE_DOMAIN={domain!r} is on no known Azure cloud")
    assert "set AML_AUDIENCE" in message
    assert load(AML_INFERENCE_DOMAIN=domain, AML_AUDIENCE="https://ml.azure.com").aml_audience == (
        "https://ml.azure.com"
    )


def test_an_arm_endpoint_of_no_known_cloud_needs_the_ml_audience() -> None:
    # The ML token goes to ARM_ENDPOINT as the job PUT's x-azureml-token: a proxy or an
    # Azure Stack endpoint used to get the public cloud's ML token without anyone saying so.
    message = refused(ARM_ENDPOINT="https://arm-proxy.contoso.com")

    assert message.startswith("ARM_ENDPOINT='https://arm-proxy.contoso.com' is on no known")
    assert "set AML_AUDIENCE" in message
    loaded = load(ARM_ENDPOINT="https://arm-proxy.contoso.com", AML_AUDIENCE="https://ml.azure.com")
    assert loaded.aml_audience == "https://ml.azure.com"
    assert loaded.arm_scope == "https://arm-proxy.contoso.com/.default"


def test_a_stated_ml_audience_must_agree_with_a_known_cloud() -> None:
    message = refused(AML_AUDIENCE="https://ml.azure.cn")

    assert message.startswith("AML_AUDIENCE='https://ml.azure.cn' does not match the cloud of")


@given(
    inference=st.sampled_from(AML_INFERENCE.clouds),
    arm=st.sampled_from(ARM_ML.clouds),
    region=st.sampled_from(["", "westeurope.", "chinaeast2.", "usgovvirginia."]),
)
def test_scoring_hosts_and_arm_get_the_ml_token_only_of_one_cloud(
    inference: tuple[str, str], arm: tuple[str, str], region: str
) -> None:
    # The one ML token goes to ARM_ENDPOINT (x-azureml-token) and to every scoring host: a
    # domain of one cloud beside an ARM endpoint of another would send it to the wrong cloud.
    values = {
        "AML_INFERENCE_DOMAIN": f"{region}{inference[0]}",
        "ARM_ENDPOINT": f"https://{arm[0]}",
    }
    if inference[1] == arm[1]:
        assert load(**values).aml_audience == arm[1]
    else:
        assert refused(**values).startswith(f"AML_INFERENCE_DOMAIN='{region}{inference[0]}' is not")


# --- the property, for every destination ---------------------------------------------------------

DESTINATIONS = [SYNAPSE_DEV, LEDGER_TABLE, OUTCOME_TOPIC, AML_INFERENCE, ARM_ML]
LABEL = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12)


def _value(destination: TokenDestination, host: str) -> dict[str, str | None]:
    """Settings that put `host` in `destination.setting` (and nothing else of no known cloud)."""
    if destination is SYNAPSE_DEV:
        return {"SYNAPSE_DEV_ENDPOINT": f"https://{{workspace}}.{host}"}
    if destination is LEDGER_TABLE:
        return {"LEDGER_CONNECTION_STRING": None, "LEDGER_TABLE_ENDPOINT": f"https://{host}"}
    if destination is OUTCOME_TOPIC:
        return {"OUTCOME_TOPIC_ENDPOINT": f"https://{host}/api/events"}
    if destination is AML_INFERENCE:
        return {"AML_INFERENCE_DOMAIN": host}
    return {"ARM_ENDPOINT": f"https://{host}"}


def _audience_of(destination: TokenDestination, loaded: Settings) -> str | None:
    return {
        "SYNAPSE_DEV_AUDIENCE": loaded.synapse_dev_audience,
        "LEDGER_TABLE_AUDIENCE": loaded.ledger.table_audience,
        "OUTCOME_TOPIC_AUDIENCE": loaded.outcome_topic_audience,
        "AML_AUDIENCE": loaded.aml_audience,
    }[destination.audience_setting]


@settings(max_examples=400)
@given(
    destination=st.sampled_from(DESTINATIONS),
    labels=st.lists(LABEL, min_size=1, max_size=4),
    suffix=st.sampled_from(
        [
            "",
            "table.core.windows.net",
            "eventgrid.azure.net",
            "dev.azuresynapse.net",
            "inference.ml.azure.com",
            "management.azure.com",
            "azure.com",
            "windows.net",
            "example.com",
        ]
    ),
)
def test_no_host_outside_a_known_cloud_gets_a_token_without_a_stated_audience(
    destination: TokenDestination, labels: list[str], suffix: str
) -> None:
    host = ".".join([*labels, suffix]).strip(".")
    known = destination.cloud_audience(host)
    try:
        loaded = load(**_value(destination, host))
    except SettingsError as error:
        refusal: str | None = str(error)
    else:
        refusal = None
    if refusal is not None:
        # Refused: the message names the setting at fault (the host's, or its domain rule).
        assert destination.setting in refusal or "is not valid" in refusal
        return
    # Loaded without a stated audience: only a host of a known cloud, with its cloud's audience.
    assert known is not None, host
    assert _audience_of(destination, loaded) == known


# --- the token a client sends is its audience, whatever the host asks for -----------------------


@pytest.mark.slow
def test_the_ledger_sends_no_other_token_when_its_host_challenges_for_one(app: App) -> None:
    # azure-data-tables asks for whatever resource a 401 challenge names: a table host of no
    # known cloud (stated with LEDGER_TABLE_AUDIENCE) answered with ARM's, and got an ARM token.
    from simulator.server import Call, Reply, route

    seen: list[str | None] = []

    def challenge(call: Call) -> Reply:
        token = call.headers.get("authorization", "").partition(" ")[2]
        seen.append(app.sim.token_audience(token))
        return Reply(
            401,
            headers={
                "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/'
                f'{app.sim.tenant_id}", resource_id="https://management.azure.com"'
            },
        )

    # Routes stay for the session: this one has a path of its own.
    app.sim.add_route(
        route("POST", r"^/ledger-challenge/tables$", "test.tables.challenge", challenge, None)
    )
    app.set_settings(
        LEDGER_CONNECTION_STRING="",
        LEDGER_TABLE_ENDPOINT=f"{app.sim.url}/ledger-challenge",
        LEDGER_TABLE_AUDIENCE="https://storage.azure.com",
    )
    loaded = get_settings()

    with pytest.raises(AzureError):
        open_ledger(loaded.ledger, clients_for(loaded).token_credential)  # type: ignore[arg-type]

    # One request, with the storage token; no ARM token was asked for, none was sent.
    assert seen == ["https://storage.azure.com"]
    asked = {str(request["resource"]).rstrip("/") for request in app.sim.identity.token_requests}
    assert "https://management.azure.com" not in asked
