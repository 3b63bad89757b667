"""Reading saved Event Grid events (a dead-letter blob, a captured event) for `replay`.

A file that cannot be read as events is one clear error (`EventFileError`). Inside a readable
file, each item is checked on its own (`check_event`), so that one bad item in a dead-letter
batch does not hold back the others.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tools.files import FileReadError, json_where, read_regular_file

# Event Grid delivers at most 1 MB per event and dead-letters events one per blob: 64 MiB is
# thousands of events, more than one replay should hold.
MAX_FILE_BYTES = 64 * 2**20


class EventFileError(ValueError):
    """The file as a whole cannot be read as Event Grid events; the message says why."""


def read_events(path: Path) -> list[Any]:
    """The items of an events file: one event object, or an array of them (as dead-letter
    blobs hold). Items are not checked here; see `check_event`."""
    try:
        # Bounded, regular files only: /dev/zero never ends, a FIFO without a writer blocks.
        raw = read_regular_file(
            path,
            MAX_FILE_BYTES,
            label=str(path),
            fix="give the path of a saved event file",
            too_large="replay it in smaller files (a JSON array of events each)",
        )
    except FileReadError as error:
        raise EventFileError(str(error)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise EventFileError(
            f"{path} is not UTF-8 text (byte {error.start}): save the events as UTF-8 JSON"
        ) from None
    if not text.strip():
        raise EventFileError(f"{path} is empty: expected an Event Grid event or an array of them")
    try:
        content = json.loads(text)
    except RecursionError:
        raise EventFileError(f"{path} is nested too deeply to be an Event Grid event") from None
    except ValueError as error:
        raise EventFileError(
            f"{path} is not JSON{json_where(error)}: save the events as JSON, one Event Grid "
            "event or an array of them"
        ) from None
    if isinstance(content, dict):
        return [content]
    if not isinstance(content, list):
        raise EventFileError(
            f"{path} holds a JSON {_json_type(content)}: expected an Event Grid event object "
            "or an array of them"
        )
    if not content:
        raise EventFileError(f"{path} holds an empty array: there are no events to replay")
    return content


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    return "object"


def check_event(item: object) -> str | None:
    """Why `item` cannot be delivered as an Event Grid schema event, or None when it can.

    Only what delivery needs is checked (an object with string `id`, `eventType` and
    `subject`); the function's own intake judges the rest and records it.
    """
    if not isinstance(item, dict):
        return f"a JSON {_json_type(item)}, not an Event Grid event object"
    if "specversion" in item:
        return "a CloudEvents event: replay takes the Event Grid schema"
    for field in ("id", "eventType", "subject"):
        value = item.get(field)
        if not isinstance(value, str) or not value:
            return f"`{field}` is {'missing' if value is None else 'not a non-empty string'}"
    return None
