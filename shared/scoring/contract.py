"""The HTTP scoring API's JSON schema definitions and the checker that applies them: one source
for validation and the published Swagger. The checker refuses keywords it does not implement."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

MAX_BODY_BYTES = 64 * 1024
MAX_INPUT_PATH = 2048
INPUT_TYPES = ("uri_folder", "uri_file")
# Batch deployment and job names: letters, digits, '-' and '_' (what AML accepts).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"
# `shared.ml_events.JOB_NAME` (which allows '.'): every job started must be one it can report on.
JOB_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$"


def field(summary: str, kind: str = "string", **schema: Any) -> dict[str, Any]:
    """A property's (or a parameter's) schema, with its caption for the Logic Apps designer."""
    return {"type": kind, **schema, "x-ms-summary": summary}


# What a started job and an ended one have in common.
_JOB = {
    "name": field("Job name"),
    "status": field("Status"),
    "endpoint": field("Batch endpoint ID"),
    "workspace": field("Workspace ID"),
}
DEFINITIONS: dict[str, dict[str, Any]] = {
    "ScoringRequest": {
        "type": "object",
        "description": "What to score: a batch endpoint, optionally a deployment, and the input.",
        "required": ["endpoint", "input"],
        "additionalProperties": False,
        "properties": {
            "endpoint": field(
                "Batch endpoint",
                minLength=1,
                maxLength=1024,
                description="A batch endpoint in SCORING_ALLOWED_ENDPOINTS: its ARM ID, or "
                "its name when exactly one allowed endpoint has it.",
            ),
            "deployment": field(
                "Deployment",
                minLength=1,
                maxLength=255,
                pattern=NAME_PATTERN,
                description="A deployment of the endpoint; the endpoint's default if absent.",
            ),
            "input": {"$ref": "#/definitions/ScoringInput"},
        },
    },
    "ScoringInput": {
        "type": "object",
        "description": "The data the job reads.",
        "required": ["type", "path"],
        "additionalProperties": False,
        "properties": {
            "type": field(
                "Input type", enum=list(INPUT_TYPES), description="A folder or a single file."
            ),
            "path": field(
                "Input path",
                minLength=1,
                maxLength=MAX_INPUT_PATH,
                pattern=r"^(azureml://datastores/|azureml:|https://)[^?#\s\\]+$",
                description="azureml://datastores/<datastore>/paths/<path> or https://"
                "<account>.blob.core.windows.net/<container>/<path> (or .dfs.), under a prefix "
                "of SCORING_ALLOWED_INPUTS (empty: a datastore of the endpoint's workspace); no "
                "query string (never a SAS token), no '..'.",
            ),
        },
    },
    "ScoringJobAccepted": {
        "type": "object",
        "description": "A scoring job that was started (or found again by its Idempotency-Key).",
        "required": ["name", "status", "endpoint", "workspace", "statusUrl"],
        "properties": _JOB | {"statusUrl": field("Status URL", format="uri")},
    },
    "ScoringJob": {
        "type": "object",
        "description": "A scoring job that has ended: Completed, Failed or Canceled.",
        "required": ["name", "status", "endpoint", "workspace"],
        "properties": _JOB
        | {
            "status": field("Status", enum=["Completed", "Failed", "Canceled"]),
            "deployment": field("Deployment"),
            "startTime": field("Start time"),
            "endTime": field("End time"),
            "outputs": field("Outputs", "object"),
            "error": field("Error"),
        },
    },
    "ScoringDryRun": {
        "type": "object",
        "description": "AUTOMATION_MODE=dry-run: what would have been submitted; nothing was.",
        "required": ["dryRun", "wouldSubmit"],
        "properties": {
            "dryRun": field("Dry run", "boolean"),
            "wouldSubmit": field("Would submit", "object"),
        },
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": field("Problem type"),
            "title": field("Title"),
            "status": field("HTTP status", "integer"),
            "detail": field("Detail"),
            "field": field("Field at fault"),
        },
    },
}

_JSON_TYPES: dict[str, type] = {"object": dict, "string": str, "boolean": bool, "integer": int}
_KNOWN_KEYWORDS = frozenset(
    {
        "type", "description", "required", "additionalProperties", "properties", "enum",
        "minLength", "maxLength", "pattern", "$ref", "x-ms-summary", "format",
    }
)  # fmt: skip


class SchemaViolationError(ValueError):
    """A value does not match its definition; `field` is the dotted path of the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    # Schema patterns are ECMA-262, where `$` matches only at the very end; Python's `$` also
    # matches before a final newline ("blue\n" would pass), so it is read as `\Z`.
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


def check(definition: str, value: object) -> None:
    """Raise `SchemaViolationError` naming the first field of `value` that breaks `definition`;
    messages never repeat the refused value (it may hold a secret)."""
    _check(DEFINITIONS[definition], value, "")


def _check(schema: Mapping[str, Any], value: object, field: str) -> None:
    if "$ref" in schema:
        schema = DEFINITIONS[str(schema["$ref"]).removeprefix("#/definitions/")]
    unknown = set(schema) - _KNOWN_KEYWORDS
    if unknown:
        raise NotImplementedError(f"schema keywords not supported: {sorted(unknown)}")
    expected = schema["type"]
    # bool is an int in Python; JSON does not mix them.
    if not isinstance(value, _JSON_TYPES[expected]) or (
        expected == "integer" and isinstance(value, bool)
    ):
        raise SchemaViolationError(field or "(body)", f"expected a JSON {expected}")
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        prefix = f"{field}." if field else ""
        for name in schema.get("required", []):
            if name not in value:
                raise SchemaViolationError(prefix + name, "is required")
        for name in value if schema.get("additionalProperties") is False else ():
            if name not in properties:
                shown = name if name.isascii() and name.isprintable() and len(name) <= 64 else "?"
                raise SchemaViolationError(
                    prefix + shown, f"is not a known field; expected {sorted(properties)}"
                )
        for name, item in value.items():
            if name in properties:
                _check(properties[name], item, prefix + name)
    elif isinstance(value, str):
        _check_string(schema, value, field)


def _check_string(schema: Mapping[str, Any], value: str, field: str) -> None:
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaViolationError(field, f"expected one of {schema['enum']}")
    if len(value) < schema.get("minLength", 0):
        raise SchemaViolationError(field, "must not be empty")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise SchemaViolationError(field, f"may be at most {schema['maxLength']} characters")
    if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
        raise SchemaViolationError(field, f"does not have the expected form ({schema['pattern']})")
