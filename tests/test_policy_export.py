"""The rules as Azure Policy: every definition and the initiative against the policy definition
structure, every rule either exported or app-only with its reason, the aliases real, infra's
checked-in JSON exactly what `export-policy` generates, and the command itself."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import shared.policy.checks  # noqa: F401  (declares the rules)
from shared.config import load_settings
from shared.policy.rules import RULES, AzurePolicy, Rule, Severity
from tests.test_policy_exemptions import BASE_ENV
from tools import cli, policy_export

INFRA_POLICY = Path(__file__).resolve().parent.parent / "infra" / "policy"
GUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# The policy definition structure (learn.microsoft.com, "Azure Policy definition structure":
# basics, parameters, policy rule; conditions, fields, count, effects), as a JSON schema.
OPERATORS = [
    *("equals", "notEquals", "like", "notLike", "match", "matchInsensitively", "notMatch"),
    *("notMatchInsensitively", "contains", "notContains", "in", "notIn", "containsKey"),
    *("notContainsKey", "less", "lessOrEquals", "greater", "greaterOrEquals", "exists"),
]
ALIAS = r"Microsoft\.[A-Za-z]+(/[A-Za-z]+)+([.\[][A-Za-z*\].]*)*"
DEFINITION_ID = (
    r"^(/subscriptions/[^/]+|/providers/Microsoft\.Management/managementGroups/[^/]+)?"
    r"/providers/Microsoft\.Authorization/policyDefinitions/[^/]+$"
)
PARAMETER_EXPRESSION = r"^\[parameters\('[A-Za-z][A-Za-z0-9]*'\)\]$"
CONDITIONS = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/if"}}
CONDITION: dict[str, Any] = {
    "oneOf": [
        # allOf and anyOf take a list of conditions, not one.
        *(
            {
                "type": "object",
                "properties": {logical: schema},
                "required": [logical],
                "additionalProperties": False,
            }
            for logical, schema in (
                ("allOf", CONDITIONS),
                ("anyOf", CONDITIONS),
                ("not", {"$ref": "#/$defs/if"}),
            )
        ),
        {
            "type": "object",
            "properties": {
                "field": {"$ref": "#/$defs/field"},
                "value": {},
                "count": {"$ref": "#/$defs/count"},
                **{operator: {} for operator in OPERATORS},
            },
            "oneOf": [{"required": [source]} for source in ("field", "value", "count")],
            "minProperties": 2,
            "maxProperties": 2,
            "additionalProperties": False,
        },
    ]
}
DEFINITION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "properties"],
    "additionalProperties": False,
    "properties": {
        # Custom definition names: at most 64 characters, none of <>*%&:\?.+/ (ARM's naming rules).
        "name": {"type": "string", "pattern": r"^[^<>*%&:\\?.+/]{1,64}$"},
        "properties": {
            "type": "object",
            "required": ["displayName", "description", "policyType", "mode", "policyRule"],
            "additionalProperties": False,
            "properties": {
                "displayName": {"type": "string", "minLength": 1, "maxLength": 128},
                "description": {"type": "string", "maxLength": 512},
                "policyType": {"enum": ["Custom"]},
                "mode": {"enum": ["All", "Indexed"]},
                "metadata": {"type": "object"},
                "parameters": {"$ref": "#/$defs/parameters"},
                "policyRule": {
                    "type": "object",
                    "required": ["if", "then"],
                    "additionalProperties": False,
                    "properties": {
                        "if": {"$ref": "#/$defs/if"},
                        "then": {
                            "type": "object",
                            "required": ["effect"],
                            "additionalProperties": False,
                            "properties": {
                                "effect": {
                                    "anyOf": [
                                        {"type": "string", "pattern": PARAMETER_EXPRESSION},
                                        {"enum": ["Audit", "Deny", "Disabled"]},
                                    ]
                                }
                            },
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "if": CONDITION,
        # `type`, `identity.type` and friends, or an alias: <namespace>/<type>[/<child>...]/<path>.
        "field": {
            "type": "string",
            "pattern": rf"^(type|name|location|kind|id|identity\.type|{ALIAS})$",
        },
        "count": {
            "type": "object",
            "properties": {
                "field": {"type": "string", "pattern": r"\[\*\]$"},
                "where": {"$ref": "#/$defs/if"},
            },
            "required": ["field"],
            "additionalProperties": False,
        },
        "parameters": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["type"],
                "additionalProperties": False,
                "properties": {
                    "type": {
                        "enum": [
                            "String",
                            "Array",
                            "Object",
                            "Boolean",
                            "Integer",
                            "Float",
                            "DateTime",
                        ]
                    },
                    "allowedValues": {"type": "array", "minItems": 1},
                    "defaultValue": {},
                    "metadata": {
                        "type": "object",
                        "properties": {
                            "displayName": {"type": "string"},
                            "description": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}
INITIATIVE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "properties"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": r"^[^<>*%&:\\?.+/]{1,64}$"},
        "properties": {
            "type": "object",
            "required": ["displayName", "policyType", "policyDefinitions"],
            "additionalProperties": False,
            "properties": {
                "displayName": {"type": "string", "minLength": 1, "maxLength": 128},
                "description": {"type": "string", "maxLength": 512},
                "policyType": {"enum": ["Custom"]},
                "metadata": {"type": "object"},
                "parameters": DEFINITION_SCHEMA["$defs"]["parameters"],
                "policyDefinitions": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["policyDefinitionId", "policyDefinitionReferenceId"],
                        "additionalProperties": False,
                        "properties": {
                            "policyDefinitionId": {
                                "type": "string",
                                "pattern": DEFINITION_ID,
                            },
                            "policyDefinitionReferenceId": {"type": "string", "minLength": 1},
                            "parameters": {
                                "type": "object",
                                "additionalProperties": {
                                    "type": "object",
                                    "required": ["value"],
                                    "additionalProperties": False,
                                    "properties": {"value": {}},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}

# Aliases the definitions may use: each read from a built-in or an Azure Landing Zones definition
# that uses it (Azure/azure-policy, Azure/Enterprise-Scale), so none is a guess.
KNOWN_ALIASES = {
    "type",
    "identity.type",
    "Microsoft.MachineLearningServices/workspaces/publicNetworkAccess",
    "Microsoft.MachineLearningServices/workspaces/hbiWorkspace",
    "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections[*]",
    "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections[*]"
    ".privateLinkServiceConnectionState.status",
    "Microsoft.MachineLearningServices/workspaces/computes/computeType",
    "Microsoft.MachineLearningServices/workspaces/computes/disableLocalAuth",
    "Microsoft.MachineLearningServices/workspaces/computes/subnet.id",
    "Microsoft.MachineLearningServices/workspaces/computes/vmSize",
    "Microsoft.MachineLearningServices/workspaces/computes/scaleSettings.maxNodeCount",
    "Microsoft.MachineLearningServices/workspaces/computes/remoteLoginPortPublicAccess",
}


def fields(node: object) -> set[str]:
    """Every `field` a condition reads, however deep."""
    if isinstance(node, dict):
        found = {node["field"]} if isinstance(node.get("field"), str) else set()
        return found.union(*(fields(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(fields(item) for item in node))
    return set()


def parameter_references(node: object) -> set[str]:
    text = json.dumps(node)
    return set(re.findall(r"\[parameters\('([A-Za-z0-9]+)'\)\]", text))


DEFINITIONS = policy_export.definitions()
INITIATIVE = policy_export.initiative()


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d["name"])
def test_every_definition_fits_the_policy_definition_structure(definition: dict[str, Any]) -> None:
    jsonschema.validate(definition, DEFINITION_SCHEMA)
    properties = definition["properties"]
    # Every parameter the rule reads is declared, and the effect is a parameter.
    assert parameter_references(properties["policyRule"]) <= set(properties["parameters"])
    assert properties["policyRule"]["then"]["effect"] == "[parameters('effect')]"
    assert fields(properties["policyRule"]) <= KNOWN_ALIASES
    resource_type = properties["policyRule"]["if"]["allOf"][0]
    assert resource_type["field"] == "type"
    for alias in fields(properties["policyRule"]) - {"type", "identity.type"}:
        assert alias.startswith(resource_type["equals"] + "/"), alias


def test_the_initiative_fits_the_structure_and_names_each_definition_once() -> None:
    jsonschema.validate(INITIATIVE, INITIATIVE_SCHEMA)
    properties = INITIATIVE["properties"]
    by_name = {d["name"]: d for d in DEFINITIONS}
    references = properties["policyDefinitions"]
    assert [r["policyDefinitionReferenceId"] for r in references] == [
        d["properties"]["metadata"]["appRule"] for d in DEFINITIONS
    ]
    for reference in references:
        name = reference["policyDefinitionId"].rsplit("/", 1)[-1]
        definition = by_name[name]["properties"]
        # What the initiative passes is what the definition declares, and what it reads is its own.
        assert set(reference["parameters"]) <= set(definition["parameters"])
        assert parameter_references(reference["parameters"]) <= set(properties["parameters"])
        # The effect is chosen per rule, from the values the definition allows.
        effect = reference["parameters"]["effect"]["value"]
        chosen = properties["parameters"][effect[len("[parameters('") : -len("')]")]]
        assert chosen["allowedValues"] == definition["parameters"]["effect"]["allowedValues"]
        assert {"Audit", "Disabled"} <= set(chosen["allowedValues"])


def test_every_rule_has_a_definition_or_says_why_not() -> None:
    exported = {d["properties"]["metadata"]["appRule"] for d in DEFINITIONS}
    app_only = INITIATIVE["properties"]["metadata"]["appOnly"]
    assert exported | set(app_only) == set(RULES)
    assert not exported & set(app_only)
    assert all(len(reason) > 40 for reason in app_only.values())
    # Data-plane facts stay in the app: other resources' endpoints, the Synapse allow-list.
    assert set(app_only) == {"dependencies-private-endpoints", "synapse-no-exfiltration-protection"}


def test_built_ins_are_named_by_their_real_ids() -> None:
    matched = {
        d["properties"]["metadata"]["appRule"]: d["properties"]["metadata"]["builtIn"]
        for d in DEFINITIONS
        if "builtIn" in d["properties"]["metadata"]
    }
    assert set(matched) == {
        "workspace-private-link",
        "workspace-public-access",
        "workspace-user-assigned-identity",
        "compute-local-auth",
        "compute-subnet",
    }
    for built_in in matched.values():
        assert re.fullmatch(
            rf"/providers/Microsoft\.Authorization/policyDefinitions/{GUID}",
            built_in["policyDefinitionId"],
        )
    assert matched["compute-local-auth"]["policyDefinitionId"].endswith(
        "e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f"
    )


def test_deny_is_offered_only_where_it_cannot_refuse_every_new_workspace() -> None:
    effects = {
        d["properties"]["metadata"]["appRule"]: d["properties"]["parameters"]["effect"][
            "allowedValues"
        ]
        for d in DEFINITIONS
    }
    assert effects.pop("workspace-private-link") == ["Audit", "Disabled"]
    assert all(values == ["Audit", "Deny", "Disabled"] for values in effects.values())


def test_infra_holds_exactly_what_export_policy_generates() -> None:
    for name, document in zip(policy_export.FILES, (DEFINITIONS, INITIATIVE), strict=True):
        checked_in = (INFRA_POLICY / name).read_text(encoding="utf-8")
        assert checked_in == policy_export.render(document), (
            f"infra/policy/{name} differs from the rules: run "
            "`python -m tools.cli export-policy --out infra/policy`"
        )


def test_a_rule_declares_its_definition_or_its_reason_never_neither_nor_both() -> None:
    with pytest.raises(ValueError, match="either its Azure Policy definition"):
        Rule("new-rule", severity=Severity.LOW, reads=("workspace",))
    with pytest.raises(ValueError, match="either its Azure Policy definition"):
        Rule(
            "new-rule",
            severity=Severity.LOW,
            reads=("workspace",),
            policy=AzurePolicy("Microsoft.MachineLearningServices/workspaces", {}),
            app_only="both",
        )
    assert "new-rule" not in RULES


def test_export_policy_prints_both_documents(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export-policy"]) == 0

    assert json.loads(capsys.readouterr().out) == {
        "definitions": DEFINITIONS,
        "initiative": INITIATIVE,
    }


def test_export_policy_writes_files_named_under_the_given_scope(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scope = "/subscriptions/6d2e2a3c-1b7f-4a8e-9c0d-2f4e6a8b0c1d"

    assert cli.main(["export-policy", "--out", str(tmp_path), "--scope", scope]) == 0

    assert json.loads((tmp_path / "definitions.json").read_text()) == DEFINITIONS
    initiative = json.loads((tmp_path / "initiative.json").read_text())
    jsonschema.validate(initiative, INITIATIVE_SCHEMA)
    ids = [r["policyDefinitionId"] for r in initiative["properties"]["policyDefinitions"]]
    assert ids == [
        f"{scope}/providers/Microsoft.Authorization/policyDefinitions/{d['name']}"
        for d in DEFINITIONS
    ]
    assert "initiative.json" in capsys.readouterr().out


@pytest.mark.parametrize(
    "scope",
    [
        "/subscriptions/not-a-guid",
        "/subscriptions/6d2e2a3c-1b7f-4a8e-9c0d-2f4e6a8b0c1d/resourceGroups/rg",
        "subscriptions/6d2e2a3c-1b7f-4a8e-9c0d-2f4e6a8b0c1d",
        "/providers/Microsoft.Management/managementGroups/a/b",
        # Lookalikes a case-insensitive regex folds onto ASCII: the long s, the Kelvin sign.
        "/providers/Micro\u017foft.Management/managementGroups/contoso",
        "/providers/Microsoft.Management/managementGroups/\u212aontoso",
    ],
)
def test_export_policy_refuses_a_scope_definitions_cannot_live_at(
    scope: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["export-policy", "--scope", scope]) == 64

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "--scope" in captured.err


def test_export_policy_accepts_a_management_group(capsys: pytest.CaptureFixture[str]) -> None:
    scope = "/providers/Microsoft.Management/managementGroups/contoso-platform"

    assert cli.main(["export-policy", "--scope", scope]) == 0

    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document["initiative"], INITIATIVE_SCHEMA)
    assert all(
        r["policyDefinitionId"].startswith(scope + "/providers/")
        for r in document["initiative"]["properties"]["policyDefinitions"]
    )


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["properties"]["policyRule"]["if"]["allOf"].append({"field": "type"}),
        lambda d: d["properties"]["policyRule"]["if"]["allOf"].append(
            {"field": "type", "equals": "a", "notEquals": "b"}
        ),
        lambda d: d["properties"]["policyRule"]["if"]["allOf"].append(
            {"field": "type", "startsWith": "a"}
        ),
        lambda d: d["properties"]["policyRule"]["then"].update(effect="Remove"),
        lambda d: d["properties"].update(mode="Microsoft.KeyVault.Data"),
        lambda d: d["properties"]["parameters"]["effect"].update(type="str"),
        lambda d: d["properties"].update(description="x" * 513),
    ],
)
def test_the_schema_refuses_what_azure_policy_would(break_it: Any) -> None:
    definition = json.loads(json.dumps(DEFINITIONS[0]))
    break_it(definition)

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(definition, DEFINITION_SCHEMA)


def test_infra_deploys_the_checked_in_files_and_names_only_initiative_parameters() -> None:
    infra = INFRA_POLICY.parent
    module = (infra / "app" / "policy.bicep").read_text(encoding="utf-8")
    main = (infra / "main.bicep").read_text(encoding="utf-8")
    loaded = re.findall(r"loadJsonContent\('\.\./policy/([\w.]+)'\)", module)
    assert sorted(loaded) == sorted(policy_export.FILES)
    # The effects main.bicep chooses itself are the initiative's own parameters.
    (effects,) = re.findall(r"effects: union\(\{ (\w+): ", main)
    assert effects in INITIATIVE["properties"]["parameters"]
    assert effects == policy_export.effect_parameter("workspace-hbi")
    # The parameters the assignment passes besides the effects are the initiative's too.
    passed = set(re.findall(r"^\s+(\w+): \{ value: ", module, flags=re.MULTILINE))
    assert passed == set(policy_export.PARAMETERS) <= set(INITIATIVE["properties"]["parameters"])


def bicep_value(expression: str, names: dict[str, Any]) -> Any:
    """The little Bicep main.bicep's policy wiring uses: strings, names, one-line objects,
    `a ? b : c`, union(), empty() and join()."""
    tokens: list[str] = re.findall(r"'[^']*'|\w+|[{}(),:?]", expression)
    functions: dict[str, Callable[..., Any]] = {
        "union": lambda *objects: {k: v for o in objects for k, v in o.items()},
        "empty": lambda value: not value,
        "join": lambda items, separator: separator.join(items),
    }

    def take() -> str:
        return tokens.pop(0)

    def term() -> Any:
        token = take()
        if token == "{":
            found: dict[str, Any] = {}
            while (key := take()) != "}":
                if key != ",":
                    assert take() == ":"
                    found[key] = value()
            return found
        if token.startswith("'"):
            return token[1:-1]
        if tokens[:1] != ["("]:
            return names[token]
        take()
        arguments = []
        while tokens[0] != ")":
            if tokens[0] == ",":
                take()
            else:
                arguments.append(value())
        take()
        return functions[token](*arguments)

    def value() -> Any:
        condition = term()
        if tokens[:1] != ["?"]:
            return condition
        take()
        chosen = value()
        assert take() == ":"
        other = value()
        return chosen if condition else other

    result = value()
    assert not tokens, tokens
    return result


@pytest.mark.parametrize("sizes", [[], ["Standard_DS3_v2"]])
@pytest.mark.parametrize("chosen", [{}, {"computeVmSizeEffect": "Deny"}])
def test_the_assignment_judges_vm_sizes_exactly_when_the_app_does(
    sizes: list[str], chosen: dict[str, str]
) -> None:
    """ALLOWED_COMPUTE_VM_SIZES empty (azd env set ALLOWED_COMPUTE_VM_SIZES '[]'): the app does
    not judge VM sizes. The assignment must not either: `vmSize notIn []` finds every cluster and
    instance non-compliant, and with Deny refuses each new one."""
    main = (INFRA_POLICY.parent / "main.bicep").read_text(encoding="utf-8")
    names = {"allowedComputeVmSizes": sizes, "policyEffects": chosen, "hbiRequired": False}
    (setting,) = re.findall(r"name: 'ALLOWED_COMPUTE_VM_SIZES'\s+value: (.+)", main)
    app = load_settings({**BASE_ENV, "ALLOWED_COMPUTE_VM_SIZES": bicep_value(setting, names)})
    (effects,) = re.findall(r"^\s+effects: (.+)$", main, flags=re.MULTILINE)
    effect = bicep_value(effects, names).get("computeVmSizeEffect")

    if app.allowed_compute_vm_sizes is None:
        assert effect == "Disabled"
    else:
        assert effect == chosen.get("computeVmSizeEffect")
    assert (app.allowed_compute_vm_sizes is None) == (not sizes)
