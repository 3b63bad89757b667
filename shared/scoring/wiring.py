"""The scoring service for the process's settings, built on first use.

Kept apart from `shared.runtime` on purpose: an HTTP request needs the ledger table and the batch
scoring adapter, not the reconcilers and their SDKs, and its first answer must be fast.
"""

from __future__ import annotations

import functools

from shared.config import Settings, get_settings
from shared.scoring.service import ScoringService


@functools.cache
def service_for(settings: Settings) -> ScoringService:
    """One service per settings value: adapter over the shared clients, records in the ledger."""
    from shared.adapters.batch_scoring import BatchScoringAdapter
    from shared.adapters.clients import clients_for
    from shared.ledger import open_ledger
    from shared.scoring.records import ScoringRecords
    from shared.telemetry import configure_telemetry

    # Once per process, as every other function's first build does (shared.runtime).
    configure_telemetry()
    clients = clients_for(settings)
    ledger = open_ledger(settings.ledger, clients.token_credential)  # type: ignore[arg-type]
    return ScoringService(
        BatchScoringAdapter(clients), ScoringRecords(ledger.table), dry_run=settings.dry_run
    )


def scoring_service() -> ScoringService:
    """The process's scoring service, from the app settings."""
    return service_for(get_settings())
