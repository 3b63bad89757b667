"""From an HTTP request to a validated scoring request, or the problem that refuses it (pure).
Who is calling (401/403) is checked before what they send (415, 413, 400, 422), so an
unauthorised caller learns nothing about the allow-lists."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from shared.arm import ArmId, is_guid, name_of, same_arm_id
from shared.bounds import excerpt
from shared.scoring import contract
from shared.scoring.contract import FORBIDDEN, MAX_BODY_BYTES, UNAUTHENTICATED, Problem
from shared.scoring.inputs import input_path_problem

PRINCIPAL_HEADER = "x-ms-client-principal-id"
# The rest of what App Service authentication forwards: the identity provider, and the caller's
# claims as base64 JSON ({"auth_typ", "claims": [{"typ", "val"}], "name_typ", "role_typ"}).
IDP_HEADER = "x-ms-client-principal-idp"
CLAIMS_HEADER = "x-ms-client-principal"
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
# Entra ID caps a token's group claims (200, then an overage claim): far below this.
MAX_CLAIMS_HEADER = 64 * 1024
_MAX_KEY = 255
_MAX_TRACKING = 256


class RefusedError(Exception):
    def __init__(self, kind: str | Problem, detail: str = "", field: str | None = None) -> None:
        self.problem = kind if isinstance(kind, Problem) else Problem(kind, detail, field)
        super().__init__(self.problem.detail)


@dataclass(frozen=True)
class ScoringRequest:
    endpoint_id: ArmId
    deployment: str | None
    input_type: Literal["uri_folder", "uri_file"]
    input_path: str


@dataclass(frozen=True)
class Caller:
    """Who called and the Logic Apps tracking IDs; `authenticated`: the headers agree as App
    Service authentication (Entra ID) writes them."""

    principal_id: str | None
    workflow_run_id: str | None = None
    client_tracking_id: str | None = None
    authenticated: bool = False


def _header(headers: Mapping[str, str], name: str, limit: int) -> str | None:
    # Headers go to logs and the ledger: printable, bounded. What is not printable ASCII becomes
    # '?' rather than vanishing: a GUID with a NUL inside it is not that GUID.
    cleaned = "".join(
        ch if ch.isascii() and ch.isprintable() else "?" for ch in (headers.get(name) or "").strip()
    )
    return excerpt(cleaned, limit) or None


def _object_ids(encoded: str) -> set[str]:
    """An Entra ID `X-MS-CLIENT-PRINCIPAL`'s object IDs, lower-cased; empty when not one."""
    if len(encoded) > MAX_CLAIMS_HEADER:
        return set()
    try:
        principal = json.loads(base64.b64decode(encoded.strip(), validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return set()
    aad = isinstance(principal, dict) and principal.get("auth_typ") == "aad"
    claims = principal.get("claims") if aad else None
    if not isinstance(claims, list) or not all(isinstance(claim, dict) for claim in claims):
        return set()
    # A value that is not ASCII text can equal no header: kept as "" so that it spoils the set.
    return {
        value.lower() if isinstance(value, str) and value.isascii() else ""
        for claim in claims
        if claim.get("typ") in OBJECT_ID_CLAIMS
        for value in [claim.get("val")]
    }


def caller_of(headers: Mapping[str, str]) -> Caller:
    """The caller and tracking headers. Authenticated only when all App Service authentication
    forwards agrees: the provider is `aad` and every object ID claim of the decoded principal is
    the object ID header (a lone `X-MS-CLIENT-PRINCIPAL-ID` proves nothing)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    sent_id = lowered.get(PRINCIPAL_HEADER, "").strip().lower()
    return Caller(
        principal_id=_header(lowered, PRINCIPAL_HEADER, 64),
        workflow_run_id=_header(lowered, "x-ms-workflow-run-id", _MAX_TRACKING),
        client_tracking_id=_header(lowered, "x-ms-client-tracking-id", _MAX_TRACKING),
        authenticated=bool(sent_id)
        and lowered.get(IDP_HEADER, "").strip() == "aad"
        and _object_ids(lowered.get(CLAIMS_HEADER, "")) == {sent_id},
    )


def authorize(caller: Caller, allowed: frozenset[str]) -> str:
    """The caller's normalised object ID, or `RefusedError` (401 unless authenticated, 403 when
    not allowed). App Service authentication sets the headers and strips any the client sent."""
    if caller.principal_id is None or not caller.authenticated:
        raise RefusedError(UNAUTHENTICATED)
    # Exactly an object ID as Entra ID writes it (any case; no braces or `urn:uuid:` prefix).
    principal = caller.principal_id.lower()
    if not is_guid(principal) or principal not in allowed:
        raise RefusedError(FORBIDDEN)
    return principal


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    value = {name.lower(): value for name, value in headers.items()}.get("idempotency-key")
    if value is None:
        return None
    key = value.strip().strip('"')  # the IETF draft sends it as a quoted string
    if not key or len(key) > _MAX_KEY or not (key.isascii() and key.isprintable()):
        detail = f"expected 1-{_MAX_KEY} printable ASCII characters"
        raise RefusedError("invalid-request", detail, "Idempotency-Key")
    return key


def _is_json(content_type: str | None) -> bool:
    media_type, *parameters = (content_type or "").split(";")
    if not re.fullmatch(r"application/(.*\+)?json", media_type.strip().lower(), re.DOTALL):
        return False
    # JSON is UTF-8 (RFC 8259 §8.1): a body declared in another charset is not read as UTF-8.
    pairs = (parameter.partition("=") for parameter in parameters)
    return all(
        value.strip().strip('"').lower() in ("utf-8", "utf8")
        for name, _, value in pairs
        if name.strip().lower() == "charset"
    )


def _not_strict(why: str) -> RefusedError:
    """A body that Python's json module would read but RFC 8259 does not allow, or that is
    ambiguous: NaN/Infinity, or an object with the same member twice (parsers disagree on
    which one counts, so a proxy and this app could read different requests)."""
    return RefusedError("invalid-request", f"the body is not strict JSON: {why}", "(body)")


def _no_constants(name: str) -> object:
    raise _not_strict(f"{name} is not JSON")


def _unique_members(pairs: list[tuple[str, object]]) -> dict[str, object]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _not_strict("an object has the same member twice")
    return members


def parse_body(content_type: str | None, body: bytes) -> object:
    """The JSON document of a request body, or `RefusedError` (415, 413, 400)."""
    if not _is_json(content_type):
        shown = excerpt(content_type or "none", 100)
        detail = f"Content-Type is {shown!r}; expected application/json"
        raise RefusedError("unsupported-media-type", detail, "Content-Type")
    if len(body) > MAX_BODY_BYTES:
        raise RefusedError("too-large", f"the body may hold at most {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8-sig")  # a leading BOM ignored, as RFC 8259 section 8.1 allows
        return json.loads(text, object_pairs_hook=_unique_members, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: 64 KiB of '[' nests deeper than the parser goes; still bad input.
        detail = "the body is not valid UTF-8 JSON"
        raise RefusedError("invalid-request", detail, "(body)") from None


_JSON_TYPES: dict[str, type] = {"object": dict, "string": str, "boolean": bool, "integer": int}
_KNOWN_KEYWORDS = frozenset(
    {
        "type", "description", "required", "additionalProperties", "properties", "enum",
        "minLength", "maxLength", "pattern", "$ref", "x-ms-summary", "format",
    }
)  # fmt: skip


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    # Schema patterns are ECMA-262, where `$` matches only at the very end; Python's `$` also
    # matches before a final newline ("blue\n" would pass), so it is read as `\Z`.
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


def check(schema: str | Mapping[str, Any], value: object, field: str = "") -> None:
    """Refuse (400, at its dotted path, never repeating it: it may be a secret) the first field of
    `value` breaking `schema` (or the contract's definition so named); unknown keywords raise."""
    if isinstance(schema, str) or "$ref" in schema:
        name = schema if isinstance(schema, str) else str(schema["$ref"])
        schema = contract.DEFINITIONS[name.removeprefix("#/definitions/")]
    if unknown := set(schema) - _KNOWN_KEYWORDS:
        raise NotImplementedError(f"schema keywords not supported: {sorted(unknown)}")
    expected = schema["type"]
    # The exact type: bool is an int in Python; JSON does not mix them.
    if type(value) is not _JSON_TYPES[expected]:
        raise RefusedError("invalid-request", f"expected a JSON {expected}", field or "(body)")
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        prefix = f"{field}." if field else ""
        for name in schema.get("required", []):
            if name not in value:
                raise RefusedError("invalid-request", "is required", prefix + name)
        for name in value if schema.get("additionalProperties") is False else ():
            if name not in properties:
                shown = name if name.isascii() and name.isprintable() and len(name) <= 64 else "?"
                detail = f"is not a known field; expected {sorted(properties)}"
                raise RefusedError("invalid-request", detail, prefix + shown)
        for name, item in value.items():
            if name in properties:
                check(properties[name], item, prefix + name)
    elif isinstance(value, str):
        _check_string(schema, value, field)


def _check_string(schema: Mapping[str, Any], value: str, field: str) -> None:
    if "enum" in schema and value not in schema["enum"]:
        raise RefusedError("invalid-request", f"expected one of {schema['enum']}", field)
    if len(value) < schema.get("minLength", 0):
        raise RefusedError("invalid-request", "must not be empty", field)
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        detail = f"may be at most {schema['maxLength']} characters"
        raise RefusedError("invalid-request", detail, field)
    if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
        detail = f"does not have the expected form ({schema['pattern']})"
        raise RefusedError("invalid-request", detail, field)


def resolve_endpoint(value: str, allowed: Sequence[ArmId]) -> ArmId:
    """The allowed batch endpoint that `value` names: its ARM ID, or a name exactly one has."""
    if value.startswith("/"):
        matches = [endpoint for endpoint in allowed if same_arm_id(value, endpoint)][:1]
        none = "the endpoint is not in SCORING_ALLOWED_ENDPOINTS"
    else:
        # same_arm_id: case-insensitive, ASCII only (a lookalike such as the Kelvin sign, which
        # lower() folds onto 'k', names nothing).
        matches = [endpoint for endpoint in allowed if same_arm_id(name_of(endpoint), value)]
        none = "no endpoint of that name is in SCORING_ALLOWED_ENDPOINTS"
    if len(matches) == 1:
        return matches[0]
    detail = f"{len(matches)} allowed endpoints have that name; send the ARM ID of the one meant"
    raise RefusedError("not-allowed", detail if matches else none, "endpoint")


def validate(document: object, allowed: Sequence[ArmId]) -> ScoringRequest:
    """A checked scoring request from a parsed body, or `RefusedError` (400, 422). Whether its
    input may be read is the starter's check (`service.ScoringStarter.start`), as for any job."""
    check("ScoringRequest", document)
    assert isinstance(document, dict)
    kind, path = document["input"]["type"], document["input"]["path"]
    reason = input_path_problem(path)
    if reason is None and kind == "uri_file" and path.endswith("/"):
        # Azure would accept the job and fail it later; the caller can fix it now.
        reason = "ends with '/', a folder: send type uri_folder, or name a file"
    if reason is not None:
        raise RefusedError("invalid-request", f"the input path {reason}", "input.path")
    endpoint_id = resolve_endpoint(document["endpoint"], allowed)
    input_type = cast(Literal["uri_folder", "uri_file"], kind)
    return ScoringRequest(endpoint_id, document.get("deployment"), input_type, path)
