"""Operator CLI: see what the app would do, make it so, or replay a dead-lettered event.

    python -m tools.cli plan [--workspace ID] [--out FILE] [--detailed-exitcode]
    python -m tools.cli apply [--workspace ID | FILE]   # everything in scope, or a saved plan
    python -m tools.cli replay EVENT.json               # deliver saved events to their function
    python -m tools.cli export-policy [--out DIR] [--scope ID]  # the rules as Azure Policy

Every command takes `--json` (machine-readable output on stdout; logs stay on stderr). Settings
come from the environment, or from a Functions `local.settings.json` (`--settings`, before or
after the command). Credentials are `DefaultAzureCredential`'s: `az login` on a laptop, the
managed identity in Azure.

Exit codes: 0 done (`plan --detailed-exitcode`: nothing to change); 1 Azure or the ledger failed
(or an event failed: try again later); 2 `plan --detailed-exitcode`: changes planned; 3 `apply
FILE`: the saved plan no longer holds (plan again); 64 bad usage or input (EX_USAGE: a setting,
a file, an event, a workspace out of scope); 130 interrupted (Ctrl-C; the writes made so far
are recorded). Every error is one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from shared.bounds import redacted
from tools import plan_view
from tools.plan_view import instant, one_line, short

if TYPE_CHECKING:
    from shared.arm import ArmId
    from shared.config import Settings
    from shared.reconcilers.run import Run
    from shared.reconcilers.workspace import WorkspacePlan
    from shared.runtime import Runtime
    from tools.saved_plan import SavedPlan

SETTINGS_FILE = "local.settings.json"
# A Functions settings file holds a few dozen settings; App Service keeps app settings far
# smaller than this.
MAX_SETTINGS_FILE_BYTES = 2**20
FAILURE = 1
# Terraform's `-detailed-exitcode`: 2 is "changes planned", so bad usage has a code of its own.
CHANGES = 2
STALE = 3
USAGE = 64  # sysexits.h EX_USAGE
INTERRUPTED = 130  # a shell's code for SIGINT


class CliError(Exception):
    """An error that ends the command: one line for the operator, and the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (the usage is one `--help` away): the sandbox's too."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message}; see `{self.prog} --help`", USAGE)


# -- settings --------------------------------------------------------------------------------


def load_settings_file(path: Path) -> None:
    """Put a local.settings.json's `Values` into the environment (the environment wins)."""
    from tools.files import FileReadError, json_where, read_regular_file

    fix = "pass a Functions local.settings.json (see local.settings.sample.json)"
    try:
        # Bounded, regular files only: /dev/zero never ends, a FIFO without a writer blocks.
        text = read_regular_file(
            path, MAX_SETTINGS_FILE_BYTES, label=f"settings file {path}", fix=fix
        ).decode("utf-8-sig")
    except FileReadError as error:
        raise CliError(str(error), USAGE) from None
    except UnicodeDecodeError as error:
        raise CliError(f"settings file {path} cannot be read ({error}): {fix}", USAGE) from None
    try:
        content = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise CliError(
            f"settings file {path} is not valid JSON{json_where(error)}: {fix}", USAGE
        ) from None
    values = content.get("Values", {}) if isinstance(content, dict) else None
    if not isinstance(values, dict):
        raise CliError(
            f"settings file {path} has no `Values` object of settings: {fix}", USAGE
        ) from None
    if content.get("IsEncrypted") is True:  # its values are ciphertext, not settings
        raise CliError(
            f"settings file {path} is encrypted (IsEncrypted): decrypt it with "
            "`func settings decrypt`, or set the settings in the environment",
            USAGE,
        )
    for name, value in values.items():
        if value is None:
            continue  # `null`: not set, as the Functions host reads it
        text = value if isinstance(value, str) else json.dumps(value)
        try:
            os.environ.setdefault(name, text)
        except (ValueError, OSError):
            # An empty name, one with `=`, or a NUL anywhere cannot be an environment variable.
            raise CliError(
                f"settings file {path} has a setting that cannot be an environment variable: "
                f"{one_line(repr(name))}: {fix}",
                USAGE,
            ) from None


def _settings(*, without_ledger: bool = False) -> Settings:
    from shared.config import SettingsError, get_settings, load_settings

    try:
        if without_ledger:
            return load_settings(os.environ, without_ledger=True)
        return get_settings()
    except SettingsError as error:
        raise CliError(
            f"configuration error: {one_line(error)} (set it in the environment or in "
            "the --settings file)",
            USAGE,
        ) from None


def _check_credential(settings: Settings) -> None:
    """Ask for an ARM token once, up front: without one nothing can be read, and the credential
    chain's own explanation is many lines long."""
    from azure.core.exceptions import AzureError

    from shared.adapters.clients import credential

    try:
        credential(settings.azure_client_id).get_token(settings.arm_scope)
    except AzureError as error:
        raise CliError(
            f"no Azure credential: {one_line(getattr(error, 'message', error))} "
            "(run `az login`, or check AZURE_CLIENT_ID and the managed identity; "
            "--verbose shows each credential tried)",
            FAILURE,
        ) from None


def _ledger_error(settings: Settings, error: BaseException) -> CliError:
    from shared.adapters.errors import describe

    where = (
        "LEDGER_TABLE_ENDPOINT" if settings.ledger.table_endpoint else "LEDGER_CONNECTION_STRING"
    )
    return CliError(
        f"the ledger (table {settings.ledger.table_name}) cannot be reached: "
        f"{one_line(describe(error))} (check {where}; locally, start Azurite)",
        FAILURE,
    )


def _runtime(settings: Settings) -> Runtime:
    """The runtime with its ledger open, or a one-line error."""
    from azure.core.exceptions import AzureError

    from shared.runtime import runtime_for

    try:
        rt = runtime_for(settings)
        rt.ledger  # noqa: B018 (opened now: its failure is reported here, in one line)
        return rt
    except (AzureError, ValueError) as error:
        raise _ledger_error(settings, error) from None


def _unreachable(error: BaseException) -> bool:
    from azure.core.exceptions import ServiceRequestError

    return isinstance(error.__cause__ or error, ServiceRequestError)


# -- plan ------------------------------------------------------------------------------------


def _plan_workspace(rt: Runtime, workspace_id: ArmId, run: Run) -> WorkspacePlan:
    from azure.core.exceptions import AzureError

    from shared.adapters.errors import TransientAzureError, describe
    from shared.reconcilers.workspace import WorkspacePlan, plan_workspace

    try:
        return plan_workspace(rt, workspace_id, run)
    except (TransientAzureError, AzureError) as error:
        text = str(error) if isinstance(error, TransientAzureError) else describe(error)
        if _unreachable(error):
            # Every later workspace would wait through the same retries: stop here.
            raise CliError(
                f"Azure cannot be reached: {one_line(text)} (check ARM_ENDPOINT, "
                "SYNAPSE_DEV_ENDPOINT and the network)",
                FAILURE,
            ) from None
        return WorkspacePlan(workspace_id, error=text)


def _targets(rt: Runtime, wanted: Sequence[str]) -> tuple[list[ArmId], list[str]]:
    """The workspaces named, as the app spells them, and those of them not in scope."""
    from azure.core.exceptions import AzureError

    from shared.adapters.errors import describe
    from shared.arm import same_arm_id

    found: list[ArmId] = []
    outside: list[str] = []
    for candidate in wanted:
        try:
            admitted = rt.inventory.admit(candidate)
        except AzureError as error:
            raise CliError(
                f"whether {one_line(candidate)} is in scope cannot be read: "
                f"{one_line(describe(error))}",
                FAILURE,
            ) from None
        if admitted is None:
            outside.append(candidate)
        elif not any(same_arm_id(admitted, other) for other in found):
            found.append(admitted)
    return found, outside


def _workspaces(
    rt: Runtime, wanted: Sequence[str] | None
) -> tuple[list[ArmId], list[tuple[str, Any]]]:
    """`--workspace` targets (each in scope, or a usage error), else every workspace in scope
    and the scopes that could not be listed."""
    from shared.inventory import canonical_workspace

    if not wanted:
        return rt.inventory.workspaces()
    # Told apart from "not in scope" before anything is read: the fix is the ID, not the scope.
    if (typo := next((w for w in wanted if canonical_workspace(w) is None), None)) is not None:
        raise CliError(
            f"--workspace {one_line(typo)} is not the ARM ID of an Azure ML workspace: expected "
            "/subscriptions/<guid>/resourceGroups/<group>/providers/"
            "Microsoft.MachineLearningServices/workspaces/<name>",
            USAGE,
        )
    found, outside = _targets(rt, wanted)
    if outside:
        raise CliError(
            f"--workspace {one_line(outside[0])} is not a workspace in scope (ML_SCOPES, "
            "ML_WORKSPACE_IDS, ML_SCOPE_EXCLUDE, ML_SCOPE_TAG): `plan` lists those that are",
            USAGE,
        )
    return found, []


def _preview(rt: Runtime, workspaces: Sequence[ArmId], label: str) -> list[WorkspacePlan]:
    """Each workspace's plan."""
    from shared.reconcilers.workspace import start_run
    from tools import terminal

    # One run, previewed: its remediations share one budget, as `apply` would.
    run = start_run(rt, f"cli:{uuid.uuid4().hex[:12]}", preview=True)
    result: list[WorkspacePlan] = []
    with terminal.progress(terminal.stderr(), label, len(workspaces)) as step:
        for workspace_id in workspaces:
            result.append(_plan_workspace(rt, workspace_id, run))
            step(workspace_id)
    return result


def _print_json(value: object) -> None:
    # Azure's words (reasons, IDs it answered) are in it, as in a log line: redacted as those.
    print(redacted(json.dumps(value, indent=2, default=instant)))


def cmd_plan(args: argparse.Namespace) -> int:
    from shared.adapters.errors import describe
    from shared.runtime import Runtime
    from tools import saved_plan, terminal

    # Read-only: no ledger is opened, so none needs to be configured.
    settings = _settings(without_ledger=True)
    _check_credential(settings)
    rt = Runtime(settings)  # a preview run: planning opens no ledger and writes nothing
    workspaces, problems = _workspaces(rt, args.workspace)
    plans = _preview(rt, workspaces, "planning")
    result = [plan_view.plan_item(plan) for plan in plans]
    changes = [record for plan in plans for record in plan.changes]
    failed: list[tuple[str, str]] = [(p.workspace_id, p.error) for p in plans if p.error]
    failed += [(scope, describe(error)) for scope, error in problems]
    if args.json:
        _print_json(result)
    else:
        out = terminal.stdout()
        out.print(
            f"plan: {len(result)} workspaces, mode {settings.automation_mode.value}, "
            f"policy {settings.policy_mode.value}; read-only (writes nothing, uses no ledger); "
            f"{len(changes)} changes",
            markup=False,
            soft_wrap=True,
        )
        from tools.policy_export import CONFLICTS

        for conflict in CONFLICTS:
            out.print(f"conflict: {conflict}", markup=False, soft_wrap=True)
        for plan in plans:
            plan_view.print_plan(out, plan)
    for workspace, error in failed:
        print(f"error: {short(workspace)} could not be read: {one_line(error)}", file=sys.stderr)
    if failed:
        if args.out:
            print(f"error: no plan written to {args.out}: the plan is incomplete", file=sys.stderr)
        return FAILURE
    if args.out:
        text = saved_plan.dump(settings, workspaces, changes, result)
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as error:
            raise CliError(f"cannot write {args.out}: {one_line(error)}", USAGE) from None
        print(f"saved the plan ({len(changes)} changes) to {args.out}", file=sys.stderr)
    return CHANGES if args.detailed_exitcode and changes else 0


# -- apply -----------------------------------------------------------------------------------


def _load_plan(path: Path, settings: Settings) -> SavedPlan:
    from tools import saved_plan

    try:
        return saved_plan.load(path, settings)
    except saved_plan.PlanFileError as error:
        raise CliError(str(error), USAGE) from None


def _check_plan(rt: Runtime, saved: SavedPlan) -> list[ArmId]:
    """The saved plan's workspaces, when planning again now calls for exactly its changes;
    else nothing is written (STALE): the whole plan is checked before any write."""
    workspaces, outside = _targets(rt, saved.workspaces)
    if outside:
        raise CliError(
            f"the saved plan no longer holds: {one_line(outside[0])} is not in scope now; "
            "nothing written: plan again",
            STALE,
        )
    plans = _preview(rt, workspaces, "checking the plan")
    for plan in plans:
        if plan.gone:
            raise CliError(
                f"the saved plan no longer holds: {short(plan.workspace_id)} no longer exists; "
                "nothing written: plan again",
                STALE,
            )
        if plan.error:
            raise CliError(
                f"the saved plan cannot be checked: {short(plan.workspace_id)} could not be "
                f"read: {one_line(plan.error)}; nothing written",
                FAILURE,
            )
    now = frozenset().union(*(plan.keys for plan in plans))
    if now != saved.changes:
        gone = sorted(saved.changes - now)
        what = (  # the file's words, maybe edited by hand: one_line bounds them
            f"{one_line(gone[0][2])} {one_line(short(gone[0][3]))} on "
            f"{one_line(short(gone[0][0]))} is no longer called for as planned"
            if gone
            else f"{len(now - saved.changes)} change(s) not in it are called for now"
        )
        raise CliError(
            f"the saved plan no longer holds: {what}; nothing written: plan again", STALE
        )
    return workspaces


def cmd_apply(args: argparse.Namespace) -> int:
    from azure.core.exceptions import AzureError

    from shared.adapters.errors import describe, is_transient
    from shared.outcome import Status
    from shared.reconcilers.run import change
    from shared.reconcilers.sweep import sweep
    from shared.reconcilers.workspace import start_run
    from tools import saved_plan, terminal

    if args.plan and args.workspace:
        raise CliError("apply FILE applies the workspaces its plan names: no --workspace", USAGE)
    settings = _settings()
    saved = _load_plan(args.plan, settings) if args.plan else None
    _check_credential(settings)
    rt = _runtime(settings)
    trigger = f"cli:{uuid.uuid4().hex[:12]}"
    workspaces, unread = (_check_plan(rt, saved), []) if saved else _workspaces(rt, args.workspace)
    if not args.json:
        terminal.stdout().print(
            f"apply{f' {args.plan}' if args.plan else ''}: mode {settings.automation_mode.value}, "
            f"policy {settings.policy_mode.value}; recorded in the ledger (table "
            f"{settings.ledger.table_name}) as {trigger}",
            markup=False,
            soft_wrap=True,
        )
    run = start_run(rt, trigger, only=saved.changes if saved else None)
    try:
        with terminal.progress(terminal.stderr(), "reconciling", len(workspaces)) as step:
            report = sweep(
                rt,
                trigger=trigger,
                progress=step,
                # Without targets the sweep lists the scope again, as the timer's does.
                workspaces=workspaces if args.plan or args.workspace else None,
                run=run,
            )
    except AzureError as error:
        # Reconcilers record Azure's failures; what escapes is the ledger failing.
        raise _ledger_error(settings, error) from None
    problems = [
        f"{short(workspace.workspace_id)}: {label}: {one_line(problem)}"
        for workspace in report.workspaces
        for label, problem in workspace.problems()
    ]
    # A scope not listed (no Reader on it) is reconciled by no one: as `plan` says, an error.
    # A transient failure to list it is the sweep's own `retryLater`.
    problems += [
        f"{short(scope)}: could not be read: {one_line(describe(error))}"
        for scope, error in unread
        if not is_transient(error)
    ]
    # A saved change not written: refused or no longer called for (the state changed during
    # the run: plan again), or deferred (the hour's limit: apply again later).
    stale = [
        f"{record.verdict} {short(record.subject)}: {one_line(outcome)}"
        for record, outcome in run.changes
        if outcome.status is Status.REFUSED
    ]
    if saved is not None:
        stale += [
            f"{c[2]} {short(c[3])}: no longer called for: not written"
            for c in saved.changes - {change(record) for record, _ in run.changes}
        ]
        problems += [
            f"{record.verdict} {short(record.subject)}: {one_line(outcome)}: not written"
            for record, outcome in run.changes
            if outcome.status in (Status.DEFERRED, Status.SKIPPED)
        ]
    if args.json:
        _print_json(
            {
                "trigger": trigger,
                "workspaces": [
                    {"workspace": w.workspace_id, "summary": w.summary()} for w in report.workspaces
                ],
                "changes": [
                    {**saved_plan.fields(record), "outcome": str(outcome)}
                    for record, outcome in run.changes
                ],
                "errors": problems + stale,
                "retryLater": list(report.transient_failures),
            }
        )
    else:
        for workspace in report.workspaces:
            terminal.stdout().print(
                f"  {one_line(workspace.summary())}", markup=False, soft_wrap=True
            )
    for problem in problems + stale:
        print(f"error: {problem}", file=sys.stderr)
    for failure in report.transient_failures:
        print(f"retry later: {one_line(failure)}", file=sys.stderr)
    if problems or report.transient_failures:
        return FAILURE
    return STALE if stale else 0


# -- replay ----------------------------------------------------------------------------------


def _event_functions() -> list[str]:
    from tools import host

    return sorted(name for name in host.indexed() if host.trigger_type(name) == "eventGridTrigger")


def _check_function(name: str) -> None:
    from tools import host

    events = ", ".join(_event_functions())
    if name not in host.indexed():
        raise CliError(f"no function named {name!r}: replay delivers to {events}", USAGE)
    if host.trigger_type(name) != "eventGridTrigger":
        raise CliError(
            f"{name} is not triggered by Event Grid (it is a {host.trigger_type(name)}): replay "
            f"delivers to {events}; `apply` runs what the sweep does",
            USAGE,
        )


def _function_for(event: dict[str, Any]) -> str | None:
    from shared.events import PRIVATE_ENDPOINT_OPERATIONS, WORKSPACE_OPERATIONS
    from shared.ml_events import ml_event_types

    # Azure ML's own events (runs, data drift) are told by their type, not by an operation.
    event_type = event.get("eventType")
    if isinstance(event_type, str) and event_type.lower() in {t.lower() for t in ml_event_types()}:
        return "on_ml_event"
    data = event.get("data")
    operation = data.get("operationName") if isinstance(data, dict) else None
    if not isinstance(operation, str):
        return None
    if operation.lower() in PRIVATE_ENDPOINT_OPERATIONS:
        return "on_private_endpoint_event"
    if operation.lower() in WORKSPACE_OPERATIONS:
        return "on_workspace_event"
    return None


def _replay_one(rt: Runtime, item: object, function: str | None) -> tuple[str, str, str]:
    """Deliver one item: (label, status, what happened), status one of the handler's outcomes,
    `invalid` (not deliverable) or `failed`."""
    from tools import host
    from tools.event_file import check_event

    problem = check_event(item)
    event_id = item.get("id") if isinstance(item, dict) else None
    label = one_line(event_id) if isinstance(event_id, str) and event_id else "?"
    if problem is not None or not isinstance(item, dict):
        return label, "invalid", f"not delivered: {problem}"
    name = function or _function_for(item)
    if name is None:
        operation = (
            item.get("data", {}).get("operationName")
            if isinstance(item.get("data"), dict)
            else None
        )
        what = (
            f"operation {one_line(operation)!r}"
            if operation is not None
            else f"event type {one_line(item.get('eventType'))!r}"
        )
        return (
            label,
            "invalid",
            f"not delivered: no function handles {what}; name one with --function",
        )
    try:
        host.to_event(item)
    except (ValueError, TypeError, RecursionError) as error:
        return label, "invalid", f"not delivered: {one_line(error) or type(error).__name__}"
    try:
        host.deliver_event(name, item)
    except RecursionError:
        return label, "invalid", f"{name}: nested too deeply to be handled"
    except Exception as error:  # the host would redeliver it; the batch goes on
        return (
            label,
            "failed",
            f"{name}: {one_line(error) or type(error).__name__} (replay again later)",
        )
    try:
        row = rt.ledger.event(str(item["id"])) or {}
    except Exception as error:  # delivered; only reading its outcome failed
        return (
            label,
            "failed",
            f"{name}: delivered, but its ledger row cannot be read: {one_line(error)}",
        )
    outcome = str(row.get("Outcome", "?"))
    return label, outcome, f"{name}: {one_line(row.get('Reason', ''))}"


def cmd_replay(args: argparse.Namespace) -> int:
    from collections import Counter

    from tools.event_file import EventFileError, read_events

    if args.function:
        _check_function(args.function)
    try:
        items = read_events(Path(args.event_file))
    except EventFileError as error:
        raise CliError(str(error), USAGE) from None
    settings = _settings()
    rt = _runtime(settings)
    statuses: Counter[str] = Counter()
    delivered = []
    for index, item in enumerate(items, start=1):
        label, status, text = _replay_one(rt, item, args.function)
        statuses[status] += 1
        delivered.append({"index": index, "id": label, "status": status, "detail": text})
        if not args.json:
            print(f"#{index} {label}: {status}: {text}", flush=True)
    if args.json:
        _print_json({"events": delivered, "counts": dict(sorted(statuses.items()))})
    else:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        print(f"replayed {len(items)} events: {counts}")
    if statuses["failed"]:
        return FAILURE
    return USAGE if statuses["invalid"] else 0


# -- export-policy ---------------------------------------------------------------------------


def cmd_export_policy(args: argparse.Namespace) -> int:
    """The rules as Azure Policy definitions and an initiative; needs no settings or Azure."""
    from tools import policy_export

    scope = args.scope or policy_export.SCOPE_PLACEHOLDER
    if args.scope is not None and not policy_export.is_definition_scope(args.scope):
        raise CliError(
            f"--scope {one_line(args.scope)!r} is not where custom policy definitions live: "
            "expected /subscriptions/<guid> or /providers/Microsoft.Management/"
            "managementGroups/<name>",
            USAGE,
        )
    if args.out is None:
        sys.stdout.write(policy_export.render(policy_export.export(scope)))
        return 0
    try:
        paths = policy_export.write(args.out, scope)
    except OSError as error:
        raise CliError(f"cannot write to {args.out}: {one_line(error)}", USAGE) from None
    if args.json:
        _print_json({"written": [str(path) for path in paths]})
    for path in paths if not args.json else ():
        print(f"wrote {path}")
    return 0


# -- entry -----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    epilog = __doc__.split("\n\n")[-1].strip()  # the exit codes
    top = Parser(prog="python -m tools.cli", description=__doc__.splitlines()[0], epilog=epilog)
    settings_help = f"a Functions settings file to read (default: ./{SETTINGS_FILE} when present)"
    top.add_argument("--settings", type=Path, default=None, help=settings_help)
    top.add_argument("-v", "--verbose", action="store_true", help="log every decision")
    json_help = "machine-readable output on stdout (logs and errors stay on stderr)"
    top.add_argument("--json", action="store_true", help=json_help)
    commands = top.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        # Accepted after the command too; SUPPRESS keeps a value given before it.
        sub.add_argument("--settings", type=Path, default=argparse.SUPPRESS, help=settings_help)
        sub.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help="log every decision",
        )
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=json_help)
        return sub

    plan = command("plan", "print what would be done; reads Azure, writes nothing, uses no ledger")
    workspace_help = "only this workspace (its ARM ID; in scope); repeatable"
    plan.add_argument("--workspace", action="append", metavar="ID", help=workspace_help)
    plan.add_argument(
        "--out", type=Path, metavar="FILE", help="save the plan for `apply FILE` (versioned JSON)"
    )
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help=f"exit {CHANGES} when there are changes to apply, 0 when none, {FAILURE} on error",
    )
    plan.set_defaults(run=cmd_plan)
    apply = command("apply", "reconcile what is in scope, or a saved plan; recorded in the ledger")
    apply.add_argument(
        "plan",
        nargs="?",
        type=Path,
        metavar="FILE",
        help="a plan saved by `plan --out`: written only while the state it was made on holds",
    )
    apply.add_argument("--workspace", action="append", metavar="ID", help=workspace_help)
    apply.set_defaults(run=cmd_apply)
    replay = command("replay", "deliver events from a file (e.g. dead-lettered)")
    replay.add_argument("event_file", help="an Event Grid event, or an array of them, as JSON")
    replay.add_argument("--function", help="the function to deliver to (default: by operation)")
    replay.set_defaults(run=cmd_replay)
    export = command(
        "export-policy",
        "write the rules as Azure Policy definitions and an initiative (JSON); reads nothing",
    )
    export.add_argument(
        "--out",
        type=Path,
        help="a directory for definitions.json and "
        "initiative.json (default: one JSON document on stdout)",
    )
    export.add_argument(
        "--scope",
        help="the subscription or management group ID the definitions are created in (default: "
        "a placeholder, as in infra/policy/)",
    )
    export.set_defaults(run=cmd_export_policy)
    return top


def report(error: CliError) -> int:
    """`error` as one line on stderr, whatever an argument echoed in it holds (a newline, a
    terminal escape); its exit code."""
    from shared.logs import escape

    line = "".join(c if c.isprintable() else escape(c) for c in str(error))
    print(f"error: {line}", file=sys.stderr)
    return error.code


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code. Errors are one line on stderr."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A terminal that is not UTF-8 (PYTHONIOENCODING=ascii, a Windows code page) gets what
        # it cannot show as escapes, as stderr always does, rather than a traceback.
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        args = parser().parse_args(argv)
        from tools import terminal

        with terminal.logging_to(terminal.stderr(), verbose=args.verbose):
            settings_file = args.settings or (
                Path(SETTINGS_FILE) if Path(SETTINGS_FILE).exists() else None
            )
            if settings_file is not None:
                load_settings_file(settings_file)
            return int(args.run(args))
    except CliError as error:
        return report(error)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): nothing left to say to it. Point stdout at devnull so
        # that the interpreter's last flush does not report the same broken pipe again.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return FAILURE
    except OSError as error:
        # Not an AzureError: the HTTP stack's own, before any request left (a CA bundle setting,
        # REQUESTS_CA_BUNDLE, that names no file).
        print(
            f"error: {one_line(error)} (a local error, not Azure's: check the path or setting "
            "it names)",
            file=sys.stderr,
        )
        return FAILURE
    except Exception as error:
        from shared.adapters.errors import redact_in_place

        redact_in_place(error)  # a fault of the app's own: its traceback, for the fix
        raise


if __name__ == "__main__":
    sys.exit(main())
