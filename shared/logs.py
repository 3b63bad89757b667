"""Decision log lines: trigger, workspace, kind and verdict in the text and as structured fields
(Application Insights custom dimensions). Outside text is escaped: a newline or an escape
sequence in an event ID cannot forge a log line or repaint a terminal; a credential in it (a
URL's user info, a SAS signature) is redacted."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from shared.bounds import redacted
from shared.outcome import Outcome

DECISION_FIELDS = (
    "trigger",
    "event_id",
    "workspace_id",
    "kind",
    "verdict",
    "outcome",
    "subject_id",
)
LOG_TEXT_LIMIT = 2_000
# The note a decision line leaves on the error it tells of (`telemetry.operation` reads it).
REPORTED = "reported: its decision line is written"


def escape(value: object, limit: int = LOG_TEXT_LIMIT) -> str:
    """`value` as one printable line: non-printable characters (and the backslash, so it reads
    back unambiguously) as Python escapes, credentials redacted; cut with a note beyond `limit`
    characters."""
    text = redacted(str(value))
    cut = len(text) - limit
    escaped = "".join(
        char if char.isprintable() and char != "\\" else char.encode("unicode_escape").decode()
        for char in text[:limit]
    )
    return escaped + (f"…[{cut} characters cut]" if cut > 0 else "")


def _short(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1] or "-"


def decision_log(
    logger: logging.Logger,
    message: str,
    *,
    trigger: str,
    workspace_id: str = "",
    kind: str,
    verdict: str,
    outcome: Outcome | str = "",
    subject_id: str = "",
    level: int = logging.INFO,
    extra: Mapping[str, object] | None = None,
    error: BaseException | None = None,
) -> None:
    """Log `[event:<id>] <workspace> <kind> <verdict> -> <outcome> <subject>: <message>`, every
    value escaped, with the fields (and `extra`, which cannot replace them) structured; `error`,
    the failure it tells of, is noted as reported."""
    event_id = trigger.removeprefix("event:") if trigger.startswith("event:") else ""
    values = (trigger, event_id, workspace_id, kind, verdict, outcome, subject_id)
    fields = {name: escape(value) for name, value in zip(DECISION_FIELDS, values, strict=True)}
    own = {k: "" if v is None else escape(v) for k, v in (extra or {}).items() if k not in fields}
    workspace = escape(_short(workspace_id)) if workspace_id else "-"
    subject = f" {escape(_short(subject_id))}" if subject_id else ""
    result = f" -> {fields['outcome']}" if outcome else ""
    args = (fields["trigger"], workspace, fields["kind"], fields["verdict"], result, subject)
    logger.log(level, "[%s] %s %s %s%s%s: %s", *args, escape(message), extra={**own, **fields})
    if error is not None and not reported(error):
        error.add_note(REPORTED)


def reported(error: BaseException | None) -> bool:
    """Whether a decision line told of `error` or of an error it was raised in handling (a ledger
    failing to record a failure, its line already written, is that failure)."""
    while error is not None:
        if REPORTED in getattr(error, "__notes__", ()):
            return True
        error = error.__cause__ or error.__context__
    return False
