"""After `azd up`: is the deployed app answering, wired and configured? (README "Running it for
real"). Run from the checkout you deployed from: `.venv/bin/python -m scripts.smoke`.

It reads the azd environment (`azd env get-values --output json`), then checks, each one line:
- App Service authentication is in front of the app: `POST /api/scoring-jobs` without a token
  is 401 (Easy Auth answers before any code runs);
- the host indexed the app: the functions Event Grid delivers to and `start_scoring` are listed;
- the Event Grid subscriptions to the app's functions, on its own system topics and the adopted
  ones, are all `provisioningState` Succeeded, and every subscribed function has one;
- the app's settings load: the deployed app settings, read back through ARM, pass the app's own
  validation (`shared.config.load_settings`), which every function runs before anything else.

Reads only; exit status 1 if a check failed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

from scripts.preflight import (
    SUBSCRIBED_FUNCTIONS,
    AzError,
    Runner,
    app_functions_prefix,
    event_subscription_target,
    own_topic_prefix,
    parse_arm_id,
    parse_list,
    run_az,
    system_topic_where,
    tagged_for,
    unique,
)

HTTP_FUNCTIONS = ("start_scoring",)


def azd_environment() -> dict[str, str]:
    """The values azd stores for the current environment."""
    executable = shutil.which("azd")
    if executable is None:
        raise AzError("the Azure Developer CLI (azd) is not on PATH")
    completed = subprocess.run(  # noqa: S603 - fixed program and arguments
        [executable, "env", "get-values", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if completed.returncode != 0:
        raise AzError(completed.stderr.strip() or "azd env get-values failed")
    values = json.loads(completed.stdout)
    return {str(key): str(value) for key, value in values.items()}


def post_without_token(url: str) -> int:
    request = urllib.request.Request(  # noqa: S310 - the deployed app's own https URL
        url, data=b"{}", method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@dataclass
class Smoke:
    environ: Mapping[str, str]
    az: Runner = run_az
    failures: list[str] = field(default_factory=list)

    def report(self, ok: bool, line: str) -> None:
        if ok:
            print(f"smoke: ok: {line}")
        else:
            self.failures.append(line)
            print(f"smoke: FAILED: {line}", file=sys.stderr)

    def run(self) -> int:
        app = self.environ.get("AZURE_FUNCTION_APP_NAME", "")
        group = self.environ.get("AZURE_RESOURCE_GROUP", "")
        uri = self.environ.get("SERVICE_API_URI", "").rstrip("/")
        if not (app and group and uri):
            self.report(False, "the azd environment has no deployed app: run azd up first")
            return 1
        self.unauthenticated(f"{uri}/api/scoring-jobs")
        self.functions(app, group)
        self.event_subscriptions()
        self.settings(app, group)
        return 1 if self.failures else 0

    def unauthenticated(self, url: str) -> None:
        try:
            status = post_without_token(url)
        except OSError as error:
            self.report(False, f"POST {url} without a token: no answer ({error})")
            return
        self.report(
            status == 401,
            f"POST {url} without a token answered {status}"
            + (
                ""
                if status == 401
                else " (expected 401): App Service authentication is not in front of the app; "
                "check authsettingsV2 in infra/app/function.bicep and API_CLIENT_ID"
            ),
        )

    def functions(self, app: str, group: str) -> None:
        try:
            listed = self.az(
                ["functionapp", "function", "list", "--name", app, "--resource-group", group]
            )
        except AzError as error:
            self.report(False, f"cannot list the functions of {app}: {error}")
            return
        names = {str(item.get("name", "")).rsplit("/", 1)[-1] for item in listed or []}
        missing = [n for n in (*SUBSCRIBED_FUNCTIONS, *HTTP_FUNCTIONS) if n not in names]
        self.report(
            not missing,
            f"{app} lists its functions"
            if not missing
            else f"{app} does not list {', '.join(missing)}: the host did not index the app "
            "(Application Insights shows why); azd deploy again",
        )

    def topics(self) -> list[str]:
        """The system topics the app's event subscriptions are on: its own and the adopted."""
        found: list[str] = []
        try:
            found += [
                str(v) for v in parse_list(self.environ.get("EXISTING_SUBSCRIPTION_TOPIC_IDS"))
            ]
            found += [
                str(entry.get("topicId", ""))
                for entry in parse_list(self.environ.get("EXISTING_WORKSPACE_TOPICS"))
                if isinstance(entry, dict)
            ]
            workspaces = [str(v) for v in parse_list(self.environ.get("ML_WORKSPACE_IDS"))]
        except ValueError as error:
            self.report(False, f"the azd environment's topic settings do not parse: {error}")
            return found
        prefix = own_topic_prefix(self.environ)
        subscriptions = unique([arm.subscription for w in workspaces if (arm := parse_arm_id(w))])
        for subscription in subscriptions:
            try:
                listed = self.az(
                    ["eventgrid", "system-topic", "list", "--subscription", subscription]
                )
            except AzError as error:
                self.report(False, f"cannot list the system topics of {subscription}: {error}")
                continue
            found += [
                str(topic.get("id"))
                for topic in listed or []
                if prefix
                and str(topic.get("name", "")).startswith(prefix)
                and tagged_for(topic, self.environ)
            ]
        return unique(found)

    def event_subscriptions(self) -> None:
        ours = app_functions_prefix(self.environ)
        covered: set[str] = set()
        topics = self.topics()
        for topic_id in topics:
            topic = parse_arm_id(topic_id)
            if topic is None:
                continue
            try:
                listed = self.az(
                    [
                        "eventgrid",
                        "system-topic",
                        "event-subscription",
                        "list",
                        *system_topic_where(topic),
                    ]
                )
            except AzError as error:
                self.report(False, f"cannot list the event subscriptions of {topic_id}: {error}")
                continue
            for item in listed or []:
                target = event_subscription_target(item).lower()
                if not target.startswith(ours):
                    continue
                covered.add(target.removeprefix(ours))
                state = str(item.get("provisioningState", ""))
                self.report(
                    state == "Succeeded",
                    f"event subscription {item.get('name')} on {topic_id} is {state}",
                )
        missing = [name for name in SUBSCRIBED_FUNCTIONS if name.lower() not in covered]
        self.report(
            bool(topics) and not missing,
            f"every subscribed function has an event subscription ({len(topics)} topics)"
            if topics and not missing
            else f"no event subscription delivers to {', '.join(missing) or 'the app'}: run "
            "azd provision (the second pass of azd up adds them)",
        )

    def settings(self, app: str, group: str) -> None:
        from shared.config import SettingsError, load_settings

        try:
            listed = self.az(
                [
                    "functionapp",
                    "config",
                    "appsettings",
                    "list",
                    "--name",
                    app,
                    "--resource-group",
                    group,
                ]
            )
        except AzError as error:
            self.report(False, f"cannot read the app settings of {app}: {error}")
            return
        values = {str(item.get("name")): str(item.get("value") or "") for item in listed or []}
        try:
            load_settings(values)
        except SettingsError as error:
            self.report(
                False, f"the app's settings do not load: {error}: azd env set, azd provision"
            )
            return
        self.report(True, f"the app's settings load ({len(values)} app settings)")


def main() -> int:
    try:
        environ = azd_environment()
    except (AzError, ValueError) as error:
        print(f"smoke: FAILED: cannot read the azd environment: {error}", file=sys.stderr)
        return 1
    return Smoke(environ).run()


if __name__ == "__main__":
    sys.exit(main())
