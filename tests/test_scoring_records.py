"""Scoring job records in the ledger table (Azurite): found by name whatever its case, and the
unannounced ones of a window listed oldest first."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables import TableClient, UpdateMode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.scoring.records import JobRecord, RequestRecord, ScoringRecords

pytestmark = pytest.mark.slow

CALLER = "7f3c2b1a-0d4e-4f5a-8b6c-9d0e1f2a3b4c"
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w"
# The columns a job's row cannot be read without.
REQUIRED = {"JobName", "WorkspaceId", "EndpointId", "InputType", "InputPath", "Caller"}
NAMES = {"JobName", "WorkspaceId"}


class Clock:
    """Time that tests move by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _job(name: str) -> JobRecord:
    return JobRecord(name, WS, f"{WS}/batchEndpoints/e", None, "uri_folder",
                     "azureml:x:1", CALLER, None, None, "k", "NotStarted")  # fmt: skip


def test_jobs_are_found_by_name_whatever_the_case(table: TableClient) -> None:
    records = ScoringRecords(table, Clock())
    records.record_job(_job("BatchJob-7"))
    found = records.job("batchjob-7")
    assert found is not None
    assert found.caller == CALLER
    assert found.workspace_id == WS
    assert records.job("batchjob-8") is None


def test_unannounced_jobs_are_those_of_the_window_not_yet_announced_oldest_first(
    table: TableClient,
) -> None:
    clock = Clock()
    records = ScoringRecords(table, clock)
    for name in ("before-window", "b-second", "a-third", "c-first-announced", "d-last"):
        records.record_job(_job(name))
        clock.now += timedelta(minutes=1)
    records.job_ended("c-first-announced", "Failed", announced=True)
    records.job_ended("d-last", "Completed")  # seen by polling, not announced
    # A row edited by hand into another shape is passed over.
    edited = (START + timedelta(minutes=2)).isoformat()
    table.upsert_entity({"PartitionKey": "scoring-jobs", "RowKey": "x", "SubmittedAt": edited})

    since = START + timedelta(seconds=30)
    assert [j.job_name for j in records.unannounced(since, 10)] == ["b-second", "a-third", "d-last"]
    assert [j.job_name for j in records.unannounced(since, 2)] == ["b-second", "a-third"]
    announced = records.job("c-first-announced")
    assert announced is not None
    assert (announced.status, announced.announced) == ("Failed", True)
    polled = records.job("d-last")
    assert polled is not None
    assert (polled.status, polled.announced) == ("Completed", False)


ROW_VALUES = st.one_of(st.text(max_size=20), st.integers(-(2**31), 2**31 - 1), st.floats(),
                       st.booleans(), st.binary(max_size=8), st.just("x" * 30000))  # fmt: skip
COLUMNS = sorted(REQUIRED - NAMES | {"Deployment", "Status", "AnnouncedAt", "IdempotencyKey"})
# Not a workspace ID, not a plain job name: what would make a job's URL another one, or none.
NOT_NAMES = {
    "WorkspaceId": st.sampled_from(["", "x", "../x", "j\ud800", f"{WS}/../../../x", f"{WS}/", 7]),
    "JobName": st.sampled_from(["", "../x", "a/b", "j\ud800", f"{WS}/../../../x", ".", 7]),
}


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    gone=st.sets(st.sampled_from(sorted(REQUIRED))),
    odd=st.dictionaries(st.sampled_from(COLUMNS), ROW_VALUES),
    named=st.fixed_dictionaries({}, optional=NOT_NAMES),
)
def test_a_job_row_of_any_shape_is_read_as_a_job_or_as_none_never_an_exception(
    table: TableClient, gone: set[str], odd: dict[str, object], named: dict[str, object]
) -> None:
    # A job's row is what get_scoring_job, the ended-job event and the sweep's backstop trust:
    # one edited by hand or written by another version is no job of the app's (a 404, an
    # ignored event, nothing read) when it lacks a column the app writes, never a KeyError (a
    # 500, an event failing until it dead-letters), or when its workspace and job name are not
    # what the app writes, never a URL (`../`, a job list) the backstop reads and reports on.
    records = ScoringRecords(table, Clock())
    records.record_job(_job("j"))
    row = dict(next(iter(table.query_entities("PartitionKey eq 'scoring-jobs'")))) | odd | named
    table.upsert_entity({k: v for k, v in row.items() if k not in gone}, mode=UpdateMode.REPLACE)

    found = records.job("j")

    assert (found is None) == bool(gone or named)
    if not row.get("AnnouncedAt"):
        assert (records.unannounced(START, 10) == []) == bool(gone or named)
    if found is not None:
        # As the table holds it: a float's round trip can change its text (-0.0 comes back 0.0).
        held = next(iter(table.query_entities("PartitionKey eq 'scoring-jobs'")))
        assert found.caller == str(held["Caller"])


def test_a_request_recorded_whose_answer_was_lost_is_recorded_once_and_says_so(
    table: TableClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Table storage took the audit row but its answer was lost (a 500 timeout, which azure-core
    retries): the retry meets the row (409). It is recorded: no "could not record" line."""
    original, lost = table.create_entity, list[Any]()

    def answer_lost(entity: dict[str, Any], **options: Any) -> Any:
        if not lost:
            lost.append(original(entity, **options))  # took effect; the retry follows
        return original(entity, **options)

    monkeypatch.setattr(table, "create_entity", answer_lost)
    request = RequestRecord("start_scoring", "started", 202, CALLER, job_name="batchjob-1")

    ScoringRecords(table).audit(request, logging.getLogger("tests.scoring"))

    assert lost, "the row was never written"
    assert [row["JobName"] for row in ScoringRecords(table).requests()] == ["batchjob-1"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
