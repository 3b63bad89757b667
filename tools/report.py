"""What the offline run prints: headings, lines and titled tables, through `rich`.

Tables carry a title (which workspace, which step), never cut a cell (long reasons wrap within
their column; long IDs fold), and show identical rows once with how many times they occurred.
On a terminal they are drawn with rounded borders; when the output is piped or redirected they
are plain ASCII, without colours or other escape codes, at a fixed width that `COLUMNS` overrides.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO

from rich import box
from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

#: Width used when the output is not a terminal and `COLUMNS` does not say.
PLAIN_WIDTH = 132
#: A wrapping column is never narrower than this, unless the console is too narrow for it.
WRAP_MIN_WIDTH = 20
#: Values of other columns up to this long are kept on one line, when the width allows it.
KEEP_MAX = 44
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
        """True when the output is not a terminal: no colours, ASCII borders."""
        return not self.console.is_terminal

    def heading(self, text: str) -> None:
        """A step of the run."""
        self.console.print()
        if self.plain:
            self.console.print(Text(text))
            self.console.print(Text("=" * min(len(text), self.console.width)))
        else:
            self.console.print(Rule(Text(text, style="bold"), align="left"))
        self.console.print()

    def line(self, text: str = "", *, style: str = "") -> None:
        """One line of text (wrapped at the console's width, never cut)."""
        self.console.print(Text(text, style="" if self.plain else style))

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
            self.console.print(Text(f"{title}: {empty}"))
            self.console.print()
            return
        repeated = any(count > 1 for _, count in unique)
        if repeated:
            cols.append(Column("times"))
        texts = [
            [" ".join(value.split()) for value in values] + ([str(count)] if repeated else [])
            for values, count in unique
        ]
        naturals = [max([len(c.name)] + [len(row[i]) for row in texts]) for i, c in enumerate(cols)]
        # Each column costs 3 characters of padding and border, the table one more.
        available = self.console.width - 3 * len(cols) - 1
        widths = column_widths(naturals, [c.wrap for c in cols], available)
        table = Table(
            box=box.ASCII if self.plain else box.ROUNDED,
            header_style="" if self.plain else "bold",
            expand=False,
        )
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
        self.console.print(Text(title, style="" if self.plain else "bold"))
        self.console.print(table)
        self.console.print()
