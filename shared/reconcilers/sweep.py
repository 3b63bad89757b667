"""The backstop: reconcile every workspace in scope (events can be lost, late or never sent)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

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


def sweep(runtime: Runtime, *, trigger: str) -> SweepReport:
    """Reconcile every concern of every workspace in `ML_WORKSPACE_IDS`; one workspace failing
    does not stop the others. Synapse evidence is gathered once for the whole sweep."""
    cache = EvidenceCache()
    reports: list[WorkspaceReport] = []
    failures: list[str] = []
    for workspace_id in runtime.settings.ml_workspace_ids:
        try:
            reports.append(reconcile_workspace(runtime, workspace_id, trigger=trigger, cache=cache))
        except TransientAzureError as error:
            log.warning("sweep %s: %s will be retried: %s", trigger, workspace_id, error)
            failures.append(str(error))
    return SweepReport(tuple(reports), tuple(failures))
