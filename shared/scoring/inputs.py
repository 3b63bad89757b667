"""Which input URIs a scoring or retraining job may read (pure): no query string (a SAS token
must never reach a job or the ledger) and no `..`, raw or percent-encoded; a job reads with the
app's identity, so under a prefix of `SCORING_ALLOWED_INPUTS` (empty: a datastore of its own
workspace), never in the host storage account. Reasons never repeat the refused value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, unquote_to_bytes

from shared.arm import same_arm_id
from shared.scoring.contract import MAX_INPUT_PATH

# The clouds' storage endpoint suffixes (`storageEndpointSuffix` in ARM's cloud metadata).
STORAGE_SUFFIXES = ("core.windows.net", "core.chinacloudapi.cn", "core.usgovcloudapi.net")
_STORE = r"(?P<store>[A-Za-z0-9_]{1,255})"
_DATASTORE = re.compile(
    r"azureml://(?:subscriptions/(?P<subscription>[0-9A-Fa-f-]{36})/resource[gG]roups/"
    r"(?P<group>[A-Za-z0-9_\-.()]{1,90})/workspaces/(?P<workspace>[A-Za-z0-9][A-Za-z0-9_-]{2,32})/)?"
    rf"datastores/{_STORE}(?:/(?:paths/(?P<path>.*))?)?"
)
_ASSET = re.compile(
    r"azureml:(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,254}):(?P<version>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})"
)
# Account: 3-24 lower-case letters and digits; container: 3-63, with single inner hyphens.
_STORAGE = re.compile(
    r"https://(?P<account>[a-z0-9]{3,24})\.(?:blob|dfs)\."
    rf"(?P<suffix>{'|'.join(re.escape(suffix) for suffix in STORAGE_SUFFIXES)})/"
    r"(?P<container>[a-z0-9](?:-?[a-z0-9]){2,62})(?:/(?P<path>.*))?"
)
FORMS = (
    "azureml://datastores/<datastore>/paths/<path>, azureml:<data asset>:<version>, or "
    "https://<account>.blob.core.windows.net/<container>/<path> (or .dfs., or another "
    "cloud's storage suffix)"
)


def input_path_problem(path: str) -> str | None:
    """Why `path` may not be a scoring input (its form only), or None."""
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
    if match is not None and match.group("path"):
        return _path_problem(match.group("path"))
    return None if _ASSET.fullmatch(path) else f"is not one of the accepted forms: {FORMS}"


def _path_problem(relative: str) -> str | None:
    # A '%' not followed by two hex digits: storage would refuse the URL or read it otherwise.
    if re.search(r"%(?![0-9A-Fa-f]{2})", relative):
        return "must percent-encode as '%' and two hex digits"
    segments = [_decoded(segment) for segment in relative.split("/")]
    if any(segment is None for segment in segments):
        return "must not percent-encode anything but printable UTF-8 text"
    if any(segment in (".", "..") for segment in segments):
        return "must not have a '.' or '..' segment"
    for hidden, what in (("/\\", "a path separator"), ("?#", "a query string or fragment")):
        if any(ch in segment for segment in segments if segment for ch in hidden):
            return f"must not hide {what} in percent-encoding"
    if "//" in "/" + relative:
        return "must not have an empty path segment"
    return None


def _decoded(segment: str) -> str | None:
    """Percent-decoded until nothing changes (a layer that decodes twice must not find `..`, a
    separator or '?'); None when not printable UTF-8."""
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


@dataclass(frozen=True)
class Location:
    """Whose store (("datastore", workspace ID or "" for the job's own, name) or ("storage",
    account, suffix, container): blob and dfs are the same data), and the decoded segments."""

    store: tuple[str, ...]
    segments: tuple[str, ...]

    def within(self, prefix: Location, workspace_id: str) -> bool:
        if self.store[0] == prefix.store[0] == "datastore":
            ours, theirs = self.store[1] or workspace_id, prefix.store[1] or workspace_id
            same = same_arm_id(ours, theirs) and self.store[2] == prefix.store[2]
        else:
            same = self.store == prefix.store
        return same and self.segments[: len(prefix.segments)] == prefix.segments


@dataclass(frozen=True)
class AllowedInputs:
    """`SCORING_ALLOWED_INPUTS`, and the host's storage accounts, which no job may read."""

    prefixes: tuple[Location, ...] = ()
    host_accounts: frozenset[str] = frozenset()


def _location(text: str) -> Location | None:
    if (match := _DATASTORE.fullmatch(text)) is not None:
        subscription, group, name = match.group("subscription", "group", "workspace")
        scope = f"/subscriptions/{subscription}/resourceGroups/{group}/providers"
        workspace = f"{scope}/Microsoft.MachineLearningServices/workspaces/{name}" if name else ""
        store: tuple[str, ...] = ("datastore", workspace, match.group("store").lower())
    else:
        if (match := _STORAGE.fullmatch(text)) is None:
            return None
        store = ("storage", match.group("account"), match.group("suffix"), match["container"])
    path = (match.group("path") or "").rstrip("/")
    return Location(store, tuple(unquote(segment) for segment in path.split("/")) if path else ())


def allowed_prefix(text: str, host_accounts: frozenset[str]) -> Location:
    """One prefix of `SCORING_ALLOWED_INPUTS`, or ValueError saying why not."""
    scheme, separator, rest = text.partition("://")
    host, slash, path = rest.partition("/")
    normalised = f"{scheme.lower()}{separator}{host.lower()}{slash}{path}"
    location = _location(normalised) if normalised.isascii() else None
    if location is None or "?" in text or "#" in text or len(text) > MAX_INPUT_PATH:
        raise ValueError(
            "expected azureml://datastores/<datastore>/[paths/<folder>/] or https://<account>."
            f"blob.<storage suffix>/<container>/[<folder>/], storage suffix one of "
            f"{', '.join(STORAGE_SUFFIXES)}; no query string"
        )
    reason = _path_problem(path.partition("/paths/")[2] if scheme.lower() == "azureml" else path)
    if location.segments and reason is not None:
        raise ValueError(f"its path {reason}")
    if location.store[0] == "storage" and location.store[1] in host_accounts:
        raise ValueError("is the app's own host storage account, which no job may read")
    return location


def input_not_allowed(path: str, workspace_id: str, allowed: AllowedInputs) -> str | None:
    """Why a job in `workspace_id` may not read `path`, or None: the one check for HTTP
    requests, `SCORING_INPUT` and `RETRAIN_INPUTS`."""
    if (reason := input_path_problem(path)) is not None:
        return reason
    if (location := _location(path)) is None:
        return (
            "is a data asset, whose storage cannot be checked against SCORING_ALLOWED_INPUTS: "
            "send its datastore path or storage URL"
        )
    if location.store[0] == "storage" and location.store[1] in allowed.host_accounts:
        return "is in the app's own host storage account, which no job may read"
    if location.store[0] == "datastore" and not same_arm_id(
        location.store[1] or workspace_id, workspace_id
    ):
        return "names a datastore of another workspace than the job's"
    if allowed.prefixes:
        inside = any(location.within(prefix, workspace_id) for prefix in allowed.prefixes)
        return None if inside else "is not under any prefix of SCORING_ALLOWED_INPUTS"
    if location.store[0] == "datastore":
        return None
    return (
        "is not a datastore path of the job's workspace (SCORING_ALLOWED_INPUTS is empty: "
        "only those are read)"
    )
