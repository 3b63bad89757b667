"""Log lines: outside text cannot forge a line, and every decision line names its context."""

from __future__ import annotations

import logging
import re
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.bounds import redacted
from shared.logs import DECISION_FIELDS, decision_log, escape

any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200)
_ESCAPE = re.compile(r"\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|U([0-9a-f]{8})|(.))")


def _unescape(text: str) -> str:
    named = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}

    def one(match: re.Match[str]) -> str:
        code = match.group(1) or match.group(2) or match.group(3)
        return chr(int(code, 16)) if code else named[match.group(4)]

    return _ESCAPE.sub(one, text)


@given(any_text)
def test_escaped_text_is_one_printable_line(value: str) -> None:
    result = escape(value)

    assert result.isprintable()
    assert len(result.splitlines()) <= 1


@given(any_text)
def test_escaping_can_be_read_back_so_two_texts_never_look_alike(value: str) -> None:
    # All but a credential: two texts that differ only in one read alike.
    assert _unescape(escape(value)) == redacted(value)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    secret=st.text(alphabet=string.ascii_letters + string.digits + "-._~%!$&'()*+,;=:"),
    around=any_text,
)
def test_a_decision_line_never_carries_a_urls_credential(
    secret: str, around: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"https://svc:pw-{secret}@fraud.eastus.inference.ml.azure.com/score"
    logger = logging.getLogger("tests.credentials")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        decision_log(
            logger,
            f"{around} refused {url}",
            trigger=f"event:{url}",
            workspace_id=url,
            kind="batch-scoring",
            verdict="start",
            subject_id=url,
            extra={"scoringUri": url},
        )
    [record] = caplog.records
    assert f"pw-{secret}" not in record.getMessage()
    assert f"pw-{secret}" not in str(record.__dict__)


def test_long_text_is_cut_with_a_note() -> None:
    result = escape("x" * 5000, limit=100)

    assert result.startswith("x" * 100)
    assert result.endswith("[4900 characters cut]")


def test_a_newline_in_an_event_id_cannot_forge_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    forged = "evt-1\nINFO shared.intake: [event:evt-2] mlw-prod event reconciled"
    with caplog.at_level(logging.INFO):
        decision_log(
            logging.getLogger("test"),
            "reason\x1b[2J",
            trigger=f"event:{forged}",
            kind="event",
            verdict="invalid",
        )

    (record,) = caplog.records
    assert "\n" not in record.getMessage()
    assert "\x1b" not in record.getMessage()
    assert "\\n" in record.getMessage()


def test_a_decision_line_carries_trigger_workspace_kind_and_verdict_in_text_and_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    workspace = (
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices"
        "/workspaces/mlw-prod"
    )
    with caplog.at_level(logging.INFO):
        decision_log(
            logging.getLogger("test"),
            "listed by syn-analytics",
            trigger="event:abc-123",
            workspace_id=workspace,
            kind="private-endpoint-connection",
            verdict="approve",
            outcome="applied: now Approved",
            subject_id=f"{workspace}/privateEndpointConnections/pe-1",
        )

    (record,) = caplog.records
    assert record.getMessage() == (
        "[event:abc-123] mlw-prod private-endpoint-connection approve -> applied: now Approved "
        "pe-1: listed by syn-analytics"
    )
    fields = {name: getattr(record, name) for name in DECISION_FIELDS}
    assert fields == {
        "trigger": "event:abc-123",
        "event_id": "abc-123",
        "workspace_id": workspace,
        "kind": "private-endpoint-connection",
        "verdict": "approve",
        "outcome": "applied: now Approved",
        "subject_id": f"{workspace}/privateEndpointConnections/pe-1",
    }


def test_a_sweep_line_has_its_run_and_no_event_id(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        decision_log(
            logging.getLogger("test"),
            "2 reconciled",
            trigger="sweep:r1",
            kind="sweep",
            verdict="done",
        )

    (record,) = caplog.records
    assert record.getMessage() == "[sweep:r1] - sweep done: 2 reconciled"
    assert getattr(record, "trigger") == "sweep:r1"  # noqa: B009 - set through `extra`
    assert getattr(record, "event_id") == ""  # noqa: B009


def test_a_typed_outcome_reads_as_its_text(caplog: pytest.LogCaptureFixture) -> None:
    from shared.outcome import Outcome, Status

    applied = Outcome(Status.APPLIED, "started on fraud-scoring/blue\nforged")
    with caplog.at_level(logging.INFO):
        decision_log(
            logging.getLogger("test"),
            "ok",
            trigger="http:s",
            kind="k",
            verdict="v",
            outcome=applied,
        )

    (record,) = caplog.records
    assert (
        record.getMessage()
        == "[http:s] - k v -> applied: started on fraud-scoring/blue\\nforged: ok"
    )
    assert getattr(record, "outcome") == "applied: started on fraud-scoring/blue\\nforged"  # noqa: B009
