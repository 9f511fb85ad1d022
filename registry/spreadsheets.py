"""Spreadsheets written for people: every text cell a spreadsheet program would take for a formula is neutralised
(a leading apostrophe), so a name or a note typed by someone never runs when the file is opened."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell import WriteOnlyCell

# ---------------------------------------------------------------------------------------------
# Writing.

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_neutralise(value: Any) -> Any:
    """Text a spreadsheet program would take for a formula gets a leading apostrophe; anything else is returned
    as it is (numbers, dates, None, harmless text)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def row_neutralise(values: Iterable[Any]) -> list[Any]:
    return [cell_neutralise(v) for v in values]


def xlsx_row(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """A row for a write-only sheet's ``append``: text neutralised, and a neutralised cell typed as a string
    explicitly. (openpyxl types any other text as a string by itself — only text starting with "=" would become
    a formula, and none is left after neutralising; not wrapping every cell keeps a million-row file fast.)"""
    row: list[Any] = []
    for value in values:
        safe = cell_neutralise(value)
        if safe is not value:
            cell = WriteOnlyCell(sheet, value=safe)
            cell.data_type = "s"
            safe = cell
        row.append(safe)
    return row


def workbook_neutralise(workbook: Any) -> None:
    """Neutralise every text cell of a (normal, not write-only) workbook before it is saved: what was appended as
    "=…" became a formula cell, and is written as text instead. For reports of a few thousand cells."""
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                safe = cell_neutralise(cell.value)
                if safe is not cell.value:
                    cell.value = safe
                    cell.data_type = "s"


class SafeSheet:
    """A write-only sheet whose ``append`` neutralises the row (``xlsx_row``): wrap a sheet once, append as usual."""

    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet

    def append(self, values: Iterable[Any]) -> None:
        self.sheet.append(xlsx_row(self.sheet, values))
