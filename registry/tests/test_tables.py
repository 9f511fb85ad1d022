"""Uploaded tables within limits (registry/tables.py, issue 14 fault 5): an xlsx bomb is refused before it is parsed,
fast and without a memory blow-up; rows, columns and time are limited while reading."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from registry.tables import TableError, TableLimits, csv_rows, xlsx_rows
from registry.tests.xlsx_bombs import claimed_range_bomb, shared_strings_bomb, undeclared_rows

LIMITS = TableLimits(
    max_bytes=20 * 1024 * 1024, max_uncompressed_bytes=8 * 1024 * 1024, max_rows=1000, max_columns=20, max_seconds=20
)


def _refused_fast(data: bytes, limits: TableLimits, message: str) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(TableError, match=message):
            list(xlsx_rows(data, limits))
        elapsed = time.monotonic() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 2, elapsed
    assert peak < 40 * 1024 * 1024, peak  # a few times the file at most, never the claimed sheet


def test_a_sheet_claiming_a_billion_cells_is_refused_before_any_row_is_read():
    bomb = claimed_range_bomb()
    assert len(bomb) < 4096
    _refused_fast(bomb, LIMITS, "声明了 1048576 行 16384 列")


def test_huge_shared_strings_are_refused_from_the_zip_directory_before_parsing():
    bomb = shared_strings_bomb(64 * 1024 * 1024)  # 64 MB of XML in a few hundred KB
    assert len(bomb) < 1024 * 1024
    _refused_fast(bomb, LIMITS, "解压后有 64 MB")


def test_rows_beyond_the_limit_are_refused_while_reading_and_wide_rows_are_cut():
    assert len(list(xlsx_rows(undeclared_rows(1000, 30), LIMITS))) == 1000
    assert {len(row) for row in xlsx_rows(undeclared_rows(10, 30), LIMITS)} == {20}
    with pytest.raises(TableError, match="超过 1000 行"):
        list(xlsx_rows(undeclared_rows(1001), LIMITS))


def test_reading_stops_at_the_time_limit():
    slow = TableLimits(**{**LIMITS.__dict__, "max_rows": 10_000, "max_seconds": 0})
    with pytest.raises(TableError, match="超过 0 秒"):
        list(xlsx_rows(undeclared_rows(1200), slow))


def test_a_damaged_file_gets_a_message():
    with pytest.raises(TableError, match="无法打开"):
        list(xlsx_rows(b"PK\x03\x04 not really a zip", LIMITS))


def test_csv_rows_and_columns_are_limited():
    assert [cells for _n, cells in csv_rows("a,b\n1,2\n", LIMITS)] == [["a", "b"], ["1", "2"]]
    with pytest.raises(TableError, match="超过 1000 行"):
        list(csv_rows("x\n" * 1001, LIMITS))
    with pytest.raises(TableError, match="第 1 行有 21 列"):
        list(csv_rows(",".join(["x"] * 21), LIMITS))
