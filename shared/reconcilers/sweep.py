"""The backstop (events can be lost or late): reconcile what Resource Graph says changed, or, when
it fails, every workspace ARM lists, and say so; one subscription (a partition) when fanned out."""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from azure.core.exceptions import AzureError

from shared.adapters.errors import TransientAzureError, describe, is_transient, permanent
from shared.adapters.read_budget import yielding_reads
from shared.arm import ArmId
from shared.config import Settings
from shared.inventory import Survey, describe_problem
from shared.logs import decision_log
from shared.reconcilers.run import Run
from shared.reconcilers.workspace import WorkspaceReport, reconcile_workspace, start_run
from shared.runtime import Runtime

log = logging.getLogger(__name__)
# Fingerprints kept at a time: one table transaction.
FINGERPRINTS_BATCH = 100


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
    fields = asdict(settings)
    # Where records go (its connection string a secret) and how fast ARM is read: not rules.
    for name in ("ledger", "arm_reads_burst", "arm_reads_per_second", "sweep_fan_out_workspaces"):
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
    subscription: str | None = None,
) -> SweepReport:
    """Reconcile every workspace in scope that changed (of one `subscription`, a partition, when
    given), as one run (one evidence read, one budget); one failing stops no other. From the CLI:
    `progress` (its bar), `workspaces` (checked in scope, each reconciled), `run` (a saved plan)."""
    run = run or start_run(runtime, trigger)
    warn = functools.partial(decision_log, log, trigger=trigger, level=logging.WARNING)
    reports: list[WorkspaceReport] = []
    failures: list[str] = []
    survey: Survey | None = None
    problems: list[tuple[str, AzureError]] = []
    inventory = "named"
    if workspaces is None:
        known = runtime.ledger.fingerprints(subscription)
        try:
            digest = settings_digest(runtime.settings)
            survey = runtime.inventory.changed_workspaces(known, digest, subscription)
            workspaces, problems = survey.workspaces, survey.problems
            inventory = "resource graph"
        except AzureError as error:
            inventory = f"arm (Resource Graph unavailable: {describe(error)})"
            warn(inventory, kind="inventory", verdict="fallback")
            workspaces, problems = runtime.inventory.workspaces(subscription)
    for scope, unread in problems:
        text = describe_problem(scope, unread)
        warn(text, kind="scope", verdict="unread")
        if is_transient(unread):
            failures.append(text)
    settled: dict[str, str] = {}
    for workspace_id in workspaces:
        try:
            if survey is None or _in_scope_now(runtime, workspace_id, trigger):
                reports.append(report := reconcile_workspace(runtime, workspace_id, run))
                if survey is not None and report.settled():
                    settled[workspace_id.lower()] = survey.fingerprints[workspace_id.lower()]
                # Kept as it goes: a sweep stopped part-way (a timeout) is resumed, not redone.
                if len(settled) == FINGERPRINTS_BATCH:
                    runtime.ledger.keep_fingerprints(settled)
                    settled.clear()
        except TransientAzureError as error:
            warn(str(error), workspace_id=workspace_id, kind="workspace", verdict="retry")
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


# The partitions' queue (AzureWebJobsStorage) and a message's most: a subscription ID in JSON.
PARTITION_QUEUE = "sweep-partitions"
PARTITION_MESSAGE_BYTES = 200


def partitions(runtime: Runtime, trigger: str) -> list[str]:
    """One message per in-scope subscription over `SWEEP_FAN_OUT_WORKSPACES` workspaces; none (the
    sweep runs here) below, or when Resource Graph cannot say (the sweep falls back as it does)."""
    try:
        counts = runtime.inventory.partitions()
    except AzureError as error:
        text = f"no fan-out, Resource Graph unavailable: {describe(error)}"
        decision_log(log, text, trigger=trigger, kind="sweep", verdict="in-process")
        return []
    if sum(counts.values()) <= runtime.settings.sweep_fan_out_workspaces:
        return []
    return [json.dumps({"subscription": subscription}) for subscription in counts]


def partition_of(runtime: Runtime, body: bytes) -> str:
    """The subscription a partition message names, checked against the settings' scopes (anyone
    with the queue's data role can write a message); ValueError says why not."""
    if len(body) > PARTITION_MESSAGE_BYTES:
        raise ValueError(f"message of {len(body)} bytes, over {PARTITION_MESSAGE_BYTES}")
    try:
        subscription = json.loads(body)["subscription"]
        canonical = str(uuid.UUID(subscription))
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise ValueError(f"not {{'subscription': <ID>}}: {type(error).__name__}") from None
    if canonical != subscription.lower():
        raise ValueError("not a subscription ID in its canonical form")
    try:
        covered = runtime.inventory.covers(canonical)
    except AzureError as error:
        raise TransientAzureError(f"scope of {canonical} unread: {describe(error)}") from error
    if not covered:
        raise ValueError(f"subscription {canonical} lies in no scope of the settings")
    return canonical
