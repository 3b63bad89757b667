"""The backstop: reconcile every workspace in scope (events can be lost, late or never sent)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from shared.adapters.errors import is_transient
from shared.adapters.read_budget import yielding_reads
from shared.arm import ArmId
from shared.inventory import describe_problem
from shared.logs import decision_log
from shared.reconcilers.transient import TransientAzureError
from shared.reconcilers.workspace import WorkspaceReport, reconcile_workspace, start_run
from shared.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did, per workspace, and which workspaces must be tried again."""

    workspaces: tuple[WorkspaceReport, ...]
    transient_failures: tuple[str, ...]


@yielding_reads()  # the sweep's ARM reads yield to events'
def sweep(
    runtime: Runtime, *, trigger: str, progress: Callable[[ArmId], None] | None = None
) -> SweepReport:
    """Reconcile every concern of every workspace in scope, as ARM lists them now (a workspace
    created under a scope is in the next sweep); one workspace failing does not stop the others,
    nor does a scope that could not be listed (a transient failure, retried by the timer). The
    sweep is one run: Synapse evidence is gathered once, and its workspaces share one remediation
    budget. `progress` is called after each workspace (the CLI's progress bar)."""
    run = start_run(runtime, trigger)
    reports: list[WorkspaceReport] = []
    failures: list[str] = []
    workspaces, problems = runtime.inventory.workspaces()
    for scope, error in problems:
        text = describe_problem(scope, error)
        level = logging.WARNING
        decision_log(log, text, trigger=trigger, kind="scope", verdict="unread", level=level)
        if is_transient(error):
            failures.append(text)
    for workspace_id in workspaces:
        try:
            reports.append(reconcile_workspace(runtime, workspace_id, run))
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
    return SweepReport(tuple(reports), tuple(failures))
