"""scripts/smoke.py, the post-deploy check, run as a user runs it: a subprocess whose `azd` and
`az` are fakes on PATH (the fake az of tests/test_preflight.py) and whose app is a local HTTP
server answering the way App Service authentication does (401 without a token), or not."""

from __future__ import annotations

import copy
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.test_preflight import APP_SUB, ML_SUB, SUB_TOPIC, WORKSPACE, run_hook

APP = "func-tok123"
FUNCTIONS = (
    f"/subscriptions/{APP_SUB}/resourceGroups/rg-app/providers/Microsoft.Web/sites/{APP}/functions"
)
OWN_TOPIC = (
    f"/subscriptions/{ML_SUB}/resourceGroups/rg-ml/providers/"
    "Microsoft.EventGrid/systemTopics/evgst-tok123-mlw-churn"
)
SAMPLE = json.loads((Path(__file__).parent.parent / "local.settings.sample.json").read_text())

FAKE_AZD = """#!{python}
import sys
assert sys.argv[1:] == ["env", "get-values", "--output", "json"], sys.argv
sys.stdout.write(open({values!r}).read())
"""


class FakeApp(BaseHTTPRequestHandler):
    """Answers like Easy Auth in front of the app (`status` 401), or like an open app (200)."""

    status = 401
    seen: ClassVar[list[tuple[str, str, str | None]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        FakeApp.seen.append(("POST", self.path, self.headers.get("Authorization")))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def app_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), FakeApp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeApp.status = 401
    FakeApp.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def subscription(name: str, function: str, state: str = "Succeeded") -> dict[str, Any]:
    return {
        "name": name,
        "provisioningState": state,
        "destination": {"endpointType": "AzureFunction", "resourceId": f"{FUNCTIONS}/{function}"},
    }


def deployed_world() -> dict[str, Any]:
    where = "--resource-group {group} --subscription " + ML_SUB
    return {
        f"functionapp function list --name {APP} --resource-group rg-app": {
            "stdout": [
                {"name": f"{APP}/{name}"}
                for name in (
                    "on_private_endpoint_event",
                    "on_workspace_event",
                    "on_ml_event",
                    "start_scoring",
                    "reconcile_sweep",
                )
            ]
        },
        f"eventgrid system-topic list --subscription {ML_SUB}": {
            "stdout": [
                {
                    "id": OWN_TOPIC,
                    "name": "evgst-tok123-mlw-churn",
                    "tags": {"azd-env-name": "dev"},
                },
                {"id": "/x/team-topic", "name": "team-topic", "tags": {"azd-env-name": "dev"}},
            ]
        },
        "eventgrid system-topic event-subscription list --system-topic-name team-arm-events "
        + where.format(group="rg-events"): {
            "stdout": [
                subscription("private-endpoint-events", "on_private_endpoint_event"),
                subscription("workspace-events", "on_workspace_event"),
                {"name": "team", "provisioningState": "Failed", "destination": {}},
            ]
        },
        "eventgrid system-topic event-subscription list --system-topic-name "
        "evgst-tok123-mlw-churn " + where.format(group="rg-ml"): {
            "stdout": [subscription("ml-run-status-events", "on_ml_event")]
        },
        f"functionapp config appsettings list --name {APP} --resource-group rg-app": {
            "stdout": [{"name": k, "value": v} for k, v in SAMPLE["Values"].items()]
        },
    }


def azd_values(url: str) -> dict[str, str]:
    return {
        "AZURE_ENV_NAME": "dev",
        "AZURE_SUBSCRIPTION_ID": APP_SUB,
        "AZURE_RESOURCE_GROUP": "rg-app",
        "AZURE_FUNCTION_APP_NAME": APP,
        "SERVICE_API_URI": url,
        "ML_WORKSPACE_IDS": json.dumps([WORKSPACE]),
        "EXISTING_SUBSCRIPTION_TOPIC_IDS": json.dumps([SUB_TOPIC]),
    }


def run_smoke(
    tmp_path: Path, table: dict[str, Any], values: dict[str, str]
) -> tuple[int, list[str], list[str], list[list[str]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    values_file = tmp_path / "azd-values.json"
    values_file.write_text(json.dumps(values), encoding="utf-8")
    fake_azd = bin_dir / "azd"
    fake_azd.write_text(
        FAKE_AZD.format(python=sys.executable, values=str(values_file)), encoding="utf-8"
    )
    fake_azd.chmod(0o755)
    return run_hook(tmp_path, table, {}, ["-m", "scripts.smoke"])


def test_a_healthy_deployment_passes_every_check(tmp_path: Path, app_url: str) -> None:
    code, stdout, stderr, calls = run_smoke(tmp_path, deployed_world(), azd_values(app_url))
    assert code == 0, stderr
    assert stderr == []
    assert FakeApp.seen == [("POST", "/api/scoring-jobs", None)]
    assert f"smoke: ok: POST {app_url}/api/scoring-jobs without a token answered 401" in stdout
    assert "smoke: ok: every subscribed function has an event subscription (2 topics)" in stdout
    assert any(line.startswith("smoke: ok: the app's settings load") for line in stdout)
    # Reads only; the other team's subscription on the adopted topic is not the app's concern.
    assert all("delete" not in call and "create" not in call for call in calls)
    assert not [line for line in stdout if "subscription team " in line]


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        ("open", "answered 200 (expected 401): App Service authentication is not in front"),
        ("not indexed", "does not list on_ml_event"),
        ("failed subscription", "event subscription ml-run-status-events on"),
        ("no ml subscription", "no event subscription delivers to on_ml_event"),
        ("stray brace", "the app's settings do not load: RETRAIN_INPUTS"),
    ],
)
def test_each_broken_part_is_one_failed_line(
    tmp_path: Path, app_url: str, break_it: str, expected: str
) -> None:
    table = copy.deepcopy(deployed_world())
    ml_subscriptions = next(
        v["stdout"] for k, v in table.items() if "evgst-tok123-mlw-churn --resource-group" in k
    )
    if break_it == "open":
        FakeApp.status = 200
    elif break_it == "not indexed":
        table[f"functionapp function list --name {APP} --resource-group rg-app"]["stdout"].pop(2)
    elif break_it == "failed subscription":
        ml_subscriptions[0]["provisioningState"] = "Failed"
    elif break_it == "no ml subscription":
        ml_subscriptions.clear()
    else:
        # Retraining on, with the value azd made of `${RETRAIN_INPUTS={}}`.
        settings = f"functionapp config appsettings list --name {APP} --resource-group rg-app"
        for item in table[settings]["stdout"]:
            if item["name"] == "RETRAIN_WORKSPACE_IDS":
                item["value"] = SAMPLE["Values"]["ML_WORKSPACE_IDS"]
            if item["name"] == "RETRAIN_INPUTS":
                item["value"] = '{"training_data": "azureml://x"}}'
    code, _, stderr, _ = run_smoke(tmp_path, table, azd_values(app_url))
    assert code == 1
    [line] = stderr
    assert line.startswith("smoke: FAILED: ")
    assert expected in line


def test_without_a_deployed_app_it_says_so(tmp_path: Path) -> None:
    code, _, stderr, calls = run_smoke(tmp_path, {}, {"AZURE_ENV_NAME": "dev"})
    assert code == 1
    assert calls == []
    assert stderr == ["smoke: FAILED: the azd environment has no deployed app: run azd up first"]
