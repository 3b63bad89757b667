"""Retraining decisions (pure): duplicates, cooldown, active jobs, names fixed by the claim, the
drift gate's verdicts and the tags a job carries."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.bounds import CLOCK_SKEW
from shared.ml_events import (
    APP_TAG,
    MESSAGE_LIMIT,
)
from shared.planning.retraining import (
    ClaimView,
    Decision,
    GateReading,
    GateStatus,
    JobView,
    Verdict,
    claimed_job,
    decide_from_claim,
    decide_with_jobs,
    evaluate_gate,
    job_name_for,
    retraining_tags,
    scoring_request_id,
)
from tests.retraining import LOOKALIKE_NUMBERS

WS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
COOLDOWN = timedelta(minutes=360)


def _claim(minutes_ago: float, key: str = "event:a", counts: bool = True) -> ClaimView:
    return ClaimView("retrain-a", key, NOW - timedelta(minutes=minutes_ago), counts)


def test_no_claim_needs_the_jobs() -> None:
    assert decide_from_claim(None, claim_key="event:b", now=NOW, cooldown=COOLDOWN) is None


def test_the_same_trigger_again_resumes_its_own_job() -> None:
    decision = decide_from_claim(_claim(1), claim_key="event:a", now=NOW, cooldown=COOLDOWN)
    assert decision is not None
    assert decision.verdict is Verdict.RESUME
    assert decision.job_name == "retrain-a"


@given(minutes=st.floats(min_value=0, max_value=359.9))
def test_another_trigger_within_the_cooldown_is_debounced(minutes: float) -> None:
    decision = decide_from_claim(_claim(minutes), claim_key="event:b", now=NOW, cooldown=COOLDOWN)
    assert decision is not None
    assert decision.verdict is Verdict.COOLDOWN


@given(minutes=st.floats(min_value=360, max_value=100_000))
def test_after_the_cooldown_the_jobs_decide(minutes: float) -> None:
    assert (
        decide_from_claim(_claim(minutes), claim_key="event:b", now=NOW, cooldown=COOLDOWN) is None
    )


def test_a_failed_submission_does_not_debounce() -> None:
    claim = _claim(1, counts=False)
    assert decide_from_claim(claim, claim_key="event:b", now=NOW, cooldown=COOLDOWN) is None


def test_a_zero_cooldown_debounces_nothing() -> None:
    decision = decide_from_claim(_claim(0), claim_key="event:b", now=NOW, cooldown=timedelta(0))
    assert decision is None


TIMEOUT = timedelta(hours=24)


def _with_jobs(jobs: list[JobView], claim: ClaimView | None) -> Decision:
    return decide_with_jobs(
        jobs, claim=claim, workspace_id=WS, claim_key="event:b", now=NOW, timeout=TIMEOUT
    )


@pytest.mark.parametrize("status", ["NotStarted", "Queued", "Running", "Finalizing", "Unknown"])
def test_an_active_job_debounces(status: str) -> None:
    jobs = [JobView("retrain-old", "Completed", True), JobView("retrain-now", status, True)]
    claim = ClaimView("retrain-now", "event:a", NOW - timedelta(hours=1), True)
    decision = _with_jobs(jobs, claim)
    assert decision.verdict is Verdict.ACTIVE
    assert decision.job_name == "retrain-now"


def test_only_finished_jobs_allow_a_submission() -> None:
    jobs = [
        JobView(n, s, True) for n, s in [("a", "Completed"), ("b", "Failed"), ("c", "Canceled")]
    ]
    decision = _with_jobs(jobs, ClaimView("b", "event:a", NOW, True))
    assert decision.verdict is Verdict.SUBMIT
    assert decision.job_name == job_name_for(WS, "event:b")


# ------------------------------------------------- trust: only the job of the app's claim

STATUSES = ["NotStarted", "Queued", "Running", "Finalizing", "NotResponding", "Paused", "Unknown"]
_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC-0123456789_", min_size=1, max_size=30)
_jobs = st.lists(
    st.builds(
        JobView,
        _names,
        st.sampled_from([*STATUSES, "Completed", "Failed", "Canceled"]),
        st.booleans(),
    ),
    max_size=6,
)


@settings(max_examples=300)
@given(
    jobs=_jobs,
    data=st.data(),
    # As often around the 24-hour timeout as anywhere up to 10,000 hours.
    hours=st.floats(min_value=0, max_value=48) | st.floats(min_value=0, max_value=10_000),
)
def test_no_job_but_the_claims_holds_retraining_back(
    jobs: list[JobView], data: st.DataObject, hours: float
) -> None:
    # Whatever jobs users create (any name, even the claim's, any status; tags never reach the
    # decision), only the app's own job the claim names, active and within the timeout, holds
    # retraining back. The claim mostly names one of the jobs, in some casing: names drawn
    # apart never met, and no job ever held anything back.
    named = [case(job.name) for job in jobs for case in (str, str.upper, str.lower)]
    claimed = data.draw(st.sampled_from(named) | _names if named else _names)
    claim = ClaimView(claimed, "event:a", NOW - timedelta(hours=hours), True)
    decision = _with_jobs(jobs, claim)
    ours = [job for job in jobs if job.by_app and job.name.lower() == claimed.lower()]
    holds = bool(ours) and ours[0].active and hours < 24
    assert (decision.verdict is Verdict.ACTIVE) is holds
    if holds:
        assert decision.job_name == ours[0].name
    else:
        assert decision.job_name == job_name_for(WS, "event:b")


@given(jobs=_jobs)
def test_without_a_claim_no_job_holds_retraining_back(jobs: list[JobView]) -> None:
    assert _with_jobs(jobs, None).verdict is Verdict.SUBMIT


@given(jobs=_jobs, claimed=_names)
def test_the_claimed_job_is_only_the_one_the_claim_names(jobs: list[JobView], claimed: str) -> None:
    claim = ClaimView(claimed, "event:a", NOW, True)
    found = claimed_job(claim, jobs)
    assert found is None or (found.by_app and found.name.lower() == claimed.lower())
    assert (found is None) is all(
        not job.by_app or job.name.lower() != claimed.lower() for job in jobs
    )
    assert claimed_job(ClaimView("", "event:a", NOW, False), jobs) is None


@pytest.mark.parametrize("status", STATUSES)
def test_a_stuck_job_of_the_app_lapses_after_the_timeout(status: str) -> None:
    jobs = [JobView("retrain-a", status, True)]
    held = _with_jobs(jobs, ClaimView("retrain-a", "event:a", NOW - timedelta(hours=23), True))
    assert held.verdict is Verdict.ACTIVE
    lapsed = _with_jobs(jobs, ClaimView("retrain-a", "event:a", NOW - TIMEOUT, True))
    assert lapsed.verdict is Verdict.SUBMIT
    assert "RETRAIN_JOB_TIMEOUT_HOURS" in lapsed.reason


@given(
    status=st.sampled_from(STATUSES),
    # Before, within and past the timeout; ahead by a fast clock, and by years (edited by hand).
    age=st.one_of(
        st.timedeltas(min_value=-TIMEOUT - CLOCK_SKEW, max_value=TIMEOUT * 2),
        st.timedeltas(min_value=-timedelta(days=365 * 80), max_value=-TIMEOUT - CLOCK_SKEW),
    ),
)
def test_a_stuck_job_holds_retraining_back_only_within_the_timeout(
    status: str, age: timedelta
) -> None:
    """A stuck job of the app lapses after the timeout however its claim is dated: one dated
    further ahead than the timeout and any clock skew is none the app wrote, and holds nothing
    back (it never lapsed); one a fast clock dated ahead holds back as a just-made claim."""
    claim = ClaimView("retrain-a", "event:a", NOW - age, True)
    decision = _with_jobs([JobView("retrain-a", status, True)], claim)
    held = -(TIMEOUT + CLOCK_SKEW) <= age < TIMEOUT
    assert decision.verdict is (Verdict.ACTIVE if held else Verdict.SUBMIT), age


@given(key=st.text(min_size=1))
def test_a_job_name_is_fixed_by_workspace_and_claim(key: str) -> None:
    name = job_name_for(WS, key)
    assert name == job_name_for(WS.upper(), key)
    assert name != job_name_for(WS, key + "x")
    assert name.startswith("retrain-")
    assert len(name) <= 64
    assert all(ch.isalnum() or ch == "-" for ch in name)


def test_the_scoring_request_id_follows_the_retraining_job() -> None:
    assert scoring_request_id(WS, "retrain-a") == scoring_request_id(WS, "retrain-a")
    assert scoring_request_id(WS, "retrain-a") != scoring_request_id(WS, "retrain-b")


@given(message=st.text(), event_id=st.text(), trigger=st.text())
def test_tags_say_who_and_why_within_bounds(message: str, event_id: str, trigger: str) -> None:
    tags = retraining_tags(trigger=trigger, event_id=event_id, message=message)
    assert tags[APP_TAG] == "retraining"
    assert all(len(value) <= MESSAGE_LIMIT for value in tags.values())
    assert ("drift-message" in tags) == bool(message)


# ------------------------------------------------------------------------ the drift gate


def _rows(value: object) -> GateReading:
    return GateReading(GateStatus.SUCCESS, rows=[[value, "2026-11-25T00:00:00Z"]])


@pytest.mark.parametrize(
    ("value", "retrain"),
    [(0.5, True), (0.3, True), (0.29999, False), (0, False), (7, True), (-1.0, False)],
)
def test_the_gate_opens_at_or_above_the_threshold(value: float, retrain: bool) -> None:
    verdict = evaluate_gate(_rows(value), 0.3)
    assert verdict.retrain is retrain
    assert verdict.value == value


@pytest.mark.parametrize(
    ("reading", "why"),
    [
        (GateReading(GateStatus.PARTIAL, rows=[[0.9]], error="result too large"), "partial"),
        (GateReading(GateStatus.FAILED, error="HTTP 400 BadArgumentError"), "failed"),
        (GateReading(GateStatus.SUCCESS, rows=[]), "no rows"),
        (GateReading(GateStatus.SUCCESS, rows=[[]]), "no rows"),
        (_rows("0.9"), "not a number"),
        (_rows(None), "not a number"),
        (_rows(True), "not a number"),
        (_rows(math.nan), "not a number"),
        (_rows(math.inf), "not a number"),
    ],
)
def test_an_uncertain_gate_stays_shut_with_its_reason(reading: GateReading, why: str) -> None:
    verdict = evaluate_gate(reading, 0.3)
    assert verdict.retrain is False
    assert why in verdict.reason


@given(value=st.floats(allow_nan=False, allow_infinity=False), threshold=st.floats(-1e9, 1e9))
def test_the_gate_compares_numbers_exactly(value: float, threshold: float) -> None:
    assert evaluate_gate(_rows(value), threshold).retrain is (value >= threshold)


def test_a_submission_in_flight_blocks_others_even_without_a_cooldown() -> None:
    claim = ClaimView("retrain-a", "event:a", NOW - timedelta(seconds=5), True, in_flight=True)
    decision = decide_from_claim(claim, claim_key="event:b", now=NOW, cooldown=timedelta(0))
    assert decision is not None
    assert decision.verdict is Verdict.ACTIVE
    # ...but not its own redelivery, which must finish the submission.
    resumed = decide_from_claim(claim, claim_key="event:a", now=NOW, cooldown=timedelta(0))
    assert resumed is not None
    assert resumed.verdict is Verdict.RESUME


@pytest.mark.parametrize("cooldown", [timedelta(0), timedelta(hours=6)])
def test_a_submission_stuck_in_flight_stops_blocking(cooldown: timedelta) -> None:
    # Within a cooldown too: the jobs are read, as its run may have died before submitting.
    claim = ClaimView("retrain-a", "event:a", NOW - timedelta(hours=1), True, in_flight=True)
    assert decide_from_claim(claim, claim_key="event:b", now=NOW, cooldown=cooldown) is None


def test_text_that_looks_like_a_number_in_a_string_column_is_not_a_drift_value() -> None:
    reading = GateReading(GateStatus.SUCCESS, rows=[["0.9"]], column_types=["string"])
    verdict = evaluate_gate(reading, 0.3)
    assert not verdict.retrain
    assert "not a number" in verdict.reason


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "high"])
def test_a_real_column_that_is_not_a_finite_number_keeps_the_gate_shut(text: str) -> None:
    verdict = evaluate_gate(
        GateReading(GateStatus.SUCCESS, rows=[[text]], column_types=["real"]), 0
    )
    assert not verdict.retrain
    assert "not a number" in verdict.reason


@given(text=LOOKALIKE_NUMBERS)
def test_a_decimal_written_other_than_in_ascii_is_not_a_drift_value(text: str) -> None:
    verdict = evaluate_gate(
        GateReading(GateStatus.SUCCESS, rows=[[text]], column_types=["decimal"]), -math.inf
    )
    assert not verdict.retrain
    assert "not a number" in verdict.reason


def test_a_huge_negative_drift_value_keeps_the_gate_shut() -> None:
    verdict = evaluate_gate(
        GateReading(GateStatus.SUCCESS, rows=[[-(10**400)]], column_types=["long"]), 0.3
    )
    assert not verdict.retrain
    assert "below the threshold" in verdict.reason


def test_a_claim_a_few_minutes_ahead_still_debounces() -> None:
    # Another instance's clock a little ahead is not a claim "from the future".
    from shared.planning.retraining import ClaimView, Verdict, decide_from_claim

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    claim = ClaimView("retrain-x", "event:a", now + timedelta(minutes=3), counts=True)
    decision = decide_from_claim(claim, claim_key="event:b", now=now, cooldown=timedelta(hours=6))
    assert decision is not None
    assert decision.verdict is Verdict.COOLDOWN


def test_a_claim_in_flight_from_a_fast_clock_still_holds_a_twin_back() -> None:
    # Another instance's clock 20 minutes fast, its submission not yet confirmed, and no
    # cooldown: releasing the claim as "from the future" could let a second job through.
    from shared.planning.retraining import ClaimView, Verdict, decide_from_claim

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    claim = ClaimView(
        "retrain-x", "event:a", now + timedelta(minutes=20), counts=True, in_flight=True
    )
    decision = decide_from_claim(claim, claim_key="event:b", now=now, cooldown=timedelta(0))
    assert decision is not None
    assert decision.verdict is Verdict.ACTIVE
