"""Benefit claims: eligibility and the amount, from the policy parameters in force and the catalogue's data.

Every figure comes from ``policies`` (``parameter_value``) or from the item's ``effect_options`` (statutory
conditions such as the unemployment benefit duration tiers, entered as catalogue data with their legal
basis); contribution months come from ``contributions.selectors.contribution_months``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils.translation import gettext as _

from contributions.selectors import contribution_months, person_contribution_record
from funds.models import Fund
from funds.selectors import fund_for_insurance
from funds.services import benefit_expenditure_post
from policies import codes
from policies.selectors import ParameterNotFound, ResolvedParameter, money_round, parameter_value
from registry.audit import audited_save, recorded_user
from registry.jurisdiction import office_in_jurisdiction
from registry.models import InsuranceType, Office, Person
from registry.selectors import enrollment_overlapping

from ..models import PAID_ELSEWHERE_SQLSTATE, BenefitAward, BenefitPayment, Case, CaseAction, Effect, ServiceItem
from ._common import event_record

BENEFIT_INSURANCE = {
    Effect.BENEFIT_EMP_PENSION: InsuranceType.EMPLOYEE_PENSION,
    Effect.BENEFIT_UNEMPLOYMENT: InsuranceType.UNEMPLOYMENT,
    Effect.BENEFIT_RES_PENSION: InsuranceType.RESIDENT_PENSION,
    Effect.BENEFIT_LAND_FARMER: InsuranceType.LAND_FARMER,
}


@dataclass
class Assessment:
    monthly_amount: Decimal
    months: int | None
    basis: dict[str, Any] = field(default_factory=dict)


def _option(item: ServiceItem, key: str) -> Any:
    value = (item.effect_options or {}).get(key)
    if value in (None, "", []):
        raise ValidationError(
            {
                "item": [
                    _("经办事项“%(item)s”缺少处理参数“%(key)s”，请管理员在经办事项清单中补充。")
                    % {"item": item.name, "key": key}
                ]
            }
        )
    return value


def _param(code: str, *, on: datetime.date, office: Office) -> ResolvedParameter:
    try:
        return parameter_value(code, on=on, office=office)
    except ParameterNotFound as exc:
        raise ValidationError({"start_month": exc.messages}) from None


def _age_on(person: Person, on: datetime.date) -> int:
    born = person.birth_date
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _months_text(months: int) -> str:
    return _("%(y)d 年 %(m)d 个月") % {"y": months // 12, "m": months % 12}


def _district(office: Office) -> Office:
    code = office.district_code
    return Office.objects.get(code=code) if code else office


def _unemployment(item: ServiceItem, person: Person, start: datetime.date, office: Office) -> Assessment:
    min_months = int(_option(item, "min_contribution_months"))
    tiers = sorted((int(a), int(b)) for a, b in _option(item, "duration_tiers"))
    months = contribution_months(person, InsuranceType.UNEMPLOYMENT)
    if months < min_months:
        raise ValidationError(
            {
                "person": [
                    _("失业保险累计缴费 %(months)d 个月，不足 %(min)d 个月，不能申领失业保险金。")
                    % {"months": months, "min": min_months}
                ]
            }
        )
    if enrollment_overlapping(
        person_id=person.pk, insurance_type=InsuranceType.UNEMPLOYMENT, start_date=start, end_date=start
    ):
        raise ValidationError(
            {
                "person": [
                    _("该人员的失业保险参保登记在 %(on)s 尚未终止（仍在参保），不能申领失业保险金。") % {"on": start}
                ]
            }
        )
    min_wage = _param(codes.WAGE_MINIMUM_MONTHLY, on=start, office=office)
    ratio = _param(codes.BENEFIT_UNEMPLOYMENT_RATIO_OF_MIN_WAGE, on=start, office=office)
    max_months = _param(codes.BENEFIT_UNEMPLOYMENT_MAX_MONTHS, on=start, office=office)
    entitled = max((b for a, b in tiers if months >= a), default=0)
    amount = money_round(min_wage.value * ratio.value, on=start, office=office)
    return Assessment(
        monthly_amount=amount,
        months=min(entitled, int(max_months.value)),
        basis={
            "formula": "最低工资标准 × 失业保险金比例",
            "contribution_months": months,
            "duration_tiers": tiers,
            "parameters": [min_wage.as_record(), ratio.as_record(), max_months.as_record()],
        },
    )


def _emp_pension(
    item: ServiceItem, person: Person, start: datetime.date, office: Office, acting_user: Any
) -> Assessment:
    minimum = _param(codes.BENEFIT_EMP_PENSION_MIN_CONTRIBUTION_MONTHS, on=start, office=office)
    months = contribution_months(person, InsuranceType.EMPLOYEE_PENSION)
    if months < int(minimum.value):
        raise ValidationError(
            {
                "person": [
                    _(
                        "职工基本养老保险累计缴费 %(months)s，不足 %(min)d 个月（社会保险法第十六条），不能按月领取基本养老金。"
                    )
                    % {"months": _months_text(months), "min": int(minimum.value)}
                ]
            }
        )
    rate = Decimal(str(_option(item, "basic_rate_per_year")))
    divisor = int(_option(item, "account_divisor_months"))
    average = _param(codes.WAGE_AVERAGE_MONTHLY, on=start, office=office)
    record = person_contribution_record(user=acting_user, person=person, on=start)
    rows = [r for r in record.rows if r.insurance_type == InsuranceType.EMPLOYEE_PENSION and r.counted]
    indices: list[Decimal] = []
    for row in rows:
        try:
            wage = parameter_value(
                codes.WAGE_AVERAGE_MONTHLY, on=datetime.date(row.period // 100, row.period % 100, 1), office=office
            )
        except ParameterNotFound:
            continue
        if wage.value:
            indices.append(Decimal(row.base) / wage.value)
    index = (sum(indices, Decimal(0)) / len(indices)) if indices else Decimal(1)
    account = sum((Decimal(r.paid_individual) for r in rows), Decimal(0))
    basic = average.value * (1 + index) / 2 * Decimal(months) / 12 * rate
    personal = account / divisor
    amount = money_round(basic + personal, on=start, office=office)
    return Assessment(
        monthly_amount=amount,
        months=None,
        basis={
            "formula": "基础养老金 = 计发基数 ×（1 + 平均缴费指数）÷ 2 × 缴费年限 × 每年计发比例；个人账户养老金 = 个人账户储存额 ÷ 计发月数",
            "contribution_months": months,
            "average_index": str(index.quantize(Decimal("0.0001"))),
            "indexed_months": len(indices),
            "basic_rate_per_year": str(rate),
            "account_total": str(account),
            "account_divisor_months": divisor,
            "basic_pension": str(money_round(basic, on=start, office=office)),
            "account_pension": str(money_round(personal, on=start, office=office)),
            "note": "个人账户储存额按已缴个人部分累计，未计记账利息（演示）。",
            "parameters": [minimum.as_record(), average.as_record()],
        },
    )


def _res_pension(
    item: ServiceItem, person: Person, start: datetime.date, office: Office, acting_user: Any
) -> Assessment:
    min_age = int(_option(item, "min_age"))
    min_months = int(_option(item, "min_contribution_months"))
    divisor = int(_option(item, "account_divisor_months"))
    age = _age_on(person, start)
    if age < min_age:
        raise ValidationError(
            {
                "person": [
                    _("申领人在 %(on)s 年满 %(age)d 周岁，未满 %(min)d 周岁。")
                    % {"on": start, "age": age, "min": min_age}
                ]
            }
        )
    months = contribution_months(person, InsuranceType.RESIDENT_PENSION)
    if months < min_months:
        raise ValidationError(
            {
                "person": [
                    _("城乡居民养老保险累计缴费 %(months)s，不足 %(min)d 个月。")
                    % {"months": _months_text(months), "min": min_months}
                ]
            }
        )
    basic = _param(codes.BENEFIT_RES_PENSION_BASIC_MONTHLY, on=start, office=office)
    record = person_contribution_record(user=acting_user, person=person, on=start)
    rows = [r for r in record.rows if r.insurance_type == InsuranceType.RESIDENT_PENSION and r.counted]
    account = sum((Decimal(r.paid_individual) + Decimal(r.paid_employer) for r in rows), Decimal(0))
    amount = money_round(basic.value + account / divisor, on=start, office=office)
    return Assessment(
        monthly_amount=amount,
        months=None,
        basis={
            "formula": "基础养老金 + 个人账户储存额 ÷ 计发月数",
            "contribution_months": months,
            "account_total": str(account),
            "account_divisor_months": divisor,
            "parameters": [basic.as_record()],
        },
    )


def _land_farmer(item: ServiceItem, person: Person, start: datetime.date, office: Office) -> Assessment:
    min_ages = _option(item, "min_age")
    min_age = int(min_ages.get(person.sex, min_ages.get("M")))
    if not enrollment_overlapping(
        person_id=person.pk, insurance_type=InsuranceType.LAND_FARMER, start_date=start, end_date=start
    ):
        raise ValidationError(
            {"person": [_("该人员在 %(on)s 没有有效的被征地农民基本生活保障参保登记。") % {"on": start}]}
        )
    age = _age_on(person, start)
    if age < min_age:
        raise ValidationError(
            {
                "person": [
                    _("申领人在 %(on)s 年满 %(age)d 周岁，未达到领取年龄 %(min)d 周岁。")
                    % {"on": start, "age": age, "min": min_age}
                ]
            }
        )
    benefit = _param(codes.LAND_FARMER_BENEFIT_MONTHLY, on=start, office=office)
    return Assessment(
        monthly_amount=money_round(benefit.value, on=start, office=office),
        months=None,
        basis={"formula": "生活保障金标准", "parameters": [benefit.as_record()]},
    )


def benefit_assess(
    *, item: ServiceItem, person: Person, start_month: datetime.date, office: Office, acting_user: Any
) -> Assessment:
    """Eligibility and amount of the item's benefit for ``person`` from ``start_month``; ValidationError if not eligible."""
    effect = item.effect
    if effect == Effect.BENEFIT_UNEMPLOYMENT:
        return _unemployment(item, person, start_month, office)
    if effect == Effect.BENEFIT_EMP_PENSION:
        return _emp_pension(item, person, start_month, office, acting_user)
    if effect == Effect.BENEFIT_RES_PENSION:
        return _res_pension(item, person, start_month, office, acting_user)
    if effect == Effect.BENEFIT_LAND_FARMER:
        return _land_farmer(item, person, start_month, office)
    raise ValueError(effect)


def benefit_award_create(*, case: Case, acting_user: Any, start_month: datetime.date) -> BenefitAward:
    """Called by the completion of a claim, inside its transaction."""
    assessment = benefit_assess(
        item=case.item, person=case.person, start_month=start_month, office=case.intake_office, acting_user=acting_user
    )
    award = BenefitAward(
        case=case,
        person=case.person,
        insurance_type=BENEFIT_INSURANCE[case.item.effect],
        effect=case.item.effect,
        monthly_amount=assessment.monthly_amount,
        start_month=start_month,
        months=assessment.months,
        basis=assessment.basis,
        office=_district(case.intake_office),
        created_by=recorded_user(acting_user),
    )
    audited_save(award, acting_user=acting_user)
    return award


def _period_start(period: int) -> datetime.date:
    return datetime.date(period // 100, period % 100, 1)


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


FUNDS_SOURCE_TYPE = "cases.benefitpayment"


def _funds_post(payment: BenefitPayment, acting_user: Any) -> None:
    """Book the payment as the fund's benefit expenditure, in the same transaction (a refusal by funds —
    a closed year, an inactive fund — refuses the payment too)."""
    award = payment.award
    try:
        fund = fund_for_insurance(award.insurance_type)
    except Fund.DoesNotExist:
        raise ValidationError(
            {"award": [_("没有“%(type)s”基金，无法记入基金支出。") % {"type": award.get_insurance_type_display()}]}
        ) from None
    txn = benefit_expenditure_post(
        fund=fund,
        district=award.office,
        amount=payment.amount,
        source_type=FUNDS_SOURCE_TYPE,
        source_id=payment.pk,
        paid_on=payment.paid_on,
        acting_user=acting_user,
        description=_("%(effect)s %(period)s（办件 %(number)s）")
        % {
            "effect": award.get_effect_display().removeprefix("核定"),
            "period": payment.period,
            "number": award.case.number,
        },
    )
    payment.posted_to_funds = True
    payment.funds_reference = str(txn.uid)
    payment.save(update_fields=["posted_to_funds", "funds_reference"])


@transaction.atomic
def benefit_payment_record(
    *, award: BenefitAward, period: int, paid_on: datetime.date, acting_user: Any
) -> BenefitPayment:
    """Record one month of an award as paid and post it to the fund as benefit expenditure (one transaction)."""
    if not office_in_jurisdiction(acting_user, award.case.intake_office):
        raise BenefitAward.DoesNotExist
    try:
        month = _period_start(int(period))
    except (TypeError, ValueError, OverflowError):  # OverflowError: a year beyond any date
        raise ValidationError({"period": [_("所属期格式应为 YYYYMM，如 202503。")]}) from None
    if month < award.start_month:
        raise ValidationError(
            {"period": [_("所属期早于待遇起始月 %(start)s。") % {"start": award.start_month.strftime("%Y-%m")}]}
        )
    if award.months is not None and month >= _add_months(award.start_month, award.months):
        raise ValidationError({"period": [_("所属期超出核定的领取期限（%(n)d 个月）。") % {"n": award.months}]})
    if paid_on < month:
        raise ValidationError({"paid_on": [_("发放日期不能早于所属期。")]})
    if BenefitPayment.objects.filter(award=award, period=period).exists():
        raise ValidationError({"period": [_("%(period)s 的待遇已登记发放。") % {"period": period}]})
    payment = BenefitPayment(
        award=award,
        period=int(period),
        amount=award.monthly_amount,
        paid_on=paid_on,
        created_by=recorded_user(acting_user),
    )
    payment.full_clean()
    try:
        with transaction.atomic():
            payment.save()
    except IntegrityError:
        raise ValidationError({"period": [_("%(period)s 的待遇已登记发放。") % {"period": period}]}) from None
    except DatabaseError as exc:
        if getattr(exc.__cause__, "pgcode", None) != PAID_ELSEWHERE_SQLSTATE:
            raise
        raise ValidationError(
            {"period": [_("%(period)s 的待遇已由待遇发放批次发放或正在发放，不能再手工登记。") % {"period": period}]}
        ) from None
    _funds_post(payment, acting_user)
    event_record(
        award.case,
        action=CaseAction.PAYMENT,
        acting_user=acting_user,
        note=_("登记发放 %(period)s 待遇 %(amount)s 元") % {"period": period, "amount": payment.amount},
        data={"period": int(period), "amount": str(payment.amount), "posted_to_funds": payment.posted_to_funds},
    )
    return payment
