"""The office metrics job against figures worked out by hand (docs/evaluation.md), October 2026: the National Day
holiday (1–7 October, 10 October a make-up working day), a 补正 pause, an escalation, ratings and a district's bills.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from cases.models import CaseState
from evaluation.models import EvaluationMonth, OfficeMonthItemMetric, OfficeMonthMetric
from evaluation.services import office_metrics_compute, office_metrics_refresh
from evaluation.tests.factories import case_row, item, local
from policies.workdays import WorkCalendar
from registry.exceptions import ApplicationError, ConflictError
from registry.models import Office

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

D = datetime.date
OCTOBER = D(2026, 10, 1)
COMPLETED, REJECTED, WITHDRAWN = CaseState.COMPLETED, CaseState.REJECTED, CaseState.WITHDRAWN


def _handling(received: D, completed: D, paused: int = 0) -> int:
    return WorkCalendar().working_days_between(received, completed) - paused


def _row(office, rollup=False):
    return OfficeMonthMetric.objects.get(office=office, month=OCTOBER, rollup=rollup)


def _p90(values):
    """percentile_cont(0.9): linear interpolation between the ranks around 0.9 × (n − 1)."""
    values = sorted(values)
    pos = Decimal("0.9") * (len(values) - 1)
    low = int(pos)
    high = min(low + 1, len(values) - 1)
    return (values[low] + (values[high] - values[low]) * (pos - low)).quantize(Decimal("0.01"))


def test_handling_days_by_hand_cross_the_holiday_and_exclude_the_pause():
    # A: 30 Sept, 8 and 9 Oct (1–7 Oct holiday, 4 Oct a Sunday).
    assert _handling(D(2026, 9, 29), D(2026, 10, 9)) == 3
    # B: 9, 10 (make-up day), 12–16, 19, 20 Oct = 9, less 2 paused.
    assert _handling(D(2026, 10, 8), D(2026, 10, 20), 2) == 7
    assert _handling(D(2026, 10, 15), D(2026, 10, 30)) == 11  # E
    assert _handling(D(2026, 10, 10), D(2026, 10, 12)) == 1  # H


def test_each_figure_of_a_township_matches_the_hand_count(offices, october):
    office_metrics_compute(month=OCTOBER)
    t = _row(offices["t"])
    # taken in: B C D F G; completed: A B (both in time); rejected C; withdrawn G.
    assert (t.taken_in, t.completed, t.rejected, t.withdrawn, t.on_time) == (5, 2, 1, 1, 2)
    assert t.on_time_rate == Decimal("1.0000")
    hand = [_handling(D(2026, 9, 29), D(2026, 10, 9)), _handling(D(2026, 10, 8), D(2026, 10, 20), 2)]
    assert t.handling_days_avg == (Decimal(sum(hand)) / 2).quantize(Decimal("0.01")) == Decimal("5.00")
    assert t.handling_days_p90 == _p90(hand) == Decimal("6.60")
    # open at month end: D (overdue since 20 Oct) and F (paused: its clock stands, not overdue).
    assert (t.open_at_end, t.overdue_at_end) == (2, 1)
    # closed (completed + rejected) = 3, of which B had a 补正 and C was rejected.
    assert (t.corrected, t.correction_rate, t.rejection_rate) == (1, Decimal("0.3333"), Decimal("0.3333"))
    assert t.escalations == 1
    # B's 差评 (2) belongs to the township; A's 5 to the district that closed A; E's is November's.
    assert (t.rating_count, t.rating_avg, t.poor_count, t.poor_share) == (1, Decimal("2.00"), 1, Decimal("1.0000"))
    assert t.billed is None and t.collection_rate is None  # collection is a district office's figure
    t2 = _row(offices["t2"])
    assert (t2.taken_in, t2.completed, t2.on_time, t2.on_time_rate, t2.handling_days_p90) == (
        1,
        1,
        0,
        Decimal("0.0000"),
        Decimal("11.00"),
    )


def test_the_district_own_and_rolled_up_and_the_city(offices, october):
    office_metrics_compute(month=OCTOBER)
    own = _row(offices["district"])
    assert (own.taken_in, own.completed, own.rating_count, own.rating_avg) == (0, 0, 1, Decimal("5.00"))
    # Collection: billed 1,000.00 for 2026-10 in the district, 600.00 allocated by 30 Nov (100.00 on 3 Dec is late).
    assert (own.billed, own.collected, own.collection_rate) == (
        Decimal("1000.00"),
        Decimal("600.00"),
        Decimal("0.6000"),
    )
    up = _row(offices["district"], rollup=True)
    hand = [3, 7, 11]
    assert (up.taken_in, up.completed, up.rejected, up.withdrawn, up.on_time) == (6, 3, 1, 1, 2)
    assert (up.on_time_rate, up.handling_days_avg, up.handling_days_p90) == (
        Decimal("0.6667"),
        Decimal("7.00"),
        _p90(hand),
    )
    assert up.handling_days_p90 == Decimal("10.20")
    assert (up.open_at_end, up.overdue_at_end, up.corrected, up.correction_rate) == (2, 1, 1, Decimal("0.2500"))
    assert (up.escalations, up.rating_count, up.rating_avg, up.poor_share) == (1, 2, Decimal("3.50"), Decimal("0.5000"))
    assert up.collection_rate == Decimal("0.6000")
    city = _row(offices["city"], rollup=True)
    assert (city.taken_in, city.completed, city.handling_days_avg, city.handling_days_p90) == (
        7,
        4,
        Decimal("5.50"),
        _p90([1, 3, 7, 11]),
    )
    assert _row(offices["lq"]).completed == 1
    per_item = OfficeMonthItemMetric.objects.get(office=offices["t"], month=OCTOBER, rollup=False, item=item())
    assert (per_item.taken_in, per_item.completed) == (5, 2)


def test_every_office_gets_a_row_and_running_again_changes_nothing(offices, october):
    first = office_metrics_compute(month=OCTOBER)
    assert first.rows_changed == 2 * Office.objects.count()
    before = {
        (m.pk, m.office_id, m.rollup): (tuple(getattr(m, f) for f in ("taken_in", "on_time_rate", "computed_at")))
        for m in OfficeMonthMetric.objects.filter(month=OCTOBER)
    }
    items_before = list(OfficeMonthItemMetric.objects.filter(month=OCTOBER).values_list("pk", "taken_in", "completed"))
    again = office_metrics_compute(month=OCTOBER)
    assert (again.rows_changed, again.item_rows_changed) == (0, 0)
    after = {
        (m.pk, m.office_id, m.rollup): (tuple(getattr(m, f) for f in ("taken_in", "on_time_rate", "computed_at")))
        for m in OfficeMonthMetric.objects.filter(month=OCTOBER)
    }
    assert after == before
    assert (
        list(OfficeMonthItemMetric.objects.filter(month=OCTOBER).values_list("pk", "taken_in", "completed"))
        == items_before
    )


def test_a_published_month_is_frozen(offices, october):
    office_metrics_compute(month=OCTOBER)
    EvaluationMonth.objects.filter(month=OCTOBER).update(published_at=local(2026, 11, 10, 9))
    case_row(offices["t"], received=local(2026, 10, 28, 9), due=D(2026, 11, 4))  # arrives late
    with pytest.raises(ConflictError):
        office_metrics_compute(month=OCTOBER)
    assert _row(offices["t"]).taken_in == 5
    results = office_metrics_refresh(on=D(2026, 11, 15))  # the nightly job skips October
    assert [r.month for r in results] == [D(2026, 11, 1)]
    assert _row(offices["t"]).taken_in == 5


def test_a_month_to_come_is_refused():
    with pytest.raises(ApplicationError):
        office_metrics_compute(month=D(2099, 1, 1))
    assert not OfficeMonthMetric.objects.exists()


def test_rolled_up_percentiles_from_summed_histograms_equal_those_of_the_cases(offices):
    """The rolled-up 90th percentile is read from the offices' histograms of handling days (services.metrics): with
    the same day counts in several offices it must still be percentile_cont over all the subtree's cases."""
    november = D(2026, 11, 1)
    received = local(2026, 11, 2, 9)  # a Monday
    closings = {"t": [3, 3, 6, 6], "t2": [3, 10, 10, 12], "district": [6]}
    hand = {}
    for key, days in closings.items():
        hand[key] = []
        for day in days:
            closed = D(2026, 11, day)
            case_row(offices[key], received=received, state=COMPLETED, closed=local(2026, 11, day, 16), due=closed)
            hand[key].append(_handling(D(2026, 11, 2), closed))
    assert len(set(hand["t"])) < len(hand["t"]) and set(hand["t"]) & set(hand["t2"])  # repeated, across offices
    office_metrics_compute(month=november)

    def row(key, rollup):
        return OfficeMonthMetric.objects.get(office=offices[key], month=november, rollup=rollup)

    everything = hand["t"] + hand["t2"] + hand["district"]
    up = row("district", True)
    assert up.handling_days_p90 == _p90(everything)
    assert up.handling_days_avg == (Decimal(sum(everything)) / len(everything)).quantize(Decimal("0.01"))
    assert row("city", True).handling_days_p90 == _p90(everything)
    assert row("t", False).handling_days_p90 == row("t", True).handling_days_p90 == _p90(hand["t"])
    assert row("district", False).handling_days_p90 == _p90(hand["district"])
    assert row("city", False).handling_days_p90 is None
