"""Pension transfer between cities (基本养老保险关系转移接续, 国办发〔2009〕66号).

- Out (ZY-001): the employee pension enrollment ends with the last month paid here, and the case issues the
  参保缴费凭证 (art. 5: the sending office lists the years, months, bases and amounts paid): per year the months
  counted, the bases and the employer's and the person's amounts; the individual account (moved in full) and the
  pooled part (``transfer.emp_pension.pooled_rate``, 12 % of the bases paid since 1998-01-01, art. 4).
- In (ZY-002): the months of another city's certificate are recorded as contribution history with that city
  (``contributions.services.contribution_history_transfer_in``) and count toward the 15 years.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.selectors import person_contribution_record, person_recorded_periods
from contributions.services import TransferredMonths
from policies import codes
from policies.selectors import ParameterNotFound, money_round, parameter_value
from registry import services as registry_services
from registry.jurisdiction import office_in_jurisdiction
from registry.models import Enrollment, InsuranceType, Office, Person

from .fields import field_decimal, field_period

POOLED_SINCE = 199801
ZERO = Decimal("0.00")


def _month_end(period: int) -> datetime.date:
    year, month = divmod(period, 100)
    first_next = datetime.date(year + month // 12, month % 12 + 1, 1)
    return first_next - datetime.timedelta(days=1)


def transfer_out_enrollments(person: Person, last_period: int) -> list[Enrollment]:
    """The person's employee pension enrollments still running after the last month paid here."""
    end = _month_end(last_period)
    return list(
        Enrollment.objects.filter(person=person, insurance_type=InsuranceType.EMPLOYEE_PENSION)
        .exclude(end_date__lte=end)
        .select_related("office")
        .order_by("start_date")
    )


def transfer_out_check(*, person: Person, last_period: int, acting_user: Any) -> None:
    running = transfer_out_enrollments(person, last_period)
    if not Enrollment.objects.filter(person=person, insurance_type=InsuranceType.EMPLOYEE_PENSION).exists():
        raise ValidationError({"person": [_("该人员没有职工基本养老保险参保登记，无需转出。")]})
    for enrollment in running:
        if enrollment.start_date > _month_end(last_period):
            raise ValidationError(
                {"last_month": [_("参保登记自 %(start)s 开始，晚于最后缴费月。") % {"start": enrollment.start_date}]}
            )
        if not office_in_jurisdiction(acting_user, enrollment.office):
            raise ValidationError(
                {
                    "person": [
                        _("该人员的养老保险登记由%(office)s经办，请由该机构办理转出。") % {"office": enrollment.office}
                    ]
                }
            )


def transfer_out_end_enrollments(*, case: Any, last_period: int, acting_user: Any) -> list[Enrollment]:
    """End every running employee pension enrollment on the last day of the last month paid here."""
    end = _month_end(last_period)
    ended = []
    for enrollment in transfer_out_enrollments(case.person, last_period):
        ended.append(
            registry_services.enrollment_update(
                enrollment=enrollment,
                acting_user=acting_user,
                reason=_("养老保险关系转出（办件 %(number)s）") % {"number": case.number},
                end_date=end,
            )
        )
    return ended


def transfer_certificate_content(
    *, person: Person, acting_user: Any, destination: str, last_period: int, on: datetime.date, office: Office
) -> dict[str, Any]:
    """The 参保缴费凭证's table and totals from the person's record (months counted, bases, amounts paid)."""
    record = person_contribution_record(user=acting_user, person=person, on=on)
    years: dict[int, dict[str, Any]] = defaultdict(lambda: {"months": 0, "base": ZERO, "employer": ZERO, "own": ZERO})
    pooled_bases = ZERO
    for row in record.rows:
        if row.insurance_type != InsuranceType.EMPLOYEE_PENSION or not row.counted or row.period > last_period:
            continue
        year = years[row.period // 100]
        year["months"] += row.months
        year["base"] += row.base
        year["employer"] += row.paid_employer
        year["own"] += row.paid_individual
        if row.period >= POOLED_SINCE:
            pooled_bases += row.base
    try:
        rate = parameter_value(codes.TRANSFER_EMP_PENSION_POOLED_RATE, on=on, office=office)
    except ParameterNotFound as exc:
        raise ValidationError({"person": exc.messages}) from None
    account = sum((y["own"] for y in years.values()), ZERO)
    pooled = money_round(pooled_bases * rate.value, on=on, office=office)
    rows = [
        [str(y), str(v["months"]), f"{v['base']:.2f}", f"{v['employer']:.2f}", f"{v['own']:.2f}"]
        for y, v in sorted(years.items())
    ]
    months = sum(v["months"] for v in years.values())
    return {
        "title": _("基本养老保险参保缴费凭证"),
        "statement": _("该人员基本养老保险关系由台州市区转往%(to)s，截至 %(last)s 在本市参保缴费情况如下：")
        % {"to": destination, "last": f"{last_period // 100}-{last_period % 100:02d}"},
        "headers": [_("年度"), _("缴费月数"), _("缴费基数合计"), _("单位缴费"), _("个人缴费")],
        "rows": rows,
        "notes": [
            _("累计缴费 %(months)d 个月；个人账户储存额（个人缴费累计，未计利息）%(account)s 元，全部转移。")
            % {"months": months, "account": f"{account:.2f}"},
            _("统筹基金转移额：1998 年以后缴费基数合计 %(bases)s 元 × %(rate)s = %(pooled)s 元（国办发〔2009〕66号）。")
            % {"bases": f"{pooled_bases:.2f}", "rate": rate.value, "pooled": f"{pooled:.2f}"},
        ],
        "transfer": {
            "destination": destination,
            "last_period": last_period,
            "months": months,
            "account": str(account),
            "pooled_bases": str(pooled_bases),
            "pooled_amount": str(pooled),
            "parameter": rate.as_record(),
        },
    }


def transfer_lines_parse(text: Any) -> list[TransferredMonths]:
    """The months of another city's certificate as typed, one line per span:
    ``起始年月 终止年月 月缴费基数 单位月缴费 个人月缴费`` (commas, tabs or spaces between), e.g.
    ``2015-01 2019-12 5000 800 400``."""
    lines = [raw for raw in str(text or "").replace("，", ",").splitlines() if raw.strip()]
    if not lines:
        raise ValidationError({"transfer_months": [_("请按行填写转入的缴费期间。")]})
    if len(lines) > 60:
        raise ValidationError({"transfer_months": [_("最多填写 60 行。")]})
    out = []
    for number, raw in enumerate(lines, start=1):
        parts = raw.replace(",", " ").replace("\t", " ").split()
        try:
            if len(parts) != 5:
                raise ValidationError(
                    {"transfer_months": [_("应有 5 项：起始年月 终止年月 月缴费基数 单位月缴费 个人月缴费。")]}
                )
            first = field_period(parts[0], "transfer_months", _("起始年月"))
            last = field_period(parts[1], "transfer_months", _("终止年月"))
            if last < first:
                raise ValidationError({"transfer_months": [_("终止年月早于起始年月。")]})
            base = field_decimal(parts[2], "transfer_months", _("月缴费基数"))
            employer, own = (_amount(p) for p in parts[3:5])
        except ValidationError as exc:
            message = exc.message_dict["transfer_months"][0]
            raise ValidationError(
                {"transfer_months": [_("第 %(n)d 行：%(m)s") % {"n": number, "m": message}]}
            ) from None
        out.append(TransferredMonths(first, last, base, employer, own))
    return out


def _amount(text: str) -> Decimal:
    if text.strip() in {"0", "0.00", "0.0"}:
        return ZERO
    return field_decimal(text, "transfer_months", _("缴费金额"))


def transfer_lines_jsonable(lines: list[TransferredMonths]) -> list[list[str]]:
    return [[str(x.first), str(x.last), str(x.base), str(x.employer_amount), str(x.individual_amount)] for x in lines]


def transfer_lines_from_json(rows: list[list[str]]) -> list[TransferredMonths]:
    return [TransferredMonths(int(a), int(b), Decimal(c), Decimal(d), Decimal(e)) for a, b, c, d, e in rows]


def transfer_in_check(*, person: Person, lines: list[TransferredMonths]) -> None:
    """At intake: months later than this month, or already recorded in the city, cannot be transferred in (the
    completion checks again, in ``contribution_history_transfer_in``)."""
    periods = sorted({p for line in lines for p in line.periods()})
    if periods and periods[-1] > int(timezone.localdate().strftime("%Y%m")):
        raise ValidationError({"transfer_months": [_("转入的缴费期间不能晚于本月。")]})
    clash = person_recorded_periods(person=person, insurance_type=InsuranceType.EMPLOYEE_PENSION, periods=periods)
    if clash:
        raise ValidationError(
            {
                "transfer_months": [
                    _("%(periods)s 已在本市有缴费记录，重复缴费期间不能转入。")
                    % {"periods": "、".join(map(str, clash[:12]))}
                ]
            }
        )
