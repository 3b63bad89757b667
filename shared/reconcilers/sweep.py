"""The backstop: reconcile every workspace in scope (events can be lost, late or never sent).

The sweep asks Resource Graph what changed (`Inventory.changed_workspaces`) and reconciles only
that, reading each from ARM as a reconcile always does; when Resource Graph fails or refuses, it
reconciles every workspace ARM lists, slower, and says so."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from azure.core.exceptions import AzureError

from shared.adapters.errors import describe, is_transient
from shared.adapters.read_budget import yielding_reads
from shared.arm import ArmId
from shared.config import Settings
from shared.inventory import Survey, describe_problem
from shared.logs import decision_log
from shared.reconcilers.transient import TransientAzureError, permanent
from shared.reconcilers.workspace import WorkspaceReport, reconcile_workspace, start_run
from shared.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did, per workspace, and which workspaces must be tried again.
    `inventory`: where the workspaces came from; `unchanged`: those skipped as unchanged."""

    workspaces: tuple[WorkspaceReport, ...]
    transient_failures: tuple[str, ...]
    inventory: str = "arm"
    unchanged: int = 0


def settings_digest(settings: Settings) -> str:
    """The settings, canonically, and which of their exemptions are in force: any change of
    either makes every workspace changed (an exemption's end changes no row)."""
    now = datetime.now(UTC)
    in_force = [e.in_force(now) for e in settings.policy_exemptions]
    fields = dataclasses.asdict(settings)
    # Where records go (its connection string a secret) and how fast ARM is read: not rules.
    for name in ("ledger", "arm_reads_burst", "arm_reads_per_second"):
        del fields[name]
    return json.dumps([fields, in_force], sort_keys=True, default=_canonical)


def _canonical(value: object) -> object:
    return sorted(map(str, value)) if isinstance(value, set | frozenset) else str(value)


@yielding_reads()  # the sweep's ARM reads yield to events'
def sweep(
    runtime: Runtime, *, trigger: str, progress: Callable[[ArmId], None] | None = None
) -> SweepReport:
    """Reconcile every concern of every workspace in scope that changed (a workspace created
    under a scope is in the next sweep); one workspace failing does not stop the others,
    nor does a scope that could not be listed (a transient failure, retried by the timer). The
    sweep is one run: Synapse evidence is gathered once, and its workspaces share one remediation
    budget. `progress` is called after each workspace (the CLI's progress bar)."""
    run = start_run(runtime, trigger)
    reports: list[WorkspaceReport] = []
    failures: list[str] = []
    survey: Survey | None = None
    known = runtime.ledger.fingerprints()
    try:
        survey = runtime.inventory.changed_workspaces(known, settings_digest(runtime.settings))
        workspaces, problems = survey.workspaces, survey.problems
        inventory = "resource graph"
    except AzureError as error:
        inventory = f"arm (Resource Graph unavailable: {describe(error)})"
        level = logging.WARNING
        decision_log(
            log, inventory, trigger=trigger, kind="inventory", verdict="fallback", level=level
        )
        workspaces, problems = runtime.inventory.workspaces()
    for scope, unread in problems:
        text = describe_problem(scope, unread)
        decision_log(
            log, text, trigger=trigger, kind="scope", verdict="unread", level=logging.WARNING
        )
        if is_transient(unread):
            failures.append(text)
    settled: dict[str, str] = {}
    for workspace_id in workspaces:
        try:
            if survey is None or _in_scope_now(runtime, workspace_id, trigger):
                report = reconcile_workspace(runtime, workspace_id, run)
                reports.append(report)
                if survey is not None and report.settled():
                    settled[workspace_id.lower()] = survey.fingerprints[workspace_id.lower()]
        except TransientAzureError as error:
            decision_log(
                log,
                str(error),
                trigger=trigger,
                workspace_id=workspace_id,
                kind="workspace",
                verdict="retry",
                level=logging.WARNING,
            )
            failures.append(str(error))
        if progress is not None:
            progress(workspace_id)
    if settled:
        runtime.ledger.keep_fingerprints(settled)
    unchanged = survey.unchanged if survey is not None else 0
    return SweepReport(tuple(reports), tuple(failures), inventory, unchanged)


def _in_scope_now(runtime: Runtime, workspace_id: ArmId, trigger: str) -> bool:
    """Whether ARM still has the workspace in scope (its tags, read now, when a tag scopes):
    Resource Graph's row chose it, ARM decides. A transient failure raises, for a retry."""
    try:
        return runtime.inventory.admit(workspace_id) is not None
    except AzureError as error:
        text = permanent(workspace_id, error)
    decision_log(
        log, text, trigger=trigger, workspace_id=workspace_id, kind="scope", verdict="unread"
    )
    return False
