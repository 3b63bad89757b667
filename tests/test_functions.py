"""The function index as the host builds it: names (a contract with infra/), triggers, settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import function_app
from tools import host


def test_function_names_are_the_contract_with_infra() -> None:
    names = set(host.indexed())
    assert {"on_private_endpoint_event", "reconcile_all"} <= names


def test_private_endpoint_function_is_an_event_grid_trigger() -> None:
    fn = host.function("on_private_endpoint_event")
    trigger = fn.get_trigger()
    assert trigger.get_binding_name() == "eventGridTrigger"
    assert [b.get_dict_repr()["type"] for b in fn.get_bindings()] == ["eventGridTrigger"]


def test_sweep_is_a_timer_on_the_reconcile_schedule_setting() -> None:
    fn = host.function("reconcile_all")
    binding = json.loads(fn.get_raw_bindings()[0])
    assert binding["type"] == "timerTrigger"
    assert binding["schedule"] == "%RECONCILE_SCHEDULE%"
    assert binding["runOnStartup"] is False


def test_entry_point_only_registers_blueprints() -> None:
    source = Path(function_app.__file__).read_text(encoding="utf-8")
    assert "register_functions" in source
    assert "def " not in source


# The client libraries a cold start must not pay for: each function imports its own on first use.
HEAVY_SDKS = (
    "azure.ai.ml",
    "azure.mgmt.machinelearningservices",
    "azure.mgmt.authorization",
    "azure.mgmt.resource",
    "azure.mgmt.resourcegraph",
    "azure.monitor",
    "azure.identity",
    "azure.data.tables",
)
# Nor the policy rules: only evaluating policies and reading POLICY_EXEMPTIONS entries need them.
POLICY_RULES = ("shared.policy.checks", "shared.policy.rules", "shared.policy.facts")
# What it does import: light, and named in docs/ARCHITECTURE.md (6, Cold start).
LIGHT_SDKS = {"azure.core", "azure.functions", "azure.mgmt.core"}


def test_import_function_app_loads_no_heavy_sdk_nor_the_policy_rules() -> None:
    code = "import json, sys\nimport function_app\nprint(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run(  # noqa: S603 - this interpreter, code written here
        [sys.executable, "-c", code],
        cwd=Path(function_app.__file__).parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = json.loads(completed.stdout.strip().splitlines()[-1])
    unwanted = HEAVY_SDKS + POLICY_RULES
    heavy = [m for m in modules if any(m == h or m.startswith(f"{h}.") for h in unwanted)]
    assert heavy == []
    assert {_package(m) for m in modules if m.startswith("azure.")} - {None} == LIGHT_SDKS


def _package(module: str) -> str | None:
    """`azure.eventgrid` for `azure.eventgrid._client`; `azure.mgmt.core` for its modules."""
    parts = module.split(".")
    if parts[1].startswith("_") or module == "azure.mgmt":
        return None
    return ".".join(parts[:3] if parts[1] == "mgmt" else parts[:2])
