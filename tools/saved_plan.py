"""A saved plan (`plan --out FILE`, read by `apply FILE`): versioned JSON holding the writes
the plan called for, what each was decided on, and the settings it was made under.

Each change is a decision's ledger row as the planner made it: the write (kind, verdict, the
workspace and the resource) and its reason and evidence, which name the values observed (the
Synapse listing that proves a connection, a cluster's maxNodeCount). `apply FILE` plans again
and writes only when the same decisions come out of the state it reads then.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.arm import ArmId, is_arm_id
from shared.ledger import ActionRecord
from shared.outcome import NO_CHANGE
from shared.reconcilers.run import Change, change
from tools.plan_view import instant, one_line

if TYPE_CHECKING:
    from shared.config import Settings

FORMAT = "synapse-aml-automation/plan"
VERSION = 1
MAX_BYTES = 64 * 2**20
FIELDS = ("workspace", "kind", "verdict", "subject", "reason", "evidence")


class PlanFileError(ValueError):
    """The file is not a saved plan these settings may apply; the message says why."""


@dataclass(frozen=True)
class SavedPlan:
    workspaces: tuple[ArmId, ...]
    changes: frozenset[Change]


def fingerprint(settings: Settings) -> str:
    """The settings a plan was decided under, as the sweep digests them (all but the ledger,
    which `plan` does not open), and not who runs it (AZURE_CLIENT_ID: a pipeline may plan with
    a reader and apply with a writer), nor which exemptions are in force: one expiring between
    plan and apply changes no setting, and `apply` plans again to see whether the plan holds."""
    from shared.reconcilers.sweep import settings_digest

    fields = json.loads(settings_digest(replace(settings, azure_client_id=None)))[0]
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def fields(record: ActionRecord) -> dict[str, str]:
    """A change as the file (and `apply --json`) shows it."""
    values = (record.target_id, record.kind, record.verdict, record.subject, record.reason)
    return dict(zip(FIELDS, (*values, record.evidence), strict=True))


def dump(
    settings: Settings,
    workspaces: Sequence[str],
    changes: Sequence[ActionRecord],
    plan: Sequence[dict[str, Any]],
) -> str:
    """The plan file's text; `plan` is what `plan --json` prints, for people to read."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "createdAt": datetime.now(UTC).isoformat(),
        "settings": fingerprint(settings),
        "workspaces": list(workspaces),
        "changes": [fields(record) for record in changes],
        "plan": plan,
    }
    return json.dumps(document, indent=2, default=instant) + "\n"


def load(path: Path, settings: Settings) -> SavedPlan:
    """The saved plan at `path`, made under these `settings`; `PlanFileError` otherwise."""
    from tools.files import FileReadError, read_regular_file

    label = f"plan file {path}"
    fix = "pass a file written by `plan --out`"
    try:
        document = json.loads(read_regular_file(path, MAX_BYTES, label=label, fix=fix))
    except FileReadError as error:
        raise PlanFileError(str(error)) from None
    except (ValueError, RecursionError):
        raise PlanFileError(f"{label} is not JSON: {fix}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise PlanFileError(f"{label} is not a saved plan: {fix}")
    if document.get("version") != VERSION:
        raise PlanFileError(
            f"{label} is plan format version {one_line(repr(document.get('version')))}; this "
            f"CLI applies version {VERSION}: plan again"
        )
    if document.get("settings") != fingerprint(settings):
        raise PlanFileError(
            f"{label} was made under other settings (scope, modes, allow-lists, endpoints or "
            "exemptions differ): apply it with the settings it was planned with, "
            "or plan again"
        )
    workspaces, changes = document.get("workspaces"), document.get("changes")
    if (
        not isinstance(workspaces, list)
        or not all(isinstance(w, str) and is_arm_id(w) for w in workspaces)
        or not isinstance(changes, list)
        or not all(
            isinstance(c, dict) and all(isinstance(c.get(f), str) for f in FIELDS) for c in changes
        )
    ):
        raise PlanFileError(f"{label} is damaged (its workspaces or changes): plan again")
    return SavedPlan(
        tuple(ArmId(w) for w in workspaces),
        frozenset(
            change(
                ActionRecord(
                    c["workspace"],
                    c["kind"],
                    c["verdict"],
                    c["subject"],
                    c["reason"],
                    "",
                    NO_CHANGE,
                    "",
                    c["evidence"],
                )
            )
            for c in changes
        ),
    )
