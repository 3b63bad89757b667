"""One run (an event, a sweep, a CLI run) and its one write path: reconcilers return decisions,
the run executes them (dry-run, intent, call, Azure's answer, transient or permanent); a transient
failure stops the workspace and is raised only after everything was recorded."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from azure.core.exceptions import AzureError, ResourceNotFoundError

from shared.adapters import answers
from shared.adapters.errors import describe, for_workspace, is_transient, permanent
from shared.arm import ArmId
from shared.ledger import ActionRecord, ActionSink
from shared.logs import decision_log
from shared.model import JudgedAnswerError
from shared.outcome import (
    GONE,
    INTENT,
    NO_CHANGE,
    NOT_ATTEMPTED,
    PLANNED,
    Outcome,
    Status,
    gone,
    noted,
)
from shared.policy.budget import RemediationBudget, Stop, explain_hourly

if TYPE_CHECKING:
    from shared.claims import Claims
    from shared.model import SynapseEvidence

log = logging.getLogger(__name__)

DEFERRED = "deferred"
# Why a remediation was deferred, besides the run's budget (`Stop`).
GUARD = "guard"
# Why a write was not attempted: another run holds it (`Claims.take_remediation_slot`).
TAKEN = "taken"

Change = tuple[str, str, str, str, str, str]


def change(r: ActionRecord) -> Change:
    """A write as a saved plan holds it: what, on what, and the planner's reason and evidence."""
    return (r.target_id.lower(), r.kind, r.verdict, r.subject.lower(), r.reason, r.evidence)


def tally(values: Iterable[str]) -> str:
    """'2 approve, 1 leave-pending': how many of each value, in name order."""
    return ", ".join(f"{n} {value}" for value, n in sorted(Counter(values).items()))


@dataclass(frozen=True)
class Decision:
    record: ActionRecord
    write: Callable[[], str] | None = None
    # The outcome when there is nothing to write (or nothing may be written).
    outcome: Outcome = NO_CHANGE
    # A remediation: counted against the run's budget, deferred by it or by its guard.
    budgeted: bool = False
    message: str | None = None
    ledger: bool = True
    logged: bool = True
    # A note rather than a decision: the line has no outcome and no subject.
    bare: bool = False
    level: int | None = None
    extra: Mapping[str, object] | None = None


@dataclass
class Run:
    """`preview`: plan only (the CLI's `plan`): nothing written, nothing recorded. `only`: a
    saved plan's changes (`apply FILE`): any other write is refused."""

    trigger: str
    dry_run: bool
    budget: RemediationBudget
    sink: ActionSink | None
    # Synapse evidence by lower-cased workspace ID: gathered once per run.
    cache: dict[str, SynapseEvidence] = field(default_factory=dict)
    preview: bool = False
    # Where each workspace's remediations of the hour are counted (None: the run's own).
    claims: Claims | None = None
    only: frozenset[Change] | None = None
    # Every write the run's decisions called for, and what became of it.
    changes: list[tuple[ActionRecord, Outcome]] = field(default_factory=list, init=False)
    # Where the decision lines go (a `Trail`: its reconciler's logger).
    logger: logging.Logger = log
    _transient: Exception | None = field(default=None, init=False)
    # The workspaces found deleted (their reads answered 404): said once a run, not per concern.
    _gone: set[str] = field(default_factory=set, init=False)
    # Tells this run's holds of writes from another's (a twin delivery's too).
    holder: str = field(default_factory=lambda: uuid.uuid4().hex[:16], init=False)

    def row(
        self,
        target_id: str,
        kind: str,
        verdict: str,
        subject: str,
        reason: str,
        mode: str,
        evidence: str = "",
        *,
        notify: bool = True,
    ) -> ActionRecord:
        # The outcome is a placeholder: `record` writes the decision's own.
        row = (target_id, kind, verdict, subject, reason, mode, NO_CHANGE, self.trigger)
        return ActionRecord(*row, evidence, notify)

    @property
    def announces(self) -> bool:
        """The sweep, which repeats every few minutes, records findings but does not announce."""
        return not self.trigger.startswith("sweep:")

    def execute(self, decisions: Sequence[Decision]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for decision in decisions:
            try:
                outcomes.append(outcome := self._decide(decision))
            except BaseException:  # the app's own fault, Ctrl-C (`apply`): what was made, as made
                self._transient = None  # what stops the run is raised, not a retry
                done = [*zip(decisions, outcomes, strict=False)]
                with contextlib.suppress(AzureError):  # the ledger down: the intent rows stay
                    self.record(decision.record.target_id, done)
                raise
            if decision.write is not None:
                self.changes.append((decision.record, outcome))
        return outcomes

    def _decide(self, decision: Decision) -> Outcome:
        if self._transient is not None:
            return NOT_ATTEMPTED
        if decision.write and self.only is not None and change(decision.record) not in self.only:
            # Read again for this run, the state no longer calls for the saved write.
            return Outcome(Status.REFUSED, "not in the saved plan: the state changed; plan again")
        if decision.budgeted and decision.outcome.status is not Status.DEFERRED:
            stop = self.budget.stop()
            if stop is not None:
                return Outcome(Status.DEFERRED, self.budget.explain(stop), stop.value)
        if decision.write is None:
            return decision.outcome
        if (held := self._hold(decision)) is not None:
            return held
        outcome = self._write(decision)
        if self.claims is not None and outcome.status is not Status.APPLIED:
            with contextlib.suppress(AzureError):  # else it lapses with its lease
                self.claims.release_hold(
                    decision.record.target_id, self._holding(decision), datetime.now(UTC)
                )
        if decision.budgeted and outcome.attempted:
            # A planned (dry-run) write counts as the real one would.
            self.budget.spend(failed=outcome.failed)
        return outcome

    def _hold(self, decision: Decision) -> Outcome | None:
        """Hold the write for this run (kept in the ledger, across runs), a remediation with one
        of the workspace's slots of the hour: None when taken, else the skip when another run holds
        it (that run applies, records and announces it) or the deferral. A ledger that cannot count
        defers a remediation; for any other write, it is a failed write."""
        workspace_id, now = decision.record.target_id, datetime.now(UTC)
        limit = self.budget.per_hour if decision.budgeted else None
        try:
            if self.claims is not None:
                hold = self._holding(decision)
                free_at = self.claims.take_remediation_slot(workspace_id, limit, now, hold)
            elif limit is not None:
                free_at = self.budget.hour_slot(workspace_id, limit, now)
            else:
                return None
        except AzureError as error:
            if limit is None:  # as a failed write: a transient one stops the workspace
                if (outcome := judged(error)).status is Status.RETRY:
                    self._transient = error
                return outcome
            reason = (
                f"{Stop.HOURLY_LIMIT}: the ledger could not count this workspace's remediations "
                f"of the hour ({describe(error)}); deferred to a later run"
            )
        else:
            if free_at is None:
                return None
            if isinstance(free_at, str):
                why = f"taken by another run ({free_at}): left to it, or to a run after its lease"
                return Outcome(Status.SKIPPED, why, TAKEN)
            if limit is None:  # never seen: other runs' holds kept changing the row
                why = "the ledger's row kept changing; left to a later run"
                return Outcome(Status.SKIPPED, why)
            reason = explain_hourly(limit, free_at)
        return Outcome(Status.DEFERRED, reason, Stop.HOURLY_LIMIT.value)

    def _holding(self, decision: Decision) -> tuple[str, str]:
        """The write (its evidence: an assignment's principal) as held, and this run."""
        r = decision.record
        return f"{r.kind}\n{r.verdict}\n{r.subject.lower()}\n{r.evidence}", self.holder

    def _write(self, decision: Decision) -> Outcome:
        if self.dry_run or self.preview:
            return PLANNED
        assert decision.write is not None
        record_intent(self.sink, decision.record)
        try:
            return Outcome(Status.APPLIED, decision.write())
        except ResourceNotFoundError as error:  # deleted since this run read it
            return gone(describe(error))
        except (AzureError, JudgedAnswerError) as error:
            if (outcome := judged(error)).status is Status.RETRY:
                self._transient = error
            return outcome

    def record(self, workspace_id: str, rows: Sequence[tuple[Decision, Outcome]]) -> None:
        """Ledger rows (one call), then one decision line each; raises the transient failure
        that stopped the workspace, after recording it. A preview records and logs nothing."""
        if self.preview:
            return
        records = []
        for decision, outcome in rows:
            record = replace(decision.record, outcome=outcome)
            if decision.budgeted and outcome.status is Status.DEFERRED:
                by = outcome.by
                # The sweep announces neither the guard's nor the hour's deferrals; a run's stop
                # is announced once. Its own verdict (`PolicyRemediation.Deferred`).
                notify = self.announces or by not in (GUARD, Stop.HOURLY_LIMIT)
                if by != GUARD:
                    notify = notify and self.budget.first_announcement(Stop(by))
                evidence = f"{record.verdict}: {by}"
                record = replace(record, verdict=DEFERRED, evidence=evidence, notify=notify)
            # Taken: announced by the run that holds it. Gone: nothing happened to announce.
            if outcome.by in (TAKEN, GONE):
                record = replace(record, notify=False)
            if decision.ledger:
                records.append(record)
            if decision.logged:
                decision_log(
                    self.logger,
                    decision.message if decision.message is not None else record.reason,
                    trigger=self.trigger,
                    workspace_id=record.target_id,
                    kind=record.kind,
                    verdict=decision.record.verdict,
                    outcome="" if decision.bare else str(outcome),
                    subject_id="" if decision.bare else record.subject,
                    level=decision.level or (logging.ERROR if outcome.failed else logging.INFO),
                    extra=decision.extra,
                )
        if records and self.sink is not None:
            self.sink.record_actions(records)
        transient, self._transient = self._transient, None
        if transient is not None:
            raise for_workspace(workspace_id, transient) from transient

    def not_reconciled(
        self,
        workspace_id: str,
        kind: str,
        error: AzureError | JudgedAnswerError | str,
        *,
        mode: str,
        verdict: str = "not-reconciled",
        outcome: str = "not reconciled",
    ) -> str:
        """Why the workspace's `kind` was not reconciled, recorded; a transient error is raised.
        A deleted workspace (a 404: a concern reads only the workspace and its children): once."""
        text = error if isinstance(error, str) else permanent(workspace_id, error)
        if deleted := isinstance(error, ResourceNotFoundError):
            if self.found_gone(workspace_id):  # said by an earlier concern
                return text
            self._gone.add(workspace_id.lower())
        # Deleted is no failure to read: its own verdict, which on-call's alerts do not select.
        row = self.row(workspace_id, kind, GONE if deleted else verdict, workspace_id, text, mode)
        note = Decision(row, bare=True, level=logging.WARNING)
        self.record(workspace_id, [(note, gone(text) if deleted else noted(outcome))])
        return text

    def found_gone(self, workspace_id: str) -> bool:
        return workspace_id.lower() in self._gone

    def settle(self, workspace_id: str, decisions: Sequence[Decision]) -> list[Outcome]:
        outcomes = self.execute(decisions)
        self.record(workspace_id, list(zip(decisions, outcomes, strict=True)))
        return outcomes


def judged(error: Exception) -> Outcome:
    """What a failed call came to; a guard that no longer holds just before the write defers it."""
    if isinstance(error, answers.GuardNoLongerHoldsError):
        return Outcome(Status.DEFERRED, str(error), GUARD)
    if isinstance(error, JudgedAnswerError):
        return Outcome(Status.NOT_APPLIED, str(error))
    return Outcome(Status.RETRY if is_transient(error) else Status.FAILED, describe(error))


def record_intent(sink: ActionSink | None, record: ActionRecord) -> None:
    """Record `record` as an intent (never announced); a ledger failure raises before the write.
    Should the outcome not reach the ledger, the intent row says what was about to be written."""
    if sink is not None:
        sink.record_actions([replace(record, outcome=INTENT, notify=False)])


@dataclass
class Trail:
    """One request outside a workspace run (retraining, promotion, scoring outcomes, a scoring
    start): a ledger row and decision line a decision (a run's `record`), a write's intent first."""

    sink: ActionSink
    log: logging.Logger
    mode: str
    workspace_id: ArmId
    trigger: str
    run: Run = field(init=False)
    # This attempt's own: tells its writes from a twin's (the same trigger) when an answer is lost.
    attempt: str = field(init=False, default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.run = Run(self.trigger, False, RemediationBudget(0), self.sink, logger=self.log)

    def record(
        self,
        kind: str,
        verdict: str,
        subject: str,
        reason: str,
        outcome: Outcome,
        *,
        evidence: str = "",
        notify: bool = True,
        level: int | None = None,
    ) -> None:
        fields = (kind, verdict, subject, reason, self.mode, evidence)
        row = self.run.row(self.workspace_id, *fields, notify=notify)
        self.run.record(self.workspace_id, [(Decision(row, level=level), outcome)])

    def intent(self, kind: str, verdict: str, subject: str) -> None:
        row = self.run.row(self.workspace_id, kind, verdict, subject, "about to write", self.mode)
        record_intent(self.sink, row)

    def failure(
        self,
        kind: str,
        subject: str,
        error: Exception,
        *,
        reason: str = "Azure ML stayed unavailable through the retries",
        what: str = "",
    ) -> Outcome:
        """What a failed call came to (`judged`), not recorded; a transient one is recorded (not
        announced) and raised, naming the workspace (and `what`): the trigger runs again."""
        outcome = judged(error)
        if outcome.status is Status.RETRY:  # only an AzureError is transient (`is_transient`)
            self.record(kind, "retry", subject, reason, outcome, notify=False)
            where = f"{self.workspace_id}: {what}" if what else self.workspace_id
            raise for_workspace(where, error) from error
        return outcome

    def read_failed(self, kind: str, subject: str, error: Exception, why: str, **retry: str) -> str:
        """A failed read, recorded (`read`, Failed), its detail returned; transient: `failure`."""
        detail = self.failure(kind, subject, error, **retry).detail
        self.record(kind, "read", subject, why, Outcome(Status.FAILED, detail))
        return detail
