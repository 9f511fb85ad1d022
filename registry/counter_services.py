"""Enrollment writes of the counter: several insurances at once, ending (停保), moving between employers, and the
rules on start dates and on the two pension schemes. Each public function is one transaction and records who acted.

Kept apart from ``registry.services`` (the kernel's single-record writes), which these build on.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.jurisdiction import office_in_jurisdiction
from registry.models import EMPLOYEE_INSURANCES, Employer, Enrollment, InsuranceType, Person
from registry.services import _save_enrollment, enrollment_prepare

# 城乡养老保险制度衔接暂行办法（人社部发〔2014〕17号）: one person is not in both pension schemes in the same month.
PENSION_PAIR = {
    InsuranceType.EMPLOYEE_PENSION: InsuranceType.RESIDENT_PENSION,
    InsuranceType.RESIDENT_PENSION: InsuranceType.EMPLOYEE_PENSION,
}
# 劳动法第十五条 / 禁止使用童工规定: no employment before 16, so no employee insurance; 国发〔2014〕8号: resident
# pension from 16 (students excepted, not handled here). Resident medical covers newborns (from birth).
MIN_AGE_16 = (*EMPLOYEE_INSURANCES, InsuranceType.RESIDENT_PENSION)


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def enrollment_start_check(
    *, person: Person, insurance_type: str, start_date: datetime.date, today: datetime.date | None = None
) -> None:
    """Refuse a start date more than one month ahead, before the 16th birthday (employee insurances and resident
    pension, see MIN_AGE_16) or before birth (resident medical and the rest). Contributions are monthly: the month
    of the 16th birthday (of birth) is the first possible one."""
    today = today or timezone.localdate()
    if start_date > today + relativedelta(months=1):
        raise ValidationError(
            {
                "start_date": [
                    _("参保开始日期 %(date)s 晚于一个月之后（%(limit)s），不能提前登记。")
                    % {"date": start_date.isoformat(), "limit": (today + relativedelta(months=1)).isoformat()}
                ]
            }
        )
    if insurance_type in MIN_AGE_16:
        sixteen = person.birth_date + relativedelta(years=16)
        if start_date < month_start(sixteen):
            raise ValidationError(
                {
                    "start_date": [
                        _("参保开始日期早于年满 16 周岁（%(date)s），%(type)s不能参保。")
                        % {"date": sixteen.isoformat(), "type": InsuranceType(insurance_type).label}
                    ]
                }
            )
    elif start_date < month_start(person.birth_date):
        raise ValidationError(
            {"start_date": [_("参保开始日期早于出生日期（%(date)s）。") % {"date": person.birth_date.isoformat()}]}
        )


def pension_conflict(*, person: Person, insurance_type: str, start_date: datetime.date) -> Enrollment | None:
    """The person's enrollment in the other pension scheme still running at ``start_date`` (or later), if any."""
    other = PENSION_PAIR.get(insurance_type)
    if other is None:
        return None
    return (
        Enrollment.objects.filter(person=person, insurance_type=other)
        .exclude(end_date__lt=start_date)
        .order_by("start_date")
        .first()
    )


def _end(enrollment: Enrollment, *, end_date: datetime.date, acting_user: Any, reason: str) -> Enrollment:
    if end_date < enrollment.start_date:
        raise ValidationError(
            {
                "end_date": [
                    _("%(type)s自 %(start)s 起参保，不能在此之前终止。")
                    % {"type": enrollment.get_insurance_type_display(), "start": enrollment.start_date.isoformat()}
                ]
            }
        )
    enrollment.end_date = end_date
    enrollment_prepare(enrollment)
    _save_enrollment(enrollment, acting_user=acting_user, reason=reason)
    return enrollment


@transaction.atomic
def enrollments_end(
    *,
    acting_user: Any,
    person: Person,
    insurance_types: Iterable[str],
    end_month: datetime.date,
    employer: Employer | None = None,
    reason: str,
) -> list[Enrollment]:
    """停保 / 减员: the person's running enrollments of these types (at ``employer`` when given) end with the month
    before ``end_month`` (no contribution is due from ``end_month`` on)."""
    last_day = month_start(end_month) - datetime.timedelta(days=1)
    qs = Enrollment.objects.select_for_update(of=("self",)).select_related("person", "employer")
    qs = qs.filter(person=person, insurance_type__in=list(insurance_types)).exclude(end_date__lte=last_day)
    if employer is not None:
        qs = qs.filter(employer=employer)
    rows = [e for e in qs.order_by("insurance_type") if office_in_jurisdiction(acting_user, e.office)]
    if not rows:
        raise ValidationError(
            {"insurance_types": [_("该人员在所选险种没有 %(m)s 仍在参保的登记。") % {"m": end_month.strftime("%Y-%m")}]}
        )
    return [_end(e, end_date=last_day, acting_user=acting_user, reason=reason) for e in rows]


def _moved_from_other_employers(person: Person, employer: Employer, types: list[str], start: datetime.date):
    """The person's employee enrollments at other employers still running at ``start``, city-wide: a move ends them
    (the new employer's district acts for the old one: the person can be enrolled by one employer only)."""
    return (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("person", "employer", "office")
        .filter(person=person, insurance_type__in=types, employer__isnull=False)
        .exclude(employer=employer)
        .exclude(end_date__lt=start)
        .order_by("insurance_type")
    )


@transaction.atomic
def enrollments_start(
    *,
    acting_user: Any,
    person: Person,
    employer: Employer,
    insurance_types: Iterable[str],
    start_date: datetime.date,
    end_other_pension: bool = False,
    reason: str = "",
) -> list[Enrollment]:
    """职工参保登记 / 增员: every chosen employee insurance at ``employer`` from ``start_date``, all or none.

    The person is found city-wide by his number (he may live in another district); the employer must be in the
    caller's jurisdiction. Running employee enrollments at another employer end the day before (转移: the old
    enrollment ends from the same month); a running resident pension ends too when ``end_other_pension``.
    """
    if not office_in_jurisdiction(acting_user, employer.office):
        raise ValidationError({"employer": [_("参保单位不在您的辖区内。")]})
    types = [t for t in InsuranceType.values if t in set(insurance_types)]
    if not types:
        raise ValidationError({"insurance_types": [_("请至少选择一个险种。")]})
    for itype in types:
        enrollment_start_check(person=person, insurance_type=itype, start_date=start_date)
    day_before = start_date - datetime.timedelta(days=1)
    note = reason or _("转入%(employer)s") % {"employer": employer.name}
    for old in _moved_from_other_employers(person, employer, types, start_date):
        _end(old, end_date=day_before, acting_user=acting_user, reason=note)
    if InsuranceType.EMPLOYEE_PENSION in types:
        other = pension_conflict(person=person, insurance_type=InsuranceType.EMPLOYEE_PENSION, start_date=start_date)
        if other is not None:
            if not end_other_pension:
                raise pension_conflict_error(other, start_date)
            _end(
                other,
                end_date=day_before,
                acting_user=acting_user,
                reason=_("参加职工基本养老保险，城乡居民养老保险同月终止"),
            )
    created = []
    for itype in types:
        enrollment = Enrollment(person=person, insurance_type=itype, employer=employer, start_date=start_date)
        enrollment_prepare(enrollment)
        _save_enrollment(enrollment, acting_user=acting_user, reason=reason)
        created.append(enrollment)
    return created


def pension_conflict_error(other: Enrollment, start_date: datetime.date) -> ValidationError:
    return ValidationError(
        {
            "end_other_pension": [
                _("该人员自 %(start)s 起参加%(type)s，同一月份不能同时参加两种养老保险；请勾选“同时终止%(type)s”。")
                % {"start": other.start_date.isoformat(), "type": other.get_insurance_type_display()}
            ]
        }
    )


@transaction.atomic
def enrollment_end_for_other_pension(
    *, acting_user: Any, person: Person, insurance_type: str, start_date: datetime.date
) -> Enrollment | None:
    """Enrolling in one pension scheme ends the other from the same month (城乡养老保险制度衔接)."""
    other = pension_conflict(person=person, insurance_type=insurance_type, start_date=start_date)
    if other is None:
        return None
    other = Enrollment.objects.select_for_update(of=("self",)).select_related("person", "employer").get(pk=other.pk)
    return _end(
        other,
        end_date=start_date - datetime.timedelta(days=1),
        acting_user=acting_user,
        reason=_("参加%(type)s，另一养老保险同月终止") % {"type": InsuranceType(insurance_type).label},
    )
