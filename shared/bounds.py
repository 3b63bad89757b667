"""Bounds on what outside input can make the app store: table keys and property values.

Event IDs, subjects and resource URIs come from whoever can publish to the topic, and names and
reasons partly from whoever requested a connection. Azure Table storage refuses a key over
1 KiB or with `/ \\ # ?` or control characters, a property over 64 KiB and an entity over 1 MiB;
Event Grid refuses an event over 1 MB. A refusal would raise out of the handler and lose the
record, so every value is bounded before it is stored or published, and keys are derived so that
two different values can never share a row.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping
from typing import Any

# Kept as they are in a key; '/' becomes ':' (ARM IDs stay readable), everything else is escaped.
_KEY_SAFE = frozenset(string.ascii_letters + string.digits + "-_.")
# Escaped keys longer than this are hashed. Azure allows 1 KiB (512 UTF-16 code units); a prefix
# such as "actions:" must still fit in front.
MAX_KEY_CHARS = 400
# Per string property, in UTF-16 code units (what the table counts: 2 bytes each). 16,000 units
# are 32 KB: half of the 64 KiB property limit, and the ledger's widest entity (13 properties)
# stays under 420 KB, well inside the 1 MiB entity limit.
PROPERTY_LIMIT = 16_000
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# A SAS signature, `sig=` raw or percent-encoded (once or twice, `%26sig%3D` in an encoded URL
# too), up to the next delimiter.
_SAS_SIGNATURE = re.compile(
    r"(?i)(?:(?<![a-z0-9_])|(?<=%26)|(?<=%3f))(sig(?:=|%3d|%253d))(?:(?!%26)[^&\s\"'#;,<>])*"
)


def table_key(value: str) -> str:
    """A valid Azure Table key for `value`; different values always get different keys.

    Letters, digits, `-`, `_` and `.` are kept, `/` becomes `:`, and every other character is
    written as `~XX` per UTF-8 byte (so `:` and `~` themselves are escaped, and the mapping can
    be reversed). A result longer than `MAX_KEY_CHARS` is replaced by `~h` and the SHA-256 of the
    value; the empty value is `~e`. Neither can be the result of escaping, where `~` is always
    followed by two upper-case hex digits.
    """
    if not value:
        return "~e"
    parts: list[str] = []
    for char in value:
        if char in _KEY_SAFE:
            parts.append(char)
        elif char == "/":
            parts.append(":")
        else:
            # surrogatepass: a lone surrogate (valid in JSON, not in UTF-8) still gets its own key.
            parts.extend(f"~{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    key = "".join(parts)
    if len(key) <= MAX_KEY_CHARS:
        return key
    return "~h" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def utf16_units(value: str) -> int:
    """The length Azure Table storage counts: UTF-16 code units."""
    return len(value) + sum(1 for char in value if ord(char) > 0xFFFF)


def redacted(value: str) -> str:
    """`value` with the signature of any SAS token in it replaced: settings and requests refuse
    SAS tokens, and one that gets through all the same is never stored or published."""
    return _SAS_SIGNATURE.sub(r"\1REDACTED", value)


def bounded(value: str, limit: int = PROPERTY_LIMIT) -> str:
    """`value` as storable text: any SAS signature redacted, lone surrogates replaced (they are
    not valid UTF-8), cut to `limit` UTF-16 code units with a note saying how much was cut.
    Every string the ledger stores and every outcome event field passes through here."""
    text = redacted(_LONE_SURROGATE.sub("\ufffd", value))
    if utf16_units(text) <= limit:
        return text
    kept: list[str] = []
    room = limit - 40  # for the note
    used = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > room:
            break
        kept.append(char)
        used += width
    return "".join(kept) + f"…[{len(text) - len(kept)} characters cut]"


def bounded_entity(entity: Mapping[str, Any], limit: int = PROPERTY_LIMIT) -> dict[str, Any]:
    """The entity with every string property bounded (keys are made by `table_key`)."""
    return {
        name: bounded(value, limit) if isinstance(value, str) else value
        for name, value in entity.items()
    }


def entity_bytes(entity: Mapping[str, Any]) -> int:
    """A generous estimate of an entity's size on the wire, for splitting transactions."""
    return 1024 + sum(
        2 * utf16_units(name) + (2 * utf16_units(value) if isinstance(value, str) else 16)
        for name, value in entity.items()
    )
