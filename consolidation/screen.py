"""A screen of the history file's lines while they stream to the COPY: which lines are *plain* — every amount
cell (and the total) empty or digits with at most two decimals, the period YYYYMM — so that the SQL check may
cast their cells as they are instead of parsing each one (services/load.py: one regular expression per cell
cost about 60 µs a line in PostgreSQL; Python's compiled expression runs over the bytes while PostgreSQL parses
the COPY).

With a ``typed`` sink the screen also writes every line for a second COPY into the file's *typed* table
(``typed_kinds``: amounts numeric, the period an integer): a plain line as it is behind its line number, any other
line as its line number and empty cells (its period NULL marks it). The check and the apply then read the plain
lines' values as they are stored instead of parsing text (services/load.py, services/apply_history.py).

Only a shortcut: a line the screen does not pass gets the exact check of each cell, which names the insurance
and the reason. The screen gives up (every line then gets the exact check) when it cannot number the lines as
the COPY numbers its rows: a quote anywhere (a quoted cell may hold a line break), a line longer than the
buffer, or when its count of lines differs from the rows the COPY loaded.
"""

from __future__ import annotations

import re

from consolidation.layout import HISTORY_HEADERS

# At most this many lines not plain are listed (the check gets them as a constant array); past it, no line is.
UNPLAIN_LIMIT = 200_000
LINE_MAX = 1 << 20
# No spaces around (a cell with spaces takes the exact check): each space allowed costs the screen a fifth more.
# Possessive quantifiers (Python 3.11): a cell's digits or text are never given back to find another match (none
# could follow: the next character must be the delimiter), so the engine keeps no backtracking state — 1.1 µs a
# line of the benchmark's history instead of 2.0 µs.
_AMOUNT = rb"(?:[0-9]{1,12}+(?:\.[0-9]{1,2}+)?+)?+"
_PERIOD = rb"(?:19[5-9][0-9]|20[0-9]{2})(?:0[1-9]|1[0-2])"


def _typed_kind(key: str) -> str:
    if key == "total" or any(
        key == f"{i}_{part}" for i in HISTORY_HEADERS for part in ("base", "employer", "individual")
    ):
        return "n"
    return "i" if key == "period" else "t"


def typed_kinds(columns: dict[str, int], width: int) -> str:
    """The type of each cell of the typed table, one letter a column: n an amount (numeric(14,2)), i the period
    (integer), t text (the owner's function consolidation_typed_create, migration 0009)."""
    kinds = ["t"] * width
    for key, position in columns.items():
        kinds[position] = _typed_kind(key)
    return "".join(kinds)


def history_line_pattern(columns: dict[str, int], width: int, delimiter: str) -> re.Pattern:
    """A whole plain line of a history file with this header (bytes, any ASCII-compatible encoding: the bytes
    of digits, dots, spaces, delimiters and line ends never occur inside a GBK, GB18030 or UTF-8 character)."""
    sep = re.escape(delimiter.encode("ascii"))
    cells = [rb"[^" + sep + rb'"\r\n]*+'] * width
    for key, position in columns.items():
        if key == "total" or any(
            key == f"{i}_{part}" for i in HISTORY_HEADERS for part in ("base", "employer", "individual")
        ):
            cells[position] = _AMOUNT
        elif key == "period":
            cells[position] = _PERIOD
    return re.compile(rb"^" + sep.join(cells) + rb"\r?$", re.MULTILINE)


class LineScreen:
    """A file-like reader for the COPY (``read``) that screens the lines passing through it. After the last
    read, ``unplain()`` gives the numbers (1 = first data line, as the raw table's line_no) of the lines that
    are not plain, or None when the screen gave up."""

    def __init__(self, body, pattern: re.Pattern, typed=None, delimiter: str = ",", width: int = 0) -> None:
        self.body = body
        self.pattern = pattern
        self.rest = b""
        self.lines = 0
        self.off = False
        self.not_plain: list[int] = []
        self.typed = typed  # a binary file the typed lines are written to (CSV, the file's delimiter)
        self.sep = delimiter.encode("ascii")
        self.empty = self.sep * width + b"\n"

    def read(self, size: int = -1) -> bytes:
        data = self.body.read(size)
        if not self.off:
            self._scan(data)
        return data

    def _scan(self, data: bytes) -> None:
        if not data:  # the end: a last line without a line break
            if self.rest:
                self._block(self.rest + b"\n")
            self.rest = b""
            return
        buffer = self.rest + data
        cut = buffer.rfind(b"\n") + 1
        self.rest = buffer[cut:]
        if len(self.rest) > LINE_MAX:
            self._give_up()
        elif cut:
            self._block(buffer[:cut])

    def _block(self, block: bytes) -> None:
        if b'"' in block:
            self._give_up()
            return
        count = block.count(b"\n")
        plain = None
        if len(self.pattern.findall(block)) != count:
            fullmatch, plain = self.pattern.fullmatch, []
            for index, line in enumerate(block.split(b"\n")[:-1]):
                if fullmatch(line) is None:
                    self.not_plain.append(self.lines + index + 1)
                    plain.append(False)
                else:
                    plain.append(True)
            if len(self.not_plain) > UNPLAIN_LIMIT:
                self._give_up()
                return
        if self.typed is not None:
            self._typed(block, plain)
        self.lines += count

    def _typed(self, block: bytes, plain: list[bool] | None) -> None:
        """Each line of the block behind its number; a line not plain (``plain`` False) as empty cells."""
        lines = block.split(b"\n")[:-1]
        if b"\r" in block:
            lines = [line.rstrip(b"\r") for line in lines]
        sep, empty = self.sep, self.empty
        numbers = range(self.lines + 1, self.lines + 1 + len(lines))
        if plain is None:
            self.typed.write(b"".join([b"%d%s%s\n" % (n, sep, line) for n, line in zip(numbers, lines, strict=True)]))
        else:
            self.typed.write(
                b"".join(
                    [
                        b"%d%s%s\n" % (n, sep, line) if ok else b"%d%s" % (n, empty)
                        for n, line, ok in zip(numbers, lines, plain, strict=True)
                    ]
                )
            )

    def _give_up(self) -> None:
        self.off = True
        self.rest = b""
        self.not_plain = []

    def unplain(self, rows: int) -> list[int] | None:
        """The lines not plain, or None when the screen gave up or numbered other than the COPY (``rows``)."""
        if self.off or self.lines != rows:
            return None
        return self.not_plain
