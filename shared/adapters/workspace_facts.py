"""Reading what the policy rules need about an AML workspace, and applying the two remediations.
Dependencies are read through the generic resources API: three more SDKs stay out of cold start."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from azure.core.exceptions import AzureError

from shared.adapters.answers import (
    GuardNoLongerHoldsError,
    UnexpectedAnswerError,
    check_answer,
    check_named,
    child_name,
)
from shared.adapters.errors import describe, is_transient, read_back
from shared.adapters.network import private_links
from shared.adapters.transport import (
    ArmAdapter,
    MalformedResponseError,
    json_mapping,
    json_objects,
    resource_properties,
)
from shared.arm import ArmId, is_arm_id, same_arm_id, subscription_of
from shared.bounds import excerpt
from shared.planning.synapse_facts import text
from shared.policy.facts import ComputeFacts, DependencyFacts, DependencyKind, is_count

# Policy exemptions: the version that added resource selectors (and so reports them).
POLICY_EXEMPTIONS_API_VERSION = "2022-07-01-preview"
DEPENDENCY_API_VERSIONS = {
    DependencyKind.STORAGE: "2023-05-01",
    DependencyKind.KEY_VAULT: "2023-07-01",
    DependencyKind.CONTAINER_REGISTRY: "2023-07-01",
}


class WorkspaceFactsAdapter(ArmAdapter):
    def policy_exemptions(self, workspace_id: ArmId) -> list[dict[str, Any]]:
        """Azure Policy exemptions at the workspace, every scope containing it and its computes."""
        path = f"{quote(workspace_id)}/providers/Microsoft.Authorization/policyExemptions"
        what = f"policy exemptions of {workspace_id}"
        items = list(self._list(path, POLICY_EXEMPTIONS_API_VERSION, what))
        # What decides which findings are spared: of its schema's shape, or nothing is decided.
        for item in items:
            properties = json_mapping(item.get("properties"), f"{what}: properties")
            references = properties.get("policyDefinitionReferenceIds") or []
            if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
                shown = f"{type(references).__name__} {excerpt(references, 100)!r}"
                raise MalformedResponseError(f"{what}: policyDefinitionReferenceIds is a {shown}")
        return items

    def computes(self, workspace_id: ArmId) -> list[ComputeFacts]:
        # The SDK turns 2.5, true or "3" into an int; the cluster-size guard must see what ARM
        # sent, so the node counts are taken from the raw pages.
        raw_counts: dict[str, tuple[object, object]] = {}
        ml, group, name = self._ml(workspace_id)
        pages = ml.compute.list(
            group, name, raw_response_hook=lambda reply: raw_counts.update(_node_counts(reply))
        )
        return [_compute(item, raw_counts) for item in pages]

    def dependency(
        self, kind: DependencyKind, resource_id: str | None, customers: frozenset[str]
    ) -> DependencyFacts:
        """Groups with approved private endpoints in a `customers` subscription or its own."""
        if not resource_id or not is_arm_id(resource_id):
            return DependencyFacts(kind, None)
        customers = customers | {subscription_of(resource_id).lower()}
        what, groups = f"{resource_id}: properties", set[str]()
        try:
            key, version = "privateEndpointConnections", DEPENDENCY_API_VERSIONS[kind]
            connections = resource_properties(self._clients, resource_id, version).get(key)
            for connection in json_objects(connections, f"{what}.{key}"):
                link = json_mapping(connection.get("properties"), f"{what} of a connection")
                state = json_mapping(
                    link.get("privateLinkServiceConnectionState"), f"{what}: state"
                )
                endpoint = json_mapping(link.get("privateEndpoint"), f"{what}: endpoint").get("id")
                if (
                    str(state.get("status", "")).lower() == "approved"
                    and isinstance(endpoint, str)
                    and is_arm_id(endpoint)
                    and subscription_of(endpoint).lower() in customers
                ):
                    # The connection does not say which sub-resource it serves; the endpoint does.
                    groups |= self._groups_of(endpoint, resource_id)
        except AzureError as error:
            if is_transient(error):
                raise
            return DependencyFacts(kind, resource_id, error=describe(error))
        except UnexpectedAnswerError as error:  # its answer, or an endpoint's, about another
            return DependencyFacts(kind, resource_id, error=str(error))
        return DependencyFacts(kind, resource_id, approved_groups=frozenset(groups))

    def _groups_of(self, endpoint_id: str, target_id: str) -> set[str]:
        groups: set[str] = set()
        for link in private_links(self._clients, endpoint_id):
            if same_arm_id(link.get("privateLinkServiceId"), target_id):
                group_ids = link.get("groupIds") or []
                if not isinstance(group_ids, list):
                    raise MalformedResponseError(f"{endpoint_id}: groupIds is not a list")
                groups |= {str(g).lower() for g in group_ids}
        return groups

    def disable_public_network_access(self, workspace_id: ArmId) -> str:
        from azure.mgmt.machinelearningservices.models import WorkspaceUpdateParameters

        ml, group, name = self._ml(workspace_id)
        update = WorkspaceUpdateParameters(public_network_access="Disabled")

        def disabled(found: Any) -> bool:  # in any casing, as the rule reads it
            return same_arm_id(getattr(found, "public_network_access", None), "Disabled")

        result = read_back(
            lambda: ml.workspaces.begin_update(group, name, update).result(),
            lambda: ml.workspaces.get(group, name),
            disabled,
        )
        seen = getattr(result, "public_network_access", None)
        value = "Disabled" if disabled(result) else str(seen)
        answered_id = str(getattr(result, "id", "") or "")
        check_answer(answered_id, workspace_id, "publicNetworkAccess", value, "Disabled")
        return value

    def set_max_nodes(self, workspace_id: ArmId, compute_name: str, max_nodes: int) -> int:
        from azure.mgmt.machinelearningservices.models import (
            ClusterUpdateParameters,
            ScaleSettings,
            ScaleSettingsInformation,
        )

        name = child_name(compute_name, "compute", workspace_id)
        ml, group, workspace_name = self._ml(workspace_id)
        expected_id = f"{workspace_id}/computes/{name}"
        raw: dict[str, tuple[object, object]] = {}  # as ARM sent them, as the guard read them
        current = ml.compute.get(
            group, workspace_name, name, raw_response_hook=lambda r: raw.update(_node_counts(r))
        )
        # The guard judges this cluster: another compute's counts say nothing of its nodes.
        check_named(current.id, expected_id, f"asked for compute {name}")
        now = _compute(current, raw)
        counts = (now.current_node_count, now.target_node_count)
        if now.max_node_count is None or now.max_node_count <= max_nodes:
            # Lowered (or unreported) since the listing: the write would raise it, or guess.
            raise GuardNoLongerHoldsError(
                f"compute {name!r} now has maxNodeCount {now.max_node_count}, not above "
                f"{max_nodes}: nothing to lower"
            )
        if any(count is None or count > max_nodes for count in counts):
            # The last read before the write: a cluster that scaled up since keeps its maximum.
            raise GuardNoLongerHoldsError(
                f"{now.compute_type} compute {name!r} now has {counts[0]} current and "
                f"{counts[1]} target node(s), above the new maximum {max_nodes}: deferred "
                "until it scales down"
            )
        scale = getattr(getattr(current.properties, "properties", None), "scale_settings", None)
        # Keep what else is set: a PATCH of scale settings replaces them whole.
        idle = getattr(scale, "node_idle_time_before_scale_down", None)
        minimum = getattr(scale, "min_node_count", 0) or 0
        settings = ScaleSettings(
            max_node_count=max_nodes, min_node_count=minimum, node_idle_time_before_scale_down=idle
        )
        update = ClusterUpdateParameters(
            properties=ScaleSettingsInformation(scale_settings=settings)
        )
        updated = _compute(
            read_back(
                lambda: ml.compute.begin_update(group, workspace_name, name, update).result(),
                lambda: ml.compute.get(group, workspace_name, name),
                lambda found: _compute(found).max_node_count == max_nodes,
            )
        )
        check_answer(updated.id, expected_id, "maxNodeCount", updated.max_node_count, max_nodes)
        return max_nodes


def _node_counts(response: Any) -> dict[str, tuple[object, object]]:
    """(currentNodeCount, targetNodeCount) as ARM wrote them, by lower-cased compute ID, of a
    listing's page or one compute."""
    try:
        body = json.loads(response.http_response.text())
    except (ValueError, RecursionError):
        return {}
    values = body.get("value", [body]) if isinstance(body, dict) else None
    counts: dict[str, tuple[object, object]] = {}
    for item in values if isinstance(values, list) else ():
        outer = item.get("properties") if isinstance(item, dict) else None
        inner = outer.get("properties") if isinstance(outer, dict) else None
        if isinstance(inner, dict) and isinstance(item.get("id"), str):
            counts[item["id"].lower()] = inner.get("currentNodeCount"), inner.get("targetNodeCount")
    return counts


def _compute(item: Any, raw_counts: Mapping[str, tuple[object, object]] = {}) -> ComputeFacts:
    compute = item.properties
    inner = getattr(compute, "properties", None)
    scale = getattr(inner, "scale_settings", None)
    local_auth = getattr(compute, "disable_local_auth", None)
    remote_login = text(getattr(inner, "remote_login_port_public_access", None))
    counted = raw_counts.get(str(item.id or "").lower(), (None, None))
    return ComputeFacts(
        id=str(item.id or ""),
        name=str(item.name or ""),
        compute_type=str(getattr(compute, "compute_type", "") or ""),
        vm_size=text(getattr(inner, "vm_size", None)),
        subnet_id=text(getattr(getattr(inner, "subnet", None), "id", None)),
        disable_local_auth=local_auth if isinstance(local_auth, bool) else None,
        max_node_count=getattr(scale, "max_node_count", None),
        min_node_count=getattr(scale, "min_node_count", None),
        remote_login_port_public_access=remote_login,
        # Of the wrong shape, it is no count: the guard then defers, it never guesses.
        current_node_count=counted[0] if is_count(counted[0]) else None,
        target_node_count=counted[1] if is_count(counted[1]) else None,
    )
