"""Bounds on what outside input can make the app store: Table storage refuses an oversized or
oddly-keyed entity, losing the record; keys are derived so two values never share a row."""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

# Kept as they are in a key; '/' becomes ':' (ARM IDs stay readable), everything else is escaped.
_KEY_SAFE = frozenset(string.ascii_letters + string.digits + "-_.")
# Escaped keys longer than this are hashed (Azure allows 512 UTF-16 units; room for a prefix).
MAX_KEY_CHARS = 400
# Per string property, in UTF-16 units: 32 KB, half the property limit; the widest ledger entity
# (13 properties) stays under 420 KB of the 1 MiB entity limit.
PROPERTY_LIMIT = 16_000
# How far ahead of this instance's clock another instance's may be (times in the app's rows).
CLOCK_SKEW = timedelta(minutes=5)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Credentials, each with what is kept before it: a SAS signature (`sig=`, raw or percent-encoded
# once or twice), a connection string's key, an Authorization or x-azureml-token header's value
# (after its scheme), up to the next delimiter; a JWT (an Entra token) anywhere, each run of its
# characters read once; a Teams or Slack webhook's path, all of it its secret. No value holds a
# backslash: in JSON text, a value never ends inside an escape.
_CREDENTIALS = (
    (
        ("sig", "key", "authorization", "token"),
        re.compile(
            r"(?i)(?:(?<![a-z0-9_])|(?<=%26)|(?<=%3f))((?:sig|accountkey|sharedaccesskey)(?:=|%3d|"
            r"%253d)|(?:authorization|x-azureml-token)[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|"
            r"sharedkey)\s+)?)(?:(?!%26)[^&\s\"'#;,<>\\])*"
        ),
    ),
    (("eyj",), re.compile(r"(?<![A-Za-z0-9_\-.])()eyJ[A-Za-z0-9_\-.]{16,}+")),
    (
        ("webhook.office.com/", "hooks.slack.com/"),
        re.compile(r"(?i)(\.webhook\.office\.com/|//hooks\.slack\.com/)[^\s\"'<>\\]*+"),
    ),
)


def held(age: timedelta, span: timedelta) -> bool:
    """Whether what was taken `age` ago still holds for `span`. Dated ahead by more than `span`
    and the skew: no time the app wrote (edited by hand), so it holds nothing, never for ever."""
    return -(span + CLOCK_SKEW) <= age < span


def aware_time(value: object) -> datetime:
    """An ISO 8601 time (or a datetime), ValueError if unreadable. One without an offset (edited
    by hand; the app writes UTC) is UTC, never naive: that cannot be compared with the clock."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def table_key(value: str) -> str:
    """A valid Azure Table key for `value`, different for different values: `/` becomes `:`,
    anything outside `_KEY_SAFE` `~XX` per UTF-8 byte; too long or holding a credential (keys
    are not redacted: read as they are), `~h` and a SHA-256; empty, `~e` (escaping never yields
    `~h` or `~e`)."""
    if not value:
        return "~e"
    # surrogatepass: a lone surrogate (valid in JSON, not in UTF-8) still gets its own key.
    raw = value.encode("utf-8", "surrogatepass")
    # Byte by byte: `_KEY_SAFE` and '/' are ASCII, and every byte of another character is not.
    key = "".join(chr(b) if chr(b) in _KEY_SAFE else ":" if b == 0x2F else f"~{b:02X}" for b in raw)
    if len(key) <= MAX_KEY_CHARS and redacted(value) == value:
        return key
    return "~h" + hashlib.sha256(raw).hexdigest()


def utf16_units(value: str) -> int:
    return len(value) + sum(1 for char in value if ord(char) > 0xFFFF)


# A URL's user info (`https://user:password@host`), up to the last '@' before its path: any
# character RFC 3986 allows there, and those Python's urlsplit also takes, white space too (a
# password may hold some; urlsplit drops line breaks), but not `"<>`, which end a URL in a text.
# Possessive, a scheme only after a character that cannot be in one: linear in the text's length.
_USER_INFO = re.compile(r'(?i)(?<![a-z0-9+.\-])([a-z][a-z0-9+.\-]*+://)(?:[^/?#"<>@]*+@)++')


def redacted(value: str) -> str:
    """`value` with any credential (`_CREDENTIALS`, URL user info) replaced: a credential that
    gets through is never stored, logged or answered."""
    folded = value.casefold()
    for marks, credential in _CREDENTIALS:
        # Each credential holds one of its marks: most text (logged, stored) needs no search.
        if any(mark in folded for mark in marks):
            value = credential.sub(r"\1REDACTED", value)
    return _USER_INFO.sub(r"\1REDACTED@", value) if "@" in value else value


def excerpt(value: object, limit: int) -> str:
    """`value` as text, redacted, then cut to `limit` characters: cut first, a credential cut
    mid-way no longer matches `redacted`'s patterns and part of it would be shown."""
    return redacted(str(value))[:limit]


def redacted_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {redacted_json(name): redacted_json(item) for name, item in value.items()}
    if isinstance(value, list):
        return [redacted_json(item) for item in value]
    return redacted(value) if isinstance(value, str) else value


def bounded(value: str, limit: int = PROPERTY_LIMIT) -> str:
    """`value` as storable text: SAS signatures redacted, lone surrogates replaced, cut to `limit`
    UTF-16 units with a note. Every string the ledger stores or an event carries passes here."""
    text = redacted(_LONE_SURROGATE.sub("\ufffd", value))
    if utf16_units(text) <= limit:
        return text
    # Room for the note; "ignore" drops half a surrogate pair at the cut.
    kept = text.encode("utf-16-le")[: 2 * max(0, limit - 40)].decode("utf-16-le", "ignore")
    return kept + f"…[{len(text) - len(kept)} characters cut]"


def bounded_entity(entity: Mapping[str, Any]) -> dict[str, Any]:
    """Keys as they are (`table_key`'s hold no credential): redacted, a row would be written
    under another key than it is read by (`Microsoft.Authorization/x` is `…authorization:x`)."""
    keys = ("PartitionKey", "RowKey")
    return {k: bounded(v) if isinstance(v, str) and k not in keys else v for k, v in entity.items()}


def entity_bytes(entity: Mapping[str, Any]) -> int:
    """A generous estimate of an entity's size on the wire, for splitting transactions: in JSON,
    a character outside ASCII (or a control one) takes six bytes (`\\uXXXX`)."""
    return 1024 + sum(
        2 * len(json.dumps(name)) + (len(json.dumps(value)) if isinstance(value, str) else 64)
        for name, value in entity.items()
    )
