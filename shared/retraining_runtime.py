"""Wiring for retraining: settings -> clients -> adapters -> the retraining reconciler, built once
per process on first use, without building the other concerns' reconcilers (a drift event's cold
start pays only for what it uses)."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.config import Settings, get_settings
from shared.intake import record_event

if TYPE_CHECKING:
    import azure.functions as func

    from shared.ledger import Ledger
    from shared.reconcilers.retraining import RetrainingReconciler
    from shared.reconcilers.scoring_outcomes import ScoringOutcomes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainingRuntime:
    """What the retraining handlers need."""

    settings: Settings
    ledger: Ledger
    # None when retraining is off (RETRAIN_WORKSPACE_IDS empty).
    reconciler: RetrainingReconciler | None
    # How the scoring jobs the app started ended (over HTTP too: built with retraining off).
    scoring_outcomes: ScoringOutcomes

    def record_event(
        self,
        event: func.EventGridEvent,
        function: str,
        outcome: str,
        reason: str,
        *,
        workspace_id: str = "",
    ) -> None:
        """Log and record one event's outcome (invalid input and failures are warnings), as
        every Event Grid function's intake does."""
        record_event(
            self.ledger,
            event,
            function,
            outcome,
            reason,
            workspace_id=workspace_id,
            kind="ml-event",
        )


@functools.cache
def retraining_runtime_for(settings: Settings) -> RetrainingRuntime:
    from shared.adapters.batch_scoring import BatchScoringAdapter
    from shared.adapters.clients import clients_for
    from shared.adapters.drift_query import DriftQueryAdapter
    from shared.adapters.outcomes import OutcomePublisher
    from shared.adapters.promotion import PromotionAdapter
    from shared.adapters.retraining_jobs import RetrainingJobsAdapter
    from shared.claims import Claims
    from shared.ledger import open_ledger
    from shared.reconcilers.retraining import RetrainingReconciler
    from shared.reconcilers.scoring_outcomes import ScoringOutcomes
    from shared.recorder import Recorder
    from shared.scoring.records import ScoringRecords
    from shared.telemetry import configure_telemetry

    # Every function's first build configures telemetry once (see shared.runtime.runtime_for):
    # a process that only ever handles ML events must send its traces too.
    configure_telemetry()

    clients = clients_for(settings)
    ledger = open_ledger(settings.ledger, clients.token_credential)  # type: ignore[arg-type]
    publisher = (
        OutcomePublisher(settings.outcome_topic_endpoint, clients.token_credential)
        if settings.outcome_topic_endpoint
        else None
    )
    recorder, records = Recorder(ledger, publisher), ScoringRecords(ledger.table)
    scoring = BatchScoringAdapter(clients)
    reconciler = None
    if settings.retraining is not None:
        reconciler = RetrainingReconciler(
            settings,
            RetrainingJobsAdapter(clients),
            scoring,
            DriftQueryAdapter(clients),
            Claims(ledger.table),
            recorder,
            records,
            promotion=PromotionAdapter(clients) if settings.retraining.promotion else None,
        )
    outcomes = ScoringOutcomes(scoring, records, recorder, settings.automation_mode.value)
    return RetrainingRuntime(settings, ledger, reconciler, outcomes)


def retraining_runtime() -> RetrainingRuntime:
    """The process's retraining runtime, from the app settings."""
    return retraining_runtime_for(get_settings())
