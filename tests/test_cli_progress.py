"""`plan` and `apply` show progress on a terminal, and nothing of it when piped."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tests.conftest import App
from tools import cli, terminal

pytestmark = pytest.mark.slow


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
