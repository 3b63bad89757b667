"""The documentation lives in the repository and keeps up with the code: the README and
docs/ARCHITECTURE.md link only to files of this repository, and the architecture names every
function and every setting the app has or the design promises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_infra import CONFIG_MODULE, DESIGN_SETTINGS, settings_read_by
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


def test_the_architecture_names_every_setting() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    read = settings_read_by(CONFIG_MODULE.read_text(encoding="utf-8"))
    assert read, "found no setting read by shared/config.py"
    assert sorted(name for name in read | DESIGN_SETTINGS if f"`{name}`" not in text) == []
