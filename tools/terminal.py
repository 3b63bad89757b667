"""What the operator CLI shows on a terminal: tables, progress, and plain text when piped.

Output goes through `rich`: progress bars only on an interactive terminal (on stderr, so that
`plan --json` keeps stdout to JSON), tables that wrap long reasons instead of cutting them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from shared.logs import escape

# Piped output is read by people in files and by grep: wide enough that names are not wrapped.
_PIPED_WIDTH = 160


def stdout() -> Console:
    """The console for results (stdout)."""
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=_PIPED_WIDTH, no_color=True)
    return console


def stderr() -> Console:
    """The console for progress and log lines (stderr)."""
    return Console(stderr=True, highlight=False)


@contextmanager
def logging_to(console: Console, *, verbose: bool) -> Iterator[None]:
    """The app's decision lines and the Azure SDKs' warnings (a credential chain explaining
    each of its failures) only with `--verbose`: otherwise the CLI says what matters itself,
    once, in its summary and its error lines.
    The previous logging set-up is restored on exit (`main()` is also called in-process)."""
    root = logging.getLogger()
    azure = logging.getLogger("azure")
    saved = (root.handlers[:], root.level, azure.level)
    try:
        _configure_logging(console, verbose=verbose)
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        azure.setLevel(saved[2])


def _configure_logging(console: Console, *, verbose: bool) -> None:
    handler: logging.Handler
    if console.is_terminal:
        handler = RichHandler(console=console, show_time=False, show_path=False, markup=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.CRITICAL)
    logging.getLogger("azure").setLevel(logging.WARNING if verbose else logging.CRITICAL)


@contextmanager
def progress(console: Console, description: str, total: int) -> Iterator[Any]:
    """A progress bar on a terminal; nothing at all when stderr is not one.

    Yields a callable that marks one step done (its argument, a name, is shown).
    """
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with bar:
        task = bar.add_task(description, total=total, current="")

        def step(name: object = "") -> None:
            bar.update(task, advance=1, current=str(name).rsplit("/", 1)[-1])

        yield step


def show(console: Console, renderable: Any) -> None:
    """Print to `console`; piped, without the padding that fills each line to the width."""
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    lines = [line.rstrip() for line in captured.get().splitlines()]
    console.file.write("\n".join(lines) + "\n")


def table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], *, wrap: str
) -> Table:
    """A titled table; the column named `wrap` takes the remaining width and wraps."""
    result = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, expand=False)
    for header in headers:
        if header == wrap:
            result.add_column(header, overflow="fold", ratio=1)
        else:
            result.add_column(header, no_wrap=True)
    for row in rows:
        # Text, not str: names and reasons are outside text, never rich markup; escaped, so a
        # control character cannot reach the terminal.
        result.add_row(*(Text(escape(value, limit=4_000)) for value in row))
    if not rows:
        result.add_row(*(["(none)"] + [""] * (len(headers) - 1)))
    return result
