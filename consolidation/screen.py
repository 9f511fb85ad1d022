"""A screen of the history file's lines while they stream to the COPY: which lines are *plain* — every amount
cell (and the total) empty or digits with at most two decimals, the period YYYYMM — so that the SQL check may
cast their cells as they are instead of parsing each one (services/load.py: one regular expression per cell
cost about 60 µs a line in PostgreSQL; Python's compiled expression runs over the bytes while PostgreSQL parses
the COPY).

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
_AMOUNT = rb"(?:[0-9]{1,12}(?:\.[0-9]{1,2})?)?"
_PERIOD = rb"(?:19[5-9][0-9]|20[0-9]{2})(?:0[1-9]|1[0-2])"


def history_line_pattern(columns: dict[str, int], width: int, delimiter: str) -> re.Pattern:
    """A whole plain line of a history file with this header (bytes, any ASCII-compatible encoding: the bytes
    of digits, dots, spaces, delimiters and line ends never occur inside a GBK, GB18030 or UTF-8 character)."""
    sep = re.escape(delimiter.encode("ascii"))
    cells = [rb"[^" + sep + rb'"\r\n]*'] * width
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

    def __init__(self, body, pattern: re.Pattern) -> None:
        self.body = body
        self.pattern = pattern
        self.rest = b""
        self.lines = 0
        self.off = False
        self.not_plain: list[int] = []

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
        if len(self.pattern.findall(block)) != count:
            fullmatch = self.pattern.fullmatch
            for index, line in enumerate(block.split(b"\n")[:-1]):
                if fullmatch(line) is None:
                    self.not_plain.append(self.lines + index + 1)
            if len(self.not_plain) > UNPLAIN_LIMIT:
                self._give_up()
        self.lines += count

    def _give_up(self) -> None:
        self.off = True
        self.rest = b""
        self.not_plain = []

    def unplain(self, rows: int) -> list[int] | None:
        """The lines not plain, or None when the screen gave up or numbered other than the COPY (``rows``)."""
        if self.off or self.lines != rows:
            return None
        return self.not_plain
