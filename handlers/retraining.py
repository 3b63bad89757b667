"""`scheduled_retrain`: the retraining timer. First the scoring jobs the app started whose end was
never announced (their event may have been lost); then, for each retraining workspace: start the
scoring a completed retrain is still owed, then ask the drift gate (or, with no `DRIFT_QUERY`,
retrain on schedule)."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import azure.functions as func
from azure.core.exceptions import AzureError

from shared.adapters.errors import describe
from shared.logs import decision_log, escape
from shared.reconcilers.transient import TransientAzureError
from shared.retraining_runtime import retraining_runtime

if TYPE_CHECKING:
    from shared.reconcilers.retraining import Outcome

log = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.function_name("scheduled_retrain")
@bp.timer_trigger(arg_name="timer", schedule="%RETRAIN_SCHEDULE%", run_on_startup=False)
def scheduled_retrain(timer: func.TimerRequest) -> None:
    """Announce scoring jobs that ended unannounced; retrain where the gate says so; raise at the
    end if a workspace failed transiently, after every other workspace had its turn."""
    run_id = uuid.uuid4().hex[:12]
    trigger = f"schedule:{run_id}"
    rt = retraining_runtime()
    failures: list[str] = []
    # Every scoring job the app started (over HTTP too), whether or not retraining is on.
    _turn(trigger, "", lambda: rt.scoring_outcomes.backstop(run_id), failures)
    reconciler = rt.reconciler
    if reconciler is None or rt.settings.retraining is None:
        decision_log(
            log,
            "retraining is off (RETRAIN_WORKSPACE_IDS)",
            trigger=trigger,
            kind="scheduled-retrain",
            verdict="off",
        )
    else:
        for workspace_id in rt.settings.retraining.workspace_ids:
            act = functools.partial(reconciler.on_schedule, workspace_id, run_id)
            _turn(trigger, workspace_id, act, failures)
    if failures:
        raise TransientAzureError("; ".join(failures))


def _turn(
    trigger: str, workspace_id: str, act: Callable[[], Outcome | None], failures: list[str]
) -> None:
    """One step of the run; a failure is logged and kept, and the other steps still run."""
    try:
        outcome = act()
    except TransientAzureError as error:
        failures.append(str(error))
        _failed(trigger, workspace_id, str(error))
        return
    except AzureError as error:  # the drift query, unavailable through its retries
        failures.append(f"workspace {workspace_id}: {describe(error)}")
        _failed(trigger, workspace_id, describe(error))
        return
    except Exception as error:
        # A fault of the app's own: the other workspaces still get their turn, and the
        # run fails at the end so that it shows.
        log.exception("%s: %s", trigger, escape(workspace_id))
        failures.append(f"workspace {workspace_id}: {type(error).__name__}: {error}")
        _failed(trigger, workspace_id, f"{type(error).__name__}: {error}")
        return
    if outcome is None:  # the step logged its own decisions
        return
    decision_log(
        log,
        outcome.summary,
        trigger=trigger,
        workspace_id=workspace_id,
        kind="scheduled-retrain",
        verdict=outcome.outcome,
    )


def _failed(trigger: str, workspace_id: str, why: str) -> None:
    decision_log(
        log,
        why,
        trigger=trigger,
        workspace_id=workspace_id,
        kind="scheduled-retrain",
        verdict="failed",
        outcome="failed: the next run asks again",
        level=logging.WARNING,
    )
