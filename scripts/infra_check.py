"""Compile and lint infra/main.bicep with the Azure CLI's Bicep: `make infra-check`, and the pull
request workflow (.github/workflows/infra.yml) runs the same.

- `az bicep build`: the template compiles (BCP errors, such as BCP420's conditional module scope);
- `az bicep lint`: the linter's findings; errors fail, and so do warnings (the linter's rules are
  about the template's own quality), except ALLOWED_WARNINGS: BCP081, "resource type not in
  Bicep's type library": the API versions in infra/ are newer than some Bicep releases know, which
  says nothing about the template.

Exit status: 0 clean, 1 a finding (each printed), 2 not run: the Azure CLI is not installed (the
message says so and how to get it; nothing was checked, so nothing claims it passed).
Standard library only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

TEMPLATE = Path("infra") / "main.bicep"
ALLOWED_WARNINGS = frozenset({"BCP081"})
# `<file>(<line>,<column>) : <Level> <code>: <message>`, Bicep's default diagnostics format.
DIAGNOSTIC = re.compile(r"\) : (Error|Warning|Info) ([A-Za-z0-9-]+):")


def az(executable: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed program and arguments
        [executable, *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def findings(output: str) -> list[str]:
    """The lines that fail the check: errors, and warnings not in ALLOWED_WARNINGS."""
    failing = []
    for line in output.splitlines():
        match = DIAGNOSTIC.search(line)
        if match and (
            match.group(1) == "Error"
            or (match.group(1) == "Warning" and match.group(2) not in ALLOWED_WARNINGS)
        ):
            failing.append(line.strip())
    return failing


def main() -> int:
    executable = shutil.which("az")
    if executable is None:
        print(
            "infra-check: NOT RUN: the Azure CLI (az) is not installed, so infra/main.bicep was "
            "not compiled or linted. Install it (https://aka.ms/installazurecli) and run "
            "make infra-check again; pull requests run the same check in "
            ".github/workflows/infra.yml.",
            file=sys.stderr,
        )
        return 2
    problems: list[str] = []
    build = az(executable, "bicep", "build", "--file", str(TEMPLATE), "--stdout")
    build_output = build.stderr
    problems += findings(build_output)
    if build.returncode != 0 and not problems:
        problems.append(build_output.strip() or f"az bicep build exited {build.returncode}")
    lint = az(executable, "bicep", "lint", "--file", str(TEMPLATE))
    lint_output = lint.stdout + lint.stderr
    problems += [line for line in findings(lint_output) if line not in problems]
    if lint.returncode != 0 and not problems:
        problems.append(lint_output.strip() or f"az bicep lint exited {lint.returncode}")
    for line in problems:
        print(f"infra-check: {line}", file=sys.stderr)
    if problems:
        return 1
    print(f"infra-check: {TEMPLATE} compiles and lints clean (az bicep build, az bicep lint)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
