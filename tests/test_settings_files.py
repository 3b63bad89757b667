"""Settings files and JSON settings at their edges: whatever a path or a value holds, the CLI says
so in one line naming the file or the setting, and exits 64. Bounded reads, regular files only,
validation at load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config import MAX_JSON_SETTING_CHARS, MAX_JSON_SETTING_DEPTH, SettingsError
from shared.config import load_settings as load_environment
from tools import cli

REPO = Path(__file__).resolve().parent.parent
GROUP = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-1234"
VALUES = {
    "ML_WORKSPACE_IDS": f"{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/mlw-one",
    "SYNAPSE_WORKSPACE_IDS": f"{GROUP}/providers/Microsoft.Synapse/workspaces/syn-one",
    "LEDGER_CONNECTION_STRING": "UseDevelopmentStorage=true",
}


@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory without local.settings.json, and no app setting in the environment (the
    environment wins over the file). The CLI puts the file's settings into the environment
    itself: they are taken out again afterwards."""
    monkeypatch.chdir(tmp_path)
    saved = dict(os.environ)
    for name in [*VALUES, "OUTCOME_TOPIC_ENDPOINT", "POLICY_EXEMPTIONS", "RETRAIN_INPUTS"]:
        os.environ.pop(name, None)
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    (line,) = [line for line in err.strip().splitlines() if line]
    return line


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null"])
def test_a_device_as_settings_file_is_one_line_and_exit_64(
    clean: Path, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    # /dev/zero was read to its end: a MemoryError traceback.
    assert cli.main(["plan", "--settings", path]) == 64

    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"error: settings file {path} is not a regular file")


def test_a_settings_file_over_the_bound_is_one_line_and_exit_64(
    clean: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = clean / "huge.settings.json"
    padding = "x" * cli.MAX_SETTINGS_FILE_BYTES
    path.write_text(json.dumps({"Values": VALUES, "Padding": padding}), encoding="utf-8")

    assert cli.main(["plan", "--settings", str(path)]) == 64

    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"error: settings file {path} is larger than 1 MiB")


@pytest.mark.parametrize(
    ("command", "label"),
    [(["plan", "--settings"], "settings file "), (["replay"], "")],
    ids=["settings", "events"],
)
def test_a_fifo_is_refused_without_waiting(tmp_path: Path, command: list[str], label: str) -> None:
    # Nothing ever writes to it: opening it for reading used to block the CLI forever.
    fifo = tmp_path / "local.settings.json"
    os.mkfifo(fifo)
    environment = {k: v for k, v in os.environ.items() if k not in VALUES}

    finished = subprocess.run(  # noqa: S603 - our own interpreter and CLI, fixed arguments
        [sys.executable, "-m", "tools.cli", *command, str(fifo)],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 64
    line = _one_line(finished.stderr)
    assert line.startswith(f"error: {label}{fifo} is not a regular file")


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        (
            "OUTCOME_TOPIC_ENDPOINT",
            "https://user:secret@outcomes.westeurope-1.eventgrid.azure.net/api/events",
            "expected an https:// URL (without user info)",
        ),
        ("POLICY_EXEMPTIONS", "[" * 30_000 + "]" * 30_000, "is nested too deeply"),
        ("RETRAIN_INPUTS", '{"a":' * 10_000 + "1" + "}" * 10_000, "is nested too deeply"),
        ("POLICY_EXEMPTIONS", "[" + " " * MAX_JSON_SETTING_CHARS + "]", "characters long"),
    ],
    ids=["user-info", "nested-exemptions", "nested-inputs", "huge-exemptions"],
)
def test_a_bad_setting_in_the_settings_file_is_one_line_naming_it_and_exit_64(
    clean: Path, capsys: pytest.CaptureFixture[str], setting: str, value: str, expected: str
) -> None:
    # Each loaded and failed later (a URL with user info at the first publish), or raised
    # RecursionError out of the settings loader.
    values = {**VALUES, setting: value}
    if setting == "RETRAIN_INPUTS":
        values |= {
            "RETRAIN_WORKSPACE_IDS": VALUES["ML_WORKSPACE_IDS"],
            "RETRAIN_COMPONENT": "train:1",
            "RETRAIN_COMPUTE": "cpu-cluster",
        }
    path = clean / "local.settings.json"
    path.write_text(json.dumps({"Values": values}), encoding="utf-8")

    assert cli.main(["plan", "--settings", str(path)]) == 64

    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"error: configuration error: {setting}")
    assert expected in line


@settings(max_examples=150)
@given(
    depth=st.integers(min_value=1, max_value=3 * MAX_JSON_SETTING_DEPTH),
    opener=st.sampled_from(["[", '{"k":', '[{"k":"[\\"{",']),
)
def test_json_settings_load_or_refuse_by_their_nesting_never_raise_otherwise(
    depth: int, opener: str
) -> None:
    closer = {"[": "]", '{"k":': "}", '[{"k":"[\\"{",': "}]"}[opener]
    levels = {"[": 1, '{"k":': 1, '[{"k":"[\\"{",': 2}[opener]
    text = opener * depth + "1" + closer * depth
    environment = {**VALUES, "POLICY_EXEMPTIONS": text}
    try:
        load_environment(environment)
    except SettingsError as error:
        message = str(error)
    else:
        message = ""
    nested = depth * levels
    # Brackets inside strings do not count; beyond the bound it is always this one error.
    if nested > MAX_JSON_SETTING_DEPTH:
        assert message.startswith("POLICY_EXEMPTIONS is nested too deeply"), message
    else:
        assert "nested too deeply" not in message
        assert message.startswith("POLICY_EXEMPTIONS") or message == ""
