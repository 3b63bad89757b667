"""The private endpoint approval planner (DESIGN §3.1), tested as the security rule it is.

A pending connection is approved only when the data plane of an allow-listed Synapse workspace
(managed VNet on, exfiltration protection off) lists a managed private endpoint for this
workspace whose `resourceId` is the connection's private endpoint. The properties below check
the planner against an independent oracle written here, over scenes that mix in lookalike IDs,
requester-chosen names, incomplete evidence and Synapse workspaces that are not allow-listed.
"""

from __future__ import annotations

import operator
import random
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.arm import ArmId
from shared.bounds import redacted
from shared.model import (
    ConnectionDecision,
    ConnectionPlan,
    ConnectionStatus,
    ManagedPrivateEndpoint,
    PrivateEndpointConnection,
    SynapseEvidence,
    SynapseWorkspace,
    Verdict,
)
from shared.planning.private_endpoints import (
    DESCRIPTION_LIMIT,
    ApprovalRules,
    plan_connections,
    unsupported_reason,
)
from shared.scope import Scope
from tests.credentials import leaked, placed

ML_TYPE = "Microsoft.MachineLearningServices/workspaces"
SYNAPSE_TYPE = "Microsoft.Synapse/workspaces"
PE_TYPE = "Microsoft.Network/privateEndpoints"
STORAGE_TYPE = "Microsoft.Storage/storageAccounts"

WRITE_VERDICTS = {Verdict.APPROVE, Verdict.REJECT}
# Scenes cost about 15 ms each to generate: the oracle test gets the most, the others enough.
ORACLE = settings(
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROPERTY = settings(
    max_examples=80,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
QUICK = settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def writes(plan: ConnectionPlan) -> tuple[ConnectionDecision, ...]:
    return tuple(decision for decision in plan.decisions if decision.verdict.writes)


# --- IDs ---------------------------------------------------------------------------------------


def arm_id(subscription: str, group: str, provider_type: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{provider_type}/{name}"


LOWER = string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits


def _names(first: str, rest: str) -> st.SearchStrategy[str]:
    # Cheaper than st.from_regex, which dominates the run time of big scenes.
    return st.builds(operator.add, st.sampled_from(first), st.text(alphabet=rest, max_size=8))


guids = st.uuids().map(str)
group_names = _names(ALNUM, ALNUM + "_-")
resource_names = _names(LOWER, LOWER + string.digits + "-")


def ids_of(provider_type: str) -> st.SearchStrategy[str]:
    return st.builds(arm_id, guids, group_names, st.just(provider_type), resource_names)


def recase(value: str, rnd: random.Random) -> str:
    return "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in value)


# None keeps the casing; a seed recases. Drawing a seed is much cheaper than st.randoms().
CASINGS = st.one_of(st.none(), st.integers(min_value=0, max_value=2**32 - 1))


def with_casing(value: str, seed: int | None) -> str:
    return value if seed is None else recase(value, random.Random(seed))


def case_variant(value: str) -> st.SearchStrategy[str]:
    """The same ASCII ID with random upper/lower casing (ARM compares IDs case-insensitively)."""
    return CASINGS.map(lambda seed: with_casing(value, seed))


# Characters that look like, or that `str.lower()`/`str.upper()` fold onto, ASCII letters.
CONFUSABLES: dict[str, tuple[str, ...]] = {
    "a": ("\u0430", "\uff41", "\u0251"),  # Cyrillic a, fullwidth a, Latin alpha
    "e": ("\u0435", "\uff45"),
    "o": ("\u043e", "\u03bf", "\uff4f"),
    "c": ("\u0441", "\uff43"),
    "p": ("\u0440", "\uff50"),
    "i": ("\u0131", "\u0456", "\u0130"),  # dotless i, Ukrainian i, capital I with dot
    "s": ("\u017f", "\u0455"),  # long s (upper() is 'S'), Cyrillic dze
    "k": ("\u212a", "\u043a"),  # Kelvin sign (lower() is 'k'), Cyrillic ka
    "K": ("\u212a",),
    "n": ("\uff4e",),
    "t": ("\uff54",),
    "r": ("\uff52",),
    "/": ("\u2215", "\uff0f"),  # division slash, fullwidth solidus
    "-": ("\u2010", "\u2212"),  # hyphen, minus sign
    "0": ("\uff10", "\u0660"),  # fullwidth zero, Arabic-Indic zero
}


def _replace_segment(value: str, index: int, segment: str) -> str:
    parts = value.split("/")
    parts[index] = segment
    return "/".join(parts)


@st.composite
def other_subscription(draw: st.DrawFn, value: str) -> str:
    current = value.split("/")[2]
    guid = draw(guids.filter(lambda g: g.lower() != current.lower()))
    return _replace_segment(value, 2, guid)


@st.composite
def other_tenants_subscription(draw: st.DrawFn, value: str) -> str:
    # The same path in a subscription of another tenant: only the subscription segment differs,
    # and GUIDs are drawn fresh; kept separate so that a failure names the scenario.
    return draw(other_subscription(value))


@st.composite
def other_group(draw: st.DrawFn, value: str) -> str:
    current = value.split("/")[4]
    group = draw(group_names.filter(lambda g: g.lower() != current.lower()))
    return _replace_segment(value, 4, group)


@st.composite
def with_whitespace(draw: st.DrawFn, value: str) -> str:
    space = draw(st.sampled_from([" ", "\t", "\n", "\r\n", "\u00a0", "\u200b", "\u3000"]))
    where = draw(st.sampled_from(["start", "end", "inside"]))
    if where == "start":
        return space + value
    if where == "end":
        return value + space
    cut = draw(st.integers(min_value=1, max_value=len(value) - 1))
    return value[:cut] + space + value[cut:]


@st.composite
def with_suffix(draw: st.DrawFn, value: str) -> str:
    return value + draw(st.text(alphabet=ALNUM + "-_.", min_size=1, max_size=8))


@st.composite
def with_prefix(draw: st.DrawFn, value: str) -> str:
    return draw(st.text(alphabet=ALNUM + "-_./", min_size=1, max_size=8)) + value


@st.composite
def with_confusable(draw: st.DrawFn, value: str) -> str:
    positions = [i for i, c in enumerate(value) if c in CONFUSABLES]
    position = draw(st.sampled_from(positions))
    lookalike = draw(st.sampled_from(CONFUSABLES[value[position]]))
    return with_casing(value[:position], draw(CASINGS)) + lookalike + value[position + 1 :]


# Non-ASCII characters that `lower()` or `upper()` turn into an ASCII letter: a comparison
# that folds case without checking for ASCII would take them for the real thing.
FOLDS_ONTO_ASCII = {"k": "\u212a", "K": "\u212a", "s": "\u017f", "S": "\u017f", "i": "\u0131"}


@st.composite
def with_case_folding_lookalike(draw: st.DrawFn, value: str) -> str:
    positions = [i for i, c in enumerate(value) if c in FOLDS_ONTO_ASCII]
    position = draw(st.sampled_from(positions))
    return value[:position] + FOLDS_ONTO_ASCII[value[position]] + value[position + 1 :]


@st.composite
def with_fullwidth(draw: st.DrawFn, value: str) -> str:
    positions = [i for i, c in enumerate(value) if c.isalnum()]
    position = draw(st.sampled_from(positions))
    fullwidth = chr(ord(value[position]) - 0x21 + 0xFF01)
    return value[:position] + fullwidth + value[position + 1 :]


LOOKALIKES: dict[str, Callable[[str], st.SearchStrategy[str]]] = {
    "other subscription": other_subscription,
    "other tenant's subscription": other_tenants_subscription,
    "other resource group": other_group,
    "trailing slash": lambda value: st.just(value + "/"),
    "whitespace": with_whitespace,
    "suffix": with_suffix,
    "prefix": with_prefix,
    "unicode confusable": with_confusable,
    "fullwidth letter": with_fullwidth,
    "folds onto ASCII": with_case_folding_lookalike,
}


def lookalike_of(value: str) -> st.SearchStrategy[str]:
    """An ID that is NOT the same resource as `value`, though it may look like it."""
    return st.sampled_from(sorted(LOOKALIKES)).flatmap(lambda kind: LOOKALIKES[kind](value))


# --- The oracle: DESIGN §3.1 written out again, independently of the planner -------------------

_ORACLE_ARM_ID = re.compile(
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/[^/]+/[^/]+(/[^/]+/[^/]+)*",
    re.IGNORECASE,
)


def oracle_same(left: str | None, right: str | None) -> bool:
    """Same ARM resource: well-formed ASCII IDs equal up to ASCII case, nothing else loosened."""
    return (
        isinstance(left, str)
        and isinstance(right, str)
        and left.isascii()
        and right.isascii()
        and _ORACLE_ARM_ID.fullmatch(left) is not None
        and _ORACLE_ARM_ID.fullmatch(right) is not None
        and left.lower() == right.lower()
    )


def oracle_equal_ci(left: str, right: str) -> bool:
    return left.isascii() and right.isascii() and left.lower() == right.lower()


def allow_listed_evidence(
    evidence: Sequence[SynapseEvidence], rules: ApprovalRules
) -> list[SynapseEvidence]:
    return [
        item
        for item in evidence
        if any(oracle_equal_ci(item.workspace_id, known) for known in rules.synapse_workspace_ids)
    ]


def is_complete(item: SynapseEvidence) -> bool:
    return item.error is None and item.workspace is not None


def listing_entries(
    connection: PrivateEndpointConnection,
    workspace_id: str,
    evidence: Sequence[SynapseEvidence],
    rules: ApprovalRules,
) -> list[tuple[SynapseWorkspace, ManagedPrivateEndpoint]]:
    """(Synapse workspace, MPE) pairs of complete allow-listed evidence that list this connection's
    private endpoint for this workspace, whatever the Synapse workspace's network settings."""
    found = []
    for item in allow_listed_evidence(evidence, rules):
        if not is_complete(item) or item.workspace is None:
            continue
        for endpoint in item.managed_private_endpoints:
            if oracle_same(endpoint.private_link_resource_id, workspace_id) and oracle_same(
                endpoint.resource_id, connection.private_endpoint_id
            ):
                found.append((item.workspace, endpoint))
    return found


def verifying_entries(
    connection: PrivateEndpointConnection,
    workspace_id: str,
    evidence: Sequence[SynapseEvidence],
    rules: ApprovalRules,
) -> list[tuple[SynapseWorkspace, ManagedPrivateEndpoint]]:
    return [
        (synapse, endpoint)
        for synapse, endpoint in listing_entries(connection, workspace_id, evidence, rules)
        if synapse.managed_virtual_network and not synapse.prevent_data_exfiltration
    ]


def all_allow_listed_evidence_complete(
    evidence: Sequence[SynapseEvidence], rules: ApprovalRules
) -> bool:
    allowed = allow_listed_evidence(evidence, rules)
    every_one_present = all(
        any(oracle_equal_ci(item.workspace_id, known) for item in allowed)
        for known in rules.synapse_workspace_ids
    )
    return every_one_present and all(is_complete(item) for item in allowed)


def provisioning_entries(
    workspace_id: str, evidence: Sequence[SynapseEvidence], rules: ApprovalRules
) -> list[ManagedPrivateEndpoint]:
    """MPEs of complete allow-listed evidence to this workspace that name no private endpoint
    (yet: Synapse fills `resourceId` in once it is provisioned): any pending connection may be
    theirs."""
    return [
        endpoint
        for item in allow_listed_evidence(evidence, rules)
        if is_complete(item)
        for endpoint in item.managed_private_endpoints
        if oracle_same(endpoint.private_link_resource_id, workspace_id)
        and not oracle_same(endpoint.resource_id, endpoint.resource_id)
    ]


def rejection_may_rest_on(
    workspace_id: str, evidence: Sequence[SynapseEvidence], rules: ApprovalRules
) -> bool:
    """All allow-listed evidence was read, and none of it may yet name the connection."""
    complete = all_allow_listed_evidence_complete(evidence, rules)
    return complete and not provisioning_entries(workspace_id, evidence, rules)


def oracle_addressable(workspace_id: str, connection: PrivateEndpointConnection) -> bool:
    """The connection's ID is this workspace's connection of its plain name: a write to the
    configured workspace plus that name reaches exactly it."""
    name = connection.name
    plain = bool(name) and name.isascii() and name not in (".", "..")
    plain = plain and not any(ch in "/\\?#%" for ch in name)
    return plain and oracle_equal_ci(
        connection.id, f"{workspace_id}/privateEndpointConnections/{name}"
    )


def oracle(
    workspace_id: str,
    connection: PrivateEndpointConnection,
    evidence: Sequence[SynapseEvidence],
    rules: ApprovalRules,
) -> Verdict:
    if not any(oracle_equal_ci(workspace_id, known) for known in rules.scope.scopes):
        return Verdict.OUT_OF_SCOPE
    if connection.status is ConnectionStatus.APPROVED:
        return Verdict.ALREADY_APPROVED
    if connection.status is not ConnectionStatus.PENDING:
        return Verdict.NOT_PENDING
    if not oracle_addressable(workspace_id, connection):
        return Verdict.LEAVE_PENDING
    if verifying_entries(connection, workspace_id, evidence, rules):
        return Verdict.APPROVE
    if not rules.reject_unverified:
        return Verdict.LEAVE_PENDING
    if rejection_may_rest_on(workspace_id, evidence, rules):
        return Verdict.REJECT
    # Evidence is incomplete, or an allow-listed MPE to this workspace is still provisioning.
    # Two kinds of connection can be rejected anyway, because no evidence could ever approve
    # them: one that names no private endpoint at all, and one that an allow-listed workspace
    # provably made but that the integration cannot work with.
    if not oracle_same(connection.private_endpoint_id, connection.private_endpoint_id):
        return Verdict.REJECT
    if listing_entries(connection, workspace_id, evidence, rules):
        return Verdict.REJECT
    return Verdict.LEAVE_PENDING


# --- Scenes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    workspace_id: ArmId
    connections: tuple[PrivateEndpointConnection, ...]
    evidence: tuple[SynapseEvidence, ...]
    rules: ApprovalRules

    def plan(self) -> ConnectionPlan:
        return plan_connections(self.workspace_id, self.connections, self.evidence, self.rules)

    def expected(self, connection: PrivateEndpointConnection) -> Verdict:
        return oracle(self.workspace_id, connection, self.evidence, self.rules)


statuses = st.one_of(
    st.just(ConnectionStatus.PENDING),
    st.just(ConnectionStatus.PENDING),
    st.sampled_from(list(ConnectionStatus)),
)
requester_text = st.text(max_size=40)
# Names and descriptions in scenes: short, since they must not matter anyway.
scene_text = st.text(max_size=6)


@st.composite
def id_pool(draw: st.DrawFn, genuine: Sequence[str]) -> list[str | None]:
    """The genuine IDs, a lookalike of each, and values that are no ID at all."""
    lookalikes = [draw(lookalike_of(value)) for value in genuine]
    return [*genuine, *lookalikes, None, "", "not-an-arm-id"]


INDEXES = st.integers(min_value=0, max_value=100)


def pick(draw: st.DrawFn, pool: Sequence[str | None]) -> str | None:
    """One value of the pool; an ASCII one in some casing."""
    value = pool[draw(INDEXES) % len(pool)]
    if value is not None and value.isascii():
        return with_casing(value, draw(CASINGS))
    return value


def managed_private_endpoints(
    draw: st.DrawFn,
    workspace_id: str,
    connections: Sequence[PrivateEndpointConnection],
    link_targets: Sequence[str | None],
    endpoints: Sequence[str | None],
) -> tuple[ManagedPrivateEndpoint, ...]:
    """MPEs that mirror connections of this workspace (in some casing), mixed with MPEs made of
    any ID, genuine, lookalike or none, to this or other resources."""
    items = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        mirror = draw(st.booleans())
        if connections and mirror:
            mirrored = connections[draw(INDEXES) % len(connections)].private_endpoint_id
            link_target: str | None = with_casing(workspace_id, draw(CASINGS))
            endpoint = pick(draw, [mirrored])
        else:
            link_target, endpoint = pick(draw, link_targets), pick(draw, endpoints)
        items.append(
            ManagedPrivateEndpoint(
                name=draw(resource_names),
                private_link_resource_id=link_target,
                resource_id=endpoint,
            )
        )
    return tuple(items)


@st.composite
def synapse_workspace(
    draw: st.DrawFn, workspace_id: str, *, supported: bool | None = None
) -> SynapseWorkspace:
    if supported is None:
        managed_vnet = draw(st.sampled_from([True, True, True, False]))
        exfiltration = draw(st.sampled_from([False, False, False, True]))
    else:
        managed_vnet, exfiltration = supported, not supported
    return SynapseWorkspace(
        id=ArmId(workspace_id),
        principal_id=str(draw(st.uuids())),
        managed_virtual_network=managed_vnet,
        prevent_data_exfiltration=exfiltration,
    )


EVIDENCE_KINDS = st.sampled_from(["complete"] * 5 + ["error", "missing", "unread"])


@st.composite
def scenes(draw: st.DrawFn, *, in_scope: bool | None = None, near: bool = False) -> Scene:
    """`near`: a scene one draw away from approval (the first connection names a genuine private
    endpoint, the first allow-listed Synapse workspace is read and lists an MPE mirroring it),
    so that the properties about approval meet approvals, not only refusals."""
    ml_ids = draw(st.lists(ids_of(ML_TYPE), min_size=1, max_size=3, unique_by=str.lower))
    synapse_ids = draw(st.lists(ids_of(SYNAPSE_TYPE), min_size=1, max_size=3, unique_by=str.lower))
    rules = ApprovalRules(
        scope=Scope(tuple(ml_ids)),
        synapse_workspace_ids=tuple(ArmId(i) for i in synapse_ids),
        reject_unverified=draw(st.booleans()),
    )
    if in_scope is None:
        in_scope = near or draw(st.sampled_from([True, True, True, False]))
    if in_scope:
        workspace_id = with_casing(draw(st.sampled_from(ml_ids)), draw(CASINGS))
    else:
        workspace_id = draw(
            st.one_of(ids_of(ML_TYPE), lookalike_of(ml_ids[0])).filter(
                lambda w: not any(oracle_equal_ci(w, known) for known in ml_ids)
            )
        )

    endpoint_ids = draw(st.lists(ids_of(PE_TYPE), min_size=1, max_size=4, unique_by=str.lower))
    endpoints = draw(id_pool(endpoint_ids))
    link_targets = [*draw(id_pool([workspace_id])), draw(ids_of(STORAGE_TYPE)), *ml_ids]

    def named(name: str) -> tuple[str, str]:
        # Mostly a connection whose ID is its name under this workspace, as Azure lists it;
        # sometimes an ID that says otherwise (never written).
        return (
            (f"{workspace_id}/privateEndpointConnections/{name}", name)
            if draw(st.sampled_from([True, True, True, False]))
            else (f"{workspace_id}/privateEndpointConnections/{name}", draw(scene_text))
        )

    connections = [
        PrivateEndpointConnection(
            *named(draw(resource_names)),
            workspace_id=ArmId(workspace_id),
            # Mostly a genuine private endpoint, else anything from the pool.
            private_endpoint_id=pick(
                draw, endpoint_ids if draw(st.booleans()) or (near and not n) else endpoints
            ),
            status=draw(statuses),
            description=draw(scene_text),
        )
        for n in range(draw(st.integers(min_value=int(near), max_value=5)))
    ]

    evidence: list[SynapseEvidence] = []
    for position, synapse_id in enumerate(synapse_ids):
        kind = "complete" if near and not position else draw(EVIDENCE_KINDS)
        entry_id = ArmId(with_casing(synapse_id, draw(CASINGS)))
        if kind == "missing":
            continue
        if kind == "unread":
            evidence.append(SynapseEvidence(workspace_id=entry_id))
            continue
        mpes = managed_private_endpoints(draw, workspace_id, connections, link_targets, endpoints)
        if near and not position:
            mirror = ManagedPrivateEndpoint(
                name=draw(resource_names),
                private_link_resource_id=with_casing(workspace_id, draw(CASINGS)),
                resource_id=pick(draw, [connections[0].private_endpoint_id]),
            )
            mpes = (*mpes, mirror)
        item = SynapseEvidence(
            workspace_id=entry_id,
            workspace=draw(synapse_workspace(entry_id)),
            managed_private_endpoints=mpes,
        )
        if kind == "error":
            item = replace(item, error=draw(st.sampled_from(["HTTP 403", "timed out", ""])))
        evidence.append(item)
    # Evidence from Synapse workspaces that are not allow-listed (some of them lookalikes of
    # allow-listed ones), listing exactly what would verify the connections.
    strangers = draw(
        st.lists(
            st.one_of(ids_of(SYNAPSE_TYPE), lookalike_of(synapse_ids[0])).filter(
                lambda s: not any(oracle_equal_ci(s, known) for known in synapse_ids)
            ),
            max_size=2,
        )
    )
    for stranger in strangers:
        evidence.append(
            SynapseEvidence(
                workspace_id=ArmId(stranger),
                workspace=draw(synapse_workspace(stranger, supported=True)),
                managed_private_endpoints=tuple(
                    ManagedPrivateEndpoint(
                        name=f"stranger-{n}", private_link_resource_id=workspace_id, resource_id=pe
                    )
                    for n, pe in enumerate(endpoint_ids)
                ),
            )
        )
    ordered = draw(st.permutations(evidence))
    return Scene(ArmId(workspace_id), tuple(connections), tuple(ordered), rules)


# Half of them near approval: of scenes drawn freely about 1 in 20 approves anything, of near
# ones about 3 in 5 (the rest miss by a draw, such as the status or an unsupported workspace).
any_scenes = st.one_of(scenes(), scenes(near=True))


def decisions_by_connection(
    scene: Scene,
) -> list[tuple[PrivateEndpointConnection, ConnectionDecision]]:
    plan = scene.plan()
    assert len(plan.decisions) == len(scene.connections)
    return list(zip(scene.connections, plan.decisions, strict=True))


# --- A simple, valid scene to vary in the targeted properties ------------------------------------


@dataclass(frozen=True)
class Verified:
    """One in-scope workspace, one allow-listed Synapse workspace, one pending connection that
    its MPE verifies: approved as it stands, so each test can change one thing."""

    workspace_id: str
    synapse_id: str
    endpoint_id: str
    mpe_name: str
    reject_unverified: bool

    def rules(self) -> ApprovalRules:
        return ApprovalRules(
            scope=Scope((self.workspace_id,)),
            synapse_workspace_ids=(ArmId(self.synapse_id),),
            reject_unverified=self.reject_unverified,
        )

    def connection(
        self,
        private_endpoint_id: str | None = None,
        *,
        status: ConnectionStatus = ConnectionStatus.PENDING,
        name: str = "pec-1",
        description: str = "",
    ) -> PrivateEndpointConnection:
        return PrivateEndpointConnection(
            id=f"{self.workspace_id}/privateEndpointConnections/{name}",
            name=name,
            workspace_id=ArmId(self.workspace_id),
            private_endpoint_id=(
                self.endpoint_id if private_endpoint_id is None else private_endpoint_id
            ),
            status=status,
            description=description,
        )

    def evidence(
        self,
        *,
        link_target: str | None = None,
        endpoint_id: str | None = None,
        synapse_id: str | None = None,
        managed_vnet: bool = True,
        exfiltration: bool = False,
    ) -> SynapseEvidence:
        synapse = synapse_id or self.synapse_id
        return SynapseEvidence(
            workspace_id=ArmId(synapse),
            workspace=SynapseWorkspace(
                id=ArmId(synapse),
                principal_id="11111111-2222-3333-4444-555555555555",
                managed_virtual_network=managed_vnet,
                prevent_data_exfiltration=exfiltration,
            ),
            managed_private_endpoints=(
                ManagedPrivateEndpoint(
                    name=self.mpe_name,
                    private_link_resource_id=link_target or self.workspace_id,
                    resource_id=endpoint_id or self.endpoint_id,
                ),
            ),
        )

    def decide(
        self, connection: PrivateEndpointConnection, *evidence: SynapseEvidence
    ) -> ConnectionDecision:
        plan = plan_connections(ArmId(self.workspace_id), [connection], evidence, self.rules())
        (decision,) = plan.decisions
        return decision


verified_scenes = st.builds(
    Verified,
    workspace_id=ids_of(ML_TYPE),
    synapse_id=ids_of(SYNAPSE_TYPE),
    endpoint_id=ids_of(PE_TYPE),
    mpe_name=resource_names,
    reject_unverified=st.booleans(),
)


# --- Properties --------------------------------------------------------------------------------


@ORACLE
@given(any_scenes)
def test_every_verdict_matches_the_oracle(scene: Scene) -> None:
    for connection, decision in decisions_by_connection(scene):
        assert decision.verdict is scene.expected(connection), (connection, decision)


@PROPERTY
@given(any_scenes)
def test_approve_only_with_matching_allow_listed_evidence(scene: Scene) -> None:
    for connection, decision in decisions_by_connection(scene):
        if decision.verdict is Verdict.APPROVE:
            assert connection.status is ConnectionStatus.PENDING
            assert verifying_entries(connection, scene.workspace_id, scene.evidence, scene.rules)


@QUICK
@given(verified_scenes, requester_text, requester_text, st.data())
def test_lookalike_names_are_never_evidence(
    base: Verified, name: str, description: str, data: st.DataObject
) -> None:
    # The requester names the connection after the allow-listed workspace and its MPE, but its
    # private endpoint is another one.
    synapse_name = base.synapse_id.rsplit("/", 1)[1]
    other_endpoint = data.draw(
        st.one_of(ids_of(PE_TYPE), lookalike_of(base.endpoint_id)).filter(
            lambda e: not oracle_equal_ci(e, base.endpoint_id)
        )
    )
    connection = base.connection(
        other_endpoint,
        name=f"{synapse_name}.{base.mpe_name}{name}",
        description=f"Requested by {base.synapse_id} ({base.mpe_name}) {description}",
    )
    decision = base.decide(connection, base.evidence())
    assert decision.verdict is not Verdict.APPROVE
    assert decision.verdict in {Verdict.REJECT, Verdict.LEAVE_PENDING}


@QUICK
@given(verified_scenes, st.data())
def test_case_variants_of_the_ids_match(base: Verified, data: st.DataObject) -> None:
    connection = base.connection(data.draw(case_variant(base.endpoint_id)))
    evidence = base.evidence(
        link_target=data.draw(case_variant(base.workspace_id)),
        endpoint_id=data.draw(case_variant(base.endpoint_id)),
        synapse_id=data.draw(case_variant(base.synapse_id)),
    )
    assert base.decide(connection, evidence).verdict is Verdict.APPROVE


@pytest.mark.parametrize("kind", sorted(LOOKALIKES))
@settings(max_examples=15)
@given(base=verified_scenes, data=st.data())
def test_lookalike_private_endpoint_ids_never_match(
    kind: str, base: Verified, data: st.DataObject
) -> None:
    lookalike = data.draw(LOOKALIKES[kind](base.endpoint_id))
    # The connection names the lookalike; the MPE lists the genuine one.
    on_connection = base.decide(base.connection(lookalike), base.evidence())
    # The MPE lists the lookalike; the connection names the genuine one.
    on_evidence = base.decide(base.connection(), base.evidence(endpoint_id=lookalike))
    assert on_connection.verdict is not Verdict.APPROVE, lookalike
    assert on_evidence.verdict is not Verdict.APPROVE, lookalike


@pytest.mark.parametrize("kind", sorted(LOOKALIKES))
@settings(max_examples=15)
@given(base=verified_scenes, data=st.data())
def test_lookalike_workspace_ids_never_match(
    kind: str, base: Verified, data: st.DataObject
) -> None:
    # The MPE points at a lookalike of this workspace.
    lookalike = data.draw(LOOKALIKES[kind](base.workspace_id))
    decision = base.decide(base.connection(), base.evidence(link_target=lookalike))
    assert decision.verdict is not Verdict.APPROVE, lookalike


@pytest.mark.parametrize("kind", sorted(LOOKALIKES))
@settings(max_examples=15)
@given(base=verified_scenes, data=st.data())
def test_lookalike_synapse_workspaces_are_not_allow_listed(
    kind: str, base: Verified, data: st.DataObject
) -> None:
    lookalike = data.draw(LOOKALIKES[kind](base.synapse_id))
    decision = base.decide(base.connection(), base.evidence(synapse_id=lookalike))
    assert decision.verdict is not Verdict.APPROVE, lookalike


@PROPERTY
@given(any_scenes, st.data())
def test_evidence_that_is_not_allow_listed_never_approves(
    scene: Scene, data: st.DataObject
) -> None:
    # Keep only the evidence of Synapse workspaces that are not allow-listed, and let each of
    # them list every private endpoint of every connection for this workspace.
    strangers = [
        item
        for item in scene.evidence
        if item not in allow_listed_evidence(scene.evidence, scene.rules)
    ]
    stranger_id = data.draw(
        ids_of(SYNAPSE_TYPE).filter(
            lambda s: not any(oracle_equal_ci(s, k) for k in scene.rules.synapse_workspace_ids)
        )
    )
    everything = tuple(
        ManagedPrivateEndpoint(
            name=f"m{n}",
            private_link_resource_id=scene.workspace_id,
            resource_id=connection.private_endpoint_id,
        )
        for n, connection in enumerate(scene.connections)
    )
    strangers.append(
        SynapseEvidence(
            workspace_id=ArmId(stranger_id),
            workspace=SynapseWorkspace(ArmId(stranger_id), None, True, False),
            managed_private_endpoints=everything,
        )
    )
    plan = plan_connections(scene.workspace_id, scene.connections, strangers, scene.rules)
    assert all(decision.verdict is not Verdict.APPROVE for decision in plan.decisions)
    # Not allow-listed evidence does not count as evidence for the allow-listed workspaces
    # either: they are unread, so nothing that names a private endpoint is rejected.
    for connection, decision in zip(scene.connections, plan.decisions, strict=True):
        if decision.verdict is Verdict.REJECT:
            assert not oracle_same(connection.private_endpoint_id, connection.private_endpoint_id)


huge = st.sampled_from(["a", "Z", "-", "/", "\u0430"]).map(lambda c: c * 10_000)
odd_text = st.one_of(st.just(""), huge, st.text(max_size=20))
odd_id = st.one_of(
    st.none(),
    st.just(""),
    huge,
    st.text(max_size=30),
    resource_names.map(lambda n: arm_id("0" * 36, "rg", PE_TYPE, n * 1000)),
)


@QUICK
@given(
    base=verified_scenes,
    connection_id=odd_text,
    name=odd_text,
    description=odd_text,
    endpoint_id=odd_id,
    mpe_name=odd_text,
    link_target=odd_id,
    listed_endpoint=odd_id,
    status=st.sampled_from(list(ConnectionStatus)),
)
def test_empty_or_huge_fields_never_approve_and_never_raise(
    base: Verified,
    connection_id: str,
    name: str,
    description: str,
    endpoint_id: str | None,
    mpe_name: str,
    link_target: str | None,
    listed_endpoint: str | None,
    status: ConnectionStatus,
) -> None:
    connection = PrivateEndpointConnection(
        id=connection_id,
        name=name,
        workspace_id=ArmId(base.workspace_id),
        private_endpoint_id=endpoint_id,
        status=status,
        description=description,
    )
    evidence = SynapseEvidence(
        workspace_id=ArmId(base.synapse_id),
        workspace=SynapseWorkspace(ArmId(base.synapse_id), None, True, False),
        managed_private_endpoints=(
            # A garbage MPE next to garbage in the connection.
            ManagedPrivateEndpoint(
                name=mpe_name, private_link_resource_id=link_target, resource_id=listed_endpoint
            ),
            # A genuine MPE for another endpoint: it must not verify the garbage.
            ManagedPrivateEndpoint(
                name=mpe_name, private_link_resource_id=base.workspace_id, resource_id=None
            ),
        ),
    )
    plan = plan_connections(ArmId(base.workspace_id), [connection], [evidence], base.rules())
    (decision,) = plan.decisions
    assert decision.reason
    if decision.verdict is Verdict.APPROVE:
        # Only a real, equal pair of ARM IDs may approve, however long.
        assert oracle_same(endpoint_id, listed_endpoint)
        assert oracle_same(link_target, base.workspace_id)
    assert decision.verdict is oracle(base.workspace_id, connection, [evidence], base.rules())


@QUICK
@given(verified_scenes, odd_text, odd_text)
def test_empty_or_huge_workspace_ids_never_raise(
    base: Verified, workspace_id: str, synapse_id: str
) -> None:
    # An odd AML workspace ID is out of scope; odd Synapse evidence is not allow-listed.
    odd_evidence = replace(base.evidence(), workspace_id=ArmId(synapse_id))
    connection = base.connection()
    plan = plan_connections(ArmId(workspace_id), [connection], [odd_evidence], base.rules())
    assert [d.verdict for d in plan.decisions] == [Verdict.OUT_OF_SCOPE]
    assert base.decide(connection, odd_evidence).verdict is not Verdict.APPROVE


@PROPERTY
@given(scenes(in_scope=False))
def test_out_of_scope_workspace_gets_only_out_of_scope(scene: Scene) -> None:
    plan = scene.plan()
    assert all(decision.verdict is Verdict.OUT_OF_SCOPE for decision in plan.decisions)
    assert writes(plan) == ()
    assert all("ML_WORKSPACE_IDS" in decision.reason for decision in plan.decisions)


@PROPERTY
@given(any_scenes)
def test_only_pending_connections_are_ever_written(scene: Scene) -> None:
    for connection, decision in decisions_by_connection(scene):
        if decision.verdict is Verdict.OUT_OF_SCOPE:
            continue
        if connection.status is ConnectionStatus.APPROVED:
            assert decision.verdict is Verdict.ALREADY_APPROVED
        elif connection.status is not ConnectionStatus.PENDING:
            assert decision.verdict is Verdict.NOT_PENDING
            assert connection.status.value in decision.reason
        if connection.status is not ConnectionStatus.PENDING:
            assert decision.verdict not in WRITE_VERDICTS
            assert decision.description == ""


@PROPERTY
@given(scenes())
def test_rejection_only_when_asked_for(scene: Scene) -> None:
    rules = replace(scene.rules, reject_unverified=False)
    plan = plan_connections(scene.workspace_id, scene.connections, scene.evidence, rules)
    assert all(decision.verdict is not Verdict.REJECT for decision in plan.decisions)
    # Turning rejection off changes nothing else: what was rejected is left pending.
    strict = plan_connections(
        scene.workspace_id,
        scene.connections,
        scene.evidence,
        replace(rules, reject_unverified=True),
    )
    for lenient, harsh in zip(plan.decisions, strict.decisions, strict=True):
        if harsh.verdict is Verdict.REJECT:
            assert lenient.verdict is Verdict.LEAVE_PENDING
        else:
            assert lenient.verdict is harsh.verdict


@PROPERTY
@given(scenes(in_scope=True))
def test_pending_unverified_is_rejected_only_on_complete_evidence(scene: Scene) -> None:
    rules = replace(scene.rules, reject_unverified=True)
    plan = plan_connections(scene.workspace_id, scene.connections, scene.evidence, rules)
    complete = all_allow_listed_evidence_complete(scene.evidence, rules)
    provisioning = provisioning_entries(scene.workspace_id, scene.evidence, rules)
    for connection, decision in zip(scene.connections, plan.decisions, strict=True):
        if connection.status is not ConnectionStatus.PENDING:
            continue
        if not oracle_addressable(scene.workspace_id, connection):
            assert decision.verdict is Verdict.LEAVE_PENDING  # never written
        elif verifying_entries(connection, scene.workspace_id, scene.evidence, rules):
            assert decision.verdict is Verdict.APPROVE
        elif complete and not provisioning:
            assert decision.verdict is Verdict.REJECT
            assert decision.description.startswith("Rejected by ")
            assert decision.reason in decision.description or len(decision.description) == 1000
        else:
            names_an_endpoint = oracle_same(
                connection.private_endpoint_id, connection.private_endpoint_id
            )
            made_by_allow_listed = listing_entries(
                connection, scene.workspace_id, scene.evidence, rules
            )
            if names_an_endpoint and not made_by_allow_listed:
                assert decision.verdict is Verdict.LEAVE_PENDING
                why = "could not be read" if not complete else "no private endpoint yet"
                assert why in decision.reason


@QUICK
@given(verified_scenes, st.sampled_from([None, "", "pending"]), st.data())
def test_an_allow_listed_endpoint_still_provisioning_keeps_any_connection_from_rejection(
    base: Verified, unnamed: str | None, data: st.DataObject
) -> None:
    # Synapse lists a managed private endpoint before it names the private endpoint it made
    # (`resourceId`, once provisioned): the connection that just appeared may be that one.
    stranger = data.draw(ids_of(PE_TYPE).filter(lambda e: not oracle_equal_ci(e, base.endpoint_id)))
    rules = replace(base.rules(), reject_unverified=True)
    read = base.evidence()
    provisioning = ManagedPrivateEndpoint(
        name="provisioning", private_link_resource_id=base.workspace_id, resource_id=unnamed
    )
    evidence = replace(
        read, managed_private_endpoints=(*read.managed_private_endpoints, provisioning)
    )
    connection = base.connection(stranger)
    plan = plan_connections(ArmId(base.workspace_id), [connection], [evidence], rules)
    (decision,) = plan.decisions
    assert decision.verdict is Verdict.LEAVE_PENDING
    assert "'provisioning'" in decision.reason
    assert decision.description == ""
    # Once it names another private endpoint, the connection is provably not its own.
    named = replace(provisioning, resource_id=base.endpoint_id)
    evidence = replace(read, managed_private_endpoints=(named,))
    (decision,) = plan_connections(
        ArmId(base.workspace_id), [connection], [evidence], rules
    ).decisions
    assert decision.verdict is Verdict.REJECT


@QUICK
@given(verified_scenes, st.sampled_from(["error", "missing", "unread"]), st.data())
def test_incomplete_allow_listed_evidence_never_rejects(
    base: Verified, how: str, data: st.DataObject
) -> None:
    # Two allow-listed workspaces; one is read and verifies nothing, the other is not read.
    second = data.draw(
        ids_of(SYNAPSE_TYPE).filter(lambda s: not oracle_equal_ci(s, base.synapse_id))
    )
    rules = replace(
        base.rules(),
        synapse_workspace_ids=(ArmId(base.synapse_id), ArmId(second)),
        reject_unverified=True,
    )
    stranger_endpoint = data.draw(
        ids_of(PE_TYPE).filter(lambda e: not oracle_equal_ci(e, base.endpoint_id))
    )
    evidence = [base.evidence()]
    if how == "error":
        evidence.append(replace(base.evidence(synapse_id=second), error="HTTP 503"))
    elif how == "unread":
        evidence.append(SynapseEvidence(workspace_id=ArmId(second)))
    plan = plan_connections(
        ArmId(base.workspace_id), [base.connection(stranger_endpoint)], evidence, rules
    )
    (decision,) = plan.decisions
    assert decision.verdict is Verdict.LEAVE_PENDING
    assert second in decision.reason
    assert decision.description == ""


@QUICK
@given(
    verified_scenes,
    st.sampled_from([(True, True), (False, False), (False, True)]),
    st.data(),
)
def test_unsupported_synapse_workspace_approves_nothing(
    base: Verified, network: tuple[bool, bool], data: st.DataObject
) -> None:
    managed_vnet, exfiltration = network
    evidence = base.evidence(managed_vnet=managed_vnet, exfiltration=exfiltration)
    connection = base.connection(data.draw(case_variant(base.endpoint_id)))
    decision = base.decide(connection, evidence)
    assert decision.verdict is (Verdict.REJECT if base.reject_unverified else Verdict.LEAVE_PENDING)
    if not managed_vnet:
        assert "no managed virtual network" in decision.reason
    else:
        assert "exfiltration protection" in decision.reason
    assert base.synapse_id in decision.reason


@PROPERTY
@given(any_scenes)
def test_approval_says_what_verified_it_and_every_decision_has_a_reason(scene: Scene) -> None:
    for connection, decision in decisions_by_connection(scene):
        assert decision.reason.strip()
        assert decision.connection_id == connection.id
        assert decision.connection_name == connection.name
        assert decision.workspace_id == scene.workspace_id
        if decision.verdict is Verdict.APPROVE:
            verifiers = verifying_entries(
                connection, scene.workspace_id, scene.evidence, scene.rules
            )
            assert any(
                f"'{endpoint.name}'" in decision.description
                and f"'{synapse.id.rsplit('/', 1)[1]}'" in decision.description
                and decision.evidence is not None
                and decision.evidence.startswith(synapse.id)
                and decision.evidence.endswith(f"/managedPrivateEndpoints/{endpoint.name}")
                for synapse, endpoint in verifiers
            )
            assert decision.description.startswith("Approved by ")
        elif decision.verdict is Verdict.REJECT:
            assert decision.description.startswith("Rejected by ")
            assert len(decision.description) <= 1000
        else:
            assert decision.description == ""


@PROPERTY
@given(scenes())
def test_planning_is_deterministic_one_decision_per_connection_in_order(scene: Scene) -> None:
    first, second = scene.plan(), scene.plan()
    assert first == second
    assert first.workspace_id == scene.workspace_id
    assert [d.connection_id for d in first.decisions] == [c.id for c in scene.connections]
    # Planning one connection at a time decides the same: no decision depends on another.
    for connection, decision in zip(scene.connections, first.decisions, strict=True):
        alone = plan_connections(scene.workspace_id, [connection], scene.evidence, scene.rules)
        assert alone.decisions == (decision,)


# --- Examples, with the IDs of the reference payloads ------------------------------------------
# synapse_dataplane_managedprivateendpoints_list.json (the MPE's `resourceId` is a private
# endpoint in the Synapse managed subscription ...555555555555) and
# aml_privateendpointconnections_list.json (workspace `testworkspace` in `rg-1234`).


SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
MANAGED_SUBSCRIPTION = "00000000-1111-2222-3333-555555555555"
AML_WORKSPACE = ArmId(arm_id(SUBSCRIPTION, "rg-1234", ML_TYPE, "testworkspace"))
SYNAPSE = ArmId(arm_id(SUBSCRIPTION, "myResourceGroup", SYNAPSE_TYPE, "exampleWorkspace"))
ROGUE_SYNAPSE = ArmId(arm_id(SUBSCRIPTION, "myResourceGroup", SYNAPSE_TYPE, "rogueWorkspace"))
# The data-plane reference: the private endpoint lives in the Synapse managed subscription.
MPE_ENDPOINT = arm_id(MANAGED_SUBSCRIPTION, "peResourceGroup", PE_TYPE, "myPrivateEndpoint1")
RULES = ApprovalRules(Scope((AML_WORKSPACE,)), (SYNAPSE,), reject_unverified=False)


def _connection(
    endpoint: str | None, status: str = "Pending", name: str = "pec-1"
) -> PrivateEndpointConnection:
    return PrivateEndpointConnection(
        id=f"{AML_WORKSPACE}/privateEndpointConnections/{name}",
        name=name,
        workspace_id=AML_WORKSPACE,
        private_endpoint_id=endpoint,
        status=ConnectionStatus.parse(status),
        description="Requested by exampleWorkspace",
    )


def _evidence(
    synapse: ArmId = SYNAPSE,
    endpoint: str = MPE_ENDPOINT,
    *,
    managed_vnet: bool = True,
    exfiltration: bool = False,
) -> SynapseEvidence:
    return SynapseEvidence(
        workspace_id=synapse,
        workspace=SynapseWorkspace(synapse, "principal", managed_vnet, exfiltration),
        managed_private_endpoints=(
            ManagedPrivateEndpoint("myPrivateEndpoint1", AML_WORKSPACE, endpoint),
        ),
    )


def _verdicts(
    connections: Sequence[PrivateEndpointConnection],
    evidence: Sequence[SynapseEvidence],
    rules: ApprovalRules = RULES,
    workspace: ArmId = AML_WORKSPACE,
) -> list[Verdict]:
    return [d.verdict for d in plan_connections(workspace, connections, evidence, rules).decisions]


def test_example_verified_pending_connection_is_approved() -> None:
    plan = plan_connections(AML_WORKSPACE, [_connection(MPE_ENDPOINT)], [_evidence()], RULES)
    (decision,) = plan.decisions
    assert decision.verdict is Verdict.APPROVE
    assert "myPrivateEndpoint1" in decision.description
    assert "exampleWorkspace" in decision.description
    assert decision.evidence == (
        f"{SYNAPSE}/managedVirtualNetworks/default/managedPrivateEndpoints/myPrivateEndpoint1"
    )
    assert writes(plan) == (decision,)


def test_example_upper_cased_ids_are_the_same_resource() -> None:
    assert _verdicts([_connection(MPE_ENDPOINT.upper())], [_evidence()]) == [Verdict.APPROVE]
    evidence = _evidence(ArmId(SYNAPSE.lower()), MPE_ENDPOINT.lower())
    assert _verdicts([_connection(MPE_ENDPOINT)], [evidence]) == [Verdict.APPROVE]


@pytest.mark.parametrize(
    "endpoint",
    [
        MPE_ENDPOINT.replace(MANAGED_SUBSCRIPTION, SUBSCRIPTION),
        MPE_ENDPOINT.replace("peResourceGroup", "peResourceGroup2"),
        MPE_ENDPOINT + "/",
        MPE_ENDPOINT + " ",
        " " + MPE_ENDPOINT,
        MPE_ENDPOINT + "-copy",
        MPE_ENDPOINT.replace("myPrivateEndpoint1", "myPrivateEndpoint2"),
        MPE_ENDPOINT.replace("Network", "Networ\u212a"),  # Kelvin sign: lower() is 'k'
        MPE_ENDPOINT.replace("privateEndpoints", "priv\u0430teEndpoints"),  # Cyrillic a
        MPE_ENDPOINT.replace("subscriptions", "\u017fubscriptions"),  # long s: upper() is 'S'
        MPE_ENDPOINT.replace("myPrivate", "myPr\u0131vate"),  # dotless i: upper() is 'I'
        MPE_ENDPOINT.replace("my", "\uff4d\uff59"),  # fullwidth
        "",
        None,
    ],
)
def test_example_lookalike_endpoint_is_left_pending(endpoint: str | None) -> None:
    assert _verdicts([_connection(endpoint)], [_evidence()]) == [Verdict.LEAVE_PENDING]


def test_example_connection_named_after_the_workspace_is_not_evidence() -> None:
    spoof = replace(
        _connection(arm_id(SUBSCRIPTION, "attacker", PE_TYPE, "pe")),
        id=f"{AML_WORKSPACE}/privateEndpointConnections/exampleWorkspace.myPrivateEndpoint1",
        name="exampleWorkspace.myPrivateEndpoint1",
        description="Synapse exampleWorkspace managed private endpoint myPrivateEndpoint1",
    )
    rules = replace(RULES, reject_unverified=True)
    (decision,) = plan_connections(AML_WORKSPACE, [spoof], [_evidence()], rules).decisions
    assert decision.verdict is Verdict.REJECT
    assert "no allow-listed Synapse workspace lists" in decision.reason


def test_example_rogue_synapse_workspace_is_not_evidence() -> None:
    evidence = [_evidence(), _evidence(ROGUE_SYNAPSE, arm_id(SUBSCRIPTION, "x", PE_TYPE, "rogue"))]
    rogue_connection = _connection(arm_id(SUBSCRIPTION, "x", PE_TYPE, "rogue"), name="rogue")
    assert _verdicts([rogue_connection], evidence) == [Verdict.LEAVE_PENDING]
    rules = replace(RULES, reject_unverified=True)
    assert _verdicts([rogue_connection], evidence, rules) == [Verdict.REJECT]


def test_example_mixed_connections_are_decided_in_order() -> None:
    connections = [
        _connection(MPE_ENDPOINT, name="verified"),
        _connection(MPE_ENDPOINT, "Approved", name="approved"),
        _connection(MPE_ENDPOINT, "Rejected", name="rejected"),
        _connection(MPE_ENDPOINT, "Disconnected", name="disconnected"),
        _connection(arm_id(SUBSCRIPTION, "rg", PE_TYPE, "unknown"), name="unknown"),
    ]
    rules = replace(RULES, reject_unverified=True)
    plan = plan_connections(AML_WORKSPACE, connections, [_evidence()], rules)
    assert [(d.connection_name, d.verdict) for d in plan.decisions] == [
        ("verified", Verdict.APPROVE),
        ("approved", Verdict.ALREADY_APPROVED),
        ("rejected", Verdict.NOT_PENDING),
        ("disconnected", Verdict.NOT_PENDING),
        ("unknown", Verdict.REJECT),
    ]
    assert [d.connection_name for d in writes(plan)] == ["verified", "unknown"]


def test_example_out_of_scope_workspace() -> None:
    other = ArmId(arm_id(SUBSCRIPTION, "rg-1234", ML_TYPE, "otherworkspace"))
    rules = replace(RULES, reject_unverified=True)
    plan = plan_connections(other, [_connection(MPE_ENDPOINT)], [_evidence()], rules)
    assert [d.verdict for d in plan.decisions] == [Verdict.OUT_OF_SCOPE]
    assert writes(plan) == ()


def test_example_kelvin_sign_lookalikes_are_neither_in_scope_nor_allow_listed() -> None:
    # "\u212a".lower() == "k": a case-insensitive comparison must not fold it onto ASCII.
    workspace = ArmId(AML_WORKSPACE.replace("workspaces", "wor\u212aspaces"))
    assert workspace.lower() == AML_WORKSPACE.lower()
    plan = plan_connections(workspace, [_connection(MPE_ENDPOINT)], [_evidence()], RULES)
    assert [d.verdict for d in plan.decisions] == [Verdict.OUT_OF_SCOPE]

    synapse = ArmId(SYNAPSE.replace("workspaces", "wor\u212aspaces"))
    assert synapse.lower() == SYNAPSE.lower()
    assert _verdicts([_connection(MPE_ENDPOINT)], [_evidence(synapse)]) == [Verdict.LEAVE_PENDING]


def test_example_missing_evidence_leaves_pending_even_when_rejecting() -> None:
    rules = replace(RULES, reject_unverified=True)
    (decision,) = plan_connections(AML_WORKSPACE, [_connection(MPE_ENDPOINT)], [], rules).decisions
    assert decision.verdict is Verdict.LEAVE_PENDING
    assert SYNAPSE in decision.reason
    errored = replace(_evidence(), error="HTTP 403 from the data plane")
    assert _verdicts([_connection(MPE_ENDPOINT)], [errored], rules) == [Verdict.LEAVE_PENDING]


@pytest.mark.parametrize(
    ("managed_vnet", "exfiltration", "reason"),
    [
        (True, True, "data exfiltration protection on"),
        (False, False, "no managed virtual network"),
        (False, True, "no managed virtual network"),
    ],
)
def test_example_unsupported_synapse_workspace(
    managed_vnet: bool, exfiltration: bool, reason: str
) -> None:
    evidence = _evidence(managed_vnet=managed_vnet, exfiltration=exfiltration)
    assert evidence.workspace is not None
    assert reason in (unsupported_reason(evidence.workspace) or "")
    (decision,) = plan_connections(
        AML_WORKSPACE, [_connection(MPE_ENDPOINT)], [evidence], RULES
    ).decisions
    assert decision.verdict is Verdict.LEAVE_PENDING
    assert reason in decision.reason


def test_example_supported_workspace_has_no_unsupported_reason() -> None:
    workspace = _evidence().workspace
    assert workspace is not None
    assert unsupported_reason(workspace) is None


@given(st.data())
def test_unreadable_evidence_leaves_pending_with_no_piece_of_a_credential_in_its_reason(
    data: st.DataObject,
) -> None:
    # Each unreadable workspace's error (Azure's words) is told, the whole cut to the limit.
    told = f"not verified, and evidence from allow-listed Synapse workspace(s) {SYNAPSE} ("
    error, secret = data.draw(placed(DESCRIPTION_LIMIT - len(told), before=8))
    errored = replace(_evidence(), error=error)
    plan = plan_connections(AML_WORKSPACE, [_connection(MPE_ENDPOINT)], [errored], RULES)
    (decision,) = plan.decisions
    assert decision.verdict is Verdict.LEAVE_PENDING
    # The ledger, the log and the CLI redact it: what the cut let through is what shows.
    assert leaked(secret, redacted(decision.reason)) is None, decision.reason
