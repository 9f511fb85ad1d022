"""A rate back-dated into months already billed: the corrections (补缴 or 退费 bills), after confirmation.

Bills are immutable and the bill run bills a month once: a parameter value entered later with a start date in an
already billed month would otherwise change nothing. ``backdated_rate_values`` finds the contribution rates
(``rate.<insurance>.<employer|individual>`` of pension, medical, unemployment and maternity) entered after the
bills of their months were issued; ``backdated_corrections_preview`` computes, bill by bill, the difference
between what was billed (the bill and its adjustments) and what the rates now in force give for the same bases;
``backdated_corrections_apply`` issues it after a clerk has confirmed the preview, as agency corrections
(``bill_adjustment_create``, ``payer_at_fault=False``: the payer is not at fault, so no late fee runs before the
correction's own due date — 社会保险法第八十六条 charges the fee on arrears the payer caused by not paying in full
and on time). Applying twice issues nothing the second time (the difference is then zero).

The amounts per line use the bill run's integer arithmetic (``rates.line_amount``); the lines of the affected bills
are read in one query per bill and compared in Python (a correction touches the few months of one value).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Sum
from django.db.models.functions import ExtractMonth, ExtractYear
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.models import Bill, BillKind, BillLine
from contributions.periods import period_add, period_first_day, period_of
from contributions.rates import EMPLOYEE_RATE_INSURANCES, district_rates, line_amount, run_rounding
from contributions.services.adjustments import AdjustmentLine, bill_adjustment_create
from policies import codes
from policies.models import ParameterValue
from registry.jurisdiction import scope_to_user
from registry.models import Person

RATE_CODES = {
    codes.rate_code(i, payer): (i.value, payer)
    for i in EMPLOYEE_RATE_INSURANCES
    for payer in ("employer", "individual")
}
_MAX_MONTHS = 120  # a back-dated value reaches at most ten years of bills


@dataclass
class BillCorrection:
    bill: Bill
    lines: list[AdjustmentLine]

    @property
    def total(self) -> Decimal:
        return sum((line.employer_amount + line.individual_amount for line in self.lines), Decimal(0))


def _periods(value: ParameterValue) -> list[int]:
    first = period_of(value.valid_from)
    if value.valid_from.day != 1:  # rates are resolved on the month's first day: a mid-month start counts from next
        first = period_add(first, 1)
    last = period_of(timezone.localdate())
    if value.valid_to:
        last = min(last, period_of(value.valid_to - datetime.timedelta(days=1)))
    out = []
    while first <= last and len(out) < _MAX_MONTHS:
        out.append(first)
        first = period_add(first, 1)
    return out


def _affected_bills(value: ParameterValue, user: Any = None):
    qs = Bill.objects.filter(kind=BillKind.REGULAR, issued_at__lt=value.created_at, period__in=_periods(value))
    if value.district_id:
        qs = qs.filter(office__path__startswith=value.district.path)
    if user is not None:
        qs = scope_to_user(qs, user)
    return qs


def backdated_rate_values(*, user: Any):
    """Rate values entered after bills of their months were issued (candidates for a correction), newest first."""
    billed = Bill.objects.filter(
        kind=BillKind.REGULAR, issued_at__lt=OuterRef("created_at"), period__gte=OuterRef("first_period")
    )
    return (
        ParameterValue.objects.filter(parameter__code__in=list(RATE_CODES))
        .annotate(first_period=ExtractYear("valid_from") * 100 + ExtractMonth("valid_from"))
        .annotate(billed=Exists(billed))
        .filter(billed=True)
        .select_related("parameter", "district", "document")
        .order_by("-created_at")[:50]
    )


def _correction(bill: Bill, insurance: str, payer: str) -> BillCorrection:
    on = period_first_day(bill.period)
    rates = district_rates(on=on, district_code=bill.office.district_code)
    rounding = run_rounding(on=on)
    employer_ppm, individual_ppm = rates.employer_ppm[insurance], rates.individual_ppm[insurance]
    bills = [bill.pk, *Bill.objects.filter(corrects=bill).values_list("pk", flat=True)]
    billed = (
        BillLine.objects.filter(bill__in=bills, insurance_type=insurance)
        .values("person_id")
        .annotate(e=Sum("employer_amount"), i=Sum("individual_amount"))
        .order_by("person_id")
    )
    # The base in force for each person: that of his latest line (a declaration corrected after billing shows its
    # new base on the adjustment's line).
    bases = dict(
        BillLine.objects.filter(bill__in=bills, insurance_type=insurance)
        .order_by("id")
        .values_list("person_id", "base")
    )
    persons = Person.objects.in_bulk(list(bases))
    lines = []
    for row in billed:
        base = bases.get(row["person_id"])
        if base is None:
            continue
        new_e = line_amount(base, employer_ppm, rounding)
        new_i = line_amount(base, individual_ppm, rounding)
        de = (new_e - row["e"]).quantize(Decimal("0.01")) if payer == "employer" else Decimal(0)
        di = (new_i - row["i"]).quantize(Decimal("0.01")) if payer == "individual" else Decimal(0)
        if de or di:
            rate_e, rate_i = Decimal(employer_ppm) / 1_000_000, Decimal(individual_ppm) / 1_000_000
            lines.append(AdjustmentLine(persons[row["person_id"]], insurance, base, rate_e, rate_i, de, di))
    return BillCorrection(bill, lines)


def backdated_corrections_preview(*, value: ParameterValue, user: Any = None) -> list[BillCorrection]:
    """Per affected bill, the adjustment lines the rates now in force give (bills without a difference left out)."""
    insurance, payer = RATE_CODES.get(value.parameter.code, (None, None))
    if insurance is None:
        raise ValidationError(
            {"value": _("只有职工养老、医疗、失业、生育保险费率的追溯调整可自动生成补缴或退费账单。")}
        )
    out = []
    for bill in _affected_bills(value, user).select_related("office", "employer").order_by("period", "id"):
        correction = _correction(bill, insurance, payer)
        if correction.lines:
            out.append(correction)
    return out


@transaction.atomic
def backdated_corrections_apply(*, value: ParameterValue, acting_user: Any) -> list[Bill]:
    """Issue the previewed corrections: one 补缴 bill for the increases and one 退费 bill for the decreases of each
    affected bill (an agency correction: the late fee runs only after the new bill's own due date)."""
    reason = _("费率追溯调整：%(code)s 自 %(start)s 起为 %(value)s（%(doc)s）") % {
        "code": value.parameter.code,
        "start": value.valid_from,
        "value": value.value_decimal,
        "doc": value.document.number if value.document_id else "",
    }
    made = []
    for correction in backdated_corrections_preview(value=value, user=acting_user):
        up = [ln for ln in correction.lines if ln.employer_amount + ln.individual_amount > 0]
        down = [ln for ln in correction.lines if ln.employer_amount + ln.individual_amount < 0]
        for lines in (up, down):
            if lines:
                made.append(
                    bill_adjustment_create(
                        corrects=correction.bill, lines=lines, reason=reason[:200], acting_user=acting_user
                    )
                )
    return made
