"""What `azd down` would leave behind, removed first (predown hook).

`azd down` deletes the app's resource group. What main.bicep created elsewhere stays, and the next
`azd up` would meet it (a system topic per source, role definitions under the same names):

1. the app's event subscriptions on adopted system topics (EXISTING_SUBSCRIPTION_TOPIC_IDS,
   EXISTING_WORKSPACE_TOPICS): those whose destination is a function of this app;
2. the system topics this environment created outside the app's resource group: main.bicep's
   name (`evgst-<token>-...`) and this environment's `azd-env-name` tag, both;
3. the role assignments of the app's identity (APP_IDENTITY_PRINCIPAL_ID) outside the app's
   resource group;
4. the custom role definitions of this environment (their name ends with
   `(<APP_ROLE_NAME_SUFFIX>, ...)`) in the resource groups where main.bicep defines them, after
   their assignments.

Role assignments the running app made (Contributor for an allow-listed Synapse identity, audited
in the ledger) are the workspaces' access, not the app's: they stay.

Each removal prints one line; a failure prints one line and the others still run; the exit
status is 1 if any failed (azd then stops before deleting anything). Standard library only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scripts.preflight import (
    AzError,
    Runner,
    access_groups,
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


@dataclass
class Predown:
    environ: Mapping[str, str]
    az: Runner = run_az
    failures: list[str] = field(default_factory=list)
    removed: int = 0

    @property
    def app_group(self) -> str:
        subscription = self.environ.get("AZURE_SUBSCRIPTION_ID", "")
        group = self.environ.get("AZURE_RESOURCE_GROUP", "")
        return f"/subscriptions/{subscription}/resourceGroups/{group}".lower()

    def outside_app_group(self, resource_id: str) -> bool:
        lowered = resource_id.lower()
        return not (lowered == self.app_group or lowered.startswith(self.app_group + "/"))

    def remove(self, what: str, args: list[str]) -> None:
        try:
            self.az(args)
        except AzError as error:
            self.failures.append(f"could not remove {what} ({error}): az {' '.join(args)}")
            return
        self.removed += 1
        print(f"predown: removed {what}")

    def listed(self, args: list[str], what: str) -> list[Mapping[str, Any]]:
        try:
            return list(self.az(args) or [])
        except AzError as error:
            self.failures.append(f"could not list {what} ({error}): az {' '.join(args)}")
            return []

    def subscriptions(self) -> list[str]:
        ids: list[str] = []
        for setting in (
            "ML_WORKSPACE_IDS",
            "SYNAPSE_WORKSPACE_IDS",
            "DEPENDENCY_RESOURCE_GROUP_IDS",
            "SCORING_ALLOWED_ENDPOINTS",
            "EXISTING_SUBSCRIPTION_TOPIC_IDS",
        ):
            try:
                ids += [str(v) for v in parse_list(self.environ.get(setting))]
            except ValueError:
                continue
        ids.append(self.environ.get("DRIFT_LOG_ANALYTICS_WORKSPACE_RESOURCE_ID", ""))
        found = [value.split("/")[2] for value in ids if value.count("/") >= 2]
        return unique(found)

    def run(self) -> int:
        if not self.environ.get("AZURE_ENV_NAME") or not self.environ.get("AZURE_RESOURCE_GROUP"):
            print("predown: not provisioned in this environment; nothing to remove")
            return 0
        self.adopted_topic_subscriptions()
        subscriptions = self.subscriptions()
        self.own_topics(subscriptions)
        self.role_assignments(subscriptions)
        self.role_definitions()
        for line in self.failures:
            print(f"predown: {line}", file=sys.stderr)
        print(f"predown: {self.removed} removed, {len(self.failures)} failed")
        return 1 if self.failures else 0

    def adopted_topic_subscriptions(self) -> None:
        app = self.environ.get("AZURE_FUNCTION_APP_NAME", "")
        if not app:
            return
        ours = app_functions_prefix(self.environ)
        adopted: list[str] = []
        try:
            adopted += [
                str(v) for v in parse_list(self.environ.get("EXISTING_SUBSCRIPTION_TOPIC_IDS"))
            ]
            adopted += [
                str(entry.get("topicId", ""))
                for entry in parse_list(self.environ.get("EXISTING_WORKSPACE_TOPICS"))
                if isinstance(entry, dict)
            ]
        except ValueError:
            self.failures.append("EXISTING_*_TOPIC settings are not JSON arrays")
        for topic_id in unique(adopted):
            topic = parse_arm_id(topic_id)
            if topic is None:
                continue
            where = system_topic_where(topic)
            listing = self.listed(
                ["eventgrid", "system-topic", "event-subscription", "list", *where],
                f"the event subscriptions of {topic_id}",
            )
            for subscription in listing:
                if event_subscription_target(subscription).lower().startswith(ours):
                    name = str(subscription.get("name"))
                    self.remove(
                        f"event subscription {name} of the adopted topic {topic_id}",
                        [
                            "eventgrid",
                            "system-topic",
                            "event-subscription",
                            "delete",
                            "--name",
                            name,
                            *where,
                            "--yes",
                        ],
                    )

    def own_topics(self, subscriptions: Iterable[str]) -> None:
        prefix = own_topic_prefix(self.environ)
        if prefix is None:
            return
        for subscription in subscriptions:
            topics = self.listed(
                ["eventgrid", "system-topic", "list", "--subscription", subscription],
                f"the system topics of {subscription}",
            )
            for topic in topics:
                topic_id = str(topic.get("id", ""))
                if (
                    str(topic.get("name", "")).startswith(prefix)
                    and tagged_for(topic, self.environ)
                    and self.outside_app_group(topic_id)
                ):
                    self.remove(
                        f"system topic {topic_id}",
                        ["eventgrid", "system-topic", "delete", "--ids", topic_id, "--yes"],
                    )

    def role_assignments(self, subscriptions: Iterable[str]) -> None:
        principal = self.environ.get("APP_IDENTITY_PRINCIPAL_ID", "")
        if not principal:
            return
        for subscription in subscriptions:
            listing = self.listed(
                # Every assignment, filtered here by principal ID: `--assignee` and principal
                # names would ask Microsoft Graph, which the deployer may not read.
                [
                    "role",
                    "assignment",
                    "list",
                    "--all",
                    "--fill-principal-name",
                    "false",
                    "--subscription",
                    subscription,
                ],
                f"the app identity's role assignments in {subscription}",
            )
            for assignment in listing:
                scope = str(assignment.get("scope", ""))
                if str(
                    assignment.get("principalId", "")
                ).lower() == principal.lower() and self.outside_app_group(scope):
                    self.remove(
                        f"role assignment of {assignment.get('roleDefinitionName')} at {scope}",
                        ["role", "assignment", "delete", "--ids", str(assignment.get("id"))],
                    )

    def role_definitions(self) -> None:
        suffix = self.environ.get("APP_ROLE_NAME_SUFFIX", "")
        if not suffix:
            return
        for group in access_groups(self.environ):
            listing = self.listed(
                ["role", "definition", "list", "--custom-role-only", "true", "--scope", group],
                f"the custom roles of {group}",
            )
            for definition in listing:
                role_name = str(definition.get("roleName", ""))
                if f"({suffix}, " in role_name:
                    self.remove(
                        f"custom role {role_name!r} in {group}",
                        [
                            "role",
                            "definition",
                            "delete",
                            "--name",
                            str(definition.get("name")),
                            "--scope",
                            group,
                        ],
                    )


def main() -> int:
    return Predown(os.environ).run()


if __name__ == "__main__":
    sys.exit(main())
