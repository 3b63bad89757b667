"""Infrastructure: checkov over infra/, and the contracts between infra, settings and code.

(Least privilege, App Service authentication, the ABAC condition and azure.yaml are checked in
tests/test_infra_security.py.)

- checkov finds no failed check in the Bicep (and a parse error, or nothing parsed, is a failure:
  checkov itself exits 0 on both).
- Every function an Event Grid subscription points at is registered by the app, with an Event Grid
  trigger (DESIGN.md section 2: function names are a contract).
- Every setting the app reads (shared/config.py, %SETTING% binding expressions, DESIGN.md
  section 4) is provisioned as an app setting by infra/ and present in local.settings.sample.json.

The parsers are small and unit-tested below on made-up input, so a parser bug cannot make a
consistency test pass vacuously.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infra"
CONFIG_MODULE = REPO / "shared" / "config.py"
LOCAL_SETTINGS_SAMPLE = REPO / "local.settings.sample.json"

# DESIGN.md section 4: every setting of the app, whether or not the code reads it yet.
DESIGN_SETTINGS = frozenset(
    {
        "ML_WORKSPACE_IDS",
        "SYNAPSE_WORKSPACE_IDS",
        "AUTOMATION_MODE",
        "POLICY_MODE",
        "REJECT_UNVERIFIED",
        "ARM_ENDPOINT",
        "SYNAPSE_DEV_ENDPOINT",
        "AZURE_CLIENT_ID",
        "LEDGER_TABLE_ENDPOINT",
        "LEDGER_CONNECTION_STRING",
        "LEDGER_TABLE_NAME",
        "RECONCILE_SCHEDULE",
        "RETRAIN_SCHEDULE",
        "ALLOWED_COMPUTE_VM_SIZES",
        "MAX_CLUSTER_NODES",
        "RETRAIN_COMPONENT",
        "RETRAIN_COOLDOWN_MINUTES",
        "DRIFT_LOG_ANALYTICS_WORKSPACE_ID",
        "DRIFT_QUERY",
        "DRIFT_THRESHOLD",
        "BATCH_ENDPOINT_NAME",
        "SCORING_ALLOWED_ENDPOINTS",
        "OUTCOME_TOPIC_ENDPOINT",
        "MAX_REMEDIATIONS_PER_RUN",
        "POLICY_EXEMPTIONS",
        "RETRAIN_WORKSPACE_IDS",
        "RETRAIN_INPUTS",
        "RETRAIN_COMPUTE",
        "RETRAIN_EXPERIMENT",
        "LOGS_QUERY_ENDPOINT",
        "BATCH_DEPLOYMENT_NAME",
        "SCORING_INPUT",
        "AML_INFERENCE_DOMAIN",
        "SCORING_ALLOWED_CALLERS",
    }
)

# Set by the platform, never by infra/ or the sample: App Service authentication sets
# WEBSITE_AUTH_ENABLED (an app setting of that name would claim an authentication that is not
# there), and WEBSITE_HOSTNAME is the app's default host name.
PLATFORM_SETTINGS = frozenset({"WEBSITE_AUTH_ENABLED", "WEBSITE_HOSTNAME"})

# Settings of which each place provides exactly one: the ledger is identity-based in Azure
# (LEDGER_TABLE_ENDPOINT) and Azurite locally (LEDGER_CONNECTION_STRING); shared/config.py
# rejects both at once.
EXCLUSIVE_SETTINGS = (frozenset({"LEDGER_TABLE_ENDPOINT", "LEDGER_CONNECTION_STRING"}),)

_SETTING_NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")
_FUNCTION_TARGET = re.compile(r"/functions/([A-Za-z_][A-Za-z0-9_]*)")
# An app setting in Bicep is an object { name: 'X', value: ... }, name first.
_APP_SETTING = re.compile(r"\bname:\s*'([A-Za-z_][A-Za-z0-9_]*)'\s*,?\s*value:")
_BINDING_EXPRESSION = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%")


# --- parsers ----------------------------------------------------------------------------------


def strip_bicep_comments(text: str) -> str:
    """Bicep source without `//` and `/* */` comments; string literals are kept intact."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("'''", i):
            end = text.find("'''", i + 3)
            end = len(text) if end < 0 else end + 3
            out.append(text[i:end])
            i = end
        elif text[i] == "'":
            j = i + 1
            while j < len(text) and text[j] != "'" and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def function_targets(bicep: str) -> set[str]:
    """Function names that `<function app ID>/functions/<name>` references point at."""
    return set(_FUNCTION_TARGET.findall(strip_bicep_comments(bicep)))


def app_setting_names(bicep: str) -> set[str]:
    """Names of the `{ name: 'X', value: ... }` app settings in Bicep source."""
    return set(_APP_SETTING.findall(strip_bicep_comments(bicep)))


def settings_read_by(source: str) -> set[str]:
    """Setting names a Python module reads: an UPPER_CASE string literal passed as the first
    positional argument of any call (`reader.required("NAME", ...)`, `environ.get("NAME")`), as
    either of the two a `TokenDestination` names (its URL's setting and its audience's), or used
    as a subscript of something called `environ` (`os.environ["NAME"]`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        literals: list[ast.expr] = []
        if isinstance(node, ast.Call) and node.args:
            destination = isinstance(node.func, ast.Name) and node.func.id == "TokenDestination"
            literals = node.args[:2] if destination else node.args[:1]
        elif isinstance(node, ast.Subscript) and _names_environ(node.value):
            literals = [node.slice]
        for literal in literals:
            if (
                isinstance(literal, ast.Constant)
                and isinstance(literal.value, str)
                and _SETTING_NAME.match(literal.value)
            ):
                names.add(literal.value)
    return names


def _names_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id.endswith("environ")) or (
        isinstance(node, ast.Attribute) and node.attr.endswith("environ")
    )


def binding_expressions(raw_bindings: Iterable[str]) -> set[str]:
    """Setting names of `%NAME%` expressions anywhere in a function's raw (JSON) bindings."""
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            names.update(_BINDING_EXPRESSION.findall(value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for raw in raw_bindings:
        walk(json.loads(raw))
    return names


@dataclass(frozen=True)
class CheckovRun:
    """What one checkov run found, from its JSON output."""

    passed: int
    failed: int
    skipped: int
    parsing_errors: int
    resource_count: int
    failed_checks: tuple[str, ...]
    skips_without_reason: tuple[str, ...]


def _no_reason(comment: object) -> bool:
    # checkov reports a skip without a reason as "No comment provided".
    text = str(comment or "").strip()
    return not text or text == "No comment provided"


def parse_checkov_output(output: str) -> CheckovRun:
    """Sum checkov's JSON report(s). It prints one report, a list of reports (several
    frameworks), or only a bare summary when it found no file to scan."""
    data: Any = json.loads(output)
    reports: list[dict[str, Any]] = data if isinstance(data, list) else [data]
    totals = dict.fromkeys(("passed", "failed", "skipped", "parsing_errors", "resource_count"), 0)
    failed: list[str] = []
    unexplained: list[str] = []
    for report in reports:
        summary = report.get("summary", report)
        for key in totals:
            totals[key] += int(summary.get(key, 0))
        results = report.get("results", {})
        failed += [
            f"{c['check_id']} {c['resource']} ({c.get('file_path')}): {c.get('check_name')}"
            for c in results.get("failed_checks", [])
        ]
        unexplained += [
            f"{c['check_id']} {c['resource']}"
            for c in results.get("skipped_checks", [])
            if _no_reason(c.get("check_result", {}).get("suppress_comment"))
        ]
    return CheckovRun(
        **totals, failed_checks=tuple(failed), skips_without_reason=tuple(unexplained)
    )


# --- what the repository says ------------------------------------------------------------------


def bicep_sources() -> dict[Path, str]:
    files = sorted(INFRA.rglob("*.bicep"))
    assert files, f"no .bicep files under {INFRA}"
    return {path: path.read_text(encoding="utf-8") for path in files}


def found_in_bicep(check: Callable[[str], list[str]]) -> dict[str, list[str]]:
    """What `check` finds in each Bicep file under infra/ that it finds anything in."""
    return {
        str(path.relative_to(INFRA)): found
        for path, text in bicep_sources().items()
        if (found := check(text))
    }


def infra_settings() -> set[str]:
    names: set[str] = set()
    for text in bicep_sources().values():
        names |= app_setting_names(text)
    assert names, "found no { name: '...', value: ... } app settings in infra/*.bicep"
    return names


def local_settings() -> dict[str, Any]:
    values: dict[str, Any] = json.loads(LOCAL_SETTINGS_SAMPLE.read_text(encoding="utf-8"))["Values"]
    return values


def registered_functions() -> dict[str, Any]:
    """The app's functions by name, from the same once-per-process index the other tests use
    (azure-functions refuses a second `app.get_functions()` call)."""
    from tools import host

    return host.indexed()


def missing_from(provided: set[str], wanted: Iterable[str]) -> list[str]:
    """Wanted names not provided, where one member of an exclusive group stands for the group."""
    missing = []
    for name in sorted(wanted):
        group = next((g for g in EXCLUSIVE_SETTINGS if name in g), frozenset({name}))
        if not group & provided:
            missing.append(name)
    return missing


def checkov_executable() -> str | None:
    """$CHECKOV, else the repo's .venv-checkov (what `make setup` installs), else checkov beside
    this Python, else on PATH. checkov pins packaging<24 and pytest 9 needs packaging>=24, so
    checkov lives in a virtualenv of its own."""
    configured = os.environ.get("CHECKOV")
    if configured:
        return configured
    own_venv = REPO / ".venv-checkov" / "bin" / "checkov"
    if own_venv.exists():
        return str(own_venv)
    beside_python = Path(sys.executable).parent / "checkov"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("checkov")


# --- checkov -----------------------------------------------------------------------------------


def test_checkov_finds_no_failed_check() -> None:
    executable = checkov_executable()
    if executable is None:
        pytest.fail(
            "checkov is required for the infra checks: `make setup` installs it in .venv-checkov "
            "(it cannot share a virtualenv with pytest); or set $CHECKOV"
        )
    # Fixed arguments to a tool of the dev environment: nothing untrusted reaches the command.
    completed = subprocess.run(  # noqa: S603
        [
            executable,
            "--directory",
            str(INFRA),
            "--framework",
            "bicep",
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=REPO,
    )
    assert completed.returncode in (0, 1), completed.stderr[-4000:]
    run = parse_checkov_output(completed.stdout)
    assert run.parsing_errors == 0, (
        "checkov could not parse some of infra/ (its Bicep parser lacks lambdas and "
        "for-expressions inside function calls; `checkov -d infra --framework bicep` names "
        "the file): " + completed.stderr[-4000:]
    )
    assert run.resource_count > 0, "checkov checked no resource: is infra/ empty or unparsed?"
    assert run.failed == 0, "checkov failed checks:\n" + "\n".join(run.failed_checks)
    assert not run.skips_without_reason, (
        "checkov skips need a reason (//checkov:skip=ID: why):\n"
        + "\n".join(run.skips_without_reason)
    )


def test_checkov_output_parser_counts_failures_parse_errors_and_empty_runs() -> None:
    single = {
        "check_type": "bicep",
        "results": {
            "failed_checks": [
                {
                    "check_id": "CKV_AZURE_1",
                    "resource": "Microsoft.Storage/storageAccounts.st",
                    "file_path": "/app/storage.bicep",
                    "check_name": "something",
                }
            ],
            "skipped_checks": [
                {"check_id": "CKV_AZURE_2", "resource": "r", "check_result": {}},
                {
                    "check_id": "CKV_AZURE_4",
                    "resource": "r",
                    "check_result": {"suppress_comment": "No comment provided"},
                },
                {
                    "check_id": "CKV_AZURE_3",
                    "resource": "r",
                    "check_result": {"suppress_comment": "does not apply"},
                },
            ],
        },
        "summary": {
            "passed": 3,
            "failed": 1,
            "skipped": 2,
            "parsing_errors": 1,
            "resource_count": 2,
        },
    }
    run = parse_checkov_output(json.dumps(single))
    assert (run.passed, run.failed, run.skipped, run.parsing_errors, run.resource_count) == (
        3,
        1,
        2,
        1,
        2,
    )
    assert run.failed_checks == (
        "CKV_AZURE_1 Microsoft.Storage/storageAccounts.st (/app/storage.bicep): something",
    )
    assert run.skips_without_reason == ("CKV_AZURE_2 r", "CKV_AZURE_4 r")

    several = parse_checkov_output(json.dumps([single, single]))
    assert (several.failed, several.parsing_errors) == (2, 2)

    # No file found: checkov prints only a summary, which must read as "nothing checked".
    empty = parse_checkov_output(
        json.dumps(
            {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}
        )
    )
    assert (empty.resource_count, empty.failed) == (0, 0)


# --- Event Grid subscriptions -> functions ------------------------------------------------------


def test_event_grid_subscriptions_point_at_registered_event_grid_functions() -> None:
    targets: set[str] = set()
    for text in bicep_sources().values():
        targets |= function_targets(text)
    assert targets, "infra/ subscribes no function: the parser or the Bicep is broken"

    functions = registered_functions()
    event_grid_functions = {
        name
        for name, function in functions.items()
        if "eventGridTrigger" in {binding.type for binding in function.get_bindings()}
    }
    assert event_grid_functions == targets, (
        "every Event Grid function the app registers needs a subscription in infra/, and "
        f"nothing else: registered {sorted(event_grid_functions)}, subscribed {sorted(targets)}"
    )
    unregistered = sorted(targets - functions.keys())
    assert not unregistered, (
        f"Event Grid subscriptions in infra/ point at functions the app does not register: "
        f"{unregistered} (registered: {sorted(functions)})"
    )
    for name in sorted(targets):
        trigger_types = {binding.type for binding in functions[name].get_bindings()}
        assert "eventGridTrigger" in trigger_types, f"{name} has no Event Grid trigger"


# --- settings ----------------------------------------------------------------------------------


def test_binding_expressions_are_provisioned_and_in_local_settings() -> None:
    names: set[str] = set()
    for function in registered_functions().values():
        names |= binding_expressions(function.get_raw_bindings())
    assert names, "no %SETTING% binding expression found: the timers read their schedules so"
    assert not missing_from(infra_settings(), names), "binding settings missing from infra/"
    assert not missing_from(set(local_settings()), names), (
        "binding settings missing from local.settings.sample.json"
    )


def test_every_setting_the_config_reads_is_provisioned() -> None:
    names = settings_read_by(CONFIG_MODULE.read_text(encoding="utf-8"))
    assert names, f"found no setting read in {CONFIG_MODULE}: has its reading API changed?"
    assert names >= PLATFORM_SETTINGS
    names -= PLATFORM_SETTINGS
    missing = missing_from(infra_settings(), names)
    assert not missing, (
        f"settings read by shared/config.py but not provisioned in infra/: {missing}"
    )
    missing = missing_from(set(local_settings()), names)
    assert not missing, (
        f"settings read by shared/config.py but missing from local.settings.sample.json: {missing}"
    )


def test_what_the_platform_reports_is_never_set_by_infra_or_the_sample() -> None:
    assert not PLATFORM_SETTINGS & infra_settings()
    assert not PLATFORM_SETTINGS & set(local_settings())


def test_every_design_setting_is_provisioned() -> None:
    missing = missing_from(infra_settings(), DESIGN_SETTINGS)
    assert not missing, f"DESIGN.md settings not provisioned in infra/: {missing}"
    missing = missing_from(set(local_settings()), DESIGN_SETTINGS)
    assert not missing, f"DESIGN.md settings missing from local.settings.sample.json: {missing}"


@pytest.mark.parametrize("group", EXCLUSIVE_SETTINGS, ids=lambda g: "|".join(sorted(g)))
def test_exactly_one_of_each_exclusive_group_is_set(group: frozenset[str]) -> None:
    assert len(group & infra_settings()) == 1, f"infra/ must set exactly one of {sorted(group)}"
    assert len(group & set(local_settings())) == 1, (
        f"local.settings.sample.json must set exactly one of {sorted(group)}"
    )


def test_local_settings_sample_runs_the_python_worker_on_azurite() -> None:
    sample = json.loads(LOCAL_SETTINGS_SAMPLE.read_text(encoding="utf-8"))
    assert sample["IsEncrypted"] is False
    values = sample["Values"]
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert all(isinstance(value, str) for value in values.values()), "the host reads strings"


def test_local_settings_sample_passes_the_apps_own_validation() -> None:
    from shared.config import load_settings

    load_settings(local_settings())


def test_parameters_file_matches_main_bicep() -> None:
    main = strip_bicep_comments((INFRA / "main.bicep").read_text(encoding="utf-8"))
    declared = dict(re.findall(r"^param\s+(\w+)\s+\w+(\s*=)?", main, flags=re.MULTILINE))
    required = {name for name, default in declared.items() if not default}
    supplied = set(
        json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    )
    assert supplied <= declared.keys(), f"unknown parameters: {sorted(supplied - declared.keys())}"
    assert required <= supplied, f"required parameters not supplied: {sorted(required - supplied)}"


# --- the linter's no-hardcoded-env-urls --------------------------------------------------------

#: Bicep's default configuration for no-hardcoded-env-urls (Azure/bicep,
#: src/Bicep.Core/Configuration/bicepconfig.json); infra/ has no bicepconfig.json of its own, and
#: `make infra-check` fails on the warning.
DISALLOWED_HOSTS = (
    "api.loganalytics.io",
    "azuredatalakeanalytics.net",
    "azuredatalakestore.net",
    "batch.core.windows.net",
    "core.windows.net",
    "database.windows.net",
    "datalake.azure.net",
    "gallery.azure.com",
    "graph.windows.net",
    "login.microsoftonline.com",
    "management.azure.com",
    "management.core.windows.net",
    "region.asazure.windows.net",
    "trafficmanager.net",
    "vault.azure.net",
)
EXCLUDED_HOSTS = ("schema.management.azure.com",)
_STRING_LITERAL = re.compile(r"'''.*?'''|'(?:[^'\\\n]|\\.)*'", re.DOTALL)


def host_spans(host: str, text: str) -> list[tuple[int, int]]:
    """Where `host` is in `text` as a whole name (no letter or digit either side), any case."""
    pattern = rf"(?<![^\W_]){re.escape(host)}(?![^\W_])"
    return [m.span() for m in re.finditer(pattern, text, re.IGNORECASE)]


def hardcoded_hosts(bicep: str) -> list[str]:
    """The disallowed hosts in the string literals (descriptions included) of a Bicep source."""
    found = []
    for literal in _STRING_LITERAL.findall(strip_bicep_comments(bicep)):
        excluded = [span for host in EXCLUDED_HOSTS for span in host_spans(host, literal)]
        for host in DISALLOWED_HOSTS:
            for start, end in host_spans(host, literal):
                if not any(s < end and start < e for s, e in excluded):
                    found.append(f"{host} in {literal}")
    return found


def test_no_string_hardcodes_a_cloud_s_host() -> None:
    # The linter reads every string, a parameter's default and @description included: a host of
    # one cloud there is a warning, and warnings fail `make infra-check`.
    problems = found_in_bicep(hardcoded_hosts)
    assert not problems, f"no-hardcoded-env-urls: {problems}"


def test_hardcoded_hosts_finds_whole_host_names_outside_excluded_ones() -> None:
    bicep = """
@description('Read from https://<account>.blob.core.windows.net/<container>/.')
param p string = 'https://API.loganalytics.io/v1' // management.azure.com in a comment
var schema = 'https://schema.management.azure.com/x.json#'
var other = 'https://notcore.windows.net and mycore.windows.network'
"""
    assert sorted(hardcoded_hosts(bicep)) == [
        "api.loganalytics.io in 'https://API.loganalytics.io/v1'",
        "core.windows.net in 'Read from https://<account>.blob.core.windows.net/<container>/.'",
    ]


# --- reading a resource's properties, as the linter wants ---------------------------------------

_CONDITIONAL = re.compile(
    r"^(resource|module)\s+(\w+)\s+'[^']*'\s*(?:existing\s*)?=\s*(?:\[for [^\n]*?:\s*)?if\s*\(",
    re.MULTILINE,
)
#: What Bicep reads of a conditional resource or module without BCP318 (Azure/bicep,
#: src/Bicep.Core/TypeSystem/TypeAssignmentVisitor.cs IsResourceInfoProperty, since v0.36.177).
_ALWAYS_READABLE = {"resource": {"id", "name", "type", "apiVersion"}, "module": {"name"}}
_DECLARED = re.compile(r"^resource\s+(\w+)\s+'([^'@]+)@([^']+)'", re.MULTILINE)


def bicep_code(bicep: str) -> str:
    """Bicep source without comments and string text (the `${...}` of a string are kept)."""
    return _STRING_LITERAL.sub(
        lambda m: " ".join(re.findall(r"\$\{(.*?)\}", m.group(0))), strip_bicep_comments(bicep)
    )


def resource_read_warnings(bicep: str) -> list[str]:
    """Reads the linter warns on: a conditional resource's or module's runtime property without
    `!` or `.?` (BCP318), and reference()/list*() of a resource the file declares
    (use-resource-symbol-reference: its symbol says the same)."""
    code, found = bicep_code(bicep), []
    for kind, symbol in _CONDITIONAL.findall(strip_bicep_comments(bicep)):
        for prop in re.findall(rf"(?<![.\w]){symbol}(?:\[[^\]]*\])?\.(\w+)", code):
            if prop not in _ALWAYS_READABLE[kind]:
                found.append(f"BCP318: {symbol}.{prop}")
    declared = _DECLARED.findall(strip_bicep_comments(bicep))
    calls = r"\b(reference|list\w*)\(\s*resourceId\(\s*'([^']+)'[^()]*\)\s*(?:,\s*'([^']*)')?"
    for function, kind, version in re.findall(calls, strip_bicep_comments(bicep)):
        if any(t.lower() == kind.lower() and version in ("", v) for _, t, v in declared):
            found.append(f"use-resource-symbol-reference: {function}({kind})")
    symbol_ids = r"\b(reference|list\w*)\(\s*(\w+)\.(?:id|name)\b"
    for function, symbol in re.findall(symbol_ids, strip_bicep_comments(bicep)):
        if any(symbol == name for name, _, _ in declared):
            found.append(f"use-resource-symbol-reference: {function}({symbol})")
    return found


def test_no_resource_is_read_in_a_way_the_linter_warns_on() -> None:
    # Both are warnings, and warnings fail `make infra-check`.
    problems = found_in_bicep(resource_read_warnings)
    assert not problems, problems


def test_resource_read_warnings_finds_unguarded_and_long_way_reads() -> None:
    bicep = """
resource made 'A.B/cs@2025-01-01' = if (create) {
  name: name
}
resource each 'A.B/ds@2025-01-01' = [for x in xs: if (x.on) {
  name: x.name
}]
module maybe 'app/maybe.bicep' = if (on) {
  name: 'maybe'
}
output a string = made.id // made.identity in a comment
output b string = made.identity.principalId
output c string = made!.identity.principalId
output d string = made.?properties.x ?? ''
output e string = each[0].properties.x
output f string = maybe.outputs.y
output g string = '${maybe.name}: made.properties in text'
output h object = reference(resourceId('A.B/cs', name), '2025-01-01', 'Full')
output i object = reference(resourceId('A.B/cs', name), '2024-01-01')
output j object = listKeys(made.id, '2025-01-01')
output k object = reference(resourceId('X.Y/zs', name))
output l object = listCallbackUrl('${made.id}/triggers/manual', '2025-01-01')
output m string = config.made.properties
"""
    assert resource_read_warnings(bicep) == [
        "BCP318: made.identity",
        "BCP318: each.properties",
        "BCP318: maybe.outputs",
        "use-resource-symbol-reference: reference(A.B/cs)",
        "use-resource-symbol-reference: listKeys(made)",
    ]


# --- module scopes -----------------------------------------------------------------------------

_SCOPE_LINE = re.compile(r"^\s*scope:\s*(.+?)\s*$", re.MULTILINE)


def conditional_scopes(bicep: str) -> list[str]:
    """`scope:` expressions whose outermost operator is a conditional (`c ? a : b`).

    Bicep 0.36.1 and later reject them (BCP420: the scope must be a single scope function
    call); the condition belongs inside the function's arguments.
    """
    found = []
    for expression in _SCOPE_LINE.findall(strip_bicep_comments(bicep)):
        depth, quoted = 0, False
        for char in expression:
            if char == "'":
                quoted = not quoted
            elif not quoted and char in "([{":
                depth += 1
            elif not quoted and char in ")]}":
                depth -= 1
            elif not quoted and depth == 0 and char == "?":
                found.append(expression)
                break
    return found


def test_no_module_scope_is_a_conditional_expression() -> None:
    problems = found_in_bicep(conditional_scopes)
    assert not problems, (
        "BCP420: a scope must be one scope function call; put the condition inside its "
        f"arguments: {problems}"
    )


# --- parameters -------------------------------------------------------------------------------

#: Regions that offer Flex Consumption, as Microsoft's azd Functions templates allow them
#: (Azure-Samples/functions-quickstart-python-http-azd, infra/main.bicep, `param location`).
FLEX_CONSUMPTION_REGIONS = frozenset(
    [
        "australiaeast",
        "australiasoutheast",
        "brazilsouth",
        "canadacentral",
        "centralindia",
        "centralus",
        "eastasia",
        "eastus",
        "eastus2",
        "eastus2euap",
        "francecentral",
        "germanywestcentral",
        "italynorth",
        "japaneast",
        "koreacentral",
        "northcentralus",
        "northeurope",
        "norwayeast",
        "southafricanorth",
        "southcentralus",
        "southeastasia",
        "southindia",
        "spaincentral",
        "swedencentral",
        "uaenorth",
        "uksouth",
        "ukwest",
        "westcentralus",
        "westeurope",
        "westus",
        "westus2",
        "westus3",
    ]
)


def param_decorators(bicep: str, name: str) -> str:
    """The decorators (`@...` lines, multi-line ones whole) just above `param <name>`."""
    lines = strip_bicep_comments(bicep).splitlines()
    [index] = [i for i, line in enumerate(lines) if re.match(rf"param\s+{name}\b", line)]
    start = index
    while start > 0 and (lines[start - 1].startswith(("@", " ", "]", "}", ")"))):
        start -= 1
    return "\n".join(lines[start:index])


def allowed_values(bicep: str, name: str) -> set[str] | None:
    """The `@allowed([...])` values of a parameter, or None when it has no @allowed."""
    found = re.search(r"@allowed\(\[(.*?)\]\)", param_decorators(bicep, name), re.DOTALL)
    return set(re.findall(r"'([^']*)'", found.group(1))) if found else None


def length_bounds(bicep: str, name: str) -> tuple[int, int | None]:
    """A parameter's `@minLength` (0 without one) and `@maxLength` (None without one)."""
    decorators = param_decorators(bicep, name)
    low = re.search(r"@minLength\((\d+)\)", decorators)
    high = re.search(r"@maxLength\((\d+)\)", decorators)
    return int(low.group(1)) if low else 0, int(high.group(1)) if high else None


#: `param name type = <literal>`: the literal defaults whose length is known ([] and '...').
_LITERAL_DEFAULT = re.compile(r"^param\s+(\w+)\s+\w+\s*=\s*(\[\]|'[^'\\\n]*')\s*$", re.MULTILINE)


def test_every_default_is_as_long_as_its_parameter_allows() -> None:
    # A default outside @minLength/@maxLength fails twice: Bicep refuses the template (BCP333,
    # an error for a parameter's own type), and ARM refuses the value azd passes from
    # main.parameters.json's `${SETTING=default}` (ML_WORKSPACE_IDS unset with ML_SCOPES set).
    problems = []

    def check(where: str, bicep: str, name: str, length: int) -> None:
        low, high = length_bounds(bicep, name)
        if length < low or (high is not None and length > high):
            problems.append(f"{where}: {name}'s default has length {length}, allowed {low}..{high}")

    sources = bicep_sources()
    for path, text in sources.items():
        for name, literal in _LITERAL_DEFAULT.findall(strip_bicep_comments(text)):
            check(path.name, text, name, 0 if literal == "[]" else len(literal) - 2)
    main = sources[INFRA / "main.bicep"]
    types = dict(re.findall(r"^param\s+(\w+)\s+(\w+)", strip_bicep_comments(main), re.MULTILINE))
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    for name, entry in parameters["parameters"].items():
        default = re.fullmatch(r"\$\{[A-Z][A-Z0-9_]*=(.*)\}", str(entry["value"]), re.DOTALL)
        if default and types[name] in ("array", "string"):
            value = default.group(1)
            length = len(json.loads(value)) if types[name] == "array" else len(value)
            check("main.parameters.json", main, name, length)
    assert not problems, "; ".join(problems)


def test_location_allows_only_flex_consumption_regions() -> None:
    main = (INFRA / "main.bicep").read_text(encoding="utf-8")
    allowed = allowed_values(main, "location")
    assert allowed, "param location needs @allowed: Flex Consumption is not in every region"
    assert allowed <= FLEX_CONSUMPTION_REGIONS, (
        f"regions without Flex Consumption allowed: {sorted(allowed - FLEX_CONSUMPTION_REGIONS)}"
    )
    assert "type: 'location'" in param_decorators(main, "location"), (
        "azd offers the allowed regions when the parameter is marked as its location"
    )


#: App settings infra/ computes rather than passes through (no `azd env set` of their own).
DERIVED_SETTINGS = {
    "ARM_ENDPOINT": "the deployment's cloud (environment().resourceManager)",
    "AZURE_CLIENT_ID": "the app's user-assigned identity",
    "LEDGER_TABLE_ENDPOINT": "the storage account infra/ creates",
    "OUTCOME_TOPIC_ENDPOINT": "the outcome topic infra/ creates",
    "LEDGER_TABLE_AUDIENCE": "empty: the storage account infra/ creates is on the deployment's "
    "cloud, whose audience the app derives",
    "OUTCOME_TOPIC_AUDIENCE": "empty: the topic infra/ creates is on the deployment's cloud",
    "DRIFT_LOG_ANALYTICS_WORKSPACE_ID": "read from the workspace that "
    "DRIFT_LOG_ANALYTICS_WORKSPACE_RESOURCE_ID names",
}
_APP_SETTING_VALUE = re.compile(r"\bname:\s*'([A-Z][A-Z0-9_]+)'\s*\n\s*value:\s*(.+)")


def readme_settings() -> list[str]:
    """The settings of the README's "## Settings" table (the app's own, first table there)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    table = section.split("| setting |", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, flags=re.MULTILINE)


def azd_env_names() -> dict[str, str]:
    """main.bicep parameter -> the azd environment variable main.parameters.json reads it from."""
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    found = {}
    for name, entry in parameters["parameters"].items():
        match = re.fullmatch(r"\$\{([A-Z][A-Z0-9_]*)(=.*)?\}", str(entry["value"]), re.DOTALL)
        if match:
            found[name] = match.group(1)
    return found


def test_every_readme_setting_infra_passes_is_settable_with_azd_env_set() -> None:
    main = strip_bicep_comments((INFRA / "main.bicep").read_text(encoding="utf-8"))
    params = set(re.findall(r"^param\s+(\w+)", main, flags=re.MULTILINE))
    values = dict(_APP_SETTING_VALUE.findall(main))
    env = azd_env_names()
    passed = [name for name in readme_settings() if name in values]
    assert len(passed) > 20, "the README table or the app settings were not read"
    problems = []
    for setting in passed:
        used = sorted(p for p in params if re.search(rf"\b{p}\b", values[setting]))
        if setting in DERIVED_SETTINGS:
            assert not used, f"{setting} is computed, yet passes {used} through"
            continue
        if not used:
            problems.append(f"{setting}: passes no parameter (and is not a derived setting)")
        for param in used:
            if env.get(param) != setting:
                problems.append(f"{setting}: parameter {param} reads ${{{env.get(param)}}}")
    assert not problems, "; ".join(problems)
    # Every other parameter is settable too (the scale-out limit, Event Grid's retries, ...).
    assert params == set(env), f"not settable with azd env set: {sorted(params - set(env))}"


def test_the_drift_gate_is_off_unless_a_query_is_set() -> None:
    main = strip_bicep_comments((INFRA / "main.bicep").read_text(encoding="utf-8"))
    # The old default read AmlRunStatusChangedEvent's (absent) ExperimentName column in a
    # workspace that nothing sends ML diagnostics to: a gate that could never open.
    assert re.search(r"^param driftQuery string = ''$", main, flags=re.MULTILINE)
    assert azd_env_names()["driftQuery"] == "DRIFT_QUERY"
    # No gate, no read: Log Analytics Reader (every table of the workspace, the app's own
    # telemetry by default) only when a query is set.
    reader = strip_bicep_comments((INFRA / "app" / "log-analytics-reader.bicep").read_text("utf-8"))
    assert re.search(r"^resource queryAccess '[^']+' = if \(grant\) \{$", reader, re.MULTILINE)
    module = main.split("module driftWorkspaceAccess ", 1)[1].split("\n}\n", 1)[0]
    assert "\n    grant: !empty(driftQuery)\n" in module


# --- the parsers themselves --------------------------------------------------------------------


def test_settings_read_by_finds_first_string_arguments_and_environ_subscripts(
    tmp_path: Path,
) -> None:
    fake_config = tmp_path / "config.py"
    fake_config.write_text(
        """
import os

def load(reader, environ):
    return (
        reader.required("ML_WORKSPACE_IDS", "comma-separated ARM IDs"),
        reader.choice("AUTOMATION_MODE", Mode),
        reader.flag("REJECT_UNVERIFIED", default=False),
        reader.https_url("ARM_ENDPOINT", "https://management.azure.com"),
        _ledger(reader.optional("LEDGER_TABLE_ENDPOINT")),
        environ.get("AZURE_CLIENT_ID"),
        os.environ["DRIFT_QUERY"],
        os.getenv("RETRAIN_SCHEDULE", "0 0 2 * * 0"),
        reader.optional(name="KEYWORD_ONLY_IS_NOT_SEEN"),
        reader.required(f"{PREFIX}_DYNAMIC"),
        reader.required("lowercase_is_not_a_setting"),
        SettingsError("NOT_A_SETTING_BUT_UPPER") if False else None,
        "BARE_STRING_IS_NOT_READ",
        reader.table_name("LEDGER_TABLE_NAME", "DEFAULT_VALUE_IS_NOT_A_NAME"),
        TokenDestination("OUTCOME_TOPIC_ENDPOINT", "OUTCOME_TOPIC_AUDIENCE", (), "THIRD_IS_NOT"),
    )
""",
        encoding="utf-8",
    )
    assert settings_read_by(fake_config.read_text(encoding="utf-8")) == {
        "ML_WORKSPACE_IDS",
        "AUTOMATION_MODE",
        "REJECT_UNVERIFIED",
        "ARM_ENDPOINT",
        "LEDGER_TABLE_ENDPOINT",
        "AZURE_CLIENT_ID",
        "DRIFT_QUERY",
        "RETRAIN_SCHEDULE",
        "LEDGER_TABLE_NAME",
        "OUTCOME_TOPIC_ENDPOINT",
        "OUTCOME_TOPIC_AUDIENCE",
        # An upper-case first argument of any call counts: over-collecting fails loudly (the
        # name is reported as not provisioned), under-collecting would fail silently.
        "NOT_A_SETTING_BUT_UPPER",
    }


def test_app_setting_and_function_target_parsers_ignore_comments_and_other_names() -> None:
    bicep = """
// { name: 'COMMENTED_OUT'
//   value: 'x' }
/* resourceId: '${site.id}/functions/commented_out' */
resource blob 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  name: 'default'
}
var url = 'https://example.net/functions/not_after_a_comment'
var settings = [
  {
    name: 'ML_WORKSPACE_IDS'
    value: join(ids, ',')
  }
  {
    // the identity's client ID
    name: 'AzureWebJobsStorage__clientId'
    value: identity.properties.clientId
  }
  { name: 'ONE_LINE', value: 'x' }
]
var target = '${functionApp.outputs.id}/functions/on_ml_event'
"""
    assert app_setting_names(bicep) == {
        "ML_WORKSPACE_IDS",
        "AzureWebJobsStorage__clientId",
        "ONE_LINE",
    }
    assert function_targets(bicep) == {"not_after_a_comment", "on_ml_event"}
    assert "https://example.net" in strip_bicep_comments(bicep)
    assert strip_bicep_comments("var s = '''a // b'''") == "var s = '''a // b'''"
    assert strip_bicep_comments("var s = 'it\\'s // here' // gone") == "var s = 'it\\'s // here' "


def test_binding_expression_parser_reads_every_raw_binding_value() -> None:
    raw = [
        json.dumps({"type": "timerTrigger", "schedule": "%RECONCILE_SCHEDULE%"}),
        json.dumps({"type": "eventGridTrigger", "name": "event"}),
        json.dumps({"type": "blob", "path": "%CONTAINER%/{name}", "extra": ["%NESTED%"]}),
    ]
    assert binding_expressions(raw) == {"RECONCILE_SCHEDULE", "CONTAINER", "NESTED"}


def test_conditional_scope_finder_sees_only_a_top_level_conditional() -> None:
    bicep = """
module a 'a.bicep' = {
  scope: t.create ? resourceGroup(x, y) : resourceGroup(p, q)
}
module b 'b.bicep' = {
  scope: resourceGroup(split(t.create ? t.id : t.other, '/')[2], 'rg')
}
module c 'c.bicep' = {
  // scope: c ? subscription() : resourceGroup()
  scope: resourceGroup('what?', name)
}
module d 'd.bicep' = {
  scope: (flag) ? subscription() : tenant()
}
"""
    assert conditional_scopes(bicep) == [
        "t.create ? resourceGroup(x, y) : resourceGroup(p, q)",
        "(flag) ? subscription() : tenant()",
    ]


def test_allowed_values_reads_the_decorators_of_one_parameter() -> None:
    bicep = """
@allowed(['a', 'b'])
param first string

@allowed([
  'x'
  'y' // a comment
])
@metadata({
  azd: {
    type: 'location'
  }
})
@description('Where.')
param location string = 'x'

param other string
"""
    assert allowed_values(bicep, "first") == {"a", "b"}
    assert allowed_values(bicep, "location") == {"x", "y"}
    assert "type: 'location'" in param_decorators(bicep, "location")
    assert allowed_values(bicep, "other") is None


def test_length_bounds_read_the_decorators_of_one_parameter() -> None:
    bicep = """
@minLength(1)
@maxLength(64)
@description('Named.')
param named string

@minLength(1)
param ids array = []

param free array = []
"""
    assert length_bounds(bicep, "named") == (1, 64)
    assert length_bounds(bicep, "ids") == (1, None)
    assert length_bounds(bicep, "free") == (0, None)
    assert _LITERAL_DEFAULT.findall(bicep) == [("ids", "[]"), ("free", "[]")]


# --- the app settings a deployment writes, as the app reads them ---------------------------------

#: What `environment()` and the deployment's resources give, per cloud: the ARM endpoint (as
#: main.bicep trims it), the storage suffix and Event Grid's host suffix.
CLOUDS = {
    "AzureCloud": ("https://management.azure.com/", "core.windows.net", "eventgrid.azure.net"),
    "AzureChinaCloud": (
        "https://management.chinacloudapi.cn/",
        "core.chinacloudapi.cn",
        "eventgrid.azure.cn",
    ),
    "AzureUSGovernment": (
        "https://management.usgovcloudapi.net/",
        "core.usgovcloudapi.net",
        "eventgrid.azure.us",
    ),
}
_GUID = "1b7e2c9d-5a3f-4e8b-8c6d-1f2a3b4c5d6e"
_SETTING_EXPRESSION = re.compile(r"\bname:\s*'(\w+)'\s*value:\s*(.+)")


def bicep_parameters(bicep: str) -> dict[str, tuple[str, Any]]:
    """`param name type [= literal]`: type and default (None without one, or when not a literal)."""
    found: dict[str, tuple[str, Any]] = {}
    for name, kind, default in re.findall(
        r"^param\s+(\w+)\s+(\w+)(?:\s*=\s*(\[[^\]]*\]|\{\}|'[^'\n]*'|\w+))?",
        strip_bicep_comments(bicep),
        re.MULTILINE,
    ):
        value: Any = None
        if default.startswith("["):
            value = re.findall(r"'([^']*)'", default)
        elif default.startswith(("'", "{")) or default.isdigit() or default in ("true", "false"):
            value = json.loads(default.replace("'", '"'))
        found[name] = (kind, value)
    return found


def deployed_settings(bicep: str, params: dict[str, Any], cloud: str) -> dict[str, str]:
    """main.bicep's `appSettings`, evaluated for `params` (azd's, over the Bicep defaults) in
    `cloud`, with stand-ins for what the deployment's resources report. Each value expression
    main.bicep uses is evaluated as ARM does; any other fails the test, to be added here."""
    arm, storage, grid = CLOUDS[cloud]
    declared = bicep_parameters(bicep)
    values: dict[str, Any] = {}
    for name, (kind, default) in declared.items():
        value = params.get(name, default)
        # ARM takes azd's strings for int and bool parameters as those types.
        if kind == "int" and value is not None:
            value = int(value)
        elif kind == "bool" and value is not None:
            value = str(value).lower() == "true"
        values[name] = value
    values |= {
        "armEndpoint": arm.rstrip("/"),
        "identity.properties.clientId": _GUID,
        "storage.outputs.tableEndpoint": f"https://stx.table.{storage}/",
        "driftWorkspaceAccess.outputs.customerId": _GUID,
        "outcomeTopic.outputs.endpoint": f"https://evgt-x.eastus-1.{grid}/api/events",
        "scoringLogicAppIdentity.properties.principalId": _GUID,
        "initiativeAssignmentIds": [],
    }

    def evaluate(expression: str) -> Any:
        expression = expression.strip()
        if re.fullmatch(r"'[^']*'", expression):
            return expression[1:-1]
        if expression in values:
            return values[expression]
        if found := re.fullmatch(r"string\((\w+)\)", expression):
            value = values[found[1]]
            if isinstance(value, list | dict):
                return json.dumps(value, separators=(",", ":"))
            return str(value).lower() if isinstance(value, bool) else str(value)
        if found := re.fullmatch(r"join\((.+), ','\)", expression):
            return ",".join(evaluate(found[1]))
        if found := re.fullmatch(r"union\(\[([\w.]+)\], (\w+)\)|union\((\w+), (\w+)\)", expression):
            first = [values[found[1]]] if found[1] else values[found[3]]
            rest = values[found[2] or found[4]]
            return first + [item for item in rest if item not in first]
        if found := re.fullmatch(r"(\w+) \? '([^']*)' : '([^']*)'", expression):
            return found[2] if values[found[1]] else found[3]
        if found := re.fullmatch(r"empty\((\w+)\) \? ('[^']*') : (\w+)", expression):
            return evaluate(found[2]) if not values[found[1]] else values[found[3]]
        raise AssertionError(f"deployed_settings cannot evaluate {expression!r}: add it")

    block = strip_bicep_comments(bicep).split("var appSettings = [", 1)[1].split("\n]\n", 1)[0]
    settings = {name: evaluate(value) for name, value in _SETTING_EXPRESSION.findall(block)}
    assert all(isinstance(value, str) for value in settings.values()), settings
    return settings


def azd_deployment(env: dict[str, str], cloud: str = "AzureCloud") -> dict[str, str]:
    """The app settings of `azd up` with `env` as the azd environment, in `cloud`."""
    from tests.azd_envsubst import load_parameters

    bicep = (INFRA / "main.bicep").read_text(encoding="utf-8")
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    base = {"AZURE_ENV_NAME": "dev", "AZURE_LOCATION": "eastus2"}
    return deployed_settings(bicep, load_parameters(parameters, bicep, base | env), cloud)


_ML_ID = (
    f"/subscriptions/{_GUID}/resourceGroups/rg-ml/providers/"
    "Microsoft.MachineLearningServices/workspaces/mlw-churn"
)
_SYNAPSE_ID = f"/subscriptions/{_GUID}/resourceGroups/rg-a/providers/Microsoft.Synapse/workspaces/s"
#: An azd environment that turns on every part of the app that has settings.
AZD_ENV = {
    "ML_WORKSPACE_IDS": json.dumps([_ML_ID]),
    "SYNAPSE_WORKSPACE_IDS": json.dumps([_SYNAPSE_ID]),
    "RETRAIN_WORKSPACE_IDS": json.dumps([_ML_ID]),
    "RETRAIN_COMPONENT": "train:1",
    "RETRAIN_COMPUTE": "cpu-cluster",
    "BATCH_ENDPOINT_NAME": "churn-batch",
    "SCORING_INPUT": "azureml://datastores/workspaceblobstore/paths/in/",
    "PROMOTION_METRIC": "accuracy",
    "PROMOTION_MODEL_NAME": "churn-model",
    "DRIFT_QUERY": "T | summarize count()",
}


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_a_deployment_s_settings_load_and_reach_its_own_cloud(cloud: str) -> None:
    # In a sovereign cloud the deployment wrote ARM's host from environment() but the public
    # cloud's Synapse, Log Analytics and Azure ML inference hosts: the app then sent Synapse and
    # Log Analytics requests out of its cloud, and refused every scoring URI ARM reported.
    from shared.config import load_settings

    settings = load_settings(azd_deployment(AZD_ENV, cloud))

    suffix = {"AzureCloud": "com", "AzureChinaCloud": "cn", "AzureUSGovernment": "us"}[cloud]
    synapse = {"com": "net", "cn": "azure.cn", "us": "usgovcloudapi.net"}[suffix]
    logs = {"com": "io", "cn": "azure.cn", "us": "us"}[suffix]
    assert settings.arm_endpoint == CLOUDS[cloud][0].rstrip("/")
    assert settings.synapse_dev_endpoint == f"https://{{workspace}}.dev.azuresynapse.{synapse}"
    assert settings.synapse_dev_audience == f"https://dev.azuresynapse.{synapse}"
    assert settings.logs_query_endpoint == f"https://api.loganalytics.{logs}/v1"
    assert settings.aml_inference_domain == f"inference.ml.azure.{suffix}"
    assert settings.aml_audience == f"https://ml.azure.{suffix}"
    assert settings.ledger.table_endpoint == f"https://stx.table.{CLOUDS[cloud][1]}/"
    # What the parameters file's defaults mean to the app.
    assert settings.dry_run
    assert not settings.remediate
    assert not settings.reject_unverified
    assert settings.ml_workspace_ids == (_ML_ID,)
    assert settings.allowed_compute_vm_sizes is not None
    assert "standard_ds3_v2" in settings.allowed_compute_vm_sizes
    assert settings.retraining is not None
    assert settings.retraining.drift_gate is not None


def int_settings(bicep: str) -> dict[str, str]:
    """App setting -> the int parameter it is `string()` of."""
    kinds = {name: kind for name, (kind, _) in bicep_parameters(bicep).items()}
    block = strip_bicep_comments(bicep).split("var appSettings = [", 1)[1]
    found = re.findall(r"name:\s*'(\w+)'\s*value:\s*string\((\w+)\)", block)
    return {setting: param for setting, param in found if kinds[param] == "int"}


def test_every_int_parameter_s_range_is_one_the_app_loads() -> None:
    # maxRemediationsPerRun allowed 0, which the app refuses (>= 1): the deployment succeeded
    # and every function failed at start-up. Where Bicep sets no @maxValue, any number the app
    # counts (up to 18 digits) must load: retrainCooldownMinutes had none, the app a year.
    from shared.config import SettingsError, load_settings

    bicep = (INFRA / "main.bicep").read_text(encoding="utf-8")
    mapping = int_settings(bicep)
    assert {"MAX_REMEDIATIONS_PER_RUN", "RETRAIN_COOLDOWN_MINUTES"} <= mapping.keys()
    problems = []
    for setting, param in sorted(mapping.items()):
        decorators = param_decorators(bicep, param)
        low = re.search(r"@minValue\((\d+)\)", decorators)
        high = re.search(r"@maxValue\((\d+)\)", decorators)
        for value in (int(low[1]) if low else 0, int(high[1]) if high else 10**18 - 1):
            deployed = azd_deployment(AZD_ENV | {setting: str(value)})
            assert deployed[setting] == str(value)
            try:
                load_settings(deployed)
            except SettingsError as error:
                problems.append(f"{param}={value}: {error}")
    assert not problems, problems


def test_what_a_deployment_sets_by_default_is_in_the_readme_s_default() -> None:
    # The README's default column is the app's: a deployment with the variable unset wrote
    # another value, unsaid, for RETRAIN_EXPERIMENT (retraining, not model-retraining), the two
    # compute rules (five VM sizes, 4 nodes: "rule not applicable") and SCORING_ALLOWED_CALLERS
    # (the scoring Logic App's identity: "nobody"). Each such cell says what infra/ provisions.
    from shared.config import load_settings

    set_here = ["ML_WORKSPACE_IDS", "SYNAPSE_WORKSPACE_IDS", "RETRAIN_WORKSPACE_IDS"]
    env = {name: AZD_ENV[name] for name in [*set_here, "RETRAIN_COMPONENT", "RETRAIN_COMPUTE"]}
    deployed = azd_deployment(env)
    loaded = load_settings(deployed)
    text = (REPO / "README.md").read_text(encoding="utf-8").split("\n## Settings\n", 1)[1]
    cells = dict(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| ([^|]*) \|", text, re.MULTILINE))
    differing = []
    for name in sorted(
        set(readme_settings()) & deployed.keys() - env.keys() - DERIVED_SETTINGS.keys()
    ):
        if load_settings({k: v for k, v in deployed.items() if k != name}) != loaded:
            differing.append(name)
    assert "AUTOMATION_MODE" in differing, "the deployment's dry-run start was not seen"
    unsaid = [name for name in differing if "infra/" not in cells[name]]
    assert not unsaid, f"README default cells not saying what infra/ provisions: {unsaid}"


def network_zones(cloud: str) -> dict[str, str]:
    """infra/app/network.bicep's private DNS zone per private endpoint, evaluated in `cloud`."""
    bicep = strip_bicep_comments((INFRA / "app" / "network.bicep").read_text(encoding="utf-8"))
    variables = dict(re.findall(r"^var (\w+) = (.+)$", bicep, re.MULTILINE))
    facts = {"environment().name": f"'{cloud}'", "environment().suffixes.storage": CLOUDS[cloud][1]}

    def evaluate(expression: str) -> str:
        expression = expression.strip()
        if found := re.fullmatch(
            r"environment\(\)\.name == '(\w+)' \? ('[^']*') : (.+)", expression
        ):
            return evaluate(found[2] if found[1] == cloud else found[3])
        if expression in facts:
            return facts[expression].strip("'")
        if expression in variables:
            return evaluate(variables[expression])
        if re.fullmatch(r"'[^']*'", expression):
            return re.sub(r"\$\{(\w+)\}", lambda m: evaluate(m[1]), expression[1:-1])
        raise AssertionError(f"network_zones cannot evaluate {expression!r}: add it")

    found = re.findall(r"name: '(\w+)'\n(?:.*\n)*?\s*zone: (.+)", bicep)
    return {name: evaluate(zone) for name, zone in found}


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_every_private_dns_zone_is_of_the_deployment_s_cloud(cloud: str) -> None:
    # The outcome topic's zone was the public cloud's in every cloud: in AzureChinaCloud or
    # AzureUSGovernment OUTCOME_TOPIC_ENDPOINT resolved to the topic's public address, which it
    # refuses (publicNetworkAccess Disabled), so every outcome publish failed.
    _, storage, grid = CLOUDS[cloud]
    assert network_zones(cloud) == {
        "blob": f"privatelink.blob.{storage}",
        "queue": f"privatelink.queue.{storage}",
        "table": f"privatelink.table.{storage}",
        "outcomes": f"privatelink.{grid}",
    }
