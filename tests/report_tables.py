"""Reading back the plain (piped) tables of tools/report.py, as a person reads them: a title, a
header over a rule, rows whose wrapped cells continue on the lines below."""

from __future__ import annotations

import re
from collections.abc import Iterator

RULE = "─"
_HEADER_NAMES = re.compile(r"\S+(?: \S+)*")  # names are separated by two spaces or more


def is_rule(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and set(stripped) == {RULE}


def column_starts(header: str) -> list[int]:
    return [match.start() for match in _HEADER_NAMES.finditer(header)]


def tables(output: str) -> Iterator[tuple[str, list[list[str]]]]:
    """(title, rows) of each table; the header row first, then each row with the pieces of its
    wrapped cells joined by spaces."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if not is_rule(line) or index < 2:
            continue
        header = lines[index - 1]
        title = next((text.strip() for text in reversed(lines[: index - 1]) if text.strip()), "")
        starts = column_starts(header)
        bounds = list(zip(starts, [*starts[1:], None], strict=True))
        rows = [[header[a:b].strip() for a, b in bounds]]
        for body in lines[index + 1 :]:
            if not body.strip():
                break
            cells = [body[a:b].strip() for a, b in bounds]
            if cells[0] or len(rows) == 1:
                rows.append(cells)
            else:
                rows[-1] = [
                    f"{old} {new}".strip() for old, new in zip(rows[-1], cells, strict=True)
                ]
        yield title, rows
