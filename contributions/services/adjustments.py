"""补缴 and 退费: corrections of issued bills are new bills linked to the bill they correct."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.models import BaseSource, Bill, BillKind, BillLine, BillTotal, DeclarationLine
from contributions.periods import period_first_day, period_parse
from contributions.rates import district_rates, line_amount, ppm, run_rounding
from contributions.selectors import LateFeeRow, late_fees_for
from contributions.services.bill_run import bill_due_date
from registry.audit import recorded_user
from registry.jurisdiction import office_in_jurisdiction
from registry.models import Employer, Person


@dataclass(frozen=True)
class AdjustmentLine:
    person: Person
    insurance_type: str
    base: Decimal
    employer_rate: Decimal
    individual_rate: Decimal
    employer_amount: Decimal
    individual_amount: Decimal


def _issue(bill: Bill, lines: list[BillLine]) -> Bill:
    """Save a bill with its lines and per-insurance totals, and issue it (one transaction, caller's)."""
    bill.total_employer = sum((line.employer_amount for line in lines), Decimal(0))
    bill.total_individual = sum((line.individual_amount for line in lines), Decimal(0))
    bill.total = bill.total_employer + bill.total_individual
    bill.issued_at = timezone.now()
    bill.full_clean(validate_constraints=False)
    bill.save()
    for line in lines:
        line.bill = bill
    BillLine.objects.bulk_create(lines)
    by_insurance: dict[str, list[Decimal]] = {}
    for line in lines:
        acc = by_insurance.setdefault(line.insurance_type, [Decimal(0), Decimal(0)])
        acc[0] += line.employer_amount
        acc[1] += line.individual_amount
    BillTotal.objects.bulk_create(
        BillTotal(bill=bill, insurance_type=ins, employer_amount=e, individual_amount=i, amount=e + i)
        for ins, (e, i) in by_insurance.items()
    )
    return bill


@transaction.atomic
def bill_adjustment_create(
    *,
    corrects: Bill,
    lines: list[AdjustmentLine],
    reason: str,
    acting_user: Any,
    payer_at_fault: bool = False,
) -> Bill:
    """An arrears (补缴, positive) or refund (退费, negative) bill correcting ``corrects``.

    ``payer_at_fault``: the arrears come from the payer's own wrong declaration, so the late fee runs from the
    original month's due date, not from the correction (社会保险法第八十六条: 自欠缴之日起). Otherwise (the
    agency's correction, e.g. a back-dated parameter) from the new bill's own due date."""
    if not office_in_jurisdiction(acting_user, corrects.office):
        raise Bill.DoesNotExist
    if not (reason or "").strip():
        raise ValidationError({"reason": _("调整必须填写原因。")})
    if corrects.issued_at is None or corrects.kind == BillKind.REFUND:
        raise ValidationError({"corrects": _("只能调整已出账的账单。")})
    if not lines:
        raise ValidationError({"lines": _("调整至少要有一行。")})
    total = sum((line.employer_amount + line.individual_amount for line in lines), Decimal(0))
    if total == 0:
        raise ValidationError({"lines": _("调整金额合计为 0，无需调整。")})
    kind = BillKind.ARREARS if total > 0 else BillKind.REFUND
    if kind == BillKind.REFUND and any(line.employer_amount > 0 or line.individual_amount > 0 for line in lines):
        raise ValidationError({"lines": _("退费调整的每一行都不能为正数；补缴与退费请分开办理。")})
    if kind == BillKind.ARREARS and any(line.employer_amount < 0 or line.individual_amount < 0 for line in lines):
        raise ValidationError({"lines": _("补缴调整的每一行都不能为负数；补缴与退费请分开办理。")})
    bill = Bill(
        kind=kind,
        period=corrects.period,
        employer=corrects.employer,
        person=corrects.person,
        office=corrects.office,
        corrects=corrects,
        reason=reason.strip()[:200],
        due_date=bill_due_date(period=max(corrects.period, int(timezone.localdate().strftime("%Y%m")))),
        late_fee_since=corrects.late_fee_start if payer_at_fault and kind == BillKind.ARREARS else None,
        issued_by=recorded_user(acting_user),
    )
    return _issue(
        bill,
        [
            BillLine(
                person=line.person,
                insurance_type=line.insurance_type,
                period=corrects.period,
                base=line.base,
                base_source=BaseSource.DECLARED,
                employer_rate=line.employer_rate,
                individual_rate=line.individual_rate,
                employer_amount=line.employer_amount,
                individual_amount=line.individual_amount,
            )
            for line in lines
        ],
    )


@transaction.atomic
def declaration_correct_after_billing(
    *, employer: Employer, period: Any, person: Person, base: Any, reason: str, acting_user: Any
) -> Bill:
    """A base corrected after the bill run: bill the difference as arrears or refund, at the rates of the bill."""
    period = period_parse(period)
    original = Bill.objects.filter(employer=employer, period=period, kind=BillKind.REGULAR).first()
    if original is None or not office_in_jurisdiction(acting_user, employer.office):
        raise ValidationError({"period": _("%(period)s 没有该单位的已出账账单。") % {"period": period}})
    try:
        declared = Decimal(str(base))
    except Exception:
        raise ValidationError({"base": _("缴费基数“%(value)s”不是数字。") % {"value": base}}) from None
    if not declared.is_finite() or declared <= 0:
        raise ValidationError({"base": _("缴费基数必须大于 0。")})
    if declared > Decimal("999999999999.99"):
        raise ValidationError({"base": _("缴费基数过大。")})
    rates = district_rates(on=period_first_day(period), district_code=employer.office.district_code)
    new_base, _clamp = rates.clamp(declared)
    rounding = run_rounding(on=period_first_day(period))
    billed = list(
        BillLine.objects.filter(bill__employer=employer, bill__period=period, person=person)
        .exclude(bill__kind=BillKind.FLEXIBLE)
        .values("insurance_type", "base", "employer_rate", "individual_rate")
        .annotate(e=Sum("employer_amount"), i=Sum("individual_amount"))
    )
    first_lines = {}
    for row in billed:
        first_lines.setdefault(row["insurance_type"], row)
    totals = {}
    for row in billed:
        acc = totals.setdefault(row["insurance_type"], [Decimal(0), Decimal(0)])
        acc[0] += row["e"]
        acc[1] += row["i"]
    if not first_lines:
        raise ValidationError({"person": _("%(name)s 不在该账单中。") % {"name": person.name}})
    lines = []
    for insurance, row in first_lines.items():
        employer_amount = line_amount(new_base, ppm(row["employer_rate"]), rounding)
        individual_amount = line_amount(new_base, ppm(row["individual_rate"]), rounding)
        de, di = (
            (employer_amount - totals[insurance][0]).quantize(Decimal("0.01")),
            (individual_amount - totals[insurance][1]).quantize(Decimal("0.01")),
        )  # SQLite sums are floats
        if de or di:
            lines.append(
                AdjustmentLine(person, insurance, new_base, row["employer_rate"], row["individual_rate"], de, di)
            )
    if not lines:
        raise ValidationError({"base": _("更正后的基数与已核定金额一致，无需调整。")})
    DeclarationLine.objects.filter(declaration__employer=employer, declaration__period=period, person=person).update(
        base=new_base, declared_base=declared
    )
    return bill_adjustment_create(
        corrects=original, lines=lines, reason=reason, acting_user=acting_user, payer_at_fault=True
    )


# One rule for the late fee, kept in the selector (it is a read); the name stays for callers.
LateFee = LateFeeRow


def late_fee(*, bill: Bill, on: datetime.date) -> LateFee:
    """滞纳金 of one bill as of ``on`` (see ``selectors.late_fees_for`` for the rule)."""
    return late_fees_for([bill], on=on)[bill.pk]
