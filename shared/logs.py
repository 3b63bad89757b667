"""Log lines a person can follow, and a monitoring system can filter.

Every line about an event or a decision says what triggered it (`event:<id>`, `sweep:<run>`,
`cli:<run>`), the workspace, the kind of decision and the verdict, both in its text and as
structured fields (`extra=`): Application Insights shows those as custom dimensions.

Text from outside (event IDs, subjects, names chosen by requesters) is escaped: a newline or
an escape sequence in an event ID cannot forge a log line or repaint a terminal.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

# The structured fields of a decision line (custom dimensions in Application Insights).
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
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape(value: object, limit: int = LOG_TEXT_LIMIT) -> str:
    """`value` as one printable line: control, format and separator characters (and the
    backslash, so the escaping can be read back unambiguously) written as Python escapes;
    longer than `limit` characters, cut with a note."""
    text = str(value)
    cut = len(text) - limit
    if cut > 0:
        text = text[:limit]
    escaped = "".join(
        char if char.isprintable() and char != "\\" else _escape_char(char) for char in text
    )
    return escaped + (f"…[{cut} characters cut]" if cut > 0 else "")


def _short(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1] or "-"


def decision_fields(
    *,
    trigger: str,
    workspace_id: str = "",
    kind: str,
    verdict: str,
    outcome: str = "",
    subject_id: str = "",
) -> dict[str, str]:
    """The structured fields of one decision, escaped (see `DECISION_FIELDS`)."""
    event_id = trigger.removeprefix("event:") if trigger.startswith("event:") else ""
    fields = {
        "trigger": trigger,
        "event_id": event_id,
        "workspace_id": workspace_id,
        "kind": kind,
        "verdict": verdict,
        "outcome": outcome,
        "subject_id": subject_id,
    }
    return {name: escape(value) for name, value in fields.items()}


def decision_log(
    logger: logging.Logger,
    message: str,
    *,
    trigger: str,
    workspace_id: str = "",
    kind: str,
    verdict: str,
    outcome: str = "",
    subject_id: str = "",
    level: int = logging.INFO,
    extra: Mapping[str, object] | None = None,
) -> None:
    """Log one decision (or one event's fate) as a line that names its trigger, workspace,
    kind and verdict, with the same values as structured fields.

    `message` is free text (usually the reason); it is escaped like every other value. The line
    reads `[event:<id>] <workspace> <kind> <verdict> -> <outcome> <subject>: <message>`.
    `extra` adds structured fields of the caller's own (`workflow_run_id`, `rule_id`, ...),
    escaped like the rest; they cannot replace the decision fields.
    """
    fields = decision_fields(
        trigger=trigger,
        workspace_id=workspace_id,
        kind=kind,
        verdict=verdict,
        outcome=outcome,
        subject_id=subject_id,
    )
    workspace = escape(_short(workspace_id)) if workspace_id else "-"
    subject = f" {escape(_short(subject_id))}" if subject_id else ""
    result = f" -> {fields['outcome']}" if outcome else ""
    logger.log(
        level,
        "[%s] %s %s %s%s%s: %s",
        fields["trigger"],
        workspace,
        fields["kind"],
        fields["verdict"],
        result,
        subject,
        escape(message),
        extra={
            **{
                name: "" if value is None else escape(value)
                for name, value in (extra or {}).items()
                if name not in fields
            },
            **fields,
        },
    )
