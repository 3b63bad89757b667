"""Which input URIs a scoring job may read (pure).

Three forms and nothing else: `azureml://datastores/<datastore>/paths/<path>`,
`azureml:<data asset>:<version>`, and `https://<account>.blob.core.windows.net/<container>/<path>`
(or `.dfs.`). No query string or fragment: a SAS token must never reach a job or the ledger (the
job reads with its own identity). No `..` segment, raw or percent-encoded. At most 2,048
characters. Reasons never repeat the refused value.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from shared.scoring.contract import MAX_INPUT_PATH

_DATASTORE = re.compile(r"azureml://datastores/(?P<store>[A-Za-z0-9_]{1,255})/paths/(?P<path>.+)")
_ASSET = re.compile(
    r"azureml:(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,254}):(?P<version>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})"
)
# Storage account: 3-24 lower-case letters and digits; container: 3-63, lower-case letters,
# digits and single hyphens, starting and ending with a letter or digit.
_STORAGE = re.compile(
    r"https://(?P<account>[a-z0-9]{3,24})\.(?P<service>blob|dfs)\.core\.windows\.net/"
    r"(?P<container>[a-z0-9](?:-?[a-z0-9]){2,62})/(?P<path>.+)"
)
FORMS = (
    "azureml://datastores/<datastore>/paths/<path>, azureml:<data asset>:<version>, or "
    "https://<account>.blob.core.windows.net/<container>/<path> (or .dfs.core.windows.net)"
)


def input_path_problem(path: str) -> str | None:
    """Why `path` may not be a scoring input, or None when it may."""
    if len(path) > MAX_INPUT_PATH:
        return f"may be at most {MAX_INPUT_PATH} characters"
    if "?" in path or "#" in path:
        return (
            "must not have a query string or fragment (send no SAS token: the job reads the "
            "data with its own identity)"
        )
    if not path.isascii() or not path.isprintable() or any(ch.isspace() for ch in path):
        return "must be printable ASCII without spaces"
    if "\\" in path:
        return "must not contain a backslash"
    match = _DATASTORE.fullmatch(path) or _STORAGE.fullmatch(path)
    if match is None:
        if _ASSET.fullmatch(path):
            return None
        return f"is not one of the accepted forms: {FORMS}"
    relative = match.group("path")
    if _BAD_ESCAPE.search(relative):
        return "must percent-encode as '%' and two hex digits"
    segments = [_decoded(segment) for segment in relative.split("/")]
    if any(segment is None for segment in segments):
        return "must not percent-encode anything but printable UTF-8 text"
    if any(segment in (".", "..") for segment in segments):
        return "must not have a '.' or '..' segment"
    if any(ch in segment for segment in segments if segment for ch in "/\\"):
        return "must not hide a path separator in percent-encoding"
    if any(ch in segment for segment in segments if segment for ch in "?#"):
        return "must not hide a query string or fragment in percent-encoding"
    if "//" in "/" + relative:
        return "must not have an empty path segment"
    return None


# A '%' not followed by two hex digits: storage would refuse the URL or read it otherwise.
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _decoded(segment: str) -> str | None:
    """A path segment percent-decoded until nothing changes (a layer that decodes twice must
    not find `..`, a separator, a '?' or a control character either), or None when the result
    is not printable UTF-8."""
    raw = segment.encode("ascii")
    # Each round that changes something shortens it, so this ends; bounded all the same.
    for _ in range(len(raw) + 1):
        decoded = unquote_to_bytes(raw)
        if decoded == raw:
            break
        raw = decoded
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None
