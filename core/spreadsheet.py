"""CSV cells that a spreadsheet program opens as text, never as a formula.

Excel, LibreOffice and Google Sheets run a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, after a tab or carriage return, whatever follows) as a formula: a value a partner or a
user typed could then fetch URLs or run commands on an analyst's machine. Such cells get a
leading apostrophe, which the programs show as text (OWASP "CSV injection").
"""

from __future__ import annotations

from collections.abc import Iterable

#: Characters a spreadsheet program treats as the start of a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value``, with an apostrophe in front when it is text that could start a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def restore_cell(value: str) -> str:
    """A cell as written before :func:`safe_cell`, for programs that read such CSV back."""
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def safe_row(values: Iterable[object]) -> list[object]:
    """Every cell of ``values`` (an iterable) made safe with :func:`safe_cell`."""
    return [safe_cell(value) for value in values]
