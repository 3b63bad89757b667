"""Prerequisites of `azd provision`, checked before anything is created (preprovision hook).

Read-only: it asks the az CLI (already signed in, as azd is) and changes nothing. Each failed check
prints one line that says what is wrong and what to do; the exit status is 1 if any failed.

Checks, from the azd environment (the variables azd passes to hooks):
- one tenant: every subscription involved is in the tenant az is signed in to;
- the scope lists are ARM IDs of the right resource types (RETRAIN_WORKSPACE_IDS within
  ML_WORKSPACE_IDS);
- resource providers registered: the app's subscription, and Event Grid where the workspaces are;
- the deployer's rights: every action the deployment uses, in each resource group a module of
  main.bicep deploys to (ARM's permissions API, actions and notActions matched with wildcards),
  one line per resource group naming the missing actions and the built-in role that grants them;
- system topics: Azure allows one per source, so an existing one must be adopted
  (EXISTING_SUBSCRIPTION_TOPIC_IDS, EXISTING_WORKSPACE_TOPICS), and an adopted one must exist, have
  that source and a system-assigned identity (dead-lettering); the topics' resource group exists.
  The app's own topics, from an earlier provision of this environment (main.bicep's name and the
  environment's azd-env-name tag), are not someone else's: the second and later `azd up` pass;
- the second provision of `azd up` (DEPLOY_EVENT_SUBSCRIPTIONS=true) finds the functions deployed.

Standard library only: the hook runs with whatever Python the deployer has.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Resource providers the deployment needs in the app's own subscription, and where workspaces are.
APP_PROVIDERS = (
    "Microsoft.App",
    "Microsoft.Web",
    "Microsoft.EventGrid",
    "Microsoft.Storage",
    "Microsoft.Insights",
    "Microsoft.OperationalInsights",
    "Microsoft.ManagedIdentity",
    "Microsoft.Network",
    "Microsoft.Logic",
)
WORKSPACE_PROVIDERS = ("Microsoft.EventGrid",)
# The functions the Event Grid subscriptions point at (DESIGN.md section 2).
SUBSCRIBED_FUNCTIONS = ("on_private_endpoint_event", "on_workspace_event", "on_ml_event")

# The deployer's rights, by where main.bicep's modules deploy (README "Running it for real").
DEPLOYMENTS_WRITE = "Microsoft.Resources/deployments/write"
RESOURCE_GROUPS_WRITE = "Microsoft.Resources/subscriptions/resourceGroups/write"
ROLE_ASSIGNMENTS_WRITE = "Microsoft.Authorization/roleAssignments/write"
ROLE_DEFINITIONS_WRITE = "Microsoft.Authorization/roleDefinitions/write"
SYSTEM_TOPICS_READ = "Microsoft.EventGrid/systemTopics/read"
SYSTEM_TOPICS_WRITE = "Microsoft.EventGrid/systemTopics/write"
EVENT_SUBSCRIPTIONS_WRITE = "Microsoft.EventGrid/systemTopics/eventSubscriptions/write"
TOPIC_WRITES = (SYSTEM_TOPICS_WRITE, EVENT_SUBSCRIPTIONS_WRITE)
# Every resource type main.bicep creates in the app's resource group (tests/test_preflight.py
# checks the list against infra/).
APP_GROUP_WRITES = (
    "Microsoft.ManagedIdentity/userAssignedIdentities/write",
    "Microsoft.Storage/storageAccounts/write",
    "Microsoft.Storage/storageAccounts/blobServices/write",
    "Microsoft.Storage/storageAccounts/blobServices/containers/write",
    "Microsoft.Storage/storageAccounts/queueServices/write",
    "Microsoft.Storage/storageAccounts/tableServices/write",
    "Microsoft.Storage/storageAccounts/tableServices/tables/write",
    "Microsoft.OperationalInsights/workspaces/write",
    "Microsoft.Insights/components/write",
    "Microsoft.Network/networkSecurityGroups/write",
    "Microsoft.Network/virtualNetworks/write",
    "Microsoft.Network/privateDnsZones/write",
    "Microsoft.Network/privateDnsZones/virtualNetworkLinks/write",
    "Microsoft.Network/privateEndpoints/write",
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups/write",
    "Microsoft.EventGrid/topics/write",
    "Microsoft.EventGrid/topics/eventSubscriptions/write",
    "Microsoft.Web/serverfarms/write",
    "Microsoft.Web/sites/write",
    "Microsoft.Web/sites/basicPublishingCredentialsPolicies/write",
    "Microsoft.Web/sites/config/write",
    "Microsoft.Logic/workflows/write",
)
# With DEPLOY_MONITORING (on unless "false"), the on-call workbook and alert rules go into the
# app's resource group too; the action group only with ALERT_EMAIL_ADDRESS.
MONITORING_WRITES = (
    "Microsoft.Insights/workbooks/write",
    "Microsoft.Insights/scheduledQueryRules/write",
    "Microsoft.Insights/metricAlerts/write",
)
ACTION_GROUPS_WRITE = "Microsoft.Insights/actionGroups/write"
# With DEPLOY_POLICY_INITIATIVE, at the app's subscription; the assignment only with
# ASSIGN_POLICY_INITIATIVE.
POLICY_WRITES = (
    "Microsoft.Authorization/policyDefinitions/write",
    "Microsoft.Authorization/policySetDefinitions/write",
)
POLICY_ASSIGNMENTS_WRITE = "Microsoft.Authorization/policyAssignments/write"
PERMISSIONS_API = "2022-04-01"

ML_WORKSPACE = ("Microsoft.MachineLearningServices", "workspaces")
SYNAPSE_WORKSPACE = ("Microsoft.Synapse", "workspaces")


class AzError(Exception):
    """An az command failed; the message is az's own error line."""


Runner = Callable[[Sequence[str]], Any]


def run_az(args: Sequence[str]) -> Any:
    """Run `az <args> -o json` and return the parsed output (None for empty output)."""
    executable = shutil.which("az")
    if executable is None:
        raise AzError("the Azure CLI (az) is not on PATH: install it, then az login")
    completed = subprocess.run(  # noqa: S603 - fixed program, arguments built here
        [executable, *args, "--only-show-errors", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.strip().splitlines() if line.strip()]
        raise AzError(lines[-1] if lines else f"az {' '.join(args)} failed")
    text = completed.stdout.strip()
    return json.loads(text) if text else None


@dataclass(frozen=True)
class ArmId:
    """The parts of an ARM resource ID this script needs."""

    raw: str
    subscription: str
    resource_group: str
    namespace: str
    type_name: str
    name: str

    @property
    def resource_group_id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"


def parse_arm_id(value: str) -> ArmId | None:
    """`/subscriptions/<s>/resourceGroups/<g>/providers/<ns>/<type>/<name>`, or None."""
    parts = value.strip().split("/")
    if (
        len(parts) != 9
        or parts[0] != ""
        or parts[1].lower() != "subscriptions"
        or parts[3].lower() != "resourcegroups"
        or parts[5].lower() != "providers"
        or not all(parts[2:9])
    ):
        return None
    return ArmId(value.strip(), parts[2], parts[4], parts[6], parts[7], parts[8])


def parse_list(raw: str | None) -> list[Any]:
    """An azd array value: a JSON array, or (as app settings write it) comma-separated."""
    text = (raw or "").strip()
    if not text:
        return []
    if text.startswith(("[", "{")):
        value = json.loads(text)
        if not isinstance(value, list):
            raise ValueError("not a JSON array")
        return value
    return [item.strip() for item in text.split(",") if item.strip()]


def action_allowed(action: str, permissions: Iterable[Mapping[str, Any]]) -> bool:
    """Whether a permissions list (ARM's .../providers/Microsoft.Authorization/permissions)
    allows `action`: some entry's actions match it and none of that entry's notActions do."""

    def matches(pattern: str) -> bool:
        pattern, target = pattern.lower(), action.lower()
        if "*" not in pattern:
            return pattern == target
        head, _, tail = pattern.partition("*")
        return target.startswith(head) and target.endswith(tail) and len(target) >= len(head + tail)

    for entry in permissions:
        if any(matches(p) for p in entry.get("actions") or []) and not any(
            matches(p) for p in entry.get("notActions") or []
        ):
            return True
    return False


def access_groups(environ: Mapping[str, str]) -> list[str]:
    """The resource groups where main.bicep (app/access.bicep) defines and assigns the app's
    custom roles: those of the in-scope workspaces, the dependencies, the scoring endpoints'
    workspaces (and the retraining workspaces when BATCH_ENDPOINT_NAME scores after a retrain)
    and the Synapse workspaces. A setting that does not parse adds nothing (it is reported)."""
    settings = ["ML_WORKSPACE_IDS", "DEPENDENCY_RESOURCE_GROUP_IDS", "SCORING_ALLOWED_ENDPOINTS"]
    if environ.get("BATCH_ENDPOINT_NAME"):
        settings.append("RETRAIN_WORKSPACE_IDS")
    settings.append("SYNAPSE_WORKSPACE_IDS")
    groups: list[str] = []
    for setting in settings:
        try:
            values = parse_list(environ.get(setting))
        except ValueError:
            continue
        for value in values:
            parts = str(value).strip().split("/")
            if len(parts) >= 5 and [parts[1].lower(), parts[3].lower()] == [
                "subscriptions",
                "resourcegroups",
            ]:
                groups.append("/".join(parts[:5]))
    return unique(groups)


def own_topic_prefix(environ: Mapping[str, str]) -> str | None:
    """`evgst-<token>-`: how main.bicep names the system topics it creates; the token is the
    one in the function app's name (`func-<token>`). None before the first provision."""
    app_name = environ.get("AZURE_FUNCTION_APP_NAME", "")
    if not app_name.startswith("func-") or not environ.get("AZURE_ENV_NAME"):
        return None
    return f"evgst-{app_name.removeprefix('func-')}-"


def tagged_for(resource: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
    """Whether the resource carries this azd environment's `azd-env-name` tag."""
    tags = resource.get("tags") or {}
    return str(tags.get("azd-env-name", "")) == environ.get("AZURE_ENV_NAME", "") != ""


def app_functions_prefix(environ: Mapping[str, str]) -> str:
    """The lower-cased resource ID prefix of the deployed app's functions, which the app's
    event subscriptions deliver to."""
    return (
        f"/subscriptions/{environ.get('AZURE_SUBSCRIPTION_ID', '')}/resourceGroups/"
        f"{environ.get('AZURE_RESOURCE_GROUP', '')}/providers/Microsoft.Web/sites/"
        f"{environ.get('AZURE_FUNCTION_APP_NAME', '')}/functions/"
    ).lower()


def system_topic_where(topic: ArmId) -> list[str]:
    """The az arguments that name a system topic to its event-subscription commands."""
    return [
        "--system-topic-name",
        topic.name,
        "--resource-group",
        topic.resource_group,
        "--subscription",
        topic.subscription,
    ]


def event_subscription_target(item: Mapping[str, Any]) -> str:
    """The resource ID an event subscription delivers to (az flattens `properties`, or not)."""
    destination = item.get("destination") or {}
    return str(
        destination.get("resourceId")
        or (destination.get("properties") or {}).get("resourceId")
        or ""
    )


def ask_for(missing: Sequence[str]) -> str:
    """The built-in roles that grant `missing`: Owner, or the smallest combination."""
    lowered = {action.lower() for action in missing}
    parts = []
    if ROLE_DEFINITIONS_WRITE.lower() in lowered:
        # Role Based Access Control Administrator has roleAssignments/* only.
        parts.append("User Access Administrator")
    elif ROLE_ASSIGNMENTS_WRITE.lower() in lowered:
        parts.append("Role Based Access Control Administrator")
    if any(a.startswith("microsoft.authorization/policy") for a in lowered):
        parts.append("Resource Policy Contributor")
    others = [a for a in lowered if not a.startswith("microsoft.authorization/")]
    if others:
        topics_only = all(a.startswith("microsoft.eventgrid/systemtopics/") for a in others)
        parts.append("EventGrid Contributor" if topics_only else "Contributor")
    return "Owner, or " + " + ".join(parts)


@dataclass
class Preflight:
    """Runs the checks; collects one line per failure."""

    environ: Mapping[str, str]
    az: Runner = run_az
    failures: list[str] = field(default_factory=list)
    checks: int = 0
    # scope (lower-cased) -> (scope, actions by lower-cased name, why)
    needs: dict[str, tuple[str, dict[str, str], list[str]]] = field(default_factory=dict)
    groups_to_create: list[str] = field(default_factory=list)

    def flag(self, name: str, *, default: bool) -> bool:
        """A boolean azd value as main.parameters.json passes it (unset: the default)."""
        value = self.environ.get(name, "").strip().lower()
        return default if not value else value == "true"

    def fail(self, line: str) -> None:
        self.failures.append(line)

    def count(self) -> None:
        self.checks += 1

    # --- inputs ------------------------------------------------------------------------------

    def ids(self, setting: str, kind: tuple[str, str], *, required: bool) -> list[ArmId]:
        self.count()
        try:
            values = parse_list(self.environ.get(setting))
        except ValueError as error:
            self.fail(
                f"{setting} is not a JSON array ({error}): "
                f"azd env set {setting} '[\"/subscriptions/...\"]'"
            )
            return []
        if required and not values:
            self.fail(
                f"{setting} is empty: azd env set {setting} "
                f"'[\"/subscriptions/<id>/resourceGroups/<group>/providers/{kind[0]}/{kind[1]}/<name>\"]'"
            )
        parsed: list[ArmId] = []
        for value in values:
            arm_id = parse_arm_id(str(value))
            if arm_id is None or (arm_id.namespace.lower(), arm_id.type_name.lower()) != (
                kind[0].lower(),
                kind[1].lower(),
            ):
                self.fail(
                    f"{setting}: {value!r} is not a {kind[0]}/{kind[1]} resource ID "
                    f"(/subscriptions/<id>/resourceGroups/<group>/providers/{kind[0]}/{kind[1]}/<name>)"
                    ": "
                    f"fix it with azd env set {setting}"
                )
            else:
                parsed.append(arm_id)
        return parsed

    # --- checks ------------------------------------------------------------------------------

    def run(self) -> int:
        self.count()
        try:
            account = self.az(["account", "show"])
        except AzError as error:
            self.fail(f"az is not signed in ({error}): run az login (and azd auth login)")
            return self.report()
        tenant = str(account.get("tenantId", ""))
        app_subscription = self.environ.get("AZURE_SUBSCRIPTION_ID") or str(account.get("id", ""))

        # With ML_SCOPES, the app checks the scope itself at start-up (README, Scope).
        try:
            scoped = bool(parse_list(self.environ.get("ML_SCOPES")))
        except ValueError as error:
            scoped = True
            self.fail(f"ML_SCOPES is not a JSON array ({error}): azd env set ML_SCOPES '[...]'")
        workspaces = self.ids("ML_WORKSPACE_IDS", ML_WORKSPACE, required=not scoped)
        synapses = self.ids("SYNAPSE_WORKSPACE_IDS", SYNAPSE_WORKSPACE, required=True)
        retrain = self.ids("RETRAIN_WORKSPACE_IDS", ML_WORKSPACE, required=False)
        in_scope = {w.raw.lower() for w in workspaces}
        for arm_id in retrain:
            self.count()
            if arm_id.raw.lower() not in in_scope and not scoped:
                self.fail(
                    f"RETRAIN_WORKSPACE_IDS: {arm_id.raw} is not in ML_WORKSPACE_IDS: "
                    "add it there, or remove it from RETRAIN_WORKSPACE_IDS"
                )

        subscriptions = unique(
            [app_subscription]
            + [w.subscription for w in workspaces]
            + [s.subscription for s in synapses]
        )
        self.one_tenant(tenant, subscriptions)
        self.providers(app_subscription, APP_PROVIDERS)
        for subscription in unique([w.subscription for w in workspaces]):
            self.providers(subscription, WORKSPACE_PROVIDERS)
        self.deployer_rights(app_subscription)
        self.system_topics(workspaces, app_subscription)
        self.check_rights()
        self.functions_before_subscriptions()
        return self.report()

    def one_tenant(self, tenant: str, subscriptions: Sequence[str]) -> None:
        for subscription in subscriptions:
            self.count()
            try:
                other = self.az(["account", "show", "--subscription", subscription])
            except AzError as error:
                self.fail(
                    f"subscription {subscription} is not visible to the signed-in account "
                    f"({error}): "
                    "az login with an account that can see it, or fix the IDs"
                )
                continue
            if str(other.get("tenantId", "")).lower() != tenant.lower():
                self.fail(
                    f"subscription {subscription} is in tenant {other.get('tenantId')}, not "
                    f"{tenant}: the app, its identity and the workspaces must share one tenant; "
                    "deploy from that tenant or remove its workspaces from the lists"
                )

    def providers(self, subscription: str, namespaces: Sequence[str]) -> None:
        for namespace in namespaces:
            self.count()
            try:
                state = self.az(
                    ["provider", "show", "--namespace", namespace, "--subscription", subscription]
                )
            except AzError as error:
                self.fail(f"cannot read resource provider {namespace} in {subscription}: {error}")
                continue
            registration = str((state or {}).get("registrationState", ""))
            if registration != "Registered":
                self.fail(
                    f"resource provider {namespace} is {registration or 'not registered'} in "
                    f"subscription {subscription}: az provider register --namespace {namespace} "
                    f"--subscription {subscription} --wait"
                )

    def permissions(self, scope: str) -> list[Mapping[str, Any]] | None:
        url = f"{scope}/providers/Microsoft.Authorization/permissions?api-version={PERMISSIONS_API}"
        try:
            answer = self.az(["rest", "--method", "get", "--url", url])
        except AzError as error:
            self.fail(f"cannot read your permissions at {scope} ({error}): does it exist?")
            return None
        value = (answer or {}).get("value")
        return value if isinstance(value, list) else []

    def need(self, scope: str, actions: Iterable[str], why: str) -> None:
        """Record rights the deployment uses at `scope`; check_rights asks once per scope."""
        for group in self.groups_to_create:
            if scope.lower() == group or scope.lower().startswith(group + "/"):
                # Not there yet (azd creates the app's resource group): rights come from above.
                scope = "/".join(scope.split("/")[:3])
        key = scope.lower()
        held_actions, reasons = self.needs.setdefault(key, (scope, {}, []))[1:]
        for action in actions:
            held_actions.setdefault(action.lower(), action)
        if why not in reasons:
            reasons.append(why)

    def check_rights(self) -> None:
        for scope, actions, reasons in self.needs.values():
            self.count()
            granted = self.permissions(scope)
            if granted is None:
                continue
            missing = [a for a in actions.values() if not action_allowed(a, granted)]
            if missing:
                self.fail(
                    f"you lack {', '.join(missing)} at {scope} ({'; '.join(reasons)}): "
                    f"ask for {ask_for(missing)} on it"
                )

    def deployer_rights(self, app_subscription: str) -> None:
        """The rights of every module of main.bicep, by the resource group it deploys to
        (README "Running it for real"; the contract with infra/: custom roles are defined in
        the resource group where they are assigned, so nothing is needed at subscription scope
        but creating the app's resource group when azd has not yet, and the policy initiative
        when it is deployed)."""
        app_group = self.environ.get("AZURE_RESOURCE_GROUP", "")
        if app_group:
            self.count()
            try:
                exists = self.az(
                    ["group", "exists", "--name", app_group, "--subscription", app_subscription]
                )
            except AzError as error:
                self.fail(f"cannot check resource group {app_group}: {error}")
                exists = True
            app_scope = f"/subscriptions/{app_subscription}/resourceGroups/{app_group}"
            if exists is not True:
                self.groups_to_create.append(app_scope.lower())
            self.need(
                app_scope,
                [DEPLOYMENTS_WRITE, ROLE_ASSIGNMENTS_WRITE, *APP_GROUP_WRITES]
                + ([] if exists is True else [RESOURCE_GROUPS_WRITE]),
                "the app's resources and their role assignments are created there",
            )
            if self.flag("DEPLOY_MONITORING", default=True):
                email = bool(self.environ.get("ALERT_EMAIL_ADDRESS", "").strip())
                self.need(
                    app_scope,
                    [*MONITORING_WRITES, *([ACTION_GROUPS_WRITE] if email else [])],
                    "the on-call workbook and alerts are created there (DEPLOY_MONITORING)",
                )
        if self.flag("DEPLOY_POLICY_INITIATIVE", default=False):
            assign = self.flag("ASSIGN_POLICY_INITIATIVE", default=False)
            self.need(
                f"/subscriptions/{app_subscription}",
                [
                    DEPLOYMENTS_WRITE,
                    *POLICY_WRITES,
                    *([POLICY_ASSIGNMENTS_WRITE] if assign else []),
                ],
                "the rules are deployed there as Azure Policy (DEPLOY_POLICY_INITIATIVE)",
            )
        for setting in ("DEPENDENCY_RESOURCE_GROUP_IDS", "SCORING_ALLOWED_ENDPOINTS"):
            self.count()
            try:
                parse_list(self.environ.get(setting))
            except ValueError:
                self.fail(f"{setting} is not a JSON array: azd env set {setting} '[\"...\"]'")
        for group in access_groups(self.environ):
            self.need(
                group,
                [DEPLOYMENTS_WRITE, ROLE_DEFINITIONS_WRITE, ROLE_ASSIGNMENTS_WRITE],
                "the app's custom roles are defined and assigned here",
            )
        drift = parse_arm_id(self.environ.get("DRIFT_LOG_ANALYTICS_WORKSPACE_RESOURCE_ID", ""))
        if drift is not None:
            self.need(
                drift.resource_group_id,
                [DEPLOYMENTS_WRITE, ROLE_ASSIGNMENTS_WRITE],
                "the app is made Log Analytics Reader of the drift workspace here",
            )

    def system_topics(self, workspaces: Sequence[ArmId], app_subscription: str) -> None:
        try:
            adopted_subscription_topics = [
                str(v) for v in parse_list(self.environ.get("EXISTING_SUBSCRIPTION_TOPIC_IDS"))
            ]
            adopted_workspace_topics = parse_list(self.environ.get("EXISTING_WORKSPACE_TOPICS"))
        except ValueError as error:
            self.fail(
                "EXISTING_SUBSCRIPTION_TOPIC_IDS / EXISTING_WORKSPACE_TOPICS is not a JSON array: "
                f"{error}"
            )
            return
        adopted_by_workspace: dict[str, str] = {}
        for entry in adopted_workspace_topics:
            self.count()
            if (
                not isinstance(entry, dict)
                or not entry.get("workspaceId")
                or not entry.get("topicId")
            ):
                self.fail(
                    f"EXISTING_WORKSPACE_TOPICS: {entry!r} is not "
                    '{"workspaceId": "<workspace ID>", "topicId": "<system topic ID>"}'
                )
                continue
            adopted_by_workspace[str(entry["workspaceId"]).lower()] = str(entry["topicId"])
        adopted_by_subscription = {
            (parse_arm_id(topic) or _NO_ID).subscription.lower(): topic
            for topic in adopted_subscription_topics
        }
        topics_group = self.environ.get("EVENT_TOPICS_RESOURCE_GROUP") or self.environ.get(
            "AZURE_RESOURCE_GROUP", ""
        )
        suggested_workspace_topics: list[dict[str, str]] = [
            {"workspaceId": w, "topicId": t} for w, t in adopted_by_workspace.items()
        ]
        suggested_subscription_topics = list(adopted_subscription_topics)
        for subscription in unique([w.subscription for w in workspaces]):
            self.count()
            try:
                topics = (
                    self.az(["eventgrid", "system-topic", "list", "--subscription", subscription])
                    or []
                )
            except AzError as error:
                self.fail(f"cannot list Event Grid system topics in {subscription}: {error}")
                continue
            by_source = {str(t.get("source", "")).lower(): t for t in topics}
            source = f"/subscriptions/{subscription}".lower()
            adopted = adopted_by_subscription.get(subscription.lower())
            existing = by_source.get(source)
            own_group = f"/subscriptions/{subscription}/resourceGroups/{topics_group}"
            if adopted:
                self.adopted_topic(
                    adopted,
                    existing,
                    f"/subscriptions/{subscription}",
                    "EXISTING_SUBSCRIPTION_TOPIC_IDS",
                )
            elif existing and not self.own_topic(existing, own_group, "arm"):
                suggested_subscription_topics.append(str(existing.get("id")))
                self.fail(
                    f"subscription {subscription} already has the system topic "
                    f"{existing.get('id')} "
                    "(Azure allows one per source): azd env set EXISTING_SUBSCRIPTION_TOPIC_IDS "
                    f"'{json.dumps(suggested_subscription_topics)}'"
                )
            else:
                if subscription.lower() != app_subscription.lower() or (
                    topics_group.lower() != self.environ.get("AZURE_RESOURCE_GROUP", "").lower()
                ):
                    # In the app's own subscription, the app's resource group is azd's to create.
                    self.topics_group_exists(subscription, topics_group)
                if topics_group:
                    self.need(
                        own_group,
                        [DEPLOYMENTS_WRITE, *TOPIC_WRITES],
                        "the app's system topics and event subscriptions are created here",
                    )
            for workspace in (
                w for w in workspaces if w.subscription.lower() == subscription.lower()
            ):
                self.workspace_topic(
                    workspace, by_source, adopted_by_workspace, suggested_workspace_topics
                )

    def workspace_topic(
        self,
        workspace: ArmId,
        by_source: Mapping[str, Mapping[str, Any]],
        adopted_by_workspace: Mapping[str, str],
        suggested: list[dict[str, str]],
    ) -> None:
        self.count()
        adopted = adopted_by_workspace.get(workspace.raw.lower())
        existing = by_source.get(workspace.raw.lower())
        if adopted:
            self.adopted_topic(adopted, existing, workspace.raw, "EXISTING_WORKSPACE_TOPICS")
        elif existing and not self.own_topic(existing, workspace.resource_group_id, workspace.name):
            suggested.append({"workspaceId": workspace.raw, "topicId": str(existing.get("id"))})
            self.fail(
                f"workspace {workspace.name} already has the system topic {existing.get('id')} "
                "(Azure allows one per source): azd env set EXISTING_WORKSPACE_TOPICS "
                f"'{json.dumps(suggested)}'"
            )
        else:
            self.need(
                workspace.resource_group_id,
                [DEPLOYMENTS_WRITE, *TOPIC_WRITES],
                "the app's system topics and event subscriptions are created here",
            )

    def own_topic(self, topic: Mapping[str, Any], group_id: str, suffix: str) -> bool:
        """Whether `topic` is the one an earlier provision of this azd environment created:
        the ID main.bicep gives it (`evgst-<token>-arm` in the topics' resource group,
        `evgst-<token>-<workspace>` in the workspace's; the token is the one in the function
        app's name) and the environment's `azd-env-name` tag. Bicep then updates it in place."""
        prefix = own_topic_prefix(self.environ)
        expected = f"{group_id}/providers/Microsoft.EventGrid/systemTopics/{prefix}{suffix}"
        return (
            prefix is not None
            and str(topic.get("id", "")).lower() == expected.lower()
            and tagged_for(topic, self.environ)
        )

    def adopted_topic(
        self, topic_id: str, existing: Mapping[str, Any] | None, source: str, setting: str
    ) -> None:
        if existing is None or str(existing.get("id", "")).lower() != topic_id.lower():
            found = f" (its topic is {existing.get('id')})" if existing else ""
            self.fail(
                f"{setting}: {topic_id} is not the system topic of {source}{found}: "
                f"fix {setting} with azd env set"
            )
            return
        self.need(
            (parse_arm_id(topic_id) or _NO_ID).resource_group_id,
            [DEPLOYMENTS_WRITE],
            "the app's event subscriptions are deployed here",
        )
        self.need(
            topic_id,
            [SYSTEM_TOPICS_READ, EVENT_SUBSCRIPTIONS_WRITE],
            "the app's event subscriptions are added to this adopted topic",
        )
        identity = existing.get("identity") or {}
        if "systemassigned" not in str(identity.get("type", "")).lower().replace(" ", ""):
            self.fail(
                f"system topic {topic_id} has no system-assigned identity, which dead-lettering "
                f"uses: az eventgrid system-topic update --ids {topic_id} --identity systemassigned"
            )

    def topics_group_exists(self, subscription: str, group: str) -> None:
        self.count()
        if not group:
            self.fail(
                "no resource group for the subscription system topics: azd env set "
                "EVENT_TOPICS_RESOURCE_GROUP <group> (or AZURE_RESOURCE_GROUP)"
            )
            return
        try:
            exists = self.az(["group", "exists", "--name", group, "--subscription", subscription])
        except AzError as error:
            self.fail(f"cannot check resource group {group} in {subscription}: {error}")
            return
        if exists is not True:
            self.fail(
                f"resource group {group} does not exist in subscription {subscription}, where its "
                f"system topic goes: az group create --name {group} --location <region> "
                f"--subscription {subscription}, or azd env set EVENT_TOPICS_RESOURCE_GROUP <group>"
            )

    def functions_before_subscriptions(self) -> None:
        if self.environ.get("DEPLOY_EVENT_SUBSCRIPTIONS", "").lower() != "true":
            return
        self.count()
        app = self.environ.get("AZURE_FUNCTION_APP_NAME", "")
        group = self.environ.get("AZURE_RESOURCE_GROUP", "")
        if not app or not group:
            return
        try:
            listed = (
                self.az(
                    ["functionapp", "function", "list", "--name", app, "--resource-group", group]
                )
                or []
            )
        except AzError as error:
            self.fail(f"cannot list the functions of {app}: {error}")
            return
        deployed = {str(item.get("name", "")).rsplit("/", 1)[-1] for item in listed}
        missing = [name for name in SUBSCRIBED_FUNCTIONS if name not in deployed]
        if missing:
            self.fail(
                f"the Event Grid subscriptions point at functions not deployed to {app} yet "
                f"({', '.join(missing)}): run azd deploy, then azd provision "
                "(azd up does both in order)"
            )

    def report(self) -> int:
        for line in self.failures:
            print(f"preflight: {line}", file=sys.stderr)
        if self.failures:
            print(
                f"preflight: {len(self.failures)} problem(s); nothing was created", file=sys.stderr
            )
            return 1
        print(f"preflight: {self.checks} checks passed")
        return 0


_NO_ID = ArmId("", "", "", "", "", "")


def unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        if value and value.lower() not in seen:
            seen[value.lower()] = value
    return list(seen.values())


def main() -> int:
    return Preflight(os.environ).run()


if __name__ == "__main__":
    sys.exit(main())
