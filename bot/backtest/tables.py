"""Rich tables that never cut a digit: cron logs and pipes are 80 columns wide (rich's width
when stdout is not a terminal), and a PnL printed as ``-361.`` is a wrong number, not a short one.

``fit`` gives every short column (numbers, names) the width of its longest cell, so rich never
shrinks it; headers wrap at their spaces; a long text column stays flexible. Columns that still
do not fit are dropped whole, in the order the caller names, and said."""

from __future__ import annotations

from typing import Any

SHORT_CELL = 18  # a column whose cells are all at most this wide is kept whole


def fit(table: Any, width: int, *, drop: tuple[str, ...] = ()) -> list[str]:
    """Fix ``table``'s short columns to their widest cell (or header word); drop the columns
    named in ``drop`` (in that order) while the table is wider than ``width``. Returns the
    headers of the columns dropped."""
    from rich.text import Text

    def cell_width(cell: Any) -> int:
        return Text.from_markup(cell).cell_len if isinstance(cell, str) else len(str(cell))

    fixed: dict[int, int] = {}
    for index, column in enumerate(table.columns):
        cells = [cell_width(cell) for cell in column._cells] or [0]
        if max(cells) <= SHORT_CELL:
            words = str(column.header).split() or [""]
            fixed[index] = max(*cells, *(len(word) for word in words))
            column.width, column.no_wrap, column.overflow = fixed[index], False, "fold"
    dropped: list[str] = []
    for header in drop:
        if _width(table) <= width:
            break
        for index, column in enumerate(table.columns):
            if str(column.header) == header:
                del table.columns[index]
                for column_after in table.columns[index:]:
                    column_after._index -= 1
                dropped.append(header)
                break
    return dropped


def _width(table: Any) -> int:
    """The narrowest the table renders at: fixed columns at their width, others at their longest word."""
    from rich.text import Text

    total = 1  # the left border
    for column in table.columns:
        if column.width is not None:
            content = column.width
        else:
            words = [
                len(word)
                for cell in [column.header, *column._cells]
                for word in (Text.from_markup(cell).plain if isinstance(cell, str) else str(cell)).split()
            ]
            content = max(words or [1])
        total += content + 3  # padding 1 + 1, a border
    return total
