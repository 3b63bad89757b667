"""The function index as the host builds it: names (a contract with infra/), triggers, settings."""

from __future__ import annotations

import json
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
