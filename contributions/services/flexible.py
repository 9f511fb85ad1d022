"""灵活就业: a flexible worker chooses his contribution base between the floor and the ceiling (60–300 % of the average
wage, ``base.floor_ratio`` / ``base.ceiling_ratio``; 国发〔2005〕38号 lets flexible workers choose their base
within the range). The bill run bills the months from then on at that base."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.models import Bill, BillKind, FlexibleBaseChoice
from contributions.periods import period_first_day, period_last_day, period_of, period_parse
from policies import codes
from policies.selectors import parameter_values
from registry.audit import audited_save, recorded_user
from registry.jurisdiction import office_in_jurisdiction
from registry.models import Enrollment, Person


def flexible_base_range(*, person: Person, period: int) -> tuple[int, int]:
    """The percentages of the average wage a flexible worker may choose in ``period`` (floor, ceiling)."""
    values = parameter_values(
        [codes.BASE_FLOOR_RATIO, codes.BASE_CEILING_RATIO], on=period_first_day(period), office=person.residence_office
    )
    low = values[codes.BASE_FLOOR_RATIO].value * 100
    high = values[codes.BASE_CEILING_RATIO].value * 100
    return int(low.to_integral_value(rounding="ROUND_CEILING")), int(high.to_integral_value(rounding="ROUND_FLOOR"))


@transaction.atomic
def flexible_base_choose(*, person: Person, from_period: Any, percent: Any, acting_user: Any) -> FlexibleBaseChoice:
    """Record the base ``percent`` (of the average wage) a flexible worker pays on from ``from_period`` (this month
    or later, not a month already billed)."""
    if not office_in_jurisdiction(acting_user, person.residence_office):
        raise Person.DoesNotExist
    period = period_parse(from_period, field="from_period", allow_future=True)
    if period < period_of(timezone.localdate()):
        raise ValidationError({"from_period": _("起始所属期不能早于本月。")})
    try:
        percent = int(Decimal(str(percent).strip().rstrip("%")))
    except (ArithmeticError, ValueError):
        raise ValidationError({"percent": _("缴费基数应为平均工资的百分比，如 100。")}) from None
    low, high = flexible_base_range(person=person, period=period)
    if not low <= percent <= high:
        raise ValidationError(
            {"percent": _("缴费基数应在平均工资的 %(low)d%% 至 %(high)d%% 之间。") % {"low": low, "high": high}}
        )
    active = Enrollment.objects.filter(person=person, is_flexible=True, start_date__lte=period_last_day(period)).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=period_first_day(period))
    )
    if not active.exists():
        raise ValidationError({"from_period": _("该人员在 %(period)s 没有灵活就业参保登记。") % {"period": period}})
    if Bill.objects.filter(person=person, kind=BillKind.FLEXIBLE, period__gte=period, issued_at__isnull=False).exists():
        raise ValidationError(
            {"from_period": _("%(period)s 起已有出账的灵活就业账单，请从下一个未出账月份起选择。") % {"period": period}}
        )
    choice = FlexibleBaseChoice.objects.filter(person=person, valid_from=period).first() or FlexibleBaseChoice(
        person=person, valid_from=period
    )
    choice.percent, choice.chosen_by = percent, recorded_user(acting_user)
    audited_save(choice, acting_user=acting_user, reason=_("灵活就业人员选择缴费基数"))
    return choice
