"""The scope rule, pure: ML_SCOPES, ML_WORKSPACE_IDS, ML_SCOPE_EXCLUDE, ML_SCOPE_TAG.

Properties against an oracle written independently (segment lists compared in lower case),
with the traps the rule must not fall into: names that share a prefix (`rg-ml` / `rg-ml2`,
`mlw` / `mlw-2`), case variants, exclusions, a tag that only ARM may vouch for, management
groups known only from ARM's answers.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config import SettingsError, load_settings
from shared.scope import Scope, carries, is_management_group, parse_scopes, parse_tag
from tests.credentials import leaked, placed

SUBS = ["6f1c7b9e-2d4a-4c3b-9a51-0e8d7f6a5b40", "b7e2c9d1-5a3f-4e8b-8c6d-1f2a3b4c5d6e"]
GROUPS = ["rg-ml", "rg-ml2", "RG-ML", "rg", "rg-ml-2"]
NAMES = ["mlw", "mlw-2", "MLW", "mlw2", "mlw-prod"]
MGS = ["mg-lz", "mg-lz2", "MG-LZ", "root"]
ML = "Microsoft.MachineLearningServices/workspaces"
PROPERTY = settings(max_examples=400)


def sub_id(sub: str) -> str:
    return f"/subscriptions/{sub}"


def rg_id(sub: str, group: str) -> str:
    return f"{sub_id(sub)}/resourceGroups/{group}"


def ws_id(sub: str, group: str, name: str) -> str:
    return f"{rg_id(sub, group)}/providers/{ML}/{name}"


def mg_id(name: str) -> str:
    return f"/providers/Microsoft.Management/managementGroups/{name}"


def recase(value: str, seed: int) -> str:
    rnd = random.Random(seed)
    return "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in value)


workspaces = st.builds(
    ws_id, st.sampled_from(SUBS), st.sampled_from(GROUPS), st.sampled_from(NAMES)
)
containers = st.one_of(
    st.builds(sub_id, st.sampled_from(SUBS)),
    st.builds(rg_id, st.sampled_from(SUBS), st.sampled_from(GROUPS)),
    workspaces,
    st.builds(mg_id, st.sampled_from(MGS)),
)
seeds = st.integers(0, 2**32 - 1)
tag_maps = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["env", "ENV", "owner"]), st.sampled_from(["prod", "Prod", ""])
    ),
)


def segments(value: str) -> list[str]:
    return value.lower().strip("/").split("/")


def oracle(
    workspace: str,
    scopes: list[str],
    excluded: list[str],
    tag: tuple[str, str] | None,
    groups: list[str],
    tags: dict[str, str] | None,
) -> bool:
    """Written apart from the code: a scope holds a workspace when its segments are a prefix of
    the workspace's segments, or when it is one of the workspace's management groups."""

    def holds(scope: str) -> bool:
        if scope.lower().startswith("/providers/microsoft.management/managementgroups/"):
            return scope.lower() in {g.lower() for g in groups}
        return segments(workspace)[: len(segments(scope))] == segments(scope)

    if not any(holds(s) for s in scopes) or any(holds(s) for s in excluded):
        return False
    if tag is None:
        return True
    return tags is not None and any(
        k.lower() == tag[0].lower() and v == tag[1] for k, v in tags.items()
    )


@PROPERTY
@given(
    workspace=workspaces,
    scopes=st.lists(containers, min_size=1, max_size=4),
    excluded=st.lists(containers, max_size=2),
    tag=st.one_of(st.none(), st.just(("env", "prod"))),
    groups=st.lists(st.builds(mg_id, st.sampled_from(MGS)), max_size=2),
    tags=tag_maps,
    seed=seeds,
)
def test_the_scope_rule_is_the_oracle_whatever_the_casing(
    workspace: str,
    scopes: list[str],
    excluded: list[str],
    tag: tuple[str, str] | None,
    groups: list[str],
    tags: dict[str, str] | None,
    seed: int,
) -> None:
    scope = Scope(tuple(scopes), tuple(excluded), tag)
    expected = oracle(workspace, scopes, excluded, tag, groups, tags)

    assert scope.in_scope(workspace, groups, tags) is expected
    assert scope.in_scope(recase(workspace, seed), groups, tags) is expected
    if expected:
        # What the reconcilers check again from the ID alone never refuses what was admitted.
        assert scope.may_cover(workspace)


@PROPERTY
@given(
    workspace=workspaces,
    excluded=containers,
    groups=st.lists(st.builds(mg_id, st.sampled_from(MGS))),
)
def test_nothing_under_an_exclusion_is_in_scope(
    workspace: str, excluded: str, groups: list[str]
) -> None:
    everything = Scope((*(sub_id(s) for s in SUBS), *(mg_id(m) for m in MGS)), (excluded,))
    under = oracle(workspace, [excluded], [], None, groups, None)
    assert everything.in_scope(workspace, groups) is not under


@pytest.mark.parametrize(
    ("scope", "workspace"),
    [
        (rg_id(SUBS[0], "rg-ml"), ws_id(SUBS[0], "rg-ml2", "mlw")),
        (rg_id(SUBS[0], "rg-ml"), ws_id(SUBS[0], "rg-ml-2", "mlw")),
        (ws_id(SUBS[0], "rg-ml", "mlw"), ws_id(SUBS[0], "rg-ml", "mlw-2")),
        (ws_id(SUBS[0], "rg-ml", "mlw"), ws_id(SUBS[0], "rg-ml", "mlw2")),
        (sub_id(SUBS[0]), ws_id(SUBS[1], "rg-ml", "mlw")),
        (sub_id(SUBS[0])[:-1], ws_id(SUBS[0], "rg-ml", "mlw")),
        (mg_id("mg-lz"), ws_id(SUBS[0], "rg-ml", "mlw")),
    ],
)
def test_names_sharing_a_prefix_are_not_under_each_other(scope: str, workspace: str) -> None:
    # The management group holds the subscription under mg-lz2, not under mg-lz.
    assert not Scope((scope,)).in_scope(workspace, [mg_id("mg-lz2")])


def test_a_management_group_holds_what_arm_says_it_holds() -> None:
    workspace = ws_id(SUBS[0], "rg-ml", "mlw")
    scope = Scope((mg_id("mg-lz"),))
    assert scope.in_scope(workspace, [mg_id("MG-LZ")])
    assert not scope.in_scope(workspace, [])
    assert scope.may_cover(workspace)  # unknown from the ID alone: ARM decides
    carved = Scope((mg_id("mg-lz"),), (mg_id("mg-sandbox"),))
    assert not carved.in_scope(workspace, [mg_id("mg-lz"), mg_id("mg-sandbox")])


def test_the_scopes_management_groups_are_those_it_lists_not_its_exclusions() -> None:
    # What Resource Graph is asked over: an excluded group only narrows them.
    scope = Scope((mg_id("mg-lz"), sub_id(SUBS[0]), mg_id("root")), (mg_id("mg-sandbox"),))
    assert scope.management_groups == (mg_id("mg-lz"), mg_id("root"))


def test_the_tag_counts_only_as_read_from_arm() -> None:
    workspace = ws_id(SUBS[0], "rg-ml", "mlw")
    scope = Scope((sub_id(SUBS[0]),), tag=("env", "prod"))
    assert scope.in_scope(workspace, tags={"ENV": "prod"})
    assert not scope.in_scope(workspace, tags={"env": "Prod"})  # values compare exactly
    assert not scope.in_scope(workspace, tags=None)  # not read: not in scope
    assert not carries({"env": "prod "}, ("env", "prod"))


@PROPERTY
@given(st.from_regex(r"[a-z0-9_-]{0,10}[kK][a-z0-9_-]{0,10}", fullmatch=True), st.data())
def test_a_tag_name_that_only_folds_to_the_scope_tags_is_another_tag(
    name: str, data: st.DataObject
) -> None:
    # A workspace user writes tags: the Kelvin sign, which str.lower() folds onto k, is not k to
    # ARM, so a workspace tagged so does not carry the scope tag.
    position = data.draw(st.sampled_from([i for i, c in enumerate(name) if c in "kK"]))
    lookalike = name[:position] + "\u212a" + name[position + 1 :]
    assert carries({name.upper(): "v"}, (name, "v"))
    assert not carries({lookalike: "v"}, (name, "v"))
    assert not carries({name: "v"}, (lookalike, "v"))


def test_only_workspaces_are_ever_in_scope() -> None:
    scope = Scope((sub_id(SUBS[0]),))
    for other in (
        rg_id(SUBS[0], "rg-ml"),
        f"{rg_id(SUBS[0], 'rg-ml')}/providers/Microsoft.Storage/storageAccounts/st",
        f"{ws_id(SUBS[0], 'rg-ml', 'mlw')}/computes/cpu",
        ws_id(SUBS[0], "rg-ml", "mlw").replace("mlw", "mlw\u212a"),
    ):
        assert not scope.in_scope(other)
        assert not scope.may_cover(other)


# --- settings ------------------------------------------------------------------------------------

BASE = {
    "SYNAPSE_WORKSPACE_IDS": (
        f"/subscriptions/{SUBS[1]}/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn"
    ),
    "LEDGER_CONNECTION_STRING": "UseDevelopmentStorage=true",
}


def load(**env: str) -> Any:
    return load_settings({**BASE, **env})


def test_ml_scopes_alone_is_enough_and_ml_workspace_ids_adds_to_it() -> None:
    group = rg_id(SUBS[0], "rg-ml")
    extra = ws_id(SUBS[1], "rg-other", "mlw")
    alone = load(ML_SCOPES=json.dumps([group]))
    assert alone.scope.scopes == (group,)
    assert alone.in_scope(ws_id(SUBS[0], "rg-ml", "mlw-new"))
    both = load(ML_SCOPES=json.dumps([group]), ML_WORKSPACE_IDS=extra)
    assert both.scope.scopes == (group, extra)
    assert both.in_scope(extra)
    assert both.scope.subscriptions == {SUBS[0], SUBS[1]}
    listed_only = load(ML_WORKSPACE_IDS=extra)
    assert listed_only.scope.scopes == (extra,)


def test_exclusions_and_the_tag_apply_to_every_scope() -> None:
    listed = ws_id(SUBS[0], "rg-ml", "mlw")
    loaded = load(
        ML_WORKSPACE_IDS=listed,
        ML_SCOPE_EXCLUDE=json.dumps([rg_id(SUBS[0], "RG-ML")]),
        ML_SCOPE_TAG="automation = on=1",
    )
    assert not loaded.in_scope(listed)
    assert loaded.scope.tag == ("automation", "on=1")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ML_SCOPES", "not json", "ML_SCOPES: not valid JSON"),
        ("ML_SCOPES", '{"a": 1}', "ML_SCOPES: expected a JSON array"),
        ("ML_SCOPES", json.dumps([rg_id(SUBS[0], "rg-ml") + "/"]), "ML_SCOPES: item 1"),
        ("ML_SCOPES", json.dumps(["/subscriptions/not-a-guid"]), "ML_SCOPES: item 1"),
        (
            "ML_SCOPES",
            json.dumps([f"{rg_id(SUBS[0], 'rg')}/providers/Microsoft.Storage/storageAccounts/s"]),
            "ML_SCOPES: item 1",
        ),
        ("ML_SCOPES", json.dumps([sub_id(SUBS[0]), sub_id(SUBS[0]).upper()]), "listed twice"),
        ("ML_SCOPES", json.dumps([mg_id("mg lz")]), "ML_SCOPES: item 1"),
        ("ML_SCOPES", json.dumps([ws_id(SUBS[0], "rg", "x")]), "ML_SCOPES: item 1"),
        ("ML_SCOPE_EXCLUDE", "[1]", "ML_SCOPE_EXCLUDE: item 1"),
        ("ML_SCOPE_TAG", "no-equals-sign", "ML_SCOPE_TAG"),
        ("ML_SCOPE_TAG", "a/b=c", "ML_SCOPE_TAG"),
    ],
)
def test_a_malformed_scope_setting_names_itself(name: str, value: str, expected: str) -> None:
    env = {"ML_SCOPES": json.dumps([sub_id(SUBS[0])]), name: value}
    with pytest.raises(SettingsError) as raised:
        load(**env)
    assert expected in str(raised.value)


def test_retraining_and_scoring_workspaces_must_be_in_scope() -> None:
    outside = ws_id(SUBS[1], "rg-ml", "mlw")
    with pytest.raises(SettingsError, match="RETRAIN_WORKSPACE_IDS: item 1"):
        load(
            ML_SCOPES=json.dumps([sub_id(SUBS[0])]),
            RETRAIN_WORKSPACE_IDS=outside,
            RETRAIN_COMPONENT="train:1",
            RETRAIN_COMPUTE="cpu",
        )
    with pytest.raises(SettingsError, match="SCORING_ALLOWED_ENDPOINTS: item 1"):
        load(
            ML_SCOPES=json.dumps([sub_id(SUBS[0])]),
            ML_SCOPE_EXCLUDE=json.dumps([rg_id(SUBS[0], "rg-ml")]),
            SCORING_ALLOWED_ENDPOINTS=f"{ws_id(SUBS[0], 'rg-ml', 'mlw')}/batchEndpoints/ep",
        )


def test_parsers() -> None:
    assert parse_tag("env=") == ("env", "")
    assert parse_scopes(json.dumps([mg_id("Mg.(1)")])) == (mg_id("Mg.(1)"),)
    assert is_management_group(mg_id("x").lower())
    assert not is_management_group(mg_id("x") + "/subscriptions/y")


# How each scope setting repeats a value it refuses, cut to 200 characters: an item as JSON
# (after its quote), or the tag's text (after a '?', which no tag name holds).
@pytest.mark.parametrize(
    ("setting", "template"), [("ML_SCOPES", '["{}"]'), ("ML_SCOPE_TAG", "?{}")]
)
@given(data=st.data())
def test_a_refused_scope_setting_shows_no_piece_of_a_credential(
    setting: str, template: str, data: st.DataObject
) -> None:
    text, secret = data.draw(placed(200 - 1, before=8))
    with pytest.raises(SettingsError) as raised:
        load(**{"ML_SCOPES": json.dumps([rg_id(SUBS[0], "rg-ml")]), setting: template.format(text)})
    assert leaked(secret, str(raised.value)) is None, str(raised.value)
