"""infra/main.parameters.json as azd fills it (tests/azd_envsubst.py ports azd's substitution).

- The port agrees with drone/envsubst's own test table (v1.0.3 eval_test.go) for the forms a
  parameters file uses, and reproduces azd's fault with a default holding a brace: `${X={}}`
  ends its default at the first `}`.
- Every parameter loads with its variables unset, and with each variable set to a value of the
  parameter's type: the value arrives unchanged (no stray `}`), and a JSON-valued setting (a `{...}`
  or `[...]` default) arrives as the JSON it was set to, nested braces and quotes included.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.azd_envsubst import (
    BadSubstitutionError,
    bicep_parameter_types,
    envsubst,
    load_parameter,
    load_parameters,
)

REPO = Path(__file__).resolve().parent.parent
PARAMETERS = json.loads((REPO / "infra" / "main.parameters.json").read_text(encoding="utf-8"))
BICEP = (REPO / "infra" / "main.bicep").read_text(encoding="utf-8")
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")

# What azd itself always has (azd env new; azd provision asks for the location).
BASE_ENV = {"AZURE_ENV_NAME": "dev", "AZURE_LOCATION": "eastus2"}


@pytest.mark.parametrize(
    ("params", "text", "expected"),
    [
        # drone/envsubst v1.0.3 eval_test.go, the default and escape cases.
        ({"var": "abc"}, "${var=xyz}", "abc"),
        ({}, "${var=xyz}", "xyz"),
        ({"default_var": "foo"}, "something ${var=${default_var}}", "something foo"),
        ({"default_var": "foo1"}, "foo: ${var=${default_var}-suffix}", "foo: foo1-suffix"),
        (
            {"default_var": "foo1"},
            "foo: ${var=prefix${default_var}-suffix}",
            "foo: prefixfoo1-suffix",
        ),
        ({}, "${var:=xyz}", "xyz"),
        ({"var01": "abcdEFGH28ij"}, "$${var01}", "${var01}"),
        (
            {"var01": "abcdEFGH28ij"},
            "some text ${var01}$${var$${var01}$var01${var01}",
            "some text abcdEFGH28ij${var${var01}$var01abcdEFGH28ij",
        ),
        ({"default_var": "foo"}, "something $${var=${default_var}}", "something ${var=foo}"),
        ({}, "abcdEFGH28ij", "abcdEFGH28ij"),
    ],
)
def test_the_port_agrees_with_envsubst_s_own_cases(
    params: dict[str, str], text: str, expected: str
) -> None:
    assert envsubst(text, lambda name: params.get(name, "")) == expected


def test_a_default_ends_at_the_first_closing_brace() -> None:
    # unset, `${X={}}` happens to give `{}`; set, the value gains a `}`.
    assert envsubst("${X={}}", lambda name: "") == "{}"
    assert envsubst("${X={}}", {"X": '{"a": 1}'}.__getitem__) == '{"a": 1}}'
    with pytest.raises(BadSubstitutionError):
        envsubst("${X", lambda name: "")


def variables(value: Any) -> list[str]:
    return VARIABLE.findall(value) if isinstance(value, str) else []


def defaults() -> dict[str, str]:
    """NAME -> the text after `=` up to the end of the value, for `${NAME=...}` values."""
    found: dict[str, str] = {}
    for param in PARAMETERS["parameters"].values():
        value = param.get("value")
        match = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?[=-](.*)\}", str(value), re.DOTALL)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def example(kind: str, variable: str) -> str:
    """A value of the parameter's type, as a user would `azd env set` it."""
    default = defaults().get(variable, "")
    if default.startswith("{") or kind == "object":
        return json.dumps({"training_data": {"type": "uri_folder", "path": "azureml://x/{y}"}})
    if default.startswith("[") or kind == "array":
        return json.dumps(["/subscriptions/s/resourceGroups/g", {"rule": "r", "scope": "{s}"}])
    return {"int": "7", "bool": "true"}.get(kind, "value-1")


def required_env() -> dict[str, str]:
    return {
        **BASE_ENV,
        "ML_WORKSPACE_IDS": '["/subscriptions/s/resourceGroups/g/providers/x/workspaces/w"]',
        "SYNAPSE_WORKSPACE_IDS": '["/subscriptions/s/resourceGroups/g/providers/y/workspaces/z"]',
    }


def test_every_parameter_loads_with_its_variables_unset() -> None:
    loaded = load_parameters(PARAMETERS, BICEP, required_env())
    kinds = bicep_parameter_types(BICEP)
    for name, value in loaded.items():
        if kinds.get(name) in ("array", "object"):
            assert isinstance(value, list if kinds[name] == "array" else dict), (name, value)
    # A JSON-valued default arrives as that JSON, not with a brace more or less.
    for variable, default in defaults().items():
        if default.startswith(("[", "{")) and variable not in required_env():
            name = next(
                n for n, p in PARAMETERS["parameters"].items() if variable in variables(p["value"])
            )
            assert loaded[name] == json.loads(default), (name, loaded[name])


@pytest.mark.parametrize("name", sorted(PARAMETERS["parameters"]))
def test_a_set_variable_arrives_unchanged(name: str) -> None:
    kinds = bicep_parameter_types(BICEP)
    assert name in kinds, f"{name} is in main.parameters.json but not a param of main.bicep"
    names = variables(PARAMETERS["parameters"][name]["value"])
    assert len(names) == 1, f"{name}: one variable per parameter ({names})"
    [variable] = names
    value = example(kinds[name], variable)
    loaded = load_parameters(
        {"parameters": {name: PARAMETERS["parameters"][name]}},
        BICEP,
        {**required_env(), variable: value},
    )
    if kinds[name] in ("array", "object") or value.startswith(("[", "{")):
        assert loaded[name] == json.loads(value)
    else:
        assert loaded[name] == value


@given(
    inputs=st.dictionaries(
        st.text(alphabet="abc_{}", min_size=1, max_size=5),
        st.recursive(
            st.text(alphabet='ab{}"$\\', max_size=6),
            lambda inner: st.dictionaries(st.text(alphabet="ab}", max_size=3), inner, max_size=2),
            max_leaves=4,
        ),
        max_size=3,
    )
)
def test_any_retraining_inputs_object_arrives_as_set(inputs: dict[str, Any]) -> None:
    loaded = load_parameters(
        {"parameters": {"retrainInputs": PARAMETERS["parameters"]["retrainInputs"]}},
        BICEP,
        {**required_env(), "RETRAIN_INPUTS": json.dumps(inputs)},
    )
    assert loaded["retrainInputs"] == inputs


def test_a_string_value_is_pasted_into_json_unescaped() -> None:
    # README "Values with quotes": why JSON-valued settings are array/object parameters, and
    # why a string setting escapes its own quotes.
    param = {"value": "${DRIFT_QUERY}"}
    query = "T | where Status == 'Failed'"
    assert load_parameter("driftQuery", param, "string", {"DRIFT_QUERY": query}) == query
    with pytest.raises(ValueError, match="Expecting"):
        load_parameter("driftQuery", param, "string", {"DRIFT_QUERY": 'T | where S == "F"'})
    escaped = load_parameter("driftQuery", param, "string", {"DRIFT_QUERY": 'S == \\"F\\"'})
    assert escaped == 'S == "F"'
    # A multi-line query: a raw line break is a control character in the JSON text.
    with pytest.raises(ValueError, match="control character"):
        load_parameter("driftQuery", param, "string", {"DRIFT_QUERY": "T\n| count"})
    escaped = load_parameter("driftQuery", param, "string", {"DRIFT_QUERY": "T\\n| count"})
    assert escaped == "T\n| count"
