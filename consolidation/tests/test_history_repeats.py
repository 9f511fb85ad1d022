"""A history file repeating months (issue 19): its own repeats are found before the INSERT — one plain INSERT
when the district has no history yet, each repeat reported as ``duplicate_in_file`` with its first line — and a
batch repeating months an earlier batch of the district recorded has them present (same amounts) or
``differs_from_loaded`` (other amounts), never doubled; the reconciliation agrees to the fen."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from consolidation.models import BatchStatus, RejectedLine
from consolidation.tests.factories import city_admin, csv_bytes, deliver, history_line, load_and_apply
from contributions.models import ContributionHistory
from registry.tests.factories import make_id_number

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

WANG = make_id_number("331002", "19750615", 13)
LI = make_id_number("331002", "19820304", 22)
PARTS = ("rejected_check", "loaded", "present", "duplicate", "differs", "held", "not_imported")


def _line(person: str, period: object, employer_amount: str = "700.00") -> list[object]:
    """A pension line: base 5000, the employer's amount, the person's 400."""
    total = Decimal(employer_amount) + Decimal("400.00")
    return history_line(person, "", period, "5000.00", employer_amount, "400.00", str(total))


def _files(history: list[list[object]]) -> dict:
    persons = [
        [WANG, "王小明", "男", "1975-06-15", "城镇", "", "", "", "", ""],
        [LI, "李娜", "女", "1982-03-04", "城镇", "", "", "", "", ""],
    ]
    return {
        "persons": ("persons.csv", csv_bytes("persons", persons)),
        "history": ("history.csv", csv_bytes("history", history)),
    }


def _apply(admin, history: list[list[object]]):
    batch, queued = deliver(user=admin, district="331002", files=_files(history))
    assert queued
    batch = load_and_apply(batch, user=admin)
    assert batch.status == BatchStatus.APPLIED, batch.error
    reconciliation = batch.reconciliation
    assert reconciliation["agrees"], [c for c in reconciliation["checks"] if not c["ok"]]
    counts = reconciliation["history"]
    assert Decimal(counts["received_amount"]) == sum(Decimal(counts[f"{k}_amount"]) for k in PARTS)
    loaded = sum((h.amount for h in ContributionHistory.objects.filter(source_batch_id=batch.pk)), Decimal(0))
    assert loaded == Decimal(counts["loaded_amount"])
    return batch, counts


def _reported(batch) -> dict[int, tuple[str, str, Decimal]]:
    return {
        r.line_no: (r.code, r.detail, r.amount)
        for r in RejectedLine.objects.filter(batch=batch, code__in=("duplicate_in_file", "differs_from_loaded"))
    }


def _amounts(person: str) -> dict[int, Decimal]:
    return dict(ContributionHistory.objects.filter(person__id_number=person).values_list("period", "amount"))


def test_a_file_repeating_a_month_is_loaded_by_one_plain_insert_and_its_repeats_reported(db):
    admin = city_admin()
    history = [
        _line(WANG, 201901),  # line 2
        _line(WANG, 201902),  # line 3
        _line(WANG, "2019-03"),  # line 4: not plain (its cells parsed from the raw table), the first of 201903
        _line(LI, 201901),  # line 5
        _line(WANG, 201902, employer_amount="800.00"),  # line 6: 201902 again, other amounts
        _line(WANG, 201901),  # line 7: 201901 again, the same
        _line(WANG, 201903, employer_amount="900.00"),  # line 8: a plain line repeating the parsed one
        _line(LI, "2019.1"),  # line 9: not plain, repeating line 5
    ]
    table = ContributionHistory._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        batch, counts = _apply(admin, history)
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(f"INSERT INTO {table} ")]
    # No earlier history of the district and the repeats left out: one plain INSERT, no statement thrown away.
    assert len(inserts) == 1 and "ON CONFLICT" not in inserts[0]
    assert counts["inserted_rows"] == counts["loaded_rows"] == "4"
    assert (counts["duplicate_rows"], Decimal(counts["duplicate_amount"])) == ("4", Decimal("4700.00"))
    assert (counts["present_rows"], counts["differs_rows"]) == ("0", "0")
    assert Decimal(counts["loaded_amount"]) == Decimal("4400.00")
    # Each repeat names the first line of its person and month; the first line's amounts are the ones loaded.
    assert _reported(batch) == {
        6: ("duplicate_in_file", "3", Decimal("1200.00")),
        7: ("duplicate_in_file", "2", Decimal("1100.00")),
        8: ("duplicate_in_file", "4", Decimal("1300.00")),
        9: ("duplicate_in_file", "5", Decimal("1100.00")),
    }
    assert _amounts(WANG) == {201901: Decimal("1100.00"), 201902: Decimal("1100.00"), 201903: Decimal("1100.00")}
    assert ContributionHistory.objects.filter(source_batch_id=batch.pk, period=201903).get().source_line == 4


def test_a_batch_repeating_months_of_an_earlier_batch_has_them_present_or_differing_never_doubled(db):
    admin = city_admin()
    first, _counts = _apply(admin, [_line(WANG, 201901), _line(WANG, 201902), _line(LI, 201901)])
    history = [
        _line(WANG, 201901),  # line 2: recorded with the same amounts: present
        _line(WANG, 201902, employer_amount="800.00"),  # line 3: recorded with other amounts: differs
        _line(WANG, 201904),  # line 4: new
        _line(WANG, 201904, employer_amount="900.00"),  # line 5: the file repeats its new month: duplicate
        _line(WANG, 201901),  # line 6: the file repeats a recorded month: present again
        _line(WANG, "2019-02"),  # line 7: not plain, repeating a recorded month with its amounts: present
        _line(LI, 201901, employer_amount="600.00"),  # line 8: differs
    ]
    batch, counts = _apply(admin, history)
    assert counts["inserted_rows"] == counts["loaded_rows"] == "1"
    assert (counts["present_rows"], Decimal(counts["present_amount"])) == ("3", Decimal("3300.00"))
    assert (counts["differs_rows"], Decimal(counts["differs_amount"])) == ("2", Decimal("2200.00"))
    assert (counts["duplicate_rows"], Decimal(counts["duplicate_amount"])) == ("1", Decimal("1300.00"))
    assert _reported(batch) == {
        3: ("differs_from_loaded", "1100.00", Decimal("1200.00")),
        5: ("duplicate_in_file", "4", Decimal("1300.00")),
        8: ("differs_from_loaded", "1100.00", Decimal("1000.00")),
    }
    # History is never rewritten nor doubled: the earlier batch's rows stay, the new month is added once.
    assert _amounts(WANG) == {201901: Decimal("1100.00"), 201902: Decimal("1100.00"), 201904: Decimal("1100.00")}
    assert ContributionHistory.objects.filter(source_batch_id=first.pk).count() == 3
    assert ContributionHistory.objects.filter(source_batch_id=batch.pk).get().source_line == 4
