"""What the offline run prints: headings, lines and titled tables, through `rich`.

Tables carry a title (which workspace, which step), never cut a cell (long reasons wrap within
their column; long IDs fold), and show identical rows once with how many times they occurred.
The style is the operator CLI's (a header rule, no cell borders). On a terminal, headings and
titles are bold; piped or redirected, the output has no escape codes and no trailing padding, at
a fixed width that `COLUMNS` overrides. Control characters in values are shown escaped, never
sent to the terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO

from rich import box
from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from shared.logs import escape
from tools.terminal import show

#: Width used when the output is not a terminal and `COLUMNS` does not say (the CLI's too).
PLAIN_WIDTH = 160
#: A wrapping column is never narrower than this, unless the console is too narrow for it.
WRAP_MIN_WIDTH = 20
#: Values of other columns up to this long are kept on one line, when the width allows it.
KEEP_MAX = 56
#: Other columns are not narrowed below this to make room for the wrapping ones.
FIXED_MIN_WIDTH = 6


@dataclass(frozen=True)
class Column:
    """A table column. `wrap`: the column takes what width is left and wraps its text
    (reasons, messages); other columns keep their values on one line where the width allows."""

    name: str
    wrap: bool = False


def make_console(file: IO[str] | None = None, *, width: int | None = None) -> Console:
    """A console on `file` (stdout by default): styled on a terminal, plain otherwise."""
    out = file if file is not None else sys.stdout
    console = Console(file=out, highlight=False, emoji=False, markup=False, soft_wrap=False)
    if width is None and not console.is_terminal and "COLUMNS" not in os.environ:
        width = PLAIN_WIDTH
    if width is not None:
        console.width = width
    return console


def column_widths(naturals: Sequence[int], wraps: Sequence[bool], available: int) -> list[int]:
    """Widths for columns whose widest values are `naturals`, within `available` characters.

    Everything at its natural width when it fits. Otherwise the columns that do not wrap keep
    their natural width (up to `KEEP_MAX`) and the wrapping ones share the rest, in proportion
    to their natural widths and never below `WRAP_MIN_WIDTH`. When that does not fit either, the
    wrapping columns keep that minimum and the widest other columns are narrowed first (short
    values such as verdicts stay whole); on a console too narrow even for that, every column
    gets a share in proportion to its natural width. Text wider than its column wraps (long IDs
    fold): nothing is cut.
    """
    if sum(naturals) <= available:
        return list(naturals)
    fixed = [0 if wrap else min(n, KEEP_MAX) for n, wrap in zip(naturals, wraps, strict=True)]
    flexible = [i for i, wrap in enumerate(wraps) if wrap]
    others = [i for i, wrap in enumerate(wraps) if not wrap]
    wrap_least = sum(min(naturals[i], WRAP_MIN_WIDTH) for i in flexible)
    if flexible and available - sum(fixed) >= wrap_least:
        return _share(naturals, fixed, flexible, available - sum(fixed), WRAP_MIN_WIDTH)
    if flexible and others and available - wrap_least >= FIXED_MIN_WIDTH * len(others):
        capped = _cap([fixed[i] for i in others], available - wrap_least)
        widths = [0] * len(naturals)
        for i, width in zip(others, capped, strict=True):
            widths[i] = width
        return _share(naturals, widths, flexible, available - sum(capped), WRAP_MIN_WIDTH)
    return _share(naturals, [0] * len(naturals), list(range(len(naturals))), available, 1)


def _cap(values: Sequence[int], room: int) -> list[int]:
    # The highest common cap under which the values fit in `room`: the widest give way first.
    cap = max(values)
    while cap > 1 and sum(min(value, cap) for value in values) > room:
        cap -= 1
    return [min(value, cap) for value in values]


def _share(
    naturals: Sequence[int], widths: Sequence[int], among: Sequence[int], room: int, least: int
) -> list[int]:
    # Hand out `room` to the columns `among`, in proportion to their natural widths, none
    # below `least` (or its natural width, if smaller) nor above its natural width; what a
    # narrow column leaves goes to the wider ones.
    result = list(widths)
    pending = sorted(among, key=lambda i: naturals[i])
    while pending:
        total = sum(naturals[i] for i in pending)
        i = pending.pop(0)
        result[i] = min(naturals[i], max(least, room * naturals[i] // total))
        room -= result[i]
    return result


def printable(text: str) -> str:
    """`text` as the CLI shows outside text: control, format and separator characters (and the
    backslash) as Python escapes, so none reaches the terminal; never cut."""
    return escape(text, limit=max(len(text), 1))


def distinct(rows: Iterable[Sequence[object]]) -> list[tuple[tuple[str, ...], int]]:
    """Rows as text, each distinct row once (where it first occurs) with its number of
    occurrences."""
    counts: dict[tuple[str, ...], int] = {}
    for row in rows:
        key = tuple(str(value) for value in row)
        counts[key] = counts.get(key, 0) + 1
    return list(counts.items())


class Report:
    """Prints the run's story: step headings, lines, and titled tables."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console if console is not None else make_console()

    @property
    def plain(self) -> bool:
        """True when the output is not a terminal: no styles, no padding."""
        return not self.console.is_terminal

    def heading(self, text: str) -> None:
        """A step of the run."""
        self._print(Text())
        if self.plain:
            self._print(Text(printable(text)))
            self._print(Text("=" * min(len(text), self.console.width)))
        else:
            self._print(Rule(Text(printable(text), style="bold"), align="left"))
        self._print(Text())

    def line(self, text: str = "", *, style: str = "") -> None:
        """One line of text (wrapped at the console's width, never cut)."""
        self._print(Text(printable(text), style="" if self.plain else style))

    def _print(self, renderable: RenderableType) -> None:
        # Piped, without the spaces that pad each line to the width, as the CLI prints.
        show(self.console, renderable)

    def table(
        self,
        title: str,
        columns: Sequence[Column | str],
        rows: Iterable[Sequence[object]],
        *,
        empty: str = "none",
    ) -> None:
        """A titled table. Identical rows are shown once, with a `times` column when any row
        occurred more than once. An empty table is one line: the title and `empty`."""
        cols = [c if isinstance(c, Column) else Column(c) for c in columns]
        unique = distinct(rows)
        if not unique:
            self._print(Text(printable(f"{title}: {empty}")))
            self._print(Text())
            return
        repeated = any(count > 1 for _, count in unique)
        if repeated:
            cols.append(Column("times"))
        texts = [
            [printable(" ".join(value.split())) for value in values]
            + ([str(count)] if repeated else [])
            for values, count in unique
        ]
        naturals = [max([len(c.name)] + [len(row[i]) for row in texts]) for i, c in enumerate(cols)]
        # Each column costs 3 characters of padding and separator, the table's edge one more.
        available = self.console.width - 3 * len(cols) - 1
        widths = column_widths(naturals, [c.wrap for c in cols], available)
        table = Table(box=box.SIMPLE_HEAD, header_style="" if self.plain else "bold", expand=False)
        for column, width in zip(cols, widths, strict=True):
            table.add_column(
                column.name,
                overflow="fold",
                width=width,
                justify="right" if column.name == "times" else "left",
            )
        for row in texts:
            table.add_row(*(Text(value) for value in row))
        # The title on a line of its own: a table's own title would wrap at the table's width.
        self._print(Text(printable(title), style="" if self.plain else "bold"))
        self._print(table)
