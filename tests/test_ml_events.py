"""Azure ML system-topic events: which ones are drift, which ones end a retraining job of this
app, and which ones are nothing to the app. From the documented samples and variants of them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.arm import ArmId
from shared.events import Ignored
from shared.ml_events import (
    APP_TAG,
    MESSAGE_LIMIT,
    MONITOR_BREACH_TAG,
    SCORING,
    Drift,
    DriftSource,
    JobFinished,
    bounded,
    classify_ml_event,
    scoped_workspace,
    workspace_of_topic,
)
from tests.credentials import leaked, placed
from tools import retraining_scene as rs

FIXTURES = Path(__file__).parent / "fixtures"
WORKSPACE = ArmId(
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-ml/providers/"
    "Microsoft.MachineLearningServices/workspaces/mlw-prod"
)


def _sample(name: str) -> dict[str, Any]:
    [event] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    event["topic"] = WORKSPACE
    return dict(event)


def _classify(event: dict[str, Any]) -> Drift | JobFinished | Ignored:
    return classify_ml_event(
        event_id=event["id"],
        event_type=event["eventType"],
        workspace_id=WORKSPACE,
        data=event.get("data"),
    )


def _status_changed(tags: object, status: str = "Completed") -> dict[str, Any]:
    event = _sample("eventgrid_aml_runstatuschanged.json")
    event["data"]["runTags"] = tags
    event["data"]["runStatus"] = status
    return event


def test_the_documented_run_status_changed_sample_is_not_drift() -> None:
    # An AutoML child run without tags: nothing to do with monitoring; whether it is one of this
    # app's jobs the ledger says.
    parsed = _classify(_sample("eventgrid_aml_runstatuschanged.json"))
    assert isinstance(parsed, JobFinished)


def test_the_documented_run_completed_sample_is_a_finished_job_for_the_ledger_to_judge() -> None:
    event = _sample("eventgrid_aml_runcompleted.json")
    parsed = _classify(event)
    assert isinstance(parsed, JobFinished)
    assert parsed.job_name == event["data"]["runId"]


def test_the_documented_dataset_drift_sample_is_drift() -> None:
    parsed = _classify(_sample("eventgrid_aml_datasetdriftdetected.json"))
    assert isinstance(parsed, Drift)
    assert parsed.source is DriftSource.DATASET_MONITOR
    assert "myDriftMonitor" in parsed.message
    assert parsed.workspace_id == WORKSPACE


@pytest.mark.parametrize("status", ["Completed", "Failed", "Running", "failed"])
def test_a_breach_tag_is_drift_whatever_the_run_status(status: str) -> None:
    parsed = _classify(_status_changed({MONITOR_BREACH_TAG: "feature tenure drifted"}, status))
    assert isinstance(parsed, Drift)
    assert parsed.source is DriftSource.MODEL_MONITOR
    assert parsed.message == "feature tenure drifted"


@given(
    key=st.sampled_from(
        [
            MONITOR_BREACH_TAG,
            MONITOR_BREACH_TAG.upper(),
            "AzureML_ModelMonitor_Threshold_Breached",
            "azureml_modelmonitor_THRESHOLD_breached",
        ]
    ),
    message=st.text(min_size=1).filter(lambda text: text.strip() != ""),
)
def test_the_breach_tag_key_is_compared_case_insensitively(key: str, message: str) -> None:
    parsed = _classify(_status_changed({key: message}))
    assert isinstance(parsed, Drift)
    assert len(parsed.message) <= MESSAGE_LIMIT


@pytest.mark.parametrize(
    "tags",
    [
        {},
        {MONITOR_BREACH_TAG: ""},
        {MONITOR_BREACH_TAG: "   "},
        {MONITOR_BREACH_TAG: None},
        {"azureml_modelmonitor_threshold": "breached"},
        {"breached": MONITOR_BREACH_TAG},
        None,
        ["azureml_modelmonitor_threshold_breached"],
    ],
)
def test_no_tag_or_an_empty_one_is_not_drift(tags: object) -> None:
    assert not isinstance(_classify(_status_changed(tags)), Drift)


def test_a_monitor_flipping_back_is_not_drift() -> None:
    breached = _status_changed({MONITOR_BREACH_TAG: "drift 0.41 > 0.3"})
    recovered = copy.deepcopy(breached)
    recovered["data"]["runTags"][MONITOR_BREACH_TAG] = ""
    assert isinstance(_classify(breached), Drift)
    assert not isinstance(_classify(recovered), Drift)


def test_a_breach_on_run_completed_is_not_drift() -> None:
    # The breach is defined on RunStatusChanged; RunCompleted of a monitor run is not a signal.
    event = _sample("eventgrid_aml_runcompleted.json")
    event["data"]["runTags"] = {MONITOR_BREACH_TAG: "drift"}
    assert not isinstance(_classify(event), Drift)


@pytest.mark.parametrize("status", ["Completed", "Failed", "Canceled", "completed"])
def test_this_apps_retraining_job_reaching_a_terminal_status_is_finished(status: str) -> None:
    event = _status_changed({APP_TAG: "retraining", "trigger": "drift"}, status)
    event["data"]["runId"] = "retrain-0123"
    parsed = _classify(event)
    assert isinstance(parsed, JobFinished)
    assert parsed.job_name == "retrain-0123"
    assert parsed.reported_status == status


def test_run_completed_of_this_apps_retraining_job_is_finished() -> None:
    event = _sample("eventgrid_aml_runcompleted.json")
    event["data"]["runTags"] = {APP_TAG: "retraining"}
    parsed = _classify(event)
    assert isinstance(parsed, JobFinished)
    assert parsed.job_name == event["data"]["runId"]


@pytest.mark.parametrize("status", ["Running", "Queued", "Finalizing", ""])
def test_a_retraining_job_still_running_is_ignored(status: str) -> None:
    parsed = _classify(_status_changed({APP_TAG: "retraining"}, status))
    assert isinstance(parsed, Ignored)
    assert not parsed.invalid


@given(
    tags=st.one_of(
        st.sampled_from(
            [{}, {APP_TAG: "Retraining"}, {APP_TAG: SCORING}, {APP_TAG: ["scoring"]}, None]
        ),
        st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=3),
    ),
    status=st.sampled_from(["Completed", "Failed", "Canceled", "completed"]),
    completed=st.booleans(),
)
def test_a_finished_job_is_the_ledgers_to_judge_whatever_its_tags(
    tags: object, status: str, completed: bool
) -> None:
    # Any workspace user may tag a job (the app's own too): the tags never decide whose it is,
    # the ledger's claim or scoring-jobs row does, so every finished job goes on to that check.
    if isinstance(tags, dict) and MONITOR_BREACH_TAG in {str(k).lower() for k in tags}:
        return  # the monitor's signal: drift, tested above
    event = _status_changed(tags, status)
    if completed:
        event["eventType"] = "Microsoft.MachineLearningServices.RunCompleted"
    event["data"]["runId"] = "batchjob-0123"
    parsed = _classify(event)
    assert isinstance(parsed, JobFinished)
    assert (parsed.job_name, parsed.reported_status) == ("batchjob-0123", status)
    assert isinstance(_classify(_status_changed(tags, "Running")), Ignored)


@pytest.mark.parametrize(
    "event_type",
    [
        "Microsoft.MachineLearningServices.ModelRegistered",
        "Microsoft.MachineLearningServices.ModelDeployed",
        "Microsoft.Resources.ResourceWriteSuccess",
    ],
)
def test_other_event_types_are_invalid_here(event_type: str) -> None:
    event = _status_changed({MONITOR_BREACH_TAG: "drift"})
    event["eventType"] = event_type
    parsed = _classify(event)
    assert isinstance(parsed, Ignored)
    assert parsed.invalid


@pytest.mark.parametrize("data", [None, "text", [1, 2], {"runTags": {MONITOR_BREACH_TAG: "x"}}])
def test_malformed_data_is_invalid(data: object) -> None:
    event = _status_changed({})
    event["data"] = data
    parsed = _classify(event)
    assert isinstance(parsed, Ignored)
    assert parsed.invalid


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (WORKSPACE, WORKSPACE),
        (WORKSPACE.lower(), WORKSPACE.lower()),
        ("/subscriptions/{subscription-id}/resourceGroups/{resource-group-name}", None),
        (f"{WORKSPACE}/computes/cpu", None),
        ("/subscriptions/x/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn", None),
        ("", None),
    ],
)
def test_the_topic_names_the_workspace(topic: str, expected: str | None) -> None:
    assert workspace_of_topic(topic) == expected


@given(st.text())
def test_bounded_text_is_one_line_and_short(text: str) -> None:
    cut = bounded(text)
    assert len(cut) <= MESSAGE_LIMIT
    assert "\n" not in cut


_SEGMENT = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,12}", fullmatch=True)
# Characters that fold onto ASCII letters under str.lower() (the Kelvin sign, ...) or look alike.
_LOOKALIKES = {"k": "\u212a", "i": "\u0130", "a": "\u0430", "e": "\u0435", "o": "\u043e"}


@given(subscription=st.uuids(), group=_SEGMENT, name=_SEGMENT)
def test_only_the_configured_workspace_is_in_scope(
    subscription: object, group: str, name: str
) -> None:
    candidate = (
        f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{name}"
    )
    expected = WORKSPACE if candidate.lower() == WORKSPACE.lower() else None
    assert scoped_workspace(candidate, [WORKSPACE]) == expected
    # Listed itself, it is in scope under its own spelling.
    assert scoped_workspace(candidate, [WORKSPACE, ArmId(candidate)]) in (candidate, WORKSPACE)


@given(
    variant=st.sampled_from(
        [
            WORKSPACE + "/jobs/x",
            WORKSPACE + "x",
            WORKSPACE.replace("00000000-1111", "00000000-1112"),
            WORKSPACE.replace("rg-ml", "rg-ml2"),
            WORKSPACE.replace("workspaces", "registries"),
            " " + WORKSPACE,
            WORKSPACE + "/",
        ]
    )
)
def test_lookalike_topics_are_out_of_scope(variant: str) -> None:
    assert scoped_workspace(variant, [WORKSPACE]) is None


@given(position=st.integers(min_value=0, max_value=len(WORKSPACE) - 1))
def test_unicode_lookalikes_are_out_of_scope(position: int) -> None:
    char = WORKSPACE[position].lower()
    if char not in _LOOKALIKES:
        return
    variant = WORKSPACE[:position] + _LOOKALIKES[char] + WORKSPACE[position + 1 :]
    assert scoped_workspace(variant, [WORKSPACE]) is None


def test_a_case_variant_gets_the_configured_spelling() -> None:
    assert scoped_workspace(WORKSPACE.upper(), [WORKSPACE]) == WORKSPACE


# ------------------------------------------------------------------------ event parsing


def _breach(value: object, key: str = MONITOR_BREACH_TAG) -> Drift | Ignored | object:
    event = rs.monitor_breach_event()
    event["data"]["runTags"] = {key: value}
    return classify_ml_event(
        event_id=event["id"],
        event_type=event["eventType"],
        workspace_id=WORKSPACE,
        data=event["data"],
    )


@pytest.mark.parametrize("value", [False, None, [], {}, ["breached"], {"a": "b"}, "", " \t"])
def test_a_breach_tag_value_that_carries_no_message_is_not_drift(value: object) -> None:
    # `false` says "not breached"; null, containers and blanks are no monitor's message.
    assert not isinstance(_breach(value), Drift)


@pytest.mark.parametrize(("value", "message"), [(True, "true"), (0, "0"), (0.41, "0.41")])
def test_a_breach_tag_value_that_is_a_number_or_true_is_drift(value: object, message: str) -> None:
    parsed = _breach(value)
    assert isinstance(parsed, Drift)
    assert parsed.message == message


def test_a_breach_key_with_surrounding_spaces_is_not_the_monitors_tag() -> None:
    # Casing is the only loosening: tag keys are exact in Azure ML, and a key with spaces is a
    # tag someone else set.
    assert not isinstance(_breach("drifted", key=f" {MONITOR_BREACH_TAG} "), Drift)
    assert isinstance(_breach("drifted", key=MONITOR_BREACH_TAG.upper()), Drift)


@given(st.text())
def test_tag_text_from_an_event_is_one_bounded_line_of_printable_characters(text: str) -> None:
    value = bounded(text)
    assert len(value) <= MESSAGE_LIMIT
    assert all(ch.isprintable() for ch in value)
    assert value == value.strip()


@pytest.mark.parametrize("data", [{}, {"DataDriftName": {"odd": 1}, "DriftCoefficient": "high"}])
def test_a_dataset_drift_event_with_sparse_data_is_still_drift(data: dict[str, Any]) -> None:
    parsed = classify_ml_event(
        event_id="e",
        event_type="Microsoft.MachineLearningServices.DatasetDriftDetected",
        workspace_id=WORKSPACE,
        data=data,
    )
    assert isinstance(parsed, Drift)
    assert "coefficient" not in parsed.message


def _run_event(run_id: str) -> dict[str, Any]:
    event = _status_changed({}, "Failed")
    event["data"]["runId"] = run_id
    return event


def _drift_event(monitor: str) -> dict[str, Any]:
    event = _sample("eventgrid_aml_datasetdriftdetected.json")
    event["data"]["DataDriftName"] = monitor
    return event


# Where each text of an event is cut: a monitor's name, a breach tag's value, a runId.
_CUTS = {
    "monitor": (_drift_event, MESSAGE_LIMIT - len("dataset drift detected by ")),
    "breach": (lambda text: _status_changed({MONITOR_BREACH_TAG: text}), MESSAGE_LIMIT),
    "runId": (_run_event, 80),
}


@given(st.data(), st.sampled_from(sorted(_CUTS)))
def test_an_events_text_cut_to_its_limit_shows_no_piece_of_a_credential(
    data: st.DataObject, where: str
) -> None:
    # Each goes into a retraining job's tags (in Azure) or the ledger's reason.
    event, cut = _CUTS[where]
    text, secret = data.draw(placed(cut, before=8))
    parsed = _classify(event(text))
    assert isinstance(parsed, Drift | Ignored)
    shown = parsed.message if isinstance(parsed, Drift) else parsed.reason
    assert leaked(secret, shown) is None, shown
