"""The deploy zip: the files azd would put in it, computed here the way azd does.

azd (Azure/azure-dev cli/azd/pkg/project/project_utils.go, `createDeployableZip`) zips the
service's folder with cli/azd/pkg/rzip (`CreateFromDirectory`): it walks each directory in name
order, asks for every entry whether to include it, skips an excluded directory whole, and follows
symbolic links (a link to a directory is judged as a directory). The question is answered by
`.azure` (never), the ignore file itself and `local.settings.json` (never), then the
`.funcignore` patterns through github.com/denormal/go-gitignore (pinned ae8ad1d07817):
`Absolute(path, isDir)`: the path relative to the folder, matched against every pattern from the
last to the first, the first that matches decides (a `!` pattern includes); a path outside the
folder (inside a followed link) matches nothing.

go-gitignore's "name" patterns (no `/` but a trailing one, no `**`) are ported below: match the
last path component with fnmatch (flags 0: `*` matches a leading dot), a trailing `/` only a
directory, a leading `/` the whole relative path. The `.funcignore` must use only those (the test
refuses others, so the port cannot silently disagree with azd).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IGNORE_FILE = ".funcignore"
# What the Functions host needs at run time (the platform installs requirements.txt).
RUNTIME = ("function_app.py", "host.json", "requirements.txt", "handlers/", "shared/")
MAX_ZIP_BYTES = 3 * 1024 * 1024


@dataclass(frozen=True)
class Pattern:
    glob: str
    negated: bool
    anchored: bool
    directory: bool

    def matches(self, relative: str, is_dir: bool) -> bool:
        if self.directory and not is_dir:
            return False
        return fnmatchcase(relative if self.anchored else relative.rsplit("/", 1)[-1], self.glob)


def parse_ignore(text: str) -> list[Pattern]:
    patterns: list[Pattern] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        line = line.removeprefix("!")
        anchored = line.startswith("/")
        line = line.removeprefix("/")
        directory = line.endswith("/")
        line = line.removesuffix("/")
        if "/" in line or "**" in line or "\\" in line:
            raise NotImplementedError(f"{raw!r}: only name patterns are ported from go-gitignore")
        patterns.append(Pattern(line, negated, anchored, directory))
    return patterns


def ignored(patterns: list[Pattern], relative: str | None, is_dir: bool) -> bool:
    if relative is None:  # outside the folder: go-gitignore's Absolute matches nothing
        return False
    for pattern in reversed(patterns):
        if pattern.matches(relative, is_dir):
            return not pattern.negated
    return False


def zip_listing(root: Path) -> dict[str, int]:
    """Archive name -> size of every file azd would zip from `root` (a Python function app)."""
    patterns = parse_ignore((root / IGNORE_FILE).read_text(encoding="utf-8-sig"))
    listing: dict[str, int] = {}

    def include(source: Path, name: str, is_dir: bool) -> bool:
        if name == ".azure" and is_dir:
            return False
        if name in (IGNORE_FILE, "local.settings.json") and not is_dir:
            return False
        try:
            relative: str | None = source.relative_to(root).as_posix()
        except ValueError:
            relative = None
        return not ignored(patterns, relative, is_dir)

    def add_dir(destination: str, source: Path, depth: int) -> None:
        if depth > 40:
            return
        for entry in sorted(os.listdir(source)):
            path = source / entry
            is_link = path.is_symlink()
            is_dir = path.is_dir()  # follows a link, as onZip does
            if not include(path, entry, is_dir):
                continue
            target = path.resolve() if is_link else path
            name = f"{destination}{entry}"
            if is_dir:
                add_dir(f"{name}/", target, depth + (1 if is_link else 0))
            else:
                listing[name] = target.stat().st_size

    add_dir("", root, 0)
    return listing


def test_the_deploy_zip_holds_the_app_and_nothing_else() -> None:
    listing = zip_listing(REPO)
    for needed in RUNTIME:
        assert any(name == needed or name.startswith(needed) for name in listing), needed
    top_level = {name.split("/", 1)[0] + ("/" if "/" in name else "") for name in listing}
    assert top_level <= set(RUNTIME), f"not needed at run time: {sorted(top_level - set(RUNTIME))}"
    assert not [name for name in listing if "__pycache__" in name or name.endswith(".pyc")]
    assert not [name for name in listing if name.endswith("pyvenv.cfg") or "site-packages" in name]
    size = sum(listing.values())
    assert size < MAX_ZIP_BYTES, f"{size} bytes in {len(listing)} files"


def test_every_local_virtualenv_and_tool_folder_is_left_out(tmp_path: Path) -> None:
    # A checkout with what developers and tools leave behind, some of it behind links.
    (tmp_path / IGNORE_FILE).write_text(
        (REPO / IGNORE_FILE).read_text(encoding="utf-8"), encoding="utf-8"
    )
    for name in RUNTIME:
        if name.endswith("/"):
            (tmp_path / name / "__pycache__").mkdir(parents=True)
            (tmp_path / name / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"x")
            (tmp_path / name / "module.py").write_text("x = 1\n", encoding="utf-8")
        else:
            (tmp_path / name).write_text("{}\n", encoding="utf-8")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    (elsewhere / "lib").mkdir(parents=True)
    (elsewhere / "pyvenv.cfg").write_text("home = /usr\n", encoding="utf-8")
    for venv in (".venv", ".venv-checkov", ".venv311", ".sandbox", "node_modules"):
        (tmp_path / venv).symlink_to(elsewhere, target_is_directory=True)
    for folder in ("tests", "tools", "bench", "docs", "simulator", "infra", "scripts", ".github"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.py").write_text("", encoding="utf-8")
    for name in ("local.settings.json", "Makefile", "README.md", "pyproject.toml", "azure.yaml"):
        (tmp_path / name).write_text("", encoding="utf-8")
    listing = zip_listing(tmp_path)
    assert sorted(listing) == sorted(
        [n for n in RUNTIME if not n.endswith("/")]
        + [f"{n}module.py" for n in RUNTIME if n.endswith("/")]
    )


def test_the_port_follows_go_gitignore() -> None:
    patterns = parse_ignore("# c\n\n.*\nnode_modules/\n!keep.md\n*.md\n/top\n")
    assert ignored(patterns, ".venv-checkov", True)
    assert ignored(patterns, "handlers/.hidden", False)
    assert ignored(patterns, "a/node_modules", True)
    assert not ignored(patterns, "node_modules", False)  # a file: the pattern is for folders
    assert ignored(patterns, "keep.md", False)  # the last matching pattern decides
    assert ignored(patterns, "top", False)
    assert not ignored(patterns, "a/top", False)
    assert not ignored(patterns, None, False)
    with pytest.raises(NotImplementedError):
        parse_ignore("a/b\n")
