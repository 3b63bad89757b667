"""Compile and preview before deploying: `make infra-check` and the pull request
workflow. `make infra-check` runs against a fake az on a PATH that holds only make, python3 and
(or not) that az, so the test sees exactly which commands it runs and what it makes of their
output; the workflow is read as YAML."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "infra.yml"

FAKE_AZ = """#!{python}
import json, os, sys
with open(os.environ["FAKE_AZ_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
verb = sys.argv[2]
sys.stderr.write(os.environ.get("FAKE_" + verb.upper() + "_OUTPUT", ""))
sys.exit(int(os.environ.get("FAKE_" + verb.upper() + "_EXIT", "0")))
"""
WARNING = (
    '/src/infra/main.bicep(12,7) : Warning no-unused-params: Parameter "x" is declared but '
    "never used. [https://aka.ms/bicep/linter/no-unused-params]\n"
)
TYPE_WARNING = (
    "/src/infra/app/x.bicep(3,1) : Warning BCP081: Resource type "
    '"Microsoft.EventGrid/systemTopics@2025-02-15" does not have types available.\n'
)
ERROR = (
    "/src/infra/main.bicep(600,10) : Error BCP420: The scope could not be resolved at "
    "compile time because the supplied expression is ambiguous or too complex.\n"
)


def make_infra_check(
    tmp_path: Path, *, with_az: bool, **outputs: str
) -> tuple[int, str, list[list[str]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    make = shutil.which("make")
    assert make, "make is needed to test the make target"
    (bin_dir / "make").unlink(missing_ok=True)
    (bin_dir / "make").symlink_to(make)
    python = bin_dir / "python3"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    fake = bin_dir / "az"
    fake.unlink(missing_ok=True)
    if with_az:
        fake.write_text(FAKE_AZ.format(python=sys.executable), encoding="utf-8")
        fake.chmod(0o755)
    log = tmp_path / "az.log"
    log.write_text("", encoding="utf-8")
    completed = subprocess.run(  # noqa: S603 - make, fixed target
        [str(bin_dir / "make"), "--no-print-directory", "infra-check"],
        cwd=REPO,
        env={"PATH": str(bin_dir), "FAKE_AZ_LOG": str(log), **outputs},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return completed.returncode, completed.stdout + completed.stderr, calls


def test_infra_check_builds_and_lints_main_bicep(tmp_path: Path) -> None:
    code, output, calls = make_infra_check(tmp_path, with_az=True, FAKE_LINT_OUTPUT=TYPE_WARNING)
    assert code == 0, output
    assert calls == [
        ["bicep", "build", "--file", "infra/main.bicep", "--stdout"],
        ["bicep", "lint", "--file", "infra/main.bicep"],
    ]
    assert "compiles and lints clean" in output


@pytest.mark.parametrize(
    ("outputs", "finding"),
    [
        ({"FAKE_LINT_OUTPUT": TYPE_WARNING + WARNING}, "Warning no-unused-params"),
        ({"FAKE_BUILD_OUTPUT": ERROR, "FAKE_BUILD_EXIT": "1"}, "Error BCP420"),
        ({"FAKE_LINT_OUTPUT": "ERROR: bicep crashed\n", "FAKE_LINT_EXIT": "1"}, "bicep crashed"),
    ],
)
def test_errors_and_linter_warnings_fail(
    tmp_path: Path, outputs: dict[str, str], finding: str
) -> None:
    code, output, _ = make_infra_check(tmp_path, with_az=True, **outputs)
    assert code != 0
    assert "infra-check: " in output
    [line] = [line for line in output.splitlines() if line.startswith("infra-check: ")]
    assert finding in line


def test_without_az_it_says_it_did_not_run_and_fails(tmp_path: Path) -> None:
    code, output, calls = make_infra_check(tmp_path, with_az=False)
    assert code != 0
    assert calls == []
    assert "infra-check: NOT RUN: the Azure CLI (az) is not installed" in output


def workflow() -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return data


def steps_run(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def test_the_workflow_runs_the_check_on_pull_requests_and_previews_with_oidc() -> None:
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert isinstance(triggers, dict)
    assert "pull_request" in triggers
    assert data["permissions"] == {"contents": "read"}
    jobs = data["jobs"]
    assert "make infra-check" in steps_run(jobs["bicep"])
    preview = jobs["preview"]
    assert preview["if"] == "vars.AZURE_CLIENT_ID != ''"
    assert preview["permissions"] == {"contents": "read", "id-token": "write"}
    uses = [step.get("uses", "") for step in preview["steps"]]
    assert any(use.startswith("azure/login@") for use in uses)
    assert any(use.startswith("Azure/setup-azd@") for use in uses)
    commands = steps_run(preview)
    assert "--federated-credential-provider github" in commands
    assert "azd provision --preview" in commands
    # OIDC only: no stored secret anywhere in the workflow.
    assert "secrets." not in WORKFLOW.read_text(encoding="utf-8")


def test_the_make_target_is_what_the_workflow_runs() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    target = makefile.split("\ninfra-check:\n", 1)[1].split("\n\n", 1)[0]
    assert target.strip() == "python3 scripts/infra_check.py"
    assert os.access(REPO / "scripts" / "infra_check.py", os.R_OK)
