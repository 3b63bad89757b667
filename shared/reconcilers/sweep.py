"""The backstop (events can be lost or late): reconcile what Resource Graph says changed, or, when
it fails, every workspace ARM lists, and say so."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from azure.core.exceptions import AzureError

from shared.adapters.errors import describe, is_transient
from shared.adapters.read_budget import yielding_reads
from shared.arm import ArmId
from shared.config import Settings
from shared.inventory import Survey, describe_problem
from shared.logs import decision_log
from shared.reconcilers.run import Run
from shared.reconcilers.transient import TransientAzureError, permanent
from shared.reconcilers.workspace import WorkspaceReport, reconcile_workspace, start_run
from shared.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    workspaces: tuple[WorkspaceReport, ...]
    transient_failures: tuple[str, ...]
    inventory: str = "arm"
    unchanged: int = 0


def settings_digest(settings: Settings) -> str:
    """The settings and which exemptions are in force: a change makes every workspace changed."""
    now = datetime.now(UTC)
    in_force = [e.in_force(now) for e in settings.policy_exemptions]
    fields = dataclasses.asdict(settings)
    # Where records go (its connection string a secret) and how fast ARM is read: not rules.
    for name in ("ledger", "arm_reads_burst", "arm_reads_per_second"):
        del fields[name]
    return json.dumps(
        [fields, in_force],
        sort_keys=True,
        default=lambda v: sorted(map(str, v)) if isinstance(v, set | frozenset) else str(v),
    )


@yielding_reads()  # the sweep's ARM reads yield to events'
def sweep(
    runtime: Runtime,
    *,
    trigger: str,
    progress: Callable[[ArmId], None] | None = None,
    workspaces: Sequence[ArmId] | None = None,
    run: Run | None = None,
) -> SweepReport:
    """Reconcile every workspace in scope that changed, as one run (one evidence read, one
    budget); one failing stops no other. `progress`: called after each (the CLI's bar). The
    CLI may name the `workspaces` (checked in scope: each is reconciled, changed or not) and the
    `run` (a saved plan's)."""
    run = run or start_run(runtime, trigger)
    reports: list[WorkspaceReport] = []
    failures: list[str] = []
    survey: Survey | None = None
    problems: list[tuple[str, AzureError]] = []
    inventory = "named"
    if workspaces is None:
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
    """Resource Graph's row chose it, ARM decides; a transient failure raises."""
    try:
        return runtime.inventory.admit(workspace_id) is not None
    except AzureError as error:
        text = permanent(workspace_id, error)
    decision_log(
        log, text, trigger=trigger, workspace_id=workspace_id, kind="scope", verdict="unread"
    )
    return False
