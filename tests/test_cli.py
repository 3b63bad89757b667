"""The operator CLI over the simulator: plan writes nothing, apply reconciles, replay delivers.

At its edges (writes Azure did not confirm, Azure ML's own events, odd settings files and event
files, Ctrl-C): one line per error, the documented exit codes. Progress shows on a terminal only.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from tests.conftest import App
from tests.credentials import fail_holding, leaked, placed
from tools import cli, plan_view, scene, terminal
from tools import retraining_scene as rs

pytestmark = pytest.mark.slow


def resource_writes(app: App) -> list[object]:
    return [w for w in app.sim.writes() if w.route != "eventgrid.publish"]


def test_plan_prints_decisions_and_findings_and_writes_nothing(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    app.set_settings(POLICY_MODE="remediate")

    assert cli.main(["plan"]) == 0

    out = capsys.readouterr().out
    assert app.sim.writes() == []  # not even an outcome event
    assert "approve" in out
    assert "leave-pending" in out
    assert "Contributor: syn-analytics" in out
    assert "workspace-public-access" in out
    assert "non-compliant" in out
    assert all(app.status(c) == c.initial for c in app.scene.connections)


def test_plan_json_is_machine_readable(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "--json"]) == 0

    plan = json.loads(capsys.readouterr().out)
    by_workspace = {item["workspace"]: item for item in plan}
    assert set(by_workspace) == {scene.PROD, scene.DEV}
    prod = by_workspace[scene.PROD]
    verdicts = {d["connection_name"]: d["verdict"] for d in prod["connections"]}
    verified = app.connection("listed by allow-listed syn-analytics")
    assert verdicts[verified.name] == "approve"
    # The plan follows the approval through: the identity would then get Contributor.
    assert [d["verdict"] for d in prod["roleAssignments"]] == ["assign"]
    assert {f["rule_id"] for f in prod["findings"]} >= {"workspace-public-access"}


def test_plan_json_and_a_saved_plan_repeat_no_credential_of_azures(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = app.sim.arm.get(scene.ANALYTICS)
    assert body is not None
    body["properties"]["connectivityEndpoints"]["dev"] = "https://u:hunter2@syn.example"
    app.sim.arm.put(scene.ANALYTICS, body)
    saved = tmp_path / "plan.json"

    cli.main(["plan", "--json", "--out", str(saved)])

    printed = capsys.readouterr().out
    assert "REDACTED@syn.example" in printed
    assert "hunter2" not in printed + saved.read_text()


def test_apply_reconciles_everything_in_scope(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["apply"]) == 0

    out = capsys.readouterr().out
    assert "mlw-prod" in out
    for connection in app.scene.connections:
        assert app.status(connection) == connection.expected


def test_replay_delivers_a_dead_lettered_batch(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = scene.connection_events(app.scene)
    # A dead-letter blob holds an array of events with Event Grid's extra fields.
    dead = [{**e, "deadLetterReason": "MaxDeliveryAttemptsExceeded"} for e in events]
    path = tmp_path / "dead-letter.json"
    path.write_text(json.dumps(dead), encoding="utf-8")

    assert cli.main(["replay", str(path)]) == 0

    out = capsys.readouterr().out
    assert out.count("on_private_endpoint_event") == len(events)
    for connection in app.scene.connections:
        assert app.status(connection) == connection.expected


def test_bad_settings_are_reported_by_name(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    app.set_settings(ML_WORKSPACE_IDS="not-an-id")

    assert cli.main(["plan"]) == 64

    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("error: configuration error: ML_WORKSPACE_IDS")
    assert app.sim.requests == []


# -- errors: one line naming the problem and what to do, and the right exit code -------------


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory without a local.settings.json."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist: give the path"),
        (b"", "is empty: expected an Event Grid event"),
        (b"   \n", "is empty"),
        (
            b"{not json",
            "is not JSON (Expecting property name enclosed in double quotes at line 1 column 2): "
            "save the events as JSON",
        ),
        (b"[]", "holds an empty array: there are no events to replay"),
        (b'"an event"', "holds a JSON string: expected an Event Grid event object"),
        (b"42", "holds a JSON number"),
        (b'{"id": "\xff\xfe"}', "is not UTF-8 text (byte 8)"),
        (b"[" * 100_000 + b"]" * 100_000, "is nested too deeply"),
        # Python reads no integer of over 4,300 digits (a ValueError, not a JSONDecodeError).
        (b"[" + b"1" * 5_000 + b"]", "is not JSON"),
    ],
    ids=[
        "missing",
        "empty",
        "blank",
        "not-json",
        "empty-array",
        "string",
        "number",
        "not-utf8",
        "deep",
        "huge-number",
    ],
)
def test_replay_of_an_unreadable_file_is_one_line_and_exit_64(
    elsewhere: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, expected: str
) -> None:
    path = elsewhere / "events.json"
    if content is not None:
        path.write_bytes(content)

    assert cli.main(["replay", str(path)]) == 64

    captured = capsys.readouterr()
    assert expected in _one_error_line(captured.err)
    assert str(path) in captured.err
    assert captured.out == ""


def test_replay_of_a_path_that_cannot_be_opened_says_why_and_what_to_check(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A path under a regular file cannot be opened (NotADirectoryError), whoever runs the test.
    (elsewhere / "events.json").write_text("{}", encoding="utf-8")
    path = elsewhere / "events.json" / "more.json"

    assert cli.main(["replay", str(path)]) == 64

    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert f"{path} cannot be read (Not a directory): check the path and its permissions" in line
    assert captured.out == ""


def test_replay_to_an_unknown_function_names_the_ones_that_exist(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["replay", "events.json", "--function", "on_nothing"]) == 64

    line = _one_error_line(capsys.readouterr().err)
    assert "no function named 'on_nothing'" in line
    assert "on_private_endpoint_event, on_workspace_event" in line


def test_replay_to_a_timer_function_says_it_is_not_an_event_function(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["replay", "events.json", "--function", "reconcile_all"]) == 64

    line = _one_error_line(capsys.readouterr().err)
    assert "reconcile_all is not triggered by Event Grid" in line
    assert "`apply`" in line


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist: pass a Functions local.settings.json"),
        (b'{"Values": {', "is not valid JSON (Expecting"),
        (b'{"Values": {"MAX_CLUSTER_NODES": %s}}' % (b"1" * 5_000), "is not valid JSON"),
        (b'{"Values": ["ML_WORKSPACE_IDS"]}', "has no `Values` object of settings"),
        (b"[]", "has no `Values` object"),
        (b"\xff", "cannot be read"),
        # `func settings encrypt`: the values are ciphertext only the Functions tools decrypt.
        (
            b'{"IsEncrypted": true, "Values": {"AUTOMATION_MODE": "AQAAANCMnd8BFdERjHoAwE"}}',
            "is encrypted (IsEncrypted): decrypt it with `func settings decrypt`",
        ),
    ],
    ids=[
        "missing",
        "malformed",
        "huge-number",
        "values-not-object",
        "not-object",
        "not-utf8",
        "encrypted",
    ],
)
@pytest.mark.parametrize("where", ["before", "after"])
def test_a_bad_settings_file_is_one_line_and_exit_64_before_or_after_the_command(
    elsewhere: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    expected: str,
    where: str,
) -> None:
    path = elsewhere / "settings.json"
    if content is not None:
        path.write_bytes(content)
    argv = (
        ["--settings", str(path), "plan"]
        if where == "before"
        else ["plan", "--settings", str(path)]
    )

    assert cli.main(argv) == 64

    line = _one_error_line(capsys.readouterr().err)
    assert f"settings file {path}" in line
    assert expected in line


def test_bad_usage_is_one_line_and_exit_64(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["plan", "--bogus"]) == 64
    assert "unrecognized arguments: --bogus" in _one_error_line(capsys.readouterr().err)

    assert cli.main([]) == 64
    assert "--help" in _one_error_line(capsys.readouterr().err)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    word=st.one_of(
        st.text(min_size=1), st.sampled_from(["a\nb", "\x1b[2J", "x\u2028y", "\udcff"])
    ).filter(lambda word: "\0" not in word),
    where=st.sampled_from([("plan", "WORD"), ("replay", "WORD"), ("--settings", "WORD", "plan")]),
)
def test_whatever_an_argument_holds_its_error_is_one_printable_line(
    elsewhere: Path, capsys: pytest.CaptureFixture[str], word: str, where: tuple[str, ...]
) -> None:
    # An argument is echoed in its error (an unrecognized one, a file's path): a newline or a
    # terminal's escape sequence in it must not make the line two, or drive the terminal.
    assert cli.main([word if a == "WORD" else a for a in where]) == 64

    assert _one_error_line(capsys.readouterr().err).isprintable()


def test_settings_given_after_the_command_are_read(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scope = f"{scene.PROD}"
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": {"ML_WORKSPACE_IDS": scope}}), encoding="utf-8")
    monkeypatch.delenv("ML_WORKSPACE_IDS")

    assert cli.main(["plan", "--json", "--settings", str(path)]) == 0

    assert [item["workspace"] for item in json.loads(capsys.readouterr().out)] == [scope]


# -- plan ------------------------------------------------------------------------------------


def test_plan_needs_no_ledger_and_says_it_uses_none(
    app: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LEDGER_CONNECTION_STRING")

    assert cli.main(["plan"]) == 0

    captured = capsys.readouterr()
    assert "uses no ledger" in captured.out
    assert captured.err == ""


def test_plan_output_stays_plain_when_piped(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan"]) == 0

    captured = capsys.readouterr()
    assert "\x1b[" not in captured.out + captured.err  # no colours, no progress bar
    assert "mlw-prod: connections and roles" in captured.out  # tables say which workspace


@pytest.fixture
def fresh_credential() -> Iterator[None]:
    """The process's credential rebuilt from the environment, before and after the test."""
    from shared.adapters.clients import credential

    credential.cache_clear()
    yield
    credential.cache_clear()


def test_plan_without_a_credential_is_one_line_and_exit_1(
    app: App,
    fresh_credential: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "wrong")

    assert cli.main(["plan"]) == 1

    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert "no Azure credential" in line
    assert "az login" in line
    assert captured.out == ""


def test_plan_when_azure_cannot_be_reached_is_one_line_and_exit_1(
    app: App, capsys: pytest.CaptureFixture[str], closed_port: int
) -> None:
    app.set_settings(ARM_ENDPOINT=f"https://127.0.0.1:{closed_port}")

    assert cli.main(["plan", "--json"]) == 1

    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert "Azure cannot be reached" in line
    assert "ARM_ENDPOINT" in line


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_ca_bundle_setting_naming_no_file_is_one_line_and_exit_1(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    # The token comes without TLS (IMDS over http, `az login`'s cache): warmed here by a plan.
    assert cli.main(["plan"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")

    assert cli.main([command, "--json"]) == 1

    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert "invalid path: /nonexistent/ca.pem" in line
    assert "check the path or setting it names" in line
    assert captured.out == ""
    assert resource_writes(app) == []


def test_plan_exits_1_when_a_workspace_cannot_be_read(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    app.sim.inject("aml.pec.list", status=403, times=1)

    assert cli.main(["plan", "--json"]) == 1

    captured = capsys.readouterr()
    plan = json.loads(captured.out)  # stdout stays JSON
    assert [bool(item["error"]) for item in plan].count(True) == 1
    line = _one_error_line(captured.err)
    assert "could not be read: HTTP 403" in line


def test_apply_exits_1_naming_a_scope_it_could_not_list(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    # The identity lost Reader on the resource group: neither Resource Graph nor ARM lists it.
    group = scene.DEV.split("/providers/")[0]
    app.set_settings(ML_SCOPES=json.dumps([group]), ML_WORKSPACE_IDS="")
    for route in ("resourcegraph.query", "aml.workspace.list"):
        app.sim.inject(route, status=403, times=100)

    assert cli.main(["apply", "--json"]) == 1

    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert line.startswith("error: rg-ml: could not be read")
    assert "HTTP 403" in line
    assert json.loads(captured.out)["errors"] == [line.removeprefix("error: ")]
    assert resource_writes(app) == []


def _promoting(app: App, accuracy: str = "0.80") -> None:
    """PROD retrains and promotes; its batch endpoint's default `blue` serves drift-model:2."""
    rs.seed_retraining(app.sim)
    current = {"accuracy": accuracy}
    app.sim.ml.promotion.add_model_version(scene.PROD, "drift-model", "2", properties=current)
    promotion = {"PROMOTION_METRIC": "accuracy", "PROMOTION_MODEL_NAME": "churn-model"}
    app.set_settings(**rs.retraining_settings(**promotion))


@pytest.mark.parametrize(
    ("route", "part"),
    [
        ("ml.batch_endpoint.get", ""),
        ("ml.batch_deployment.get", "/deployments/blue"),
        ("ml.model.version.get", "/models/drift-model/versions/2"),
    ],
)
def test_plan_marks_the_promotion_not_read_when_azure_answers_about_another(
    app: App, capsys: pytest.CaptureFixture[str], route: str, part: str
) -> None:
    _promoting(app)
    # Another workspace's, under a name with Rich markup and a control character.
    other = f"{scene.DEV}/batchEndpoints/[red]churn\x1b[2J{part}"

    def another(body: dict[str, Any]) -> None:
        body["id"] = other if "model" not in route else f"{scene.DEV}[red]\x1b[2J{part}"

    app.sim.rewrite_reply(route, another, times=2)

    assert cli.main(["plan"]) == cli.FAILURE
    human = capsys.readouterr()
    assert cli.main(["plan", "--json"]) == cli.FAILURE
    captured = capsys.readouterr()

    prod = {item["workspace"]: item for item in json.loads(captured.out)}[scene.PROD]
    assert prod["error"].startswith("promotion: asked for ")
    assert "promotion" not in prod  # not read: no promotion shown
    # The rest of the plan stands.
    assert prod["connections"]
    assert prod["findings"]
    for err in (human.err, captured.err):
        assert "mlw-prod could not be read: promotion: asked for " in _one_error_line(err)
    assert "mlw-prod: could not be read: promotion: asked for " in human.out
    assert "[red]" in human.out  # printed as it is, never as markup
    assert "\x1b" not in human.out + human.err + captured.err
    assert "model promotion" not in human.out


def test_plan_prints_the_promotion_a_workspace_user_wrote_as_it_is(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    # The model's metric is any workspace user's to write: markup and a control character.
    _promoting(app, accuracy="[red]0.8\x1b[2J")

    assert cli.main(["plan", "--workspace", scene.PROD]) == 0

    out = capsys.readouterr().out
    assert re.search(r"\n +metric +accuracy=\[red\]0\.8\\x1b\[2J\n", out)
    assert "\x1b" not in out


def test_plan_keeps_the_rest_of_the_workspace_when_its_promotion_cannot_be_read(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    _promoting(app)
    app.sim.inject("ml.batch_endpoint.get", status=403, times=1)

    assert cli.main(["plan", "--json"]) == cli.FAILURE

    captured = capsys.readouterr()
    prod = {item["workspace"]: item for item in json.loads(captured.out)}[scene.PROD]
    assert prod["error"].startswith("promotion: HTTP 403")
    assert "promotion" not in prod
    assert prod["connections"]
    assert "mlw-prod could not be read: promotion: HTTP 403" in _one_error_line(captured.err)


# -- apply -----------------------------------------------------------------------------------


def test_apply_when_the_ledger_cannot_be_reached_is_one_line_and_exit_1(
    app: App, capsys: pytest.CaptureFixture[str], closed_port: int
) -> None:
    app.set_settings(
        LEDGER_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
        f"KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:{closed_port}/devstoreaccount1;"
    )

    assert cli.main(["apply"]) == 1

    line = _one_error_line(capsys.readouterr().err)
    assert "the ledger" in line
    assert "cannot be reached" in line
    assert "LEDGER_CONNECTION_STRING" in line
    assert resource_writes(app) == []


def test_apply_exits_1_and_names_the_failed_write(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    app.sim.inject("aml.pec.put", status=403, times=10)

    assert cli.main(["apply"]) == 1

    captured = capsys.readouterr()
    assert "mlw-prod" in captured.out
    errors = captured.err.strip().splitlines()
    assert errors
    assert any(line.startswith("error: mlw-prod: connections: failed: HTTP 403") for line in errors)
    assert all(re.match(r"error: mlw-(prod|dev): connections: failed: HTTP 403", e) for e in errors)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_apply_json_shows_no_piece_of_a_credential_azure_answered(
    app: App, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    # A workspace read answered about another ID: refused, and Azure's ID (cut to 300
    # characters) told in the workspace's summary, its changes' outcomes, its errors.
    answered, secret = data.draw(placed(300, before=8))
    app.sim.rewrite_reply("aml.workspace.get", lambda body: body.update(id=answered), times=50)

    cli.main(["apply", "--json"])

    captured = capsys.readouterr()
    assert "Azure answered" in captured.out
    assert leaked(secret, captured.out + captured.err) is None, captured.out


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_replay_json_shows_no_piece_of_a_credential_an_event_holds(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    # Its ID is shown on one line (cut at a line break, at 400 characters) and not delivered.
    event_id, secret = data.draw(placed(400, before=400, line_break=True))
    path = _write_events(tmp_path, [{"id": event_id, "subject": "s"}])

    assert cli.main(["replay", str(path), "--json"]) == 64

    out = capsys.readouterr().out
    assert leaked(secret, out) is None, out


# -- replay: every event on its own, a summary, an exit code --------------------------------


def _write_events(tmp_path: Path, events: Sequence[object]) -> Path:
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events), encoding="utf-8")
    return path


def test_replay_of_items_that_are_not_events_reports_each_and_exits_64(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_events(tmp_path, [1, "x", {"id": "e1"}])

    assert cli.main(["replay", str(path)]) == 64

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "#1 ?: invalid: not delivered: a JSON number, not an Event Grid event object"
    assert out[1].startswith("#2 ?: invalid: not delivered: a JSON string")
    assert out[2] == "#3 e1: invalid: not delivered: `eventType` is missing"
    assert out[-1] == "replayed 3 events: 3 invalid"
    assert app.sim.requests == []


def test_replay_of_odd_data_goes_through_intake_and_never_raises(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = scene.connection_events(app.scene)[0]
    deep: object = "bottom"
    for _ in range(600):
        deep = [deep]
    odd = [
        {**base, "id": "data-string", "data": "Microsoft.MachineLearningServices"},
        {**base, "id": "data-list", "data": [base["data"]]},
        {**base, "id": "data-deep", "data": {"operationName": scene.CONNECTION_WRITE, "x": deep}},
        {**base, "id": "lone-\ud800-surrogate", "eventType": "Test.\udfff"},
    ]
    path = _write_events(tmp_path, odd)

    code = cli.main(["replay", str(path), "--function", "on_private_endpoint_event"])

    out = capsys.readouterr().out
    assert code == 64
    assert "replayed 4 events: 3 invalid, 1 reconciled" in out
    for event_id in ("data-string", "data-list"):
        assert app.ledger.event(event_id)["Outcome"] == "invalid"
    # Deep nesting beside a valid operation is no reason to refuse: the subject says where.
    assert app.ledger.event("data-deep")["Outcome"] == "reconciled"
    assert "lone-\\ud800-surrogate" in out  # escaped for the terminal


def test_replay_goes_on_past_a_transient_failure_and_exits_1(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = scene.connection_events(app.scene)
    # The first event's reads fail through every retry; the rest find Azure back.
    app.sim.inject("aml.pec.list", status=503, times=5)
    path = _write_events(tmp_path, events)

    assert cli.main(["replay", str(path)]) == 1

    out = capsys.readouterr().out.splitlines()
    assert "failed" in out[0]
    assert "replay again later" in out[0]
    assert all(": reconciled: " in line or ": out-of-scope: " in line for line in out[1:-1])
    assert out[-1] == f"replayed {len(events)} events: 1 failed, 1 out-of-scope, 5 reconciled"
    # The event that failed had its turn; the others did what the rules call for.
    verified = app.connection("listed by allow-listed syn-analytics")
    assert app.status(verified) == "Approved"


def test_the_cli_entry_point_prints_only_its_own_error_line(tmp_path: Path) -> None:
    """A fresh process, as a person runs it, verbose: no warning from azure-functions about
    auth levels, no traceback, one line."""

    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.cli",
            "-v",
            "replay",
            "--function",
            "reconcile_all",
            "x.json",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 64
    assert done.stdout == ""
    assert "Auth level" not in done.stderr
    assert _one_error_line(done.stderr).startswith("error: reconcile_all is not triggered")


FIXTURES = Path(__file__).parent / "fixtures"


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.strip().splitlines() if line]


def test_apply_exits_1_and_names_a_write_azure_did_not_confirm(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    # ARM answers the approval 200 with the connection still Pending: it was not applied.
    def still_pending(body: Any) -> None:
        body["properties"]["privateLinkServiceConnectionState"]["status"] = "Pending"

    app.sim.rewrite_reply("aml.pec.put", still_pending, times=10)

    assert cli.main(["apply"]) == 1

    errors = _error_lines(capsys.readouterr().err)
    assert any(line.startswith("error: mlw-prod: connections: not applied: ") for line in errors), (
        errors
    )


@pytest.mark.parametrize(
    "sample",
    ["eventgrid_aml_runcompleted.json", "eventgrid_aml_datasetdriftdetected.json"],
)
def test_replay_delivers_azure_ml_events_to_on_ml_event(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str], sample: str
) -> None:
    events = json.loads((FIXTURES / sample).read_text(encoding="utf-8"))
    for event in events:
        event["topic"] = scene.PROD
    path = tmp_path / "ml-events.json"
    path.write_text(json.dumps(events), encoding="utf-8")

    code = cli.main(["replay", str(path)])

    out = capsys.readouterr().out
    assert "not delivered" not in out, out
    assert out.count("on_ml_event") == len(events)
    assert code == 0


def test_replay_of_an_event_no_function_handles_names_its_type(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.json"
    event = {"id": "e1", "eventType": "Contoso.Something", "subject": "x", "data": {}}
    path.write_text(json.dumps(event), encoding="utf-8")

    assert cli.main(["replay", str(path)]) == 64

    assert "no function handles event type 'Contoso.Something'" in capsys.readouterr().out


def test_replay_reads_a_file_with_a_bom_and_windows_line_endings(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = scene.connection_events(app.scene)
    path = tmp_path / "events.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(events, indent=2).replace("\n", "\r\n").encode())

    assert cli.main(["replay", str(path)]) == 0

    assert capsys.readouterr().out.count("on_private_endpoint_event") == len(events)


@pytest.mark.parametrize(
    "values",
    [{"A\u0000B": "x"}, {"": "x"}, {"A=B": "x"}, {"ARM_NOTE": "nul\u0000inside"}],
    ids=["nul-in-name", "empty-name", "equals-in-name", "nul-in-value"],
)
def test_a_settings_file_with_a_setting_no_environment_can_hold_is_one_line_and_exit_64(
    app: App,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    values: dict[str, str],
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "odd.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}), encoding="utf-8")

    assert cli.main(["plan", "--settings", str(path)]) == 64

    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith(f"error: settings file {path} has a setting that cannot be")


def test_a_null_setting_in_the_settings_file_counts_as_unset(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAX_REMEDIATIONS_PER_RUN", raising=False)
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": {"MAX_REMEDIATIONS_PER_RUN": None}}), encoding="utf-8")

    assert cli.main(["plan", "--settings", str(path)]) == 0


def test_ctrl_c_during_apply_is_one_line_and_exit_130(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shared.reconcilers.sweep as sweep_module

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module, "sweep", interrupted)

    assert cli.main(["apply"]) == 130

    (line,) = _error_lines(capsys.readouterr().err)
    assert line == "error: interrupted"


def test_ctrl_c_between_two_writes_leaves_the_first_recorded_as_applied(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shared.reconcilers.run as run_module

    app.set_settings(POLICY_MODE="remediate")
    record_intent = run_module.record_intent

    def interrupted_at_the_second_remediation(sink: Any, record: Any) -> None:
        if record.verdict == "lower-max-nodes":  # after disable-public-network-access
            raise KeyboardInterrupt
        record_intent(sink, record)

    monkeypatch.setattr(run_module, "record_intent", interrupted_at_the_second_remediation)

    assert cli.main(["apply"]) == 130

    assert _error_lines(capsys.readouterr().err) == ["error: interrupted"]
    body = app.sim.arm.get(scene.PROD)
    assert body is not None
    assert body["properties"]["publicNetworkAccess"] == "Disabled"  # written in Azure
    outcomes = [
        row["Outcome"]
        for row in app.ledger.actions(scene.PROD)
        if row["Verdict"] == "disable-public-network-access"
    ]
    assert any(outcome.startswith("applied") for outcome in outcomes), outcomes


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # Regular files only: /dev/zero never ends, and a device is no saved event file.
        ("/dev/zero", "is not a regular file (a device, a pipe)"),
        ("/dev/null", "is not a regular file (a device, a pipe)"),
        ("/", "is a directory: give the path of a saved event file"),
    ],
)
def test_replay_of_special_files_is_one_line_and_exit_64(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    path: str,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)

    assert cli.main(["replay", path]) == 64

    captured = capsys.readouterr()
    (line,) = _error_lines(captured.err)
    assert expected in line
    assert captured.out == ""


def test_replay_of_many_events_reports_each_and_sums_them_up(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Items that cannot be events are refused each on its own, without Azure: a large batch
    # still ends with one summary and exit 64.
    path = tmp_path / "many.json"
    path.write_text(json.dumps([{"id": f"e{n}"} for n in range(10_000)]), encoding="utf-8")

    assert cli.main(["replay", str(path)]) == 64

    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 10_001
    assert lines[-1] == "replayed 10000 events: 10000 invalid"


def test_output_into_a_closed_pipe_ends_quietly_without_a_traceback(
    app: App,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `replay many.json | head -1`: the reader leaves after one line.
    path = tmp_path / "many.json"
    path.write_text(json.dumps([{"id": f"e{n}"} for n in range(20_000)]), encoding="utf-8")
    read_end, write_end = os.pipe()
    os.close(read_end)
    closed = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - stdout for the call
    monkeypatch.setattr(sys, "stdout", closed)
    try:
        code = cli.main(["replay", str(path)])
    finally:
        monkeypatch.undo()
        with contextlib.suppress(OSError):
            closed.close()

    assert code == 1
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("command", ["replay", "plan"])
def test_a_terminal_that_is_not_utf_8_gets_every_line_escaped_not_a_traceback(
    app: App,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    # PYTHONIOENCODING=ascii, a Windows code page: an event ID, a connection's name.
    group = f"/subscriptions/{scene.ML_SUBSCRIPTION}/resourceGroups/rg"
    network = f"{group}/providers/Microsoft.Network"
    pe = f"{network}/privateEndpoints/pé"
    app.sim.ml.add_private_endpoint_connection(scene.PROD, "pé-café", pe, status="Pending")
    path = tmp_path / "events.json"
    path.write_text(json.dumps([{"id": "café"}]), encoding="utf-8")
    raw = io.BytesIO()
    ascii_stdout = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_stdout)
    try:
        code = cli.main([command, str(path)] if command == "replay" else [command])
        ascii_stdout.flush()
    finally:
        monkeypatch.undo()

    assert code == (64 if command == "replay" else 0)
    assert "Traceback" not in capsys.readouterr().err
    out = raw.getvalue().decode("ascii")
    if command == "replay":
        assert "#1 caf\\xe9: invalid: not delivered" in out
        assert out.endswith("replayed 1 events: 1 invalid\n")
    else:
        assert out.startswith("plan: 2 workspaces")
        assert "p\\xe9-caf\\xe9" in out


def test_apply_summaries_stay_one_line_each_when_piped(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    # Long summaries (deferrals included) are not wrapped: one grep-able line per workspace.
    app.set_settings(POLICY_MODE="remediate", MAX_REMEDIATIONS_PER_RUN="1")

    assert cli.main(["apply"]) == 0

    lines = capsys.readouterr().out.splitlines()
    summaries = [line for line in lines if line.startswith("  mlw-")]
    assert len(summaries) == 2
    assert all("policies: " in line for line in summaries)
    assert any(line.endswith("remediation(s) deferred") for line in summaries), summaries
    assert len(lines) == 3  # the heading and one line per workspace


def test_plan_json_gives_exemption_expiries_as_iso_8601_date_times(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import datetime

    compute = f"{scene.PROD}/computes/cpu-cluster"
    entries = [
        {"rule": "compute-max-nodes", "scope": compute, "reason": "in force", "expires": day}
        for day in ("2999-01-01T00:00:00+05:30", "2001-01-01T00:00:00Z")
    ]
    app.set_settings(MAX_CLUSTER_NODES="2", POLICY_EXEMPTIONS=json.dumps(entries))

    assert cli.main(["plan", "--json"]) == 0

    (prod,) = [i for i in json.loads(capsys.readouterr().out) if i["workspace"] == scene.PROD]
    (exempt,) = [f for f in prod["findings"] if f["status"] == "exempt"]
    assert exempt["exemption"]["expires"] == "2999-01-01T00:00:00+05:30"
    (expired,) = prod["expiredExemptions"]
    assert datetime.fromisoformat(expired["expires"]).isoformat() == "2001-01-01T00:00:00+00:00"
    assert "T" in expired["expires"]


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """stderr as an interactive terminal, captured."""
    screen = io.StringIO()
    monkeypatch.setattr(
        terminal, "stderr", lambda: Console(file=screen, force_terminal=True, width=100)
    )
    return screen


@pytest.mark.parametrize(("command", "label"), [("plan", "planning"), ("apply", "reconciling")])
def test_progress_is_shown_on_a_terminal(
    app: App, tty: io.StringIO, capsys: pytest.CaptureFixture[str], command: str, label: str
) -> None:
    assert cli.main([command]) == 0

    drawn = tty.getvalue()
    assert label in drawn
    assert "2/2" in drawn  # both workspaces in scope counted
    assert "\x1b[" not in capsys.readouterr().out  # results stay plain when stdout is piped


def test_plan_json_stays_clean_while_progress_is_drawn(
    app: App, tty: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert cli.main(["plan", "--json"]) == 0

    assert "planning" in tty.getvalue()
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_no_progress_is_drawn_when_stderr_is_not_a_terminal() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=False)

    with terminal.progress(console, "planning", 2) as step:
        step("a")
        step("b")

    assert screen.getvalue() == ""


# -- signals for pipelines: exit codes, saved plans, targets, JSON ---------------------------


def _changes(app: App, tmp_path: Path, *argv: str) -> list[dict[str, str]]:
    path = tmp_path / "saved.plan.json"
    assert cli.main(["plan", "--out", str(path), *argv]) == 0
    document = json.loads(path.read_text(encoding="utf-8"))
    assert (document["format"], document["version"]) == ("synapse-aml-automation/plan", 1)
    return list(document["changes"])


def test_plan_detailed_exitcode_is_2_with_changes_then_0_once_applied(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["plan", "--detailed-exitcode"]) == cli.CHANGES == 2
    assert " changes" in capsys.readouterr().out
    # Without the flag, a plan with changes is a success.
    assert cli.main(["plan"]) == 0
    assert app.sim.writes() == []

    assert cli.main(["apply"]) == 0
    assert cli.main(["plan", "--detailed-exitcode", "--json"]) == 0


def test_plan_detailed_exitcode_is_1_on_error(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    app.sim.inject("aml.pec.list", status=403, times=1)

    assert cli.main(["plan", "--detailed-exitcode"]) == 1


def test_usage_errors_exit_64_apart_from_the_plans_codes(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["plan", "--detailed-exitcode", "--bogus"]) == cli.USAGE == 64
    assert "unrecognized arguments: --bogus" in _one_error_line(capsys.readouterr().err)


def test_help_and_the_readme_document_every_exit_code_the_cli_returns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    codes = {0, cli.FAILURE, cli.CHANGES, cli.STALE, cli.USAGE, cli.INTERRUPTED}
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    helped = capsys.readouterr().out
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Operator CLI", 1)[1].split("\n## ", 1)[0]

    assert {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)} == codes
    assert "exit codes" in helped.lower()
    assert all(re.search(rf"\b{code} ", helped) for code in codes), helped


def test_a_saved_plan_is_applied_exactly(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changes = _changes(app, tmp_path)
    assert {c["verdict"] for c in changes} == {"approve", "assign"}
    assert resource_writes(app) == []

    assert cli.main(["apply", str(tmp_path / "saved.plan.json")]) == 0

    for connection in app.scene.connections:
        assert app.status(connection) == connection.expected
    # One write per saved change: the plan, nothing more.
    assert len(resource_writes(app)) == len(changes)


def test_a_plan_is_unchanged_by_being_saved_and_loaded(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.config import get_settings
    from shared.reconcilers.workspace import plan_workspace
    from shared.runtime import runtime
    from tools import saved_plan

    app.set_settings(POLICY_MODE="remediate", MAX_CLUSTER_NODES="4")
    app.sim.ml.add_compute(scene.PROD, "wide", max_node_count=10)
    _changes(app, tmp_path)
    path = tmp_path / "saved.plan.json"

    loaded = saved_plan.load(path, get_settings())
    plans = [plan_workspace(runtime(), w) for w in loaded.workspaces]

    assert set(loaded.workspaces) == {scene.PROD, scene.DEV}
    # The state is unchanged: planning again gives the same plan, and the file holds it.
    assert plans == [plan_workspace(runtime(), w) for w in loaded.workspaces]
    assert loaded.changes == frozenset().union(*(plan.keys for plan in plans))
    assert {c[1] for c in loaded.changes} == {
        "private-endpoint-connection",
        "role-assignment",
        "policy-remediation",
    }
    document = json.loads(path.read_text(encoding="utf-8"))
    shown = json.dumps([plan_view.plan_item(p) for p in plans], default=plan_view.instant)
    assert document["plan"] == json.loads(shown)
    assert resource_writes(app) == []


def test_a_saved_plan_is_refused_when_the_world_changed_and_nothing_is_written(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _changes(app, tmp_path)
    # Someone rejects the verified connection in the portal before the plan is applied.
    verified = app.connection("listed by allow-listed syn-analytics")
    app.sim.ml.add_private_endpoint_connection(
        verified.workspace_id, verified.name, verified.private_endpoint_id, status="Rejected"
    )
    capsys.readouterr()
    app.sim.reset_counts()

    assert cli.main(["apply", str(tmp_path / "saved.plan.json")]) == cli.STALE == 3

    line = _one_error_line(capsys.readouterr().err)
    assert "the saved plan no longer holds" in line
    assert "nothing written: plan again" in line
    assert resource_writes(app) == []
    assert app.status(verified) == "Rejected"


def test_a_saved_plan_whose_workspace_was_deleted_since_no_longer_holds(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its changes are called for no more: plan again (3), not a failure to read (1).
    changes = _changes(app, tmp_path)
    deleted = changes[0]["workspace"]
    app.sim.arm.delete(deleted)
    capsys.readouterr()

    assert cli.main(["apply", str(tmp_path / "saved.plan.json")]) == cli.STALE

    line = _one_error_line(capsys.readouterr().err)
    assert f"the saved plan no longer holds: {plan_view.short(deleted)} no longer exists" in line
    assert resource_writes(app) == []


@pytest.mark.parametrize("field", ["workspace", "verdict", "subject"])
def test_a_saved_plan_edited_to_hold_a_huge_value_is_refused_in_one_short_line(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str
) -> None:
    # The refusal names a saved change no longer called for: as the file holds it, edited by hand.
    _changes(app, tmp_path)
    path = tmp_path / "saved.plan.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    for saved in document["changes"]:
        saved[field] += "/" + "x" * 2**20
    path.write_text(json.dumps(document), encoding="utf-8")
    capsys.readouterr()

    assert cli.main(["apply", str(path)]) == cli.STALE

    line = _one_error_line(capsys.readouterr().err)
    assert "the saved plan no longer holds" in line
    assert len(line) < 1000
    assert resource_writes(app) == []


def test_a_saved_plan_from_other_settings_is_refused(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _changes(app, tmp_path)
    app.set_settings(ML_WORKSPACE_IDS=scene.PROD)
    capsys.readouterr()

    assert cli.main(["apply", str(tmp_path / "saved.plan.json")]) == cli.USAGE

    assert "was made under other settings" in _one_error_line(capsys.readouterr().err)
    assert resource_writes(app) == []


def test_a_saved_plan_still_applies_after_an_exemption_expired_when_its_changes_hold(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Same settings, later: an expiry changes no setting. In audit mode the finding it spared
    # calls for no write, so the saved changes still hold and are applied.
    from datetime import UTC, datetime, timedelta

    expires = datetime.now(UTC) + timedelta(seconds=2)
    exemption = {"rule": "compute-max-nodes", "scope": f"{scene.PROD}/computes/cpu-cluster"}
    exemption |= {"reason": "a pipeline's approval takes a while", "expires": expires.isoformat()}
    app.set_settings(POLICY_EXEMPTIONS=json.dumps([exemption]))
    changes = _changes(app, tmp_path)
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.2)

    assert cli.main(["apply", str(tmp_path / "saved.plan.json")]) == 0, capsys.readouterr().err

    assert len(resource_writes(app)) == len(changes)


def test_a_plan_with_errors_is_not_saved(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app.sim.inject("aml.pec.list", status=403, times=1)

    assert cli.main(["plan", "--out", str(tmp_path / "p.json"), "--detailed-exitcode"]) == 1

    assert not (tmp_path / "p.json").exists()
    assert "no plan written" in capsys.readouterr().err


def test_workspace_targets_only_that_workspace(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["plan", "--json", "--workspace", scene.DEV.upper()]) in (0,)
    assert [item["workspace"] for item in json.loads(capsys.readouterr().out)] == [scene.DEV]

    assert cli.main(["apply", "--workspace", scene.DEV]) == 0

    for connection in app.scene.connections:
        expected = (
            connection.expected if connection.workspace_id == scene.DEV else connection.initial
        )
        assert app.status(connection) == expected


@pytest.mark.parametrize("spelling", [str.upper, str.lower, str.swapcase])
def test_a_workspace_named_twice_in_two_casings_is_one_target(
    app: App, capsys: pytest.CaptureFixture[str], spelling: Any
) -> None:
    # Under a container scope a workspace is spelled as it is named (no setting spells it):
    # ARM IDs are case-insensitive, so the same workspace twice is still one, reconciled once.
    group = scene.DEV.split("/providers/")[0]
    app.set_settings(ML_SCOPES=json.dumps([group]), ML_WORKSPACE_IDS="")

    assert (
        cli.main(["plan", "--json", "--workspace", scene.DEV, "--workspace", spelling(scene.DEV)])
        == 0
    )

    assert [item["workspace"] for item in json.loads(capsys.readouterr().out)] == [scene.DEV]


@pytest.mark.parametrize(
    "candidate",
    ["mlw-prod", f"{scene.PROD}/", f"{scene.PROD}/computes/cpu-cluster", scene.ANALYTICS],
    ids=["a-name", "trailing-slash", "a-compute", "a-synapse-workspace"],
)
def test_a_workspace_that_is_not_an_arm_id_of_one_says_so_before_azure_is_read(
    app: App, capsys: pytest.CaptureFixture[str], candidate: str
) -> None:
    for command in ("plan", "apply"):
        assert cli.main([command, "--workspace", scene.PROD, "--workspace", candidate]) == 64

        line = _one_error_line(capsys.readouterr().err)
        assert f"--workspace {candidate} is not the ARM ID of an Azure ML workspace" in line
        assert "/providers/Microsoft.MachineLearningServices/workspaces/<name>" in line
    assert [r.route for r in app.non_token_requests()] == []


def test_a_workspace_out_of_scope_is_a_usage_error_naming_it(
    app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    app.set_settings(ML_WORKSPACE_IDS=scene.PROD)

    for command in ("plan", "apply"):
        assert cli.main([command, "--workspace", scene.PROD, "--workspace", scene.DEV]) == 64

        line = _one_error_line(capsys.readouterr().err)
        assert f"--workspace {scene.DEV} is not a workspace in scope" in line
    assert resource_writes(app) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--json"],
        ["--json", "plan"],
        ["apply", "--json"],
        ["replay", "--json", "EVENTS"],
        ["export-policy", "--json"],
        ["export-policy", "--json", "--out", "DIR"],
        ["apply", "--json", "PLAN"],
    ],
)
def test_every_command_prints_json_on_stdout(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    if "PLAN" in argv:
        _changes(app, tmp_path)
        capsys.readouterr()
    events = _write_events(tmp_path, scene.connection_events(app.scene))
    paths = {
        "EVENTS": str(events),
        "DIR": str(tmp_path / "policy"),
        "PLAN": str(tmp_path / "saved.plan.json"),
    }

    assert cli.main([paths.get(a, a) for a in argv]) == 0

    document = json.loads(capsys.readouterr().out)
    assert document
    if argv[0] == "apply":
        assert {c["verdict"] for c in document["changes"]} == {"approve", "assign"}
        assert all(c["outcome"].startswith("applied") for c in document["changes"])
        assert document["errors"] == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist: pass a file written by `plan --out`"),
        (b"{not json", "is not JSON"),
        (b'{"format": "terraform", "version": 1}', "is not a saved plan"),
        (b'{"format": "synapse-aml-automation/plan", "version": 2}', "is plan format version 2"),
        # Whatever the file says its version is, the line stays short.
        (
            b'{"format": "synapse-aml-automation/plan", "version": "%s"}' % (b"9" * 2**20),
            "is plan format version '999",
        ),
    ],
    ids=["missing", "not-json", "other-format", "newer-version", "huge-version"],
)
def test_a_file_that_is_not_a_saved_plan_is_refused_before_azure_is_asked(
    app: App,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    expected: str,
) -> None:
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_bytes(content)

    assert cli.main(["apply", str(path)]) == 64

    line = _one_error_line(capsys.readouterr().err)
    assert f"plan file {path}" in line
    assert expected in line
    assert len(line) < 1000
    assert app.sim.requests == []


def test_a_saved_plan_applies_its_own_workspaces_only(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changes = _changes(app, tmp_path, "--workspace", scene.PROD)
    assert {c["workspace"] for c in changes} == {scene.PROD}

    assert cli.main(["apply", "--workspace", scene.PROD, str(tmp_path / "saved.plan.json")]) == 64
    assert cli.main(["apply", str(tmp_path / "saved.plan.json")]) == 0

    for connection in app.scene.connections:
        expected = (
            connection.expected if connection.workspace_id == scene.PROD else connection.initial
        )
        assert app.status(connection) == expected


def test_a_fault_of_the_apps_own_leaves_with_its_frames_and_no_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not an error the CLI tells in a line: its traceback (on stderr, in a pipeline's log) is
    # for the fix, the credentials its text and its cause's held are not.
    secret = "Zq7Wm3Kx9Pv2Ln5Tr8Yb4Hc"
    monkeypatch.setattr(cli, "cmd_plan", lambda _: fail_holding(secret))

    with pytest.raises(RuntimeError) as failure:
        cli.main(["plan"])

    shown = "".join(traceback.format_exception(failure.value))
    assert "in fail_holding" in shown
    assert leaked(secret, shown) is None, shown
