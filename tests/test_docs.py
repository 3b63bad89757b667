"""The documentation lives in the repository and keeps up with the code: the README and
docs/ARCHITECTURE.md link only to files of this repository, and the architecture names every
function and every setting the app has or the design promises."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_infra import CONFIG_MODULE, DESIGN_SETTINGS, PLATFORM_SETTINGS, settings_read_by
from tools import host

REPO = Path(__file__).resolve().parents[1]
ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"
DOCS = [REPO / "README.md", ARCHITECTURE]
# The functions of the design (a contract with infra/), built or being built.
DESIGN_FUNCTIONS = frozenset(
    {
        "on_private_endpoint_event",
        "on_workspace_event",
        "on_ml_event",
        "scheduled_retrain",
        "reconcile_all",
        "start_scoring",
        "get_scoring_job",
        "openapi_spec",
    }
)
_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_point_at_files_of_this_repository(doc: Path) -> None:
    targets = [t for t in _LINK.findall(doc.read_text(encoding="utf-8")) if "://" not in t]
    assert [t for t in targets if not t.startswith("#")], f"{doc.name} links to no file"
    for target in targets:
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(REPO), f"{doc.name} links outside the repository: {target}"
        assert path.exists(), f"{doc.name} links to a missing file: {target}"


def test_the_readme_points_at_the_architecture_document() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(docs/ARCHITECTURE.md)" in readme
    assert "../shared" not in readme  # the design folder is not part of a clone


def test_the_architecture_names_every_function() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    names = set(host.indexed()) | DESIGN_FUNCTIONS
    assert sorted(name for name in names if f"`{name}`" not in text) == []


def test_the_architecture_names_every_test_file() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    files = sorted(path.name for path in (REPO / "tests").glob("test_*.py"))
    assert files, "found no test file"
    assert [name for name in files if f"`{name}`" not in text] == []


# A path of the repository the docs name in code quotes: `shared/scoring/service.py`, `ml/`.
_REPO_PATH = re.compile(
    r"`((?:shared|handlers|tools|simulator|tests|infra|scripts|bench|docs)/[\w./-]*)`"
)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_the_repository_paths_the_docs_name_exist(doc: Path) -> None:
    paths = set(_REPO_PATH.findall(doc.read_text(encoding="utf-8")))
    assert paths, f"{doc.name} names no path of the repository"
    assert sorted(path for path in paths if not (REPO / path).exists()) == []


def test_the_architecture_names_every_setting() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    read = settings_read_by(CONFIG_MODULE.read_text(encoding="utf-8"))
    assert read, "found no setting read by shared/config.py"
    assert sorted(name for name in read | DESIGN_SETTINGS if f"`{name}`" not in text) == []


# --- the README's settings tables and local.settings.sample.json --------------------------------

README = REPO / "README.md"
SETTINGS_SAMPLE = REPO / "local.settings.sample.json"
# Read by the Functions host itself, not by the app's code: the sample must carry them for
# `func start`, and the README says what they are.
HOST_SETTINGS = frozenset({"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage"})
_TABLE_ROW_SETTING = re.compile(r"^\| `([A-Za-z][A-Za-z0-9_]+)`", re.MULTILINE)


def readme_table_settings() -> set[str]:
    """Names in the first column of the README's tables, one setting per row."""
    return set(_TABLE_ROW_SETTING.findall(README.read_text(encoding="utf-8")))


def sample_values() -> dict[str, str]:
    values: dict[str, str] = json.loads(SETTINGS_SAMPLE.read_text(encoding="utf-8"))["Values"]
    return values


class _RecordingEnvironment(dict[str, str]):
    """An environment that remembers every name looked up in it."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)


def settings_the_app_reads() -> set[str]:
    """What shared/config.py reads, found two ways: the names its source passes first (as
    tests/test_infra.py finds them) and the names it looks up while loading the sample with
    every optional part (retraining, the drift gate, scoring after a retrain) turned on; plus
    the telemetry's connection string."""
    from shared import telemetry
    from shared.config import load_settings

    values = sample_values()
    environment = _RecordingEnvironment(
        {**values, "RETRAIN_WORKSPACE_IDS": values["ML_WORKSPACE_IDS"]}
    )
    load_settings(environment)
    return (
        settings_read_by(CONFIG_MODULE.read_text(encoding="utf-8"))
        | environment.asked
        | {telemetry.CONNECTION_STRING}
    )


def test_the_readme_settings_table_has_every_setting_the_app_reads() -> None:
    missing = sorted(settings_the_app_reads() - readme_table_settings())
    assert missing == [], f"read by the app, in no row of the README's tables: {missing}"


def test_every_key_of_the_settings_sample_is_documented_and_read() -> None:
    documented = readme_table_settings()
    read = settings_the_app_reads() | HOST_SETTINGS
    keys = set(sample_values())
    assert sorted(keys - documented) == [], "sample keys without a row in the README's tables"
    assert sorted(keys - read) == [], "sample keys that neither the app nor the host reads"


def test_the_settings_sample_has_every_setting_the_app_reads() -> None:
    # The ledger takes exactly one of its two settings: the sample has the connection string.
    # The platform's own settings are never in it (tests/test_infra.py).
    missing = sorted(
        settings_the_app_reads()
        - set(sample_values())
        - {"LEDGER_TABLE_ENDPOINT"}
        - PLATFORM_SETTINGS
    )
    assert missing == [], f"settings the app reads, missing from the sample: {missing}"


def test_the_settings_sample_is_a_valid_configuration_with_and_without_retraining() -> None:
    from shared.config import load_settings

    values = sample_values()
    assert load_settings(values).retraining is None
    # Turned on, the sample's retraining settings must be valid too.
    retraining = load_settings({**values, "RETRAIN_WORKSPACE_IDS": values["ML_WORKSPACE_IDS"]})
    assert retraining.retraining is not None
    assert retraining.retraining.drift_gate is not None


# --- the ledger keys the README gives --------------------------------------------------------

_DOCUMENTED_WORKSPACE = re.compile(
    r"/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/\s`\"]+/providers/"
    r"Microsoft\.MachineLearningServices/workspaces/[A-Za-z0-9_-]+(?=[\s`\"])"
)
_DOCUMENTED_PARTITION = re.compile(r"actions:subscriptions:[^\s`'\"]+")


def test_the_readme_gives_the_ledgers_real_partition_key_for_a_workspace() -> None:
    from shared.ledger import actions_partition

    readme = README.read_text(encoding="utf-8")
    partitions = set(_DOCUMENTED_PARTITION.findall(readme))
    assert partitions, "the README gives no example of a workspace's action partition"
    real = {actions_partition(w) for w in _DOCUMENTED_WORKSPACE.findall(readme)}
    assert partitions <= real, f"documented keys the ledger would not write: {partitions - real}"
    assert "actions:<workspace>`" not in readme


# --- pointers into the README from the tools ------------------------------------------------

_README_POINTER = re.compile(r'README: \\?"([^"\\]+)\\?"')
_HEADING = re.compile(r"^#+ (.+)$", re.MULTILINE)


def test_the_tools_point_at_readme_sections_that_exist() -> None:
    headings = {h.replace("`", "") for h in _HEADING.findall(README.read_text(encoding="utf-8"))}
    pointers = {
        (path.name, section)
        for path in (REPO / "tools").glob("*.py")
        for section in _README_POINTER.findall(path.read_text(encoding="utf-8"))
    }
    assert pointers, "no README pointer found in tools/ (the demo names the sandbox's section)"
    assert sorted(p for p in pointers if p[1] not in headings) == []


def _github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_within_a_page_point_at_its_headings(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    anchors = {_github_anchor(h) for h in _HEADING.findall(text)}
    targets = [t[1:] for t in _LINK.findall(text) if t.startswith("#")]
    assert sorted(t for t in targets if t not in anchors) == []


ROOT = Path(__file__).resolve().parent.parent


def test_the_readmes_queries_use_only_fields_the_logs_carry() -> None:
    import re

    from shared.telemetry import DECISION_LOG_FIELDS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    queries = "\n".join(re.findall(r"```kusto\n(.*?)```", readme, flags=re.S))
    used = set(re.findall(r"customDimensions\.([A-Za-z_]+)", queries))
    assert used, "the README has no KQL over custom dimensions"
    assert used <= set(DECISION_LOG_FIELDS), used - set(DECISION_LOG_FIELDS)
    assert "rule_id" in used


# --- the README's ledger table names every partition and claim row the app writes ----------

_PARTITION_CONSTANT = re.compile(r'^[A-Z_]*_PARTITION = "([^"]+)"$', re.MULTILINE)
# `_keys(workspace_id, "remediations")`, `_keys(..., RETRAINING_ROW)`: a claims partition's rows.
_CLAIM_ROW = re.compile(r'_keys\([^,()]+, "([a-z:-]+)"')


def _readme_ledger_table() -> str:
    readme = README.read_text(encoding="utf-8")
    return readme.split("### The ledger", 1)[1].split("\n### ", 1)[0]


def test_the_readme_ledger_table_names_every_partition_and_claim_row() -> None:
    from shared.claims import RETRAINING_ROW

    sources = [p.read_text(encoding="utf-8") for p in (REPO / "shared").rglob("*.py")]
    partitions = {name for text in sources for name in _PARTITION_CONSTANT.findall(text)}
    assert {"events", "once"} <= partitions, "found no partition constant in shared/"
    claims = (REPO / "shared" / "claims.py").read_text(encoding="utf-8")
    rows = {row.rstrip(":") for row in _CLAIM_ROW.findall(claims)} | {RETRAINING_ROW}
    assert {"remediations", "retraining"} <= rows, "found no claim row in shared/claims.py"
    table = _readme_ledger_table()
    first_columns = {line.split("|")[1] for line in table.splitlines() if line.startswith("| `")}
    missing = sorted(p for p in partitions if not any(f"`{p}`" in c for c in first_columns))
    claim_line = next(line for line in table.splitlines() if line.startswith("| `claims:`"))
    missing += sorted(f"claims row {r}" for r in rows if f"`{r}" not in claim_line.split("|")[2])
    assert missing == [], f"written by the app, not in the README's ledger table: {missing}"


# A default of infra/main.parameters.json: `"${NAME=default}"`.
_INFRA_DEFAULT = re.compile(r'"\$\{([A-Z_]+)=([^}\[]+)\}"')


def test_the_readme_settings_table_gives_the_default_infra_provisions() -> None:
    parameters = (REPO / "infra" / "main.parameters.json").read_text(encoding="utf-8")
    defaults = dict(_INFRA_DEFAULT.findall(parameters))
    assert defaults.get("AUTOMATION_MODE") == "dry-run", "found no default in main.parameters.json"
    cells = {
        row.split("|")[1].strip(" `"): row.split("|")[2]
        for row in README.read_text(encoding="utf-8").splitlines()
        if _TABLE_ROW_SETTING.match(row)
    }
    wrong = sorted(
        f"{name}: infra/ provisions {value!r}, the README says {cells[name].strip()!r}"
        for name, value in defaults.items()
        if name in cells and f"`{value}`" not in cells[name]
    )
    assert wrong == []


def test_the_readme_kinds_table_has_every_kind_the_reconcilers_record() -> None:
    from shared.reconcilers import role_assignments
    from tests.test_infra_monitoring import LOGGED_KINDS

    kinds = LOGGED_KINDS | {role_assignments.KIND}
    table = _readme_ledger_table().split("**`Kind`s and their `Verdict`s**", 1)[1]
    rows = {line.split("|")[1].strip(" `") for line in table.splitlines() if line.startswith("| `")}
    assert sorted(kinds - rows) == [], "kinds the ledger holds with no row in the README's table"
