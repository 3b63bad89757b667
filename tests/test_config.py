"""App settings (DESIGN §4): every setting's happy path, and a clear error naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import config
from shared.adapters.clients import synapse_dev_scope
from shared.config import (
    AutomationMode,
    PolicyMode,
    Settings,
    SettingsError,
    load_settings,
)
from shared.reconcilers.private_endpoints import approval_rules
from tests.test_infra import settings_read_by
from tests.test_policy_exemptions import BASE_ENV
from tests.test_retraining_config import BASE, PROMOTING, RETRAINING

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
GROUP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-1234"
ML_1 = f"{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/testworkspace"
ML_2 = f"{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/otherworkspace"
SYNAPSE_1 = f"{GROUP}/providers/Microsoft.Synapse/workspaces/exampleWorkspace"
SYNAPSE_2 = f"{GROUP}/providers/Microsoft.Synapse/workspaces/secondWorkspace"
STORAGE = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/mystorage"
AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)
CLIENT_ID = "6a2b1f5e-9c0d-4e3f-8a7b-1c2d3e4f5a6b"


def env(**overrides: str | None) -> dict[str, str]:
    """A valid minimal environment; an override of None removes the setting."""
    values: dict[str, str | None] = {
        "ML_WORKSPACE_IDS": ML_1,
        "SYNAPSE_WORKSPACE_IDS": SYNAPSE_1,
        "LEDGER_CONNECTION_STRING": AZURITE,
        **overrides,
    }
    return {name: value for name, value in values.items() if value is not None}


def load(**overrides: str | None) -> Settings:
    return load_settings(env(**overrides))


def refused(setting: str, **overrides: str | None) -> str:
    """Load with the overrides, expect a SettingsError naming `setting`, return its message."""
    with pytest.raises(SettingsError) as raised:
        load(**overrides)
    message = str(raised.value)
    assert setting in message
    return message


# --- Happy paths -------------------------------------------------------------------------------


def test_minimal_settings_take_the_documented_defaults() -> None:
    loaded = load()
    assert loaded.ml_workspace_ids == (ML_1,)
    assert loaded.synapse_workspace_ids == (SYNAPSE_1,)
    assert loaded.automation_mode is AutomationMode.ENFORCE
    assert not loaded.dry_run
    assert loaded.policy_mode is PolicyMode.AUDIT
    assert loaded.reject_unverified is False
    assert loaded.arm_endpoint == "https://management.azure.com"
    assert loaded.synapse_dev_endpoint == "https://{workspace}.dev.azuresynapse.net"
    assert loaded.azure_client_id is None
    assert loaded.ledger.connection_string == AZURITE
    assert loaded.ledger.table_endpoint is None
    assert loaded.ledger.table_name == "automationledger"
    assert loaded.reconcile_schedule is None
    assert loaded.allowed_compute_vm_sizes is None
    assert loaded.max_cluster_nodes is None
    assert loaded.hbi_required is False
    assert not loaded.remediate
    assert loaded.outcome_topic_endpoint is None


def test_every_setting_set() -> None:
    loaded = load(
        ML_WORKSPACE_IDS=f" {ML_1} ,{ML_2}",
        SYNAPSE_WORKSPACE_IDS=f"{SYNAPSE_1},\t{SYNAPSE_2}",
        AUTOMATION_MODE="dry-run",
        POLICY_MODE="remediate",
        REJECT_UNVERIFIED="true",
        ARM_ENDPOINT="https://management.usgovcloudapi.net/",
        SYNAPSE_DEV_ENDPOINT="https://{workspace}.dev.azuresynapse.usgovcloudapi.net",
        AZURE_CLIENT_ID=CLIENT_ID,
        LEDGER_CONNECTION_STRING=None,
        LEDGER_TABLE_ENDPOINT="https://mystorage.table.core.windows.net",
        LEDGER_TABLE_NAME="Ledger2024",
        RECONCILE_SCHEDULE="0 */15 * * * *",
        ALLOWED_COMPUTE_VM_SIZES="Standard_DS3_v2, standard_e4s_v3",
        MAX_CLUSTER_NODES="8",
        HBI_REQUIRED="yes",
        OUTCOME_TOPIC_ENDPOINT="https://outcomes.westeurope-1.eventgrid.azure.net/api/events",
    )
    assert loaded.ml_workspace_ids == (ML_1, ML_2)
    assert loaded.synapse_workspace_ids == (SYNAPSE_1, SYNAPSE_2)
    assert loaded.automation_mode is AutomationMode.DRY_RUN
    assert loaded.dry_run
    assert loaded.policy_mode is PolicyMode.REMEDIATE
    assert loaded.reject_unverified is True
    assert loaded.arm_endpoint == "https://management.usgovcloudapi.net"
    assert loaded.arm_scope == "https://management.usgovcloudapi.net/.default"
    assert loaded.azure_client_id == CLIENT_ID
    assert loaded.ledger.table_endpoint == "https://mystorage.table.core.windows.net"
    assert loaded.ledger.connection_string is None
    assert loaded.ledger.table_name == "Ledger2024"
    assert loaded.reconcile_schedule == "0 */15 * * * *"
    assert loaded.remediate
    # VM sizes compare case-insensitively, as ARM reports them in either casing.
    assert loaded.allowed_compute_vm_sizes == frozenset({"standard_ds3_v2", "standard_e4s_v3"})
    assert loaded.max_cluster_nodes == 8
    assert loaded.hbi_required is True
    assert loaded.outcome_topic_endpoint == (
        "https://outcomes.westeurope-1.eventgrid.azure.net/api/events"
    )
    # Each token's audience follows the cloud of the host it goes to.
    assert loaded.outcome_topic_audience == "https://eventgrid.azure.net"
    assert loaded.ledger.table_audience == "https://storage.azure.com"
    assert loaded.aml_audience == "https://ml.azure.us"


def test_settings_are_hashable_and_equal_by_value() -> None:
    assert load() == load()
    assert hash(load()) == hash(load())


def test_blank_optional_settings_take_their_defaults() -> None:
    loaded = load(
        AUTOMATION_MODE="  ",
        POLICY_MODE="",
        REJECT_UNVERIFIED="",
        ARM_ENDPOINT=" ",
        SYNAPSE_DEV_ENDPOINT="",
        AZURE_CLIENT_ID="",
        LEDGER_TABLE_NAME="",
        RECONCILE_SCHEDULE=" ",
        ALLOWED_COMPUTE_VM_SIZES="",
        MAX_CLUSTER_NODES=" ",
        HBI_REQUIRED="",
        OUTCOME_TOPIC_ENDPOINT="",
    )
    assert loaded == load()


@pytest.mark.parametrize(
    ("value", "mode"),
    [("enforce", AutomationMode.ENFORCE), ("dry-run", AutomationMode.DRY_RUN)],
)
def test_automation_mode(value: str, mode: AutomationMode) -> None:
    assert load(AUTOMATION_MODE=value).automation_mode is mode
    assert load(AUTOMATION_MODE=value.upper()).automation_mode is mode


@pytest.mark.parametrize(
    ("value", "mode"), [("audit", PolicyMode.AUDIT), ("Remediate", PolicyMode.REMEDIATE)]
)
def test_policy_mode(value: str, mode: PolicyMode) -> None:
    assert load(POLICY_MODE=value).policy_mode is mode


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("no", False),
    ],
)
def test_reject_unverified(value: str, expected: bool) -> None:
    assert load(REJECT_UNVERIFIED=value).reject_unverified is expected


def test_ids_keep_their_order_and_casing() -> None:
    loaded = load(ML_WORKSPACE_IDS=f"{ML_2},{ML_1.upper()}")
    assert loaded.ml_workspace_ids == (ML_2, ML_1.upper())


def test_the_rate_defaults_to_ten_and_reads_the_setting() -> None:
    assert load_settings(BASE_ENV).max_remediations_per_hour == 10
    assert (
        load_settings({**BASE_ENV, "MAX_REMEDIATIONS_PER_HOUR": "3"}).max_remediations_per_hour == 3
    )


# --- Failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["ML_WORKSPACE_IDS", "SYNAPSE_WORKSPACE_IDS"])
@pytest.mark.parametrize("value", [None, "", "   ", ","])
def test_workspace_lists_are_required(setting: str, value: str | None) -> None:
    refused(setting, **{setting: value})


@pytest.mark.parametrize(
    ("setting", "good"), [("ML_WORKSPACE_IDS", ML_1), ("SYNAPSE_WORKSPACE_IDS", SYNAPSE_1)]
)
@pytest.mark.parametrize(
    "bad",
    [
        "not-an-arm-id",
        "testworkspace",
        "https://ml.azure.com/workspaces/testworkspace",
        GROUP,
        ML_1 + "\u200b",  # zero-width space: not stripped, not ASCII
    ],
)
def test_malformed_id_names_the_setting_and_the_item(setting: str, good: str, bad: str) -> None:
    message = refused(setting, **{setting: f"{good},{bad}"})
    assert "item 2" in message


@pytest.mark.parametrize(
    ("setting", "bad"),
    [
        ("ML_WORKSPACE_IDS", STORAGE),
        ("ML_WORKSPACE_IDS", SYNAPSE_1),
        ("ML_WORKSPACE_IDS", ML_1 + "/privateEndpointConnections/pec1"),
        ("ML_WORKSPACE_IDS", ML_1 + "/computes/cpu"),
        ("ML_WORKSPACE_IDS", ML_1.replace("testworkspace", "testw\u043erkspace")),
        ("ML_WORKSPACE_IDS", ML_1 + "/"),
        # A resource group name ending in a newline: an anchored `match` let it through.
        ("ML_WORKSPACE_IDS", ML_1.replace("/providers/", "\n/providers/", 1)),
        ("SYNAPSE_WORKSPACE_IDS", STORAGE),
        ("SYNAPSE_WORKSPACE_IDS", ML_1),
        ("SYNAPSE_WORKSPACE_IDS", SYNAPSE_1 + "/managedVirtualNetworks/default"),
    ],
)
def test_id_of_the_wrong_type_is_refused(setting: str, bad: str) -> None:
    message = refused(setting, **{setting: bad})
    assert "item 1" in message


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("ML_WORKSPACE_IDS", f"{ML_1},{ML_1}"),
        ("ML_WORKSPACE_IDS", f"{ML_1},{ML_2},{ML_1.upper()}"),
        ("SYNAPSE_WORKSPACE_IDS", f"{SYNAPSE_1}, {SYNAPSE_1.lower()}"),
    ],
)
def test_duplicate_ids_are_refused(setting: str, value: str) -> None:
    message = refused(setting, **{setting: value})
    assert "twice" in message


def test_a_trailing_comma_is_an_empty_item() -> None:
    message = refused("ML_WORKSPACE_IDS", ML_WORKSPACE_IDS=f"{ML_1},")
    assert "item 2" in message


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("AUTOMATION_MODE", "audit"),
        ("AUTOMATION_MODE", "dryrun"),
        ("AUTOMATION_MODE", "enforce,dry-run"),
        ("POLICY_MODE", "enforce"),
        ("POLICY_MODE", "remediation"),
        ("REJECT_UNVERIFIED", "maybe"),
        ("REJECT_UNVERIFIED", "on"),
        ("REJECT_UNVERIFIED", "2"),
        ("ARM_ENDPOINT", "http://management.azure.com"),
        ("ARM_ENDPOINT", "management.azure.com"),
        ("ARM_ENDPOINT", "https://"),
        ("SYNAPSE_DEV_ENDPOINT", "https://exampleWorkspace.dev.azuresynapse.net"),
        ("SYNAPSE_DEV_ENDPOINT", "http://{workspace}.dev.azuresynapse.net"),
        ("SYNAPSE_DEV_ENDPOINT", "https://{name}.dev.azuresynapse.net"),
        ("AZURE_CLIENT_ID", "my-identity"),
        ("AZURE_CLIENT_ID", "6a2b1f5e-9c0d-4e3f-8a7b"),
        ("LEDGER_TABLE_NAME", "1ledger"),
        ("LEDGER_TABLE_NAME", "ab"),
        ("LEDGER_TABLE_NAME", "automation-ledger"),
        ("LEDGER_TABLE_NAME", "a" * 64),
        ("RECONCILE_SCHEDULE", "*/15 * * * *"),
        ("RECONCILE_SCHEDULE", "0 */15 * * * * *"),
        ("RECONCILE_SCHEDULE", "every 15 minutes"),
        ("ALLOWED_COMPUTE_VM_SIZES", "Standard_DS3_v2,,Standard_E4s_v3"),
        ("ALLOWED_COMPUTE_VM_SIZES", "Standard DS3 v2"),
        ("ALLOWED_COMPUTE_VM_SIZES", "Standard_DS3_v2;Standard_E4s_v3"),
        ("MAX_CLUSTER_NODES", "0"),
        ("MAX_CLUSTER_NODES", "-1"),
        ("MAX_CLUSTER_NODES", "4.5"),
        ("MAX_CLUSTER_NODES", "ten"),
        ("HBI_REQUIRED", "required"),
        ("OUTCOME_TOPIC_ENDPOINT", "http://outcomes.westeurope-1.eventgrid.azure.net/api/events"),
        ("OUTCOME_TOPIC_ENDPOINT", "outcomes.westeurope-1.eventgrid.azure.net"),
    ],
)
def test_bad_value_names_the_setting(setting: str, value: str) -> None:
    message = refused(setting, **{setting: value})
    assert repr(value) in message or value in message


@pytest.mark.parametrize("value", ["0", "-1", "ten", "1001", "9" * 18])
def test_a_bad_rate_is_a_start_up_error_naming_the_setting(value: str) -> None:
    with pytest.raises(SettingsError, match="MAX_REMEDIATIONS_PER_HOUR"):
        load_settings({**BASE_ENV, "MAX_REMEDIATIONS_PER_HOUR": value})


def test_ledger_needs_an_endpoint_or_a_connection_string() -> None:
    message = refused("LEDGER_TABLE_ENDPOINT", LEDGER_CONNECTION_STRING=None)
    assert "LEDGER_CONNECTION_STRING" in message


def test_ledger_refuses_both_an_endpoint_and_a_connection_string() -> None:
    message = refused(
        "LEDGER_TABLE_ENDPOINT", LEDGER_TABLE_ENDPOINT="https://mystorage.table.core.windows.net"
    )
    assert "LEDGER_CONNECTION_STRING" in message


def test_ledger_endpoint_must_be_https() -> None:
    refused(
        "LEDGER_TABLE_ENDPOINT",
        LEDGER_CONNECTION_STRING=None,
        LEDGER_TABLE_ENDPOINT="http://mystorage.table.core.windows.net",
    )


@given(password=st.text(alphabet="QWXY \t!'", max_size=12))
def test_a_refused_urls_password_is_not_in_the_settings_error(password: str) -> None:
    value = f"https://admin:Q{password}Q@mystorage.table.core.windows.net"
    message = refused(
        "LEDGER_TABLE_ENDPOINT", LEDGER_CONNECTION_STRING=None, LEDGER_TABLE_ENDPOINT=value
    )

    assert not set("QWXY") & set(message), message


@pytest.mark.parametrize(
    "setting", ["ARM_ENDPOINT", "SYNAPSE_DEV_ENDPOINT", "OUTCOME_TOPIC_ENDPOINT"]
)
@pytest.mark.parametrize("value", ["https://[", "https://[::1", "https://{workspace}]x"])
def test_unparseable_url_names_the_setting(setting: str, value: str) -> None:
    # urlsplit raises a bare ValueError ("Invalid IPv6 URL") on these: it must become a
    # SettingsError that names the setting, like every other bad value.
    refused(setting, **{setting: value})


@pytest.mark.parametrize("value", ["https://[", "https://[mystorage.table.core.windows.net"])
def test_unparseable_ledger_endpoint_names_the_setting(value: str) -> None:
    refused("LEDGER_TABLE_ENDPOINT", LEDGER_CONNECTION_STRING=None, LEDGER_TABLE_ENDPOINT=value)


@pytest.mark.parametrize("value", ["\u00b2", "1\u00b2", "\u2463"])
def test_max_cluster_nodes_unicode_digits_name_the_setting(value: str) -> None:
    # str.isdigit() is true for superscripts and circled digits, which int() refuses with a
    # bare ValueError: it must be a SettingsError that names the setting.
    refused("MAX_CLUSTER_NODES", MAX_CLUSTER_NODES=value)


# Every setting the app reads (as tests/test_infra.py finds them), with retraining, scoring and
# promotion on, so that each is read.
SETTING_NAMES = sorted(settings_read_by(Path(config.__file__).read_text(encoding="utf-8")))
# The text an operator might paste: URLs, IDs, JSON, brackets, whitespace, anything.
setting_values = st.one_of(
    st.text(max_size=30),
    st.text(alphabet='0123456789\u00b2\u2463\u0661-_ ,.:/[]{}"@', max_size=12),
    st.sampled_from(
        ["https://", "http://", "https://[", "{workspace}", "[", "{", "azureml://", ML_1, SYNAPSE_1]
    ).flatmap(lambda head: st.text(max_size=10).map(lambda tail: head + tail)),
    st.integers(0, 5_000).map(lambda zeros: "0" * zeros + "1"),
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SETTING_NAMES), setting_values)
def test_any_value_loads_or_raises_a_settings_error_naming_it(setting: str, value: str) -> None:
    """Whatever an operator types into one setting, the outcome is Settings, or a SettingsError
    that names that setting: never another exception."""
    try:
        load_settings({**BASE, **RETRAINING, **PROMOTING, setting: value})
    except SettingsError as error:
        message = str(error)
    else:
        return
    assert setting in message


# Every whole-number setting, with the retraining and promotion settings that enable some.
WHOLE_NUMBER_SETTINGS = {
    "MAX_REMEDIATIONS_PER_RUN": lambda s: s.max_remediations_per_run,
    "MAX_REMEDIATIONS_PER_HOUR": lambda s: s.max_remediations_per_hour,
    "MAX_CLUSTER_NODES": lambda s: s.max_cluster_nodes,
    "ARM_READS_BURST": lambda s: s.arm_reads_burst,
    "ARM_READS_PER_SECOND": lambda s: s.arm_reads_per_second,
    "SWEEP_FAN_OUT_WORKSPACES": lambda s: s.sweep_fan_out_workspaces,
    "RETRAIN_COOLDOWN_MINUTES": lambda s: s.retraining.cooldown_minutes,
    "RETRAIN_JOB_TIMEOUT_HOURS": lambda s: s.retraining.job_timeout_hours,
    "PROMOTION_KEEP": lambda s: s.retraining.promotion.keep,
}
# Leading zeros and thousands of digits: int() refuses over 4,300 digits with its own ValueError.
digit_strings = (
    st.tuples(
        st.integers(0, 5_000), st.text(alphabet="0123456789", max_size=25), st.integers(0, 5_000)
    )
    .map(lambda parts: "0" * parts[0] + parts[1] + "9" * parts[2])
    .filter(bool)
)  # empty: unset


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(WHOLE_NUMBER_SETTINGS)), digit_strings)
def test_any_digits_in_a_whole_number_setting_load_as_that_number_or_name_it(
    setting: str, value: str
) -> None:
    try:
        loaded = load_settings({**BASE, **RETRAINING, **PROMOTING, setting: value})
    except SettingsError as error:
        message = str(error)
    else:
        assert WHOLE_NUMBER_SETTINGS[setting](loaded) == int(value.lstrip("0") or "0")
        return
    assert setting in message


@pytest.mark.parametrize("setting", sorted(WHOLE_NUMBER_SETTINGS))
def test_leading_zeros_beyond_int_s_digit_limit_still_read_as_the_number(setting: str) -> None:
    loaded = load_settings({**BASE, **RETRAINING, **PROMOTING, setting: "0" * 5_000 + "5"})
    assert WHOLE_NUMBER_SETTINGS[setting](loaded) == 5


# --- Derived values ----------------------------------------------------------------------------


def test_arm_scope_follows_the_endpoint() -> None:
    assert load().arm_scope == "https://management.azure.com/.default"
    china = load(ARM_ENDPOINT="https://management.chinacloudapi.cn")
    assert china.arm_scope == "https://management.chinacloudapi.cn/.default"


def test_synapse_endpoint_for_a_workspace() -> None:
    assert (
        load().synapse_endpoint_for("exampleWorkspace")
        == "https://exampleWorkspace.dev.azuresynapse.net"
    )
    proxied = load(
        SYNAPSE_DEV_ENDPOINT="https://127.0.0.1:8443/synapse-dev/{workspace}/",
        SYNAPSE_DEV_AUDIENCE="https://dev.azuresynapse.net",
    )
    assert proxied.synapse_dev_endpoint == "https://127.0.0.1:8443/synapse-dev/{workspace}"
    assert proxied.synapse_endpoint_for("ws1") == "https://127.0.0.1:8443/synapse-dev/ws1"


def test_in_scope_and_allow_listed_compare_ids_exactly_but_for_case() -> None:
    loaded = load(SYNAPSE_WORKSPACE_IDS=f"{SYNAPSE_1},{SYNAPSE_2}")
    assert loaded.in_scope(ML_1)
    assert loaded.in_scope(ML_1.upper())
    assert not loaded.in_scope(ML_2)
    assert not loaded.in_scope(ML_1 + "/")
    assert not loaded.in_scope(ML_1 + " ")
    assert not loaded.in_scope(ML_1 + "/privateEndpointConnections/pec1")
    assert not loaded.in_scope(ML_1.replace("testworkspace", "testwor\u212aspace"))
    assert not loaded.in_scope("")
    rules = approval_rules(loaded)  # what the planners are given
    assert rules.allow_listed(SYNAPSE_2.lower())
    assert not rules.allow_listed(SYNAPSE_1.replace("exampleWorkspace", "exampleWorkspace2"))
    assert not rules.allow_listed(ML_1)


@pytest.mark.parametrize(
    ("template", "scope"),
    [
        ("https://{workspace}.dev.azuresynapse.net", "https://dev.azuresynapse.net/.default"),
        (
            "https://{workspace}.dev.azuresynapse.azure.cn",
            "https://dev.azuresynapse.azure.cn/.default",
        ),
        (
            "https://{workspace}.dev.azuresynapse.usgovcloudapi.net",
            "https://dev.azuresynapse.usgovcloudapi.net/.default",
        ),
        ("https://{workspace}.DEV.AzureSynapse.net", "https://dev.azuresynapse.net/.default"),
    ],
)
def test_synapse_dev_scope_follows_the_endpoints_cloud(template: str, scope: str) -> None:
    assert synapse_dev_scope(template) == scope
    assert load(SYNAPSE_DEV_ENDPOINT=template).synapse_dev_audience == scope.removesuffix(
        "/.default"
    )


def test_synapse_dev_scope_of_the_loaded_default() -> None:
    assert synapse_dev_scope(load().synapse_dev_endpoint) == "https://dev.azuresynapse.net/.default"


@pytest.mark.parametrize(
    "template",
    [
        "https://127.0.0.1:8443/synapse-dev/{workspace}",
        "https://synapse-proxy.contoso.com/{workspace}",
        # Lookalikes of a cloud's suffix are hosts of no known cloud.
        "https://{workspace}.dev.azuresynapse.net.contoso.com",
        "https://{workspace}.devazuresynapse.net",
        "https://{workspace}-dev.azuresynapse.net.evil.example",
    ],
)
def test_a_custom_synapse_host_without_an_audience_is_a_settings_error(template: str) -> None:
    message = refused("SYNAPSE_DEV_ENDPOINT", SYNAPSE_DEV_ENDPOINT=template)
    assert "SYNAPSE_DEV_AUDIENCE" in message
    with pytest.raises(SettingsError):
        synapse_dev_scope(template)


def test_a_custom_synapse_host_uses_the_stated_audience() -> None:
    loaded = load(
        SYNAPSE_DEV_ENDPOINT="https://synapse-proxy.contoso.com/{workspace}",
        SYNAPSE_DEV_AUDIENCE="https://dev.azuresynapse.azure.cn/",
    )
    assert loaded.synapse_dev_audience == "https://dev.azuresynapse.azure.cn"
    assert (
        synapse_dev_scope(loaded.synapse_dev_endpoint, loaded.synapse_dev_audience)
        == "https://dev.azuresynapse.azure.cn/.default"
    )


@pytest.mark.parametrize(
    ("endpoint", "audience"),
    [
        # A known cloud's host with another cloud's audience: a token for the wrong cloud.
        ("https://{workspace}.dev.azuresynapse.azure.cn", "https://dev.azuresynapse.net"),
        ("https://{workspace}.dev.azuresynapse.net", "https://dev.azuresynapse.usgovcloudapi.net"),
        # Not an audience.
        ("https://proxy.contoso.com/{workspace}", "http://dev.azuresynapse.net"),
        ("https://proxy.contoso.com/{workspace}", "https://dev.azuresynapse.net/some/path"),
    ],
)
def test_a_synapse_audience_that_does_not_fit_is_refused(endpoint: str, audience: str) -> None:
    refused("SYNAPSE_DEV_AUDIENCE", SYNAPSE_DEV_ENDPOINT=endpoint, SYNAPSE_DEV_AUDIENCE=audience)
