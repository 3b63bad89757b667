"""HTTP functions are anonymous at function level, so they must never be deployed without App
Service authentication in front: this test reads infra/ and fails if the function app has HTTP
functions but no `authsettingsV2` requiring Entra ID authentication with 401 for anonymous
requests (DESIGN section 3.5)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_infra import INFRA, strip_bicep_comments
from tools import host

_RESOURCE = re.compile(r"resource\s+(\w+)\s+'([^'@]+)@[^']+'\s*(existing\s*)?=\s*\{")


def _blocks(text: str) -> list[tuple[str, str, str]]:
    """(symbol, type, body) of every resource declaration, nested ones included."""
    found = []
    for match in _RESOURCE.finditer(text):
        depth, position = 0, match.end() - 1
        for position in range(match.end() - 1, len(text)):
            if text[position] == "{":
                depth += 1
            elif text[position] == "}":
                depth -= 1
                if depth == 0:
                    break
        found.append((match.group(1), match.group(2), text[match.end() : position]))
    return found


def _excluded_routes(body: str, routes: list[str]) -> list[str]:
    """Routes that `globalValidation.excludedPaths` exempts from authentication."""
    found = re.search(r"excludedPaths\s*:\s*\[(.*?)\]", body, re.DOTALL)
    paths = re.findall(r"'([^']*)'", found.group(1)) if found else []
    return [
        route
        for route in routes
        for path in paths
        if route.lower().startswith(path.rstrip("*").rstrip("/").lower() or "/")
    ]


def auth_settings_problems(
    bicep_files: dict[str, str], routes: tuple[str, ...] = ("/api/scoring-jobs",)
) -> list[str]:
    """Why the Bicep does not put Entra ID authentication in front of the function app's HTTP
    `routes` (empty when it does)."""
    requirements = {
        "requireAuthentication: true": r"requireAuthentication\s*:\s*true\b",
        "unauthenticatedClientAction: 'Return401'": (
            r"unauthenticatedClientAction\s*:\s*'Return401'"
        ),
        "azureActiveDirectory enabled": r"azureActiveDirectory\s*:\s*\{[^}]*?enabled\s*:\s*true",
        "platform enabled": r"platform\s*:\s*\{[^}]*?enabled\s*:\s*true",
    }
    best: list[str] | None = None
    for text in bicep_files.values():
        code = strip_bicep_comments(text)
        blocks = _blocks(code)
        sites = {sym for sym, kind, _ in blocks if kind.lower() == "microsoft.web/sites"}
        for symbol, kind, body in blocks:
            nested = kind.lower() == "config" and sites
            top = kind.lower() == "microsoft.web/sites/config" and any(
                re.search(rf"parent\s*:\s*{site}\b", body) for site in sites
            )
            if not (nested or top) or not re.search(r"name\s*:\s*'authsettingsV2'", body):
                continue
            missing = [want for want, pattern in requirements.items()
                       if not re.search(pattern, body, re.DOTALL)]  # fmt: skip
            missing += [f"authentication for {route} (excluded)"
                        for route in _excluded_routes(body, list(routes))]  # fmt: skip
            if not missing:
                return []
            best = [f"{symbol}: missing {want}" for want in missing]
    return best or ["no Microsoft.Web/sites/config 'authsettingsV2' on the function app"]


def _http_functions() -> list[str]:
    return [name for name in host.indexed() if host.trigger_type(name) == "httpTrigger"]


def _http_routes() -> tuple[str, ...]:
    import json

    routes = []
    for name in _http_functions():
        for raw in host.function(name).get_raw_bindings():
            binding = json.loads(raw)
            if binding["type"] == "httpTrigger":
                routes.append("/api/" + binding["route"])
    return tuple(routes)


def test_http_functions_are_never_deployed_without_app_service_authentication() -> None:
    if not _http_functions():
        return  # nothing anonymous to protect
    files = {str(path): path.read_text(encoding="utf-8") for path in Path(INFRA).rglob("*.bicep")}
    assert auth_settings_problems(files, _http_routes()) == [], (
        f"the app registers HTTP functions {_http_functions()} (anonymous at function level) "
        "but infra/ does not require App Service authentication in front of them"
    )


_GOOD = """
resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  kind: 'functionapp,linux'
}
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        validation: { allowedAudiences: [ audience ] }
      }
    }
  }
}
"""


def test_the_auth_settings_check_accepts_entra_id_with_401() -> None:
    assert auth_settings_problems({"a.bicep": _GOOD}) == []
    webhooks_only = _GOOD.replace(
        "requireAuthentication: true",
        "requireAuthentication: true\n"
        "      excludedPaths: [\n        '/runtime/webhooks/eventgrid'\n      ]",
    )
    assert auth_settings_problems({"a.bicep": webhooks_only}) == []
    nested = _GOOD.replace(
        "}\nresource auth 'Microsoft.Web/sites/config@2024-04-01' = {\n  parent: functionApp\n",
        "  resource auth 'config@2024-04-01' = {\n",
    )
    nested = nested.rstrip() + "\n}\n"
    assert auth_settings_problems({"a.bicep": nested}) == []


def test_the_auth_settings_check_refuses_each_weakening() -> None:
    assert auth_settings_problems({"a.bicep": ""})
    weakened = [
        _GOOD.replace("requireAuthentication: true", "requireAuthentication: false"),
        _GOOD.replace("'Return401'", "'AllowAnonymous'"),
        _GOOD.replace("azureActiveDirectory: {\n        enabled: true",
                      "azureActiveDirectory: {\n        enabled: false"),
        _GOOD.replace("platform: { enabled: true }", "platform: { enabled: false }"),
        _GOOD.replace("'authsettingsV2'", "'appsettings'"),
        _GOOD.replace("parent: functionApp", "parent: otherSite"),
        _GOOD.replace("requireAuthentication: true", "// requireAuthentication: true"),
        _GOOD.replace("requireAuthentication: true", "requireAuthentication: true\n"
                      "      excludedPaths: [ '/runtime/webhooks/eventgrid', '/api/*' ]"),
        _GOOD.replace("requireAuthentication: true", "requireAuthentication: true\n"
                      "      excludedPaths: [ '/api/scoring-jobs' ]"),
    ]  # fmt: skip
    for text in weakened:
        assert text != _GOOD
        assert auth_settings_problems({"a.bicep": text}), text


def _function_app_excluded_paths() -> list[str]:
    text = strip_bicep_comments((INFRA / "app" / "function.bicep").read_text(encoding="utf-8"))
    [body] = [body for _, kind, body in _blocks(text) if "authsettingsV2" in body]
    found = re.search(r"excludedPaths\s*:\s*\[(.*?)\]", body, re.DOTALL)
    assert found, "the function app's authsettingsV2 has no excludedPaths"
    return re.findall(r"'([^']*)'", found.group(1))


def test_event_grid_deliveries_are_excluded_in_the_documented_case_and_lowercase() -> None:
    # Microsoft documents the Event Grid trigger's webhook as /runtime/webhooks/EventGrid; Event
    # Grid sends no Entra ID token, so an exclusion that misses its exact path would 401 every
    # delivery if the platform compares paths case-sensitively. Both spellings, nothing else.
    assert sorted(_function_app_excluded_paths()) == [
        "/runtime/webhooks/EventGrid",
        "/runtime/webhooks/eventgrid",
    ]
