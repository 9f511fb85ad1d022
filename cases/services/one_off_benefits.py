"""One-off benefits: the maternity allowance (DY-003) and the work-injury one-off disability subsidy (DY-004).

Both are awards of one payment (``months = 1``), paid and posted to the fund like every award
(``benefit_payment_record``). Every figure is a policies parameter in force on the day of the event:

- 生育津贴 = 用人单位上年度职工月平均工资 ÷ ``benefit.maternity.day_divisor`` (30) × ``benefit.maternity.leave_days``
  of the birth order (社会保险法 arts. 54–56; leave days 浙江省人口与计划生育条例 as amended in 2021, demo values).
  The employer's average wage is the system's own figure: its declared wages of the year before the birth.
- 一次性伤残补助金 = 本人工资 × ``benefit.work_injury.disability_months`` of the grade (工伤保险条例 arts. 35–37:
  27, 25, 23, 21, 18, 16, 13, 11, 9, 7 months for grades 1–10). 本人工资 below 60 % or above 300 % of the
  average wage counts as 60 % or 300 % (工伤保险条例 art. 64; the ratios are ``base.floor_ratio`` /
  ``base.ceiling_ratio``, the same 60 % and 300 %).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from contributions.selectors import employer_average_monthly_wage
from policies import codes
from policies.selectors import ParameterNotFound, ResolvedParameter, money_round, parameter_value
from registry.audit import audited_save, recorded_user
from registry.models import Employer, InsuranceType, Office, Person, Sex
from registry.selectors import enrollment_overlapping

from ..models import BenefitAward, Case, Effect

BIRTH_ORDERS = (("1", "一孩"), ("2", "二孩"), ("3", "三孩及以上"))
DISABILITY_GRADES = tuple((str(g), f"{g} 级") for g in range(1, 11))


@dataclass(frozen=True)
class OneOff:
    amount: Decimal
    basis: dict[str, Any]


def _param(code: str, *, on: datetime.date, office: Office, field: str) -> ResolvedParameter:
    try:
        return parameter_value(code, on=on, office=office)
    except ParameterNotFound as exc:
        raise ValidationError({field: exc.messages}) from None


def _insured_on(person: Person, insurance: str, on: datetime.date, field: str, label: str) -> None:
    if not enrollment_overlapping(person_id=person.pk, insurance_type=insurance, start_date=on, end_date=on):
        raise ValidationError(
            {field: [_("该人员在 %(on)s 没有参加%(label)s，不能享受该待遇。") % {"on": on, "label": label}]}
        )


def maternity_allowance_assess(
    *, person: Person, employer: Employer | None, birth_date: datetime.date, birth_order: str, office: Office
) -> OneOff:
    """The maternity allowance of a birth; ValidationError (by field) when not eligible or not computable."""
    if employer is None:
        raise ValidationError({"employer": [_("生育津贴按用人单位上年度职工月平均工资计发，请选择参保单位。")]})
    if person.sex != Sex.FEMALE:
        raise ValidationError({"person": [_("生育津贴由生育的女职工申领。")]})
    _insured_on(person, InsuranceType.MATERNITY, birth_date, "birth_date", _("生育保险"))
    wage = employer_average_monthly_wage(employer=employer, year=birth_date.year - 1)
    if wage.average is None:
        raise ValidationError(
            {"employer": [_("该单位 %(year)d 年没有工资申报，无法计算上年度职工月平均工资。") % {"year": wage.year}]}
        )
    days_table = _param(codes.BENEFIT_MATERNITY_LEAVE_DAYS, on=birth_date, office=office, field="birth_order")
    divisor = _param(codes.BENEFIT_MATERNITY_DAY_DIVISOR, on=birth_date, office=office, field="birth_order")
    days = int(days_table.value[birth_order])
    average = money_round(wage.average, on=birth_date, office=office)
    amount = money_round(average / int(divisor.value) * days, on=birth_date, office=office)
    return OneOff(
        amount=amount,
        basis={
            "formula": "用人单位上年度职工月平均工资 ÷ 折算天数 × 产假天数",
            "employer": employer.name,
            "wage_year": wage.year,
            "employee_months": wage.employee_months,
            "average_monthly_wage": str(average),
            "day_divisor": int(divisor.value),
            "birth_order": birth_order,
            "leave_days": days,
            "parameters": [days_table.as_record(), divisor.as_record()],
        },
    )


def disability_subsidy_assess(
    *, person: Person, injury_date: datetime.date, grade: str, monthly_wage: Decimal, office: Office
) -> OneOff:
    """The one-off disability subsidy of a work injury assessed at ``grade`` (1–10)."""
    _insured_on(person, InsuranceType.WORK_INJURY, injury_date, "injury_date", _("工伤保险"))
    months_table = _param(codes.BENEFIT_WORK_INJURY_DISABILITY_MONTHS, on=injury_date, office=office, field="grade")
    average = _param(codes.WAGE_AVERAGE_MONTHLY, on=injury_date, office=office, field="monthly_wage")
    floor = _param(codes.BASE_FLOOR_RATIO, on=injury_date, office=office, field="monthly_wage")
    ceiling = _param(codes.BASE_CEILING_RATIO, on=injury_date, office=office, field="monthly_wage")
    low = money_round(average.value * floor.value, on=injury_date, office=office)
    high = money_round(average.value * ceiling.value, on=injury_date, office=office)
    counted = min(max(monthly_wage, low), high)
    months = int(months_table.value[grade])
    return OneOff(
        amount=money_round(counted * months, on=injury_date, office=office),
        basis={
            "formula": "本人工资 × 伤残等级对应月数（本人工资按统筹地区职工平均工资的 60%–300% 计）",
            "grade": int(grade),
            "months": months,
            "monthly_wage": str(monthly_wage),
            "counted_wage": str(counted),
            "wage_floor": str(low),
            "wage_ceiling": str(high),
            "parameters": [months_table.as_record(), average.as_record(), floor.as_record(), ceiling.as_record()],
        },
    )


def one_off_award_create(
    *, case: Case, acting_user: Any, insurance_type: str, month: datetime.date, assessed: OneOff
) -> BenefitAward:
    """The award of a one-off benefit (one payment of the whole amount), inside the completing transaction."""
    code = case.intake_office.district_code
    district = Office.objects.get(code=code) if code else case.intake_office
    award = BenefitAward(
        case=case,
        person=case.person,
        insurance_type=insurance_type,
        effect=case.item.effect,
        monthly_amount=assessed.amount,
        start_month=month.replace(day=1),
        months=1,
        basis={**assessed.basis, "one_off": True},
        office=district,
        created_by=recorded_user(acting_user),
    )
    audited_save(award, acting_user=acting_user)
    return award


ONE_OFF_INSURANCE = {
    Effect.BENEFIT_MATERNITY: InsuranceType.MATERNITY,
    Effect.BENEFIT_DISABILITY: InsuranceType.WORK_INJURY,
}
