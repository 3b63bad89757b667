"""The offline run's tables: titled, each distinct row once with its count, nothing cut, plain
(ASCII, no escape codes) when not on a terminal, within the console's width."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from tests.report_tables import is_rule, tables
from tools.report import (
    FIXED_MIN_WIDTH,
    KEEP_MAX,
    PLAIN_WIDTH,
    WRAP_MIN_WIDTH,
    Column,
    Report,
    column_widths,
    distinct,
    make_console,
    printable,
)

REASON = (
    "no allow-listed Synapse workspace lists a managed private endpoint with this private "
    "endpoint for this workspace, and the request message names a workspace it does not own"
)


def render(
    rows: Sequence[Sequence[object]], *, width: int = 80, title: str = "Decisions in mlw-prod"
) -> str:
    out = io.StringIO()
    Report(make_console(out, width=width)).table(
        title, ["kind", "resource", Column("reason", wrap=True)], rows
    )
    return out.getvalue()


def test_a_table_starts_with_its_title() -> None:
    output = render([["private-endpoint-connection", "pe-1", "ok"]])
    assert output.splitlines()[0].strip() == "Decisions in mlw-prod"


def test_identical_rows_are_shown_once_with_how_many_times() -> None:
    same: list[object] = ["connection", "pe-1", "same"]
    rows: list[list[object]] = [same, same, same, ["connection", "pe-2", "x"]]
    [(_, parsed)] = list(tables(render(rows)))
    assert parsed == [
        ["kind", "resource", "reason", "times"],
        ["connection", "pe-1", "same", "3"],
        ["connection", "pe-2", "x", "1"],
    ]


def test_no_count_column_when_every_row_is_distinct() -> None:
    assert "times" not in render([["a", "b", "c"], ["a", "b", "d"]])


@pytest.mark.parametrize("width", [40, 60, 80, 132])
def test_a_long_reason_wraps_within_the_width_and_is_never_cut(width: int) -> None:
    output = render(
        [["private-endpoint-connection", "syn-analytics.mpe-aml-prod-049c6444", REASON]],
        width=width,
    )
    lines = output.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in output
    # The reason column is the last one: its pieces, in order, are the whole reason.
    rule = next(i for i, line in enumerate(lines) if is_rule(line))
    start = lines[rule - 1].index("reason")
    pieces = [line[start:] for line in lines[rule + 1 :]]
    assert "".join("".join(pieces).split()) == "".join(REASON.split())


def test_an_empty_table_is_one_line_with_its_title() -> None:
    assert render([]).strip() == "Decisions in mlw-prod: none"


def test_plain_output_has_no_escape_codes_and_no_padding() -> None:
    output = render([["a", "b", REASON]])
    assert "\x1b" not in output
    assert all(line == line.rstrip() for line in output.splitlines())


def test_a_terminal_gets_bold_titles_and_headers() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80, color_system="standard")
    Report(console).table("Decisions in mlw-dev", ["kind"], [["approve"]])
    assert "\x1b[1mDecisions in mlw-dev" in out.getvalue()
    assert "approve" in out.getvalue()


@pytest.mark.parametrize("terminal", [False, True], ids=["piped", "terminal"])
def test_control_characters_in_values_are_shown_escaped(terminal: bool) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=100)
    Report(console).table("Title\x07", ["name", "reason"], [["pe\x1b[2J", "bell\x07 and\r"]])
    output = out.getvalue()
    assert "\x1b[2J" not in output
    assert "\x07" not in output
    assert "pe\\x1b[2J" in output
    assert "bell\\x07" in output


def test_printable_leaves_ordinary_text_alone() -> None:
    assert printable("mlw-prod: 1 approve, naïve ✓") == "mlw-prod: 1 approve, naïve ✓"
    assert printable("a\x00b\u202ec") == "a\\x00b\\u202ec"


def test_the_plain_width_is_fixed_unless_columns_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert make_console(io.StringIO()).width == PLAIN_WIDTH
    monkeypatch.setenv("COLUMNS", "90")
    assert make_console(io.StringIO()).width == 90


def test_distinct_keeps_first_occurrence_order() -> None:
    assert distinct([[1, "a"], [2, "b"], [1, "a"]]) == [(("1", "a"), 2), (("2", "b"), 1)]


naturals = st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=8)


@given(naturals, st.data())
def test_column_widths_fit_the_room_and_never_exceed_what_a_column_needs(
    natural: list[int], data: st.DataObject
) -> None:
    wraps = data.draw(st.lists(st.booleans(), min_size=len(natural), max_size=len(natural)))
    available = data.draw(st.integers(min_value=len(natural), max_value=400))
    widths = column_widths(natural, wraps, available)
    assert len(widths) == len(natural)
    assert all(1 <= w <= n for w, n in zip(widths, natural, strict=True))
    assert sum(widths) <= available
    if sum(natural) <= available:
        assert widths == natural


@given(naturals, st.data())
def test_short_columns_stay_whole_when_the_wrapping_ones_can_give_way(
    natural: list[int], data: st.DataObject
) -> None:
    wraps = data.draw(st.lists(st.booleans(), min_size=len(natural), max_size=len(natural)))
    fixed = sum(min(n, KEEP_MAX) for n, wrap in zip(natural, wraps, strict=True) if not wrap)
    available = fixed + WRAP_MIN_WIDTH * sum(wraps) + data.draw(st.integers(0, 100))
    widths = column_widths(natural, wraps, available)
    for width, n, wrap in zip(widths, natural, wraps, strict=True):
        if wrap:
            assert width >= min(n, WRAP_MIN_WIDTH)
        elif any(wraps) and sum(natural) > available:
            assert width == min(n, KEEP_MAX)
        else:
            assert width == n or sum(natural) > available


@given(naturals, st.data())
def test_when_room_is_short_the_widest_other_columns_give_way_first(
    natural: list[int], data: st.DataObject
) -> None:
    wraps = data.draw(st.lists(st.booleans(), min_size=len(natural), max_size=len(natural)))
    others = [i for i, wrap in enumerate(wraps) if not wrap]
    wrap_least = sum(min(n, WRAP_MIN_WIDTH) for n, wrap in zip(natural, wraps, strict=True) if wrap)
    available = wrap_least + FIXED_MIN_WIDTH * len(others) + data.draw(st.integers(0, 150))
    widths = column_widths(natural, wraps, available)
    for i, (width, n, wrap) in enumerate(zip(widths, natural, wraps, strict=True)):
        if wrap:
            assert width >= min(n, WRAP_MIN_WIDTH)
        elif any(wraps) and width < min(n, KEEP_MAX):
            # A column is narrowed only down to what the widest others are narrowed to.
            assert all(widths[j] <= width for j in others), (i, widths)
