"""The screen of the history lines during the COPY (consolidation/screen.py): a shortcut only — lines it does not
pass, and whole files it gives up on, get the exact check of each cell with the same reasons and sums."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from consolidation.layout import COLUMNS, header_columns
from consolidation.models import BatchStatus, FileKind, RejectedLine
from consolidation.screen import LineScreen, history_line_pattern, typed_kinds
from consolidation.services.load import batch_load
from consolidation.tests.factories import city_admin, csv_bytes, deliver, history_line
from registry.tests.factories import make_id_number

HEADER = [c.header for c in COLUMNS["history"]]
PERSON = make_id_number("331003", "19800305", 15)


def _screen(data: bytes, chunk: int = 64) -> tuple[LineScreen, int]:
    pattern = history_line_pattern(header_columns(FileKind.HISTORY, HEADER), len(HEADER), ",")
    screen = LineScreen(io.BytesIO(data), pattern)
    while screen.read(chunk):
        pass
    return screen, data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _lines(rows: list[list[object]]) -> bytes:
    """The data lines as the COPY gets them (no header), cells written as they are (no quoting)."""
    return b"".join(",".join(str(cell) for cell in row).encode() + b"\r\n" for row in rows)


def test_the_screen_lists_the_lines_that_are_not_plain_across_reads():
    rows = [
        history_line(PERSON, "", 202401, "5000.00", "700.00", "400.00", total="1100.00"),
        history_line(PERSON, "", 202402, "5000.00", "1700.", "400.00"),  # a dot without decimals: exact check
        history_line(PERSON, "", "2024-03", "5000", "700", "400"),  # another way to write the month
        history_line(PERSON, "", 202404, "5000.00", " 700.00", "400.00"),  # a space
        history_line(PERSON, "", 202405, "5000.00", "700.001", "400.00"),  # three decimals
        history_line(PERSON, "", 202406, "5000.5", "700", ""),
    ]
    data = _lines(rows)
    screen, count = _screen(data)
    assert screen.unplain(count) == [2, 3, 4, 5]
    screen, count = _screen(data.rstrip(b"\r\n") + b"\r\n" + b"X,,202413," + b"," * 24 + b"1")  # no final break
    assert screen.unplain(count) == [2, 3, 4, 5, 7]


def test_the_screen_writes_each_line_for_the_typed_table_behind_its_number():
    rows = [
        history_line(PERSON, "", 202401, "5000.00", "700.00", "400.00", total="1100.00"),
        history_line(PERSON, "", 202402, "5,000.00", "700.00", "400.00"),  # not plain: its number and empty cells
        history_line(PERSON, "", 202403, "5000.5", "700", ""),
    ]
    data = _lines(rows)
    for chunk in (16, 1 << 20):  # lines cut across reads, and all in one block
        typed = io.BytesIO()
        pattern = history_line_pattern(header_columns(FileKind.HISTORY, HEADER), len(HEADER), ",")
        screen = LineScreen(io.BytesIO(data), pattern, typed=typed, delimiter=",", width=len(HEADER))
        while screen.read(chunk):
            pass
        assert screen.unplain(3) == [2]
        lines = data.split(b"\r\n")
        assert typed.getvalue().split(b"\n") == [b"1," + lines[0], b"2" + b"," * len(HEADER), b"3," + lines[2], b""]


def test_the_typed_kinds_follow_the_header():
    columns = header_columns(FileKind.HISTORY, HEADER)
    kinds = typed_kinds(columns, len(HEADER) + 1)
    assert kinds[columns["id_number"]] == "t" and kinds[columns["period"]] == "i" and kinds[-1] == "t"
    assert kinds[columns["emp_pension_employer"]] == kinds[columns["total"]] == "n"


def test_the_screen_gives_up_on_quotes_and_on_another_count():
    plain = _lines([history_line(PERSON, "", 202401, "5000.00", "700.00", "400.00")])
    screen, count = _screen(plain + b'"' + plain)
    assert screen.unplain(count) is None
    screen, count = _screen(plain)
    assert screen.unplain(count) == [] and screen.unplain(count + 1) is None


@pytest.mark.postgres
def test_lines_not_plain_are_checked_cell_by_cell_with_the_same_reasons(db):
    admin = city_admin()
    rows = [
        history_line(PERSON, "", 202401, "5000.00", "700.00", "400.00", total="1100.00"),
        history_line(PERSON, "", 202402, "5,000.00", "1,700.00", "400.00", total="2,100.00"),
        history_line(PERSON, "", 202403, " 5000 ", " 700 ", "400", insurance="emp_medical"),
        history_line(PERSON, "", 202404, "5000.00", "700.001", "400.00"),
        history_line(PERSON, "", 202405, "", "700.00", "400.00", insurance="unemployment"),
        history_line(PERSON, "", 202406, "5000.00", "700.00", "4OO.00", insurance="maternity"),
        history_line(PERSON, "", 202407, "5000.00", "700.00", "400.00", total="1000.00"),
    ]
    person = [PERSON, "王小明", "", "", "", "", "", "", "", ""]
    for quoted in (False, True):  # a quoted cell anywhere: the screen gives up, every line gets the exact check
        extra = [history_line(PERSON, "", 202408, "1", "1", "1,000.00")] if quoted else []
        files = {
            "persons": ("人员.csv", csv_bytes("persons", [person])),
            "history": ("缴费.csv", csv_bytes("history", [*rows, *extra])),
        }
        batch, _queued = deliver(user=admin, district="331003", files=files, label=f"screen {quoted}")
        batch = batch_load(batch_id=batch.pk)
        assert batch.status == BatchStatus.CHECKED, batch.error
        rejected = {
            r.line_no: (r.code, r.detail.split("|")[1])
            for r in RejectedLine.objects.filter(batch=batch, kind=FileKind.HISTORY)
        }
        assert rejected == {5: ("employer_amount", "养老"), 6: ("base", "失业"), 7: ("individual_amount", "生育"),
                            8: ("amount_sum", "")}  # fmt: skip
        totals = batch.files.get(kind=FileKind.HISTORY).totals
        # What is readable of each line: 1100, 2100 (commas), 1100 (spaces), none (an amount unreadable, no
        # total), 1100 (the base missing), none, 1100 (not adding up to its total), and 1001 (quoted).
        assert totals["rows"] == 7 + len(extra)
        assert Decimal(totals["amount"]) == Decimal(1100 + 2100 + 1100 + 1100 + 1100 + (1001 if quoted else 0))
