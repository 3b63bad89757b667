"""The function index as the host builds it: names (a contract with infra/), triggers, settings."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path

import azure.functions as func

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


def test_every_parameter_is_of_a_type_the_python_worker_loads() -> None:
    # The worker checks each annotation against its binding's converter as it indexes the app
    # (azure-functions-python-worker, functions.py `validate_function_params`); one refused
    # fails the whole index: no function runs. Its check knows typing.List, not list[str]
    # (its issues 1034 and 1176). It resolves the hints as below: a name they use must import.
    converters = func.get_binding_registry()  # type: ignore[no-untyped-call]
    for name, fn in host.indexed().items():
        hints = typing.get_type_hints(fn.get_user_function())
        for binding in fn.get_bindings():
            converter = converters.get(binding.type)
            hint = hints["return" if binding.name == "$return" else binding.name]
            output = binding.name == "$return" or typing.get_origin(hint) is func.Out
            if typing.get_origin(hint) is func.Out:
                (hint,) = typing.get_args(hint)
            checks = (
                converter.check_output_type_annotation
                if output
                else converter.check_input_type_annotation
            )
            assert checks(hint), (name, binding.name, hint)


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
