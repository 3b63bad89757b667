"""App settings, read once and validated: a bad value fails at start-up with an error that names
the setting and what is expected, never deep inside a handler. A new setting is a field of
`Settings` (or `RetrainingSettings`) and one keyword in `load_settings` (or `_retraining`), read
by a `_Reader` method whose first argument is its name (tests/test_infra.py finds names so)."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit

from azure.mgmt.core.tools import parse_resource_id

from shared.arm import (
    ML_NAME,
    ML_WORKSPACE_TYPE,
    ArmId,
    is_arm_id,
    is_guid,
    is_resource_type,
    is_workspace,
    name_of,
    same_arm_id,
    top_level_resource,
)
from shared.bounds import excerpt, redacted
from shared.policy.exemptions import Exemption, json_array, parse_exemptions
from shared.scope import GROUP_ID, Scope, parse_scopes, parse_tag
from shared.scoring.inputs import STORAGE_SUFFIXES, AllowedInputs, allowed_prefix, input_not_allowed

SYNAPSE_WORKSPACE_TYPE = ("Microsoft.Synapse", "workspaces")

# NCRONTAB as the Functions host reads it: six fields, seconds first.
_NCRONTAB = re.compile(r"[0-9*/,\-A-Za-z?]+(?:\s+[0-9*/,\-A-Za-z?]+){5}")
# Azure's naming rules (resource-name-rules) for the parts of IDs the app builds URLs from: a
# name outside them (`x@evil.com#`) is no resource Azure can hold, and would change the URL.
_NAME_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    # Global: it is the data plane's host name.
    "microsoft.synapse/workspaces": (
        re.compile(r"^(?!.*-ondemand)[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$"),
        "1-50 lowercase letters, digits and hyphens, starting and ending with a letter or "
        "digit, without '-ondemand'",
    ),
    "microsoft.machinelearningservices/workspaces": (
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$"),
        "3-33 letters, digits, hyphens and underscores, starting with a letter or digit",
    ),
    # What an event says was written, read by its ID (`privateEndpoints/pe?x` reads another path).
    "microsoft.network/privateendpoints": (
        re.compile(r"^[a-z0-9](?:[a-z0-9_.-]{0,62}[a-z0-9_])?$"),
        "up to 64 letters, digits, '_', '.' and '-', starting with a letter or digit, ending "
        "with one or '_'",
    ),
}
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
# A DNS label: letters, digits and hyphens, not at either end.
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# An MLflow metric key, as MLflow accepts it.
_METRIC_NAME = re.compile(r"^[A-Za-z0-9_.\-/ ]{1,250}$")
DEFAULT_RETRAIN_COOLDOWN_MINUTES = 360
# The ledger keeps a workspace's hour in one row: a bound that row holds with room to spare.
MAX_REMEDIATIONS_PER_HOUR = 1_000


class SettingsError(ValueError):
    """Names the setting and what is expected; repeats no credential (URL user info, a SAS)."""

    def __init__(self, message: str) -> None:
        super().__init__(redacted(message))


def _invalid(name: str, value: object, expected: str) -> SettingsError:
    return SettingsError(f"{name}={value!r} is not valid: {expected}")


class AutomationMode(StrEnum):
    ENFORCE = "enforce"
    DRY_RUN = "dry-run"


class PolicyMode(StrEnum):
    AUDIT = "audit"
    REMEDIATE = "remediate"


@dataclass(frozen=True)
class LedgerSettings:
    table_endpoint: str | None
    connection_string: str | None
    table_name: str
    table_audience: str | None = None


@dataclass(frozen=True)
class Settings:
    """The validated app settings. Hashable, so adapters can be cached per settings value."""

    ml_workspace_ids: tuple[ArmId, ...]
    synapse_workspace_ids: tuple[ArmId, ...]
    automation_mode: AutomationMode
    policy_mode: PolicyMode
    reject_unverified: bool
    arm_endpoint: str
    synapse_dev_endpoint: str
    azure_client_id: str | None
    ledger: LedgerSettings
    reconcile_schedule: str | None
    allowed_compute_vm_sizes: frozenset[str] | None
    max_cluster_nodes: int | None
    hbi_required: bool
    outcome_topic_endpoint: str | None
    outcome_topic_audience: str | None
    max_remediations_per_run: int  # per event, sweep or CLI run (the rest are deferred)
    max_remediations_per_hour: int  # per workspace, whatever the runs
    policy_exemptions: tuple[Exemption, ...]
    # Assignments of the app's initiative whose Azure Policy exemptions count (none: not read).
    policy_assignment_ids: tuple[str, ...]
    # SYNAPSE_DEV_ENDPOINT's cloud's audience, or SYNAPSE_DEV_AUDIENCE for a host of no cloud.
    synapse_dev_audience: str | None
    retraining: RetrainingSettings | None
    aml_inference_domain: str
    # Azure ML's data-plane token audience (scoring URIs, the job PUT's x-azureml-token).
    aml_audience: str
    logs_query_endpoint: str
    scoring_allowed_endpoints: tuple[ArmId, ...]
    scoring_allowed_callers: frozenset[str]
    # What jobs the app starts may read: SCORING_ALLOWED_INPUTS, never the host's storage.
    scoring_allowed_inputs: AllowedInputs
    # HTTP functions serve only behind App Service authentication (WEBSITE_AUTH_ENABLED) and
    # build URLs from API_HOSTNAME, else WEBSITE_HOSTNAME, else relative: never the request's.
    http_auth_enabled: bool
    api_host: str | None
    scope: Scope
    # The process's ARM read budget, below ARM's own bucket of 250 at 25 per second.
    arm_reads_burst: int
    arm_reads_per_second: int
    # Over this many workspaces, the sweep fans out by subscription.
    sweep_fan_out_workspaces: int

    @property
    def dry_run(self) -> bool:
        return self.automation_mode is AutomationMode.DRY_RUN

    @property
    def remediate(self) -> bool:
        return self.policy_mode is PolicyMode.REMEDIATE

    @property
    def arm_scope(self) -> str:  # sovereign clouds have their own
        return f"{self.arm_endpoint}/.default"

    def synapse_endpoint_for(self, workspace_name: str) -> str:
        return self.synapse_dev_endpoint.replace("{workspace}", workspace_name)

    def in_scope(self, workspace_id: str) -> bool:
        """As far as the ID tells: `shared.inventory` decides the rest from ARM's answers."""
        return self.scope.may_cover(workspace_id)


@dataclass(frozen=True)
class ComponentRef:
    """`RETRAIN_COMPONENT`: a registered component, `name:version` or `name@label`."""

    name: str
    version: str | None = None
    label: str | None = None

    def __str__(self) -> str:
        return f"{self.name}:{self.version}" if self.version else f"{self.name}@{self.label}"


@dataclass(frozen=True)
class DriftGate:
    log_analytics_workspace_id: str
    query: str
    threshold: float


@dataclass(frozen=True)
class Promotion:
    metric: str
    higher_is_better: bool
    min_delta: float
    model_name: str
    keep: int
    score_when_not_promoted: bool


@dataclass(frozen=True)
class RetrainingSettings:
    workspace_ids: tuple[ArmId, ...]
    component: ComponentRef
    # The inputs as canonical JSON: Settings must stay hashable.
    inputs_json: str
    compute: str
    experiment: str
    cooldown_minutes: int
    drift_gate: DriftGate | None
    batch_endpoint_name: str | None
    batch_deployment_name: str | None
    scoring_input: str | None
    promotion: Promotion | None
    # A job of the app's claim not ended this long after it holds retraining no more.
    job_timeout_hours: int

    @property
    def inputs(self) -> dict[str, object]:
        return dict(json.loads(self.inputs_json))  # a JSON object: `_json_object` made it

    def retrains(self, workspace_id: str) -> bool:
        return any(same_arm_id(workspace_id, known) for known in self.workspace_ids)


Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin:
    """(scheme, host, port), lower-cased, default ports filled in, for the endpoint guard; else
    `ValueError`: no host, user info (fails at the first request, or hides the host), bad port."""
    parts = urlsplit(url)  # refuses some malformed netlocs, such as "https://["
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None:
        # Raised on as it is (a ledger connection string's TableEndpoint): no credential in it.
        raise ValueError(f"not an endpoint URL: {redacted(url)!r}")
    port = parts.port or {"https": 443, "http": 80}.get(scheme)  # `.port` checks the range
    if port is None:
        raise ValueError(f"not an http(s) URL: {redacted(url)!r}")
    return scheme, host, port


def _is_https_url(value: str) -> bool:
    try:
        return origin_of(value)[0] == "https"
    except ValueError:
        return False


# --- Where tokens may go -------------------------------------------------------------------------
# A setting naming a host the app sends a token to is tied to that token's audience: a host of a
# known cloud gets that cloud's, any other (a proxy, the simulator) only the one its audience
# setting states. (ARM_ENDPOINT's and LOGS_QUERY_ENDPOINT's audience is the endpoint itself.)

# Constants of azure-data-tables and azure-eventgrid, in every cloud.
STORAGE_AUDIENCE = "https://storage.azure.com"
EVENTGRID_AUDIENCE = "https://eventgrid.azure.net"


@dataclass(frozen=True)
class TokenDestination:
    setting: str
    audience_setting: str
    clouds: tuple[tuple[str, str], ...]
    # A client asking for the clouds' one audience whatever the host (azure-eventgrid's publisher).
    fixed_by: str | None = None

    def cloud_audience(self, host: str) -> str | None:
        host = host.lower()
        return next((a for s, a in self.clouds if host == s or host.endswith("." + s)), None)

    def audience(self, value: str, explicit: str | None, host: str | None = None) -> str:
        """Its cloud's, or `explicit`: required for a host of no known cloud, agreeing with one."""
        host = host or urlsplit(value.replace("{workspace}", "workspace")).hostname or ""
        derived = self.cloud_audience(host)
        if explicit is not None:
            explicit = explicit.rstrip("/")
            if derived is not None and explicit.lower() != derived.lower():
                raise SettingsError(
                    f"{self.audience_setting}={explicit!r} does not match the cloud of "
                    f"{self.setting}={value!r}: expected {derived} or leave it unset"
                )
            if self.fixed_by and explicit.lower() != self.clouds[0][1]:
                expected = f"{self.fixed_by} requests tokens for {self.clouds[0][1]} only"
                raise _invalid(self.audience_setting, explicit, expected)
            return explicit
        if derived is None:
            known = ", ".join(f"*.{suffix}" for suffix, _ in self.clouds)
            raise SettingsError(
                f"{self.setting}={value!r} is on no known Azure cloud ({known}): set "
                f"{self.audience_setting} to the token audience that may go there, such as "
                f"{self.clouds[0][1]}"
            )
        return derived

    def stated(self, reader: _Reader) -> str | None:  # an https:// URI without a path
        explicit = reader.checked(self.audience_setting, _is_https_url, _HTTPS_URL)
        if explicit is not None and urlsplit(explicit).path.strip("/"):
            expected = f"expected an audience such as {self.clouds[0][1]} (no path)"
            raise _invalid(self.audience_setting, explicit, expected)
        return explicit

    def read(self, reader: _Reader, url: str | None) -> str | None:  # None when `url` is unset
        explicit = self.stated(reader)
        return None if url is None else self.audience(url, explicit)


# Host suffixes from ARM's cloud metadata and the Azure private DNS zone tables of each service.
_SYNAPSE = tuple(f"dev.azuresynapse.{c}" for c in ("net", "azure.cn", "usgovcloudapi.net"))
SYNAPSE_DEV = TokenDestination(
    "SYNAPSE_DEV_ENDPOINT", "SYNAPSE_DEV_AUDIENCE", tuple((h, f"https://{h}") for h in _SYNAPSE)
)
_TABLES = tuple((f"table.{suffix}", STORAGE_AUDIENCE) for suffix in STORAGE_SUFFIXES)
LEDGER_TABLE = TokenDestination("LEDGER_TABLE_ENDPOINT", "LEDGER_TABLE_AUDIENCE", _TABLES)
_GRID = tuple((f"eventgrid.azure.{c}", EVENTGRID_AUDIENCE) for c in ("net", "cn", "us"))
OUTCOME_TOPIC = TokenDestination(
    "OUTCOME_TOPIC_ENDPOINT", "OUTCOME_TOPIC_AUDIENCE", _GRID, "the Event Grid publisher"
)
# Each cloud's ARM host, with azure-ai-ml's built-in name for that cloud (`ml_client`).
ARM_CLOUDS = {
    "management.azure.com": "AzureCloud",
    "management.chinacloudapi.cn": "AzureChinaCloud",
    "management.usgovcloudapi.net": "AzureUSGovernment",
}
# Azure ML's data plane: scoring URIs under AML_INFERENCE_DOMAIN, and the job PUT's
# x-azureml-token, which goes to ARM_ENDPOINT. Both must agree on one audience.
_ML_AUDIENCES = tuple(f"https://ml.azure.{c}" for c in ("com", "cn", "us"))
_INFERENCE = tuple(f"inference.ml.azure.{c}" for c in ("com", "cn", "us"))
AML_INFERENCE = TokenDestination(
    "AML_INFERENCE_DOMAIN", "AML_AUDIENCE", tuple(zip(_INFERENCE, _ML_AUDIENCES, strict=True))
)
ARM_ML = TokenDestination(
    "ARM_ENDPOINT", "AML_AUDIENCE", tuple(zip(ARM_CLOUDS, _ML_AUDIENCES, strict=True))
)
# Log Analytics' query endpoint of each cloud, in ARM_CLOUDS' order (as are _SYNAPSE, _INFERENCE).
_LOGS = tuple(f"https://api.loganalytics.{c}/v1" for c in ("io", "azure.cn", "us"))


def _aml_audience(reader: _Reader, arm_endpoint: str, domain: str) -> str:
    """ARM_ENDPOINT's cloud's, or AML_AUDIENCE (needed for a host of no known cloud there or in
    AML_INFERENCE_DOMAIN). A scoring URI host only has to be under the domain, so a domain anyone
    can have hosts under would send the ML token anywhere: at least three labels (a public suffix
    such as `co.uk` has fewer), never a parent of a known cloud's inference domain."""
    explicit = ARM_ML.stated(reader)
    parent = any(suffix.endswith("." + domain) for suffix in _INFERENCE)
    if AML_INFERENCE.cloud_audience(domain) is None and (domain.count(".") < 2 or parent):
        expected = (
            "a public suffix or a parent of an Azure ML inference domain; expected "
            "inference.ml.azure.com, a sovereign cloud's (inference.ml.azure.cn, "
            "inference.ml.azure.us), or a host of at least three labels with AML_AUDIENCE"
        )
        raise _invalid("AML_INFERENCE_DOMAIN", domain, expected)
    inference = AML_INFERENCE.audience(domain, explicit, domain)
    audience = ARM_ML.audience(arm_endpoint, explicit)
    if inference.lower() != audience.lower():  # both derived, of two clouds: one token for both
        expected = f"expected a domain of ARM_ENDPOINT's cloud (ML audience {audience})"
        raise _invalid("AML_INFERENCE_DOMAIN", domain, expected)
    return audience


def name_problem(arm_id: str) -> str | None:
    """What in a well-formed ARM ID breaks Azure's naming rules (to follow the ID in an error)."""
    parts = parse_resource_id(arm_id)
    if not is_guid(str(parts.get("subscription", ""))):
        return ": the subscription is not a GUID"
    group = str(parts.get("resource_group", ""))
    if not GROUP_ID.fullmatch(group):
        return (
            f": resource group {group!r} is not a valid name: expected 1-90 letters, digits, "
            "'_', '-', '.', '(' and ')', not ending with '.'"
        )
    kind = f"{parts.get('namespace', '')}/{parts.get('type', '')}"
    rule = _NAME_RULES.get(kind.lower())
    name = str(parts.get("name", ""))
    # Names compare case-insensitively in ARM IDs (and in host names): judged in lower case.
    if rule is not None and not rule[0].fullmatch(name.lower() if name.isascii() else name):
        return f": name {name!r} is not a valid {kind} name: expected {rule[1]}"
    return None


def _each(
    name: str, items: Iterable[str], problem: Callable[[str], str | None], *, unique: bool = False
) -> list[str]:
    """Each item passes `problem` (None, else the error's tail); `unique`: no ARM ID twice."""
    seen: list[str] = []
    for position, item in enumerate(items, start=1):
        found = problem(item)
        if found is None and unique and any(same_arm_id(item, other) for other in seen):
            found = " is listed twice"
        if found is not None:
            raise SettingsError(f"{name}: item {position} ({item!r}){found}")
        seen.append(item)
    return seen


def _parsed(name: str, parse: Callable[[str], _T], value: str) -> _T:
    try:
        return parse(value)
    except ValueError as error:
        raise SettingsError(f"{name}: {error}") from None


_T = TypeVar("_T")


def whole_number(value: str) -> int | None:
    """ASCII digits (`isdigit` also takes superscripts, which int() refuses) of at most 18 once
    leading zeros go: int() refuses thousands of digits, leading zeros too, with its own error."""
    digits = value.lstrip("0")
    ok = value.isascii() and value.isdigit() and len(digits) <= 18
    return int(digits or "0") if ok else None


def decimal_number(value: str) -> float | None:
    """float() of ASCII without '_' (it also reads other scripts' digits, 1_0); NaN, inf pass."""
    try:
        return float(value) if value.isascii() and "_" not in value else None
    except ValueError:
        return None


_HTTPS_URL = "expected an https:// URL (without user info)"
_NOT_ARM_ID = (
    " is not an ARM ID of {}: expected /subscriptions/<guid>/resourceGroups/<group>/providers/{}"
)
_SCOPE_SETTINGS = "(ML_SCOPES, ML_WORKSPACE_IDS, ML_SCOPE_EXCLUDE)"
# JSON settings are bounded before they are parsed: a huge or deeply nested value is a settings
# error, not a RecursionError or a slow start.
MAX_JSON_SETTING_CHARS = 64 * 1024
MAX_JSON_SETTING_DEPTH = 16
# A JSON string, or the rest of the text after an unterminated one: brackets in it do not nest.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.?)*(?:"|\Z)', re.DOTALL)


@dataclass(frozen=True)
class _Reader:
    environ: Mapping[str, str]

    def optional(self, name: str) -> str | None:
        return self.environ.get(name, "").strip() or None

    def required(
        self, name: str, expected: str, by: str = "", ok: Callable[[str], object] = bool
    ) -> str:
        value = self.checked(name, ok, f"expected {expected}")
        if value is None:
            needed = f"required with {by}" if by else "required"  # `by`: the setting needing it
            raise SettingsError(f"{name} is {needed}: expected {expected}")
        return value

    def checked(self, name: str, ok: Callable[[str], object], expected: str) -> str | None:
        value = self.optional(name)
        if value is not None and not ok(value):
            raise _invalid(name, value, expected)
        return value

    def listed(
        self, name: str, problem: Callable[[str], str | None] = lambda _: None, unique: bool = False
    ) -> list[str]:
        raw = self.optional(name)
        items = [item.strip() for item in raw.split(",")] if raw is not None else []
        return _each(name, items, problem, unique=unique)

    def choice(self, name: str, options: Iterable[str]) -> str:
        allowed = [str(option) for option in options]
        value = self.checked(name, lambda v: v.lower() in allowed, f"expected one of {allowed}")
        return value.lower() if value is not None else allowed[0]

    def flag(self, name: str, *, default: bool) -> bool:
        words = ("true", "1", "yes", "false", "0", "no")
        value = self.checked(name, lambda v: v.lower() in words, "expected true or false")
        return default if value is None else value.lower() in words[:3]

    def arm_ids(self, name: str, resource_type: tuple[str, str]) -> tuple[ArmId, ...]:
        kind = "/".join(resource_type)
        self.required(name, f"comma-separated ARM IDs of {kind} resources")

        def problem(candidate: str) -> str | None:
            if not is_resource_type(candidate, *resource_type):
                return _NOT_ARM_ID.format(f"a {kind} resource", f"{kind}/<name>")
            return name_problem(candidate)

        return tuple(ArmId(candidate) for candidate in self.listed(name, problem, unique=True))

    def scopes(self, name: str) -> tuple[str, ...]:
        def problem(item: str) -> str | None:  # a resource group's or a workspace's names
            under_group = is_arm_id(item) and "resource_group" in parse_resource_id(item)
            return name_problem(item) if under_group else None

        return tuple(_each(name, self.json_text(name, parse_scopes), problem))

    def https_url(self, name: str, default: str) -> str:
        """A URL template when `default` is one (holds `{workspace}`)."""
        value = self.optional(name) or default
        template = "{workspace}" in default
        if not _is_https_url(value.replace("{workspace}", "workspace") if template else value):
            raise _invalid(name, value, _HTTPS_URL)
        if template and "{workspace}" not in value:
            expected = f"expected a URL template containing {{workspace}}, such as {default}"
            raise _invalid(name, value, expected)
        return value.rstrip("/")

    def domain(self, name: str, default: str = "") -> str:
        """A DNS suffix (or a host such as 127.0.0.1), lower-cased; empty when unset."""
        value = (self.optional(name) or default).lower()
        if value and not (value.isascii() and all(map(_HOST_LABEL.fullmatch, value.split(".")))):
            example = default or "func-synapse-aml.azurewebsites.net"
            raise _invalid(name, value, f"expected a DNS domain such as {example}")
        return value

    def json_text(self, name: str, parse: Callable[[str], _T], default: str = "[]") -> _T:
        value = self.optional(name) or default
        if len(value) > MAX_JSON_SETTING_CHARS:
            raise SettingsError(
                f"{name} is {len(value)} characters long: expected at most {MAX_JSON_SETTING_CHARS}"
            )
        steps = ((char in "[{") - (char in "]}") for char in _JSON_STRING.sub("", value))
        if max(itertools.accumulate(steps, initial=0)) > MAX_JSON_SETTING_DEPTH:
            raise SettingsError(
                f"{name} is nested too deeply: expected JSON at most "
                f"{MAX_JSON_SETTING_DEPTH} arrays or objects deep"
            )
        return _parsed(name, parse, value)

    def ncrontab(self, name: str) -> str | None:
        expected = (
            "expected an NCRONTAB expression with six fields (second minute hour day month "
            "weekday), such as '0 */15 * * * *'"
        )
        return self.checked(name, _NCRONTAB.fullmatch, expected)

    def words(self, name: str) -> frozenset[str] | None:
        items = self.listed(name)
        if not all(i.replace("_", "").replace("-", "").isalnum() for i in items):
            expected = "expected comma-separated names such as Standard_DS3_v2,Standard_E4s_v3"
            raise _invalid(name, self.optional(name), expected)
        return frozenset(item.lower() for item in items) or None

    def count(self, name: str, default: int, *, least: int = 1, at_most: int | None = None) -> int:
        value = self.optional(name)
        if value is None:
            return default
        number = whole_number(value)
        if number is None or number < least or (at_most is not None and number > at_most):
            expected = (
                f"from {least} to {at_most}" if at_most else f">= {least} (at most 18 digits)"
            )
            raise _invalid(name, excerpt(value, 40), f"expected a whole number {expected}")
        return number

    def ml_name(self, name: str, expected: str) -> str | None:
        return self.checked(name, ML_NAME.fullmatch, f"expected {expected}")


def _ledger(reader: _Reader) -> LedgerSettings:
    endpoint = reader.checked("LEDGER_TABLE_ENDPOINT", _is_https_url, _HTTPS_URL)
    connection_string = reader.optional("LEDGER_CONNECTION_STRING")
    if endpoint and connection_string:
        raise SettingsError(
            "LEDGER_TABLE_ENDPOINT and LEDGER_CONNECTION_STRING are both set: expected exactly "
            "one (the endpoint with a managed identity in Azure, the connection string locally)"
        )
    if not endpoint and not connection_string:
        raise SettingsError(
            "LEDGER_TABLE_ENDPOINT or LEDGER_CONNECTION_STRING is required: expected the table "
            "service URI (https://<account>.table.core.windows.net) or a connection string"
        )
    expected = "expected 3-63 letters and digits, starting with a letter"
    name = reader.checked("LEDGER_TABLE_NAME", _TABLE_NAME.fullmatch, expected)
    audience = LEDGER_TABLE.read(reader, endpoint)
    return LedgerSettings(endpoint, connection_string, name or "automationledger", audience)


def _component(reader: _Reader) -> ComponentRef:
    raw = reader.required("RETRAIN_COMPONENT", "a registered component, name:version or name@label")
    # The `azureml:` prefix of Azure ML's YAML and CLI references is accepted too.
    name = ML_NAME.pattern
    if found := re.fullmatch(f"({name})(?::({name})|@({name}))", raw.removeprefix("azureml:")):
        return ComponentRef(found[1], found[2], found[3])
    expected = "expected name:version or name@label, such as train_model:3 or train_model@latest"
    raise _invalid("RETRAIN_COMPONENT", raw, expected)


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not a JSON number")


def _json_object(text: str) -> str:
    try:
        # NaN and Infinity are not JSON (Python reads them): Azure would refuse the job.
        loaded = json.loads(text, parse_constant=_not_json)
    except ValueError as error:
        raise ValueError(f"not valid JSON: {error}") from None
    if not isinstance(loaded, dict):
        raise ValueError("expected a JSON object of input names")
    return json.dumps(loaded, sort_keys=True, separators=(",", ":"))


def _number(name: str, raw: str, expected: str, least: float = -math.inf, shown: int = 0) -> float:
    number = decimal_number(raw)
    if number is None or not (math.isfinite(number) and number >= least):
        raise _invalid(name, excerpt(raw, shown) if shown else raw, expected)
    return number


def _drift_gate(reader: _Reader) -> DriftGate | None:
    query = reader.optional("DRIFT_QUERY")
    if query is None:
        return None
    expected = "the Log Analytics workspace (customer) ID, a GUID"
    workspace = reader.required(
        "DRIFT_LOG_ANALYTICS_WORKSPACE_ID", expected, "DRIFT_QUERY", is_guid
    )
    expected = "a number that the query's value is compared with"
    raw = reader.required("DRIFT_THRESHOLD", expected, by="DRIFT_QUERY")
    threshold = _number("DRIFT_THRESHOLD", raw, "expected a finite number")
    return DriftGate(str(uuid.UUID(workspace)), query, threshold)


def _retraining(reader: _Reader, scope: Scope, allowed: AllowedInputs) -> RetrainingSettings | None:
    if reader.optional("RETRAIN_WORKSPACE_IDS") is None:
        return None  # retraining off
    workspace_ids = reader.arm_ids("RETRAIN_WORKSPACE_IDS", ML_WORKSPACE_TYPE)
    out = f" is not in scope {_SCOPE_SETTINGS}: retraining runs only in workspaces in scope"
    _each("RETRAIN_WORKSPACE_IDS", workspace_ids, lambda i: None if scope.may_cover(i) else out)
    # azure-ai-ml runs a job on "local" here, on the app's host, with what Azure answers.
    expected = "the name of a compute cluster (not 'local', the app's own host)"
    compute = reader.required(
        "RETRAIN_COMPUTE", expected, ok=lambda c: ML_NAME.fullmatch(c) and c.lower() != "local"
    )
    # At most a year: a cooldown beyond any date (timedelta's range) would fail every drift event.
    cooldown = reader.count(
        "RETRAIN_COOLDOWN_MINUTES", DEFAULT_RETRAIN_COOLDOWN_MINUTES, least=0, at_most=525_600
    )
    timeout = reader.count("RETRAIN_JOB_TIMEOUT_HOURS", 24, at_most=8_760)  # a year
    endpoint = reader.ml_name("BATCH_ENDPOINT_NAME", "the name of a batch endpoint")
    deployment = reader.ml_name("BATCH_DEPLOYMENT_NAME", "the name of a batch deployment")
    scoring_input = reader.optional("SCORING_INPUT")
    if endpoint:
        expected = "the data to score, such as azureml://datastores/<datastore>/paths/<folder>/"
        reader.required("SCORING_INPUT", expected, by="BATCH_ENDPOINT_NAME")
    inputs_json = reader.json_text("RETRAIN_INPUTS", _json_object, "{}")
    scoring = [("SCORING_INPUT", scoring_input)] if scoring_input is not None else []
    # The jobs of every retraining workspace read these paths with the app's identity: each passes
    # the same check as an HTTP request's input (not repeated: it may hold a SAS).
    for name, path in itertools.chain(scoring, _data_inputs(json.loads(inputs_json))):
        for workspace in workspace_ids:
            if (reason := input_not_allowed(path, workspace, allowed)) is not None:
                raise SettingsError(f"{name} is not valid: the input path {reason}")
    promotion = _promotion(reader)
    if promotion is not None:
        expected = "the batch endpoint whose default deployment a better model replaces"
        reader.required("BATCH_ENDPOINT_NAME", expected, by="PROMOTION_METRIC")
    reader.ncrontab("RETRAIN_SCHEDULE")  # the timer's (%RETRAIN_SCHEDULE%): checked only
    return RetrainingSettings(
        workspace_ids=workspace_ids,
        component=_component(reader),
        inputs_json=inputs_json,
        compute=compute,
        experiment=reader.ml_name("RETRAIN_EXPERIMENT", "an experiment name") or "model-retraining",
        cooldown_minutes=cooldown,
        drift_gate=_drift_gate(reader),
        batch_endpoint_name=endpoint,
        batch_deployment_name=deployment,
        scoring_input=scoring_input,
        promotion=promotion,
        job_timeout_hours=timeout,
    )


def _promotion(reader: _Reader) -> Promotion | None:
    metric = reader.optional("PROMOTION_METRIC")
    if metric is None:
        return None
    if not _METRIC_NAME.fullmatch(metric):
        raise _invalid(
            "PROMOTION_METRIC", excerpt(metric, 60), "expected a metric name such as accuracy"
        )
    direction = reader.choice("PROMOTION_DIRECTION", ("higher", "lower"))
    raw_delta = reader.optional("PROMOTION_MIN_DELTA") or "0"
    min_delta = _number("PROMOTION_MIN_DELTA", raw_delta, "expected a finite number >= 0", 0, 40)
    expected = "the name the better model is registered under"
    model_name = reader.required(
        "PROMOTION_MODEL_NAME", expected, "PROMOTION_METRIC", ML_NAME.fullmatch
    )
    # At least the new default and the previous one, to switch back to.
    keep = reader.count("PROMOTION_KEEP", 2, least=2)
    score_anyway = reader.flag("SCORE_WHEN_NOT_PROMOTED", default=True)
    return Promotion(metric, direction == "higher", min_delta, model_name, keep, score_anyway)


# A string that azure-ai-ml could take for a path or URI: a scheme, a separator, a dot or tilde
# first. Unless it is a remote URI that passes the input check, it would be uploaded from the host.
_PATH_LIKE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:|[./~\\])|[/\\]")


def _data_inputs(inputs: dict[str, object]) -> Iterator[tuple[str, str]]:
    """Data inputs (`{"type", "path"}`, or a string that looks like a path), named as in an error,
    must be remote URIs that pass the input check; numbers, booleans, plain words are literals."""
    for key, value in inputs.items():
        name = f"RETRAIN_INPUTS: input {excerpt(key, 80)!r}"
        if isinstance(value, dict):
            path = value.get("path")
            if not isinstance(path, str):
                raise SettingsError(f'{name} is not valid: expected {{"type", "path"}}')
            yield name, path
        elif isinstance(value, list):
            raise SettingsError(f"{name} is not valid: expected a literal or a data input")
        elif isinstance(value, str) and _PATH_LIKE.search(value):
            if not value.startswith(("azureml:", "https://")):
                raise SettingsError(
                    f"{name} is not valid: a local path or another scheme would be uploaded "
                    "from the app's host; expected azureml://datastores/... or https://..."
                )
            yield name, value


def _host_storage_accounts(environ: Mapping[str, str]) -> frozenset[str]:
    """The storage accounts of the Functions host (`AzureWebJobsStorage` and its identity-based
    `AzureWebJobsStorage__*` forms): host keys, the deployment package, timers' leases."""
    accounts: set[str] = set()
    for name, raw in environ.items():
        if not name.lower().startswith("azurewebjobsstorage"):
            continue
        value = raw.strip()
        if name.lower().endswith("__accountname"):
            accounts.add(value.lower())
            continue
        fields = (part.partition("=") for part in value.split(";") if "=" in part)
        lowered = {key.strip().lower(): text.strip() for key, _, text in fields}
        if lowered.get("usedevelopmentstorage", "").lower() == "true":
            accounts.add("devstoreaccount1")
        if "accountname" in lowered:
            accounts.add(lowered["accountname"].lower())
        for url in [value, *(v for k, v in lowered.items() if k.endswith("endpoint"))]:
            with contextlib.suppress(ValueError):
                host = (urlsplit(url).hostname or "").lower()
                if any(host.endswith("." + suffix) for suffix in STORAGE_SUFFIXES):
                    accounts.add(host.partition(".")[0])
    return frozenset(accounts)


def _allowed_inputs(name: str, reader: _Reader) -> AllowedInputs:
    hosts = _host_storage_accounts(reader.environ)
    loaded = reader.json_text(name, lambda text: json_array(text, "prefixes (strings)"))
    if not all(isinstance(item, str) for item in loaded):
        raise SettingsError(f"{name}: expected a JSON array of prefixes (strings)")
    prefixes = []
    for position, item in enumerate(loaded, start=1):
        try:
            prefixes.append(allowed_prefix(str(item).strip(), hosts))
        except ValueError as error:
            # The item is not repeated: it may hold a SAS token.
            raise SettingsError(f"{name}: item {position} {error}") from None
    return AllowedInputs(tuple(prefixes), hosts)


def _batch_endpoints(name: str, reader: _Reader, scope: Scope) -> tuple[ArmId, ...]:
    def problem(candidate: str) -> str | None:
        workspace = batch_endpoint_workspace(candidate)
        if workspace is None:
            path = "Microsoft.MachineLearningServices/workspaces/<workspace>/batchEndpoints/<name>"
            return _NOT_ARM_ID.format("a batch endpoint", path)
        if not scope.may_cover(workspace):
            return f" is under workspace {workspace}, which is not in scope {_SCOPE_SETTINGS}"
        return None

    return tuple(ArmId(candidate) for candidate in reader.listed(name, problem, unique=True))


def batch_endpoint_workspace(value: str) -> ArmId | None:
    """The workspace of a batch endpoint ARM ID, as `value` spells it, or None when not one."""
    top = top_level_resource(value)
    workspace = top[2] if top is not None and is_workspace(top[2]) else ""
    endpoint = f"{workspace}/batchEndpoints/{name_of(value)}" if workspace else ""
    # Equal but for case, so of the same length.
    return ArmId(value[: len(workspace)]) if same_arm_id(value, endpoint) else None


def load_settings(environ: Mapping[str, str], *, without_ledger: bool = False) -> Settings:
    """`without_ledger`: for read-only uses (the CLI's `plan`), which neither need nor check the
    ledger settings; the ledger they name is then nothing, and opening it fails."""
    reader = _Reader(environ)
    scopes = reader.scopes("ML_SCOPES")
    ml_workspace_ids: tuple[ArmId, ...] = ()
    if not scopes or reader.optional("ML_WORKSPACE_IDS"):
        ml_workspace_ids = reader.arm_ids("ML_WORKSPACE_IDS", ML_WORKSPACE_TYPE)
    # ML_SCOPES and ML_WORKSPACE_IDS together (a workspace in both counts once), with
    # ML_SCOPE_EXCLUDE and ML_SCOPE_TAG, which apply to every scope.
    tag = reader.optional("ML_SCOPE_TAG")
    parsed_tag = _parsed("ML_SCOPE_TAG", parse_tag, tag) if tag is not None else None
    extra = tuple(i for i in ml_workspace_ids if not any(same_arm_id(i, s) for s in scopes))
    scope = Scope(scopes + extra, reader.scopes("ML_SCOPE_EXCLUDE"), parsed_tag)
    allowed_inputs = _allowed_inputs("SCORING_ALLOWED_INPUTS", reader)
    arm_endpoint = reader.https_url("ARM_ENDPOINT", "https://management.azure.com")
    # Unset data-plane endpoints are ARM's cloud's (the public one's for a host of no cloud): a
    # deployment writes ARM's, from environment(), and can name no other cloud's host.
    arm_host = urlsplit(arm_endpoint).hostname or ""
    cloud = list(ARM_CLOUDS).index(arm_host) if arm_host in ARM_CLOUDS else 0
    outcome_topic = reader.checked("OUTCOME_TOPIC_ENDPOINT", _is_https_url, _HTTPS_URL)
    inference_domain = reader.domain("AML_INFERENCE_DOMAIN", _INFERENCE[cloud])
    synapse = reader.https_url("SYNAPSE_DEV_ENDPOINT", f"https://{{workspace}}.{_SYNAPSE[cloud]}")
    # `func start` sets WEBSITE_HOSTNAME to localhost:<port>, plain HTTP: relative URLs then.
    local = re.fullmatch(r"[^:]+:[0-9]+", reader.optional("WEBSITE_HOSTNAME") or "")
    return Settings(
        ml_workspace_ids=ml_workspace_ids,
        synapse_workspace_ids=reader.arm_ids("SYNAPSE_WORKSPACE_IDS", SYNAPSE_WORKSPACE_TYPE),
        automation_mode=AutomationMode(reader.choice("AUTOMATION_MODE", AutomationMode)),
        policy_mode=PolicyMode(reader.choice("POLICY_MODE", PolicyMode)),
        reject_unverified=reader.flag("REJECT_UNVERIFIED", default=False),
        arm_endpoint=arm_endpoint,
        synapse_dev_endpoint=synapse,
        azure_client_id=reader.checked("AZURE_CLIENT_ID", is_guid, "expected a client ID (GUID)"),
        ledger=LedgerSettings(None, None, "unused") if without_ledger else _ledger(reader),
        reconcile_schedule=reader.ncrontab("RECONCILE_SCHEDULE"),
        allowed_compute_vm_sizes=reader.words("ALLOWED_COMPUTE_VM_SIZES"),
        max_cluster_nodes=reader.count("MAX_CLUSTER_NODES", 0) or None,
        hbi_required=reader.flag("HBI_REQUIRED", default=False),
        outcome_topic_endpoint=outcome_topic,
        outcome_topic_audience=OUTCOME_TOPIC.read(reader, outcome_topic),
        max_remediations_per_run=reader.count("MAX_REMEDIATIONS_PER_RUN", 10),
        max_remediations_per_hour=reader.count(
            "MAX_REMEDIATIONS_PER_HOUR", 10, at_most=MAX_REMEDIATIONS_PER_HOUR
        ),
        policy_exemptions=reader.json_text("POLICY_EXEMPTIONS", parse_exemptions),
        policy_assignment_ids=tuple(reader.listed("POLICY_ASSIGNMENT_IDS", _not_assignment)),
        synapse_dev_audience=SYNAPSE_DEV.read(reader, synapse),
        retraining=_retraining(reader, scope, allowed_inputs),
        aml_inference_domain=inference_domain,
        aml_audience=_aml_audience(reader, arm_endpoint, inference_domain),
        logs_query_endpoint=reader.https_url("LOGS_QUERY_ENDPOINT", _LOGS[cloud]),
        scoring_allowed_endpoints=_batch_endpoints("SCORING_ALLOWED_ENDPOINTS", reader, scope),
        scoring_allowed_callers=frozenset(
            str(uuid.UUID(i)) for i in reader.listed("SCORING_ALLOWED_CALLERS", _not_object_id)
        ),
        scoring_allowed_inputs=allowed_inputs,
        http_auth_enabled=(reader.optional("WEBSITE_AUTH_ENABLED") or "").lower() == "true",
        api_host=reader.domain("API_HOSTNAME")
        or (None if local else reader.domain("WEBSITE_HOSTNAME"))
        or None,
        scope=scope,
        arm_reads_burst=reader.count("ARM_READS_BURST", 200),
        arm_reads_per_second=reader.count("ARM_READS_PER_SECOND", 20),
        sweep_fan_out_workspaces=reader.count("SWEEP_FAN_OUT_WORKSPACES", 2000),
    )


def _not_object_id(value: str) -> str | None:
    return None if is_guid(value) else " is not an Entra object ID (GUID)"


_ASSIGNMENT = re.compile(
    r"(/subscriptions/[^/\s]+(/resourceGroups/[^/\s]+)?|/providers/Microsoft\.Management/"
    r"managementGroups/[^/\s]+)?/providers/Microsoft\.Authorization/policyAssignments/[^/\s]+",
    re.IGNORECASE,
)


def _not_assignment(value: str) -> str | None:
    if value.isascii() and _ASSIGNMENT.fullmatch(value):
        return None
    return (
        " is not the ID of a policy assignment: expected <scope>/providers/"
        "Microsoft.Authorization/policyAssignments/<name>, the scope a management group, "
        "subscription or resource group"
    )


@functools.cache
def get_settings() -> Settings:
    """Read once: app settings do not change without a restart of the Functions host."""
    return load_settings(os.environ)
