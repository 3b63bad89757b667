"""The backstop: reconcile every workspace in scope (events can be lost, late or never sent)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.policy.budget import RemediationBudget
from shared.reconcilers.evidence import EvidenceCache
from shared.reconcilers.transient import TransientAzureError
from shared.reconcilers.workspace import WorkspaceReport, reconcile_workspace
from shared.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did, per workspace, and which workspaces must be tried again."""

    workspaces: tuple[WorkspaceReport, ...]
    transient_failures: tuple[str, ...]


def sweep(
    runtime: Runtime, *, trigger: str, budget: RemediationBudget | None = None
) -> SweepReport:
    """Reconcile every concern of every workspace in `ML_WORKSPACE_IDS`; one workspace failing
    does not stop the others. Synapse evidence is gathered once for the whole sweep, and the
    sweep is one run: its workspaces share one remediation budget (`MAX_REMEDIATIONS_PER_RUN`),
    a new one per call unless the caller's run brings its own."""
    cache = EvidenceCache()
    if budget is None:
        budget = RemediationBudget(runtime.settings.max_remediations_per_run)
    reports: list[WorkspaceReport] = []
    failures: list[str] = []
    for workspace_id in runtime.settings.ml_workspace_ids:
        try:
            reports.append(
                reconcile_workspace(
                    runtime, workspace_id, trigger=trigger, cache=cache, budget=budget
                )
            )
        except TransientAzureError as error:
            log.warning("sweep %s: %s will be retried: %s", trigger, workspace_id, error)
            failures.append(str(error))
    return SweepReport(tuple(reports), tuple(failures))
