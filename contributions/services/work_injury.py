"""工伤浮动费率: an employer's float grade, one of the grades the policies allow for its risk class."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from contributions.models import WorkInjuryFloat
from policies import codes
from policies.selectors import ParameterNotFound, parameter_value
from registry.audit import audited_save
from registry.jurisdiction import office_in_jurisdiction
from registry.models import Employer


def work_injury_float_prepare(*, instance: WorkInjuryFloat) -> None:
    """Check a float grade before it is saved (admin form and service): the ratio must be a grade of the
    employer's risk class in force on its start date, and it must not overlap another grade of the
    employer — the bill run joins the one grade in force on the last day of the month."""
    if instance.employer_id is None or instance.valid_from is None or instance.ratio is None:
        return
    employer = instance.employer
    try:
        grades = parameter_value(
            codes.RATE_WORK_INJURY_FLOAT_GRADES,
            on=instance.valid_from,
            office=employer.office,
            key=str(employer.risk_class),
        ).value
    except ParameterNotFound as exc:
        raise ValidationError({"valid_from": exc.messages}) from exc
    allowed = sorted(Decimal(str(g)) for g in grades)
    if Decimal(instance.ratio) not in allowed:
        raise ValidationError(
            {
                "ratio": _("风险类别 %(cls)s 的浮动比例只能是 %(grades)s，不能是 %(ratio)s。")
                % {
                    "cls": employer.risk_class,
                    "grades": "、".join(f"{g:.2f}" for g in allowed),
                    "ratio": f"{Decimal(instance.ratio):.2f}",
                }
            }
        )
    overlapping = WorkInjuryFloat.objects.filter(employer_id=instance.employer_id).exclude(pk=instance.pk)
    overlapping = overlapping.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=instance.valid_from))
    if instance.valid_to is not None:
        overlapping = overlapping.filter(valid_from__lt=instance.valid_to)
    clash = overlapping.order_by("valid_from").first()
    if clash is not None:
        raise ValidationError(
            {
                "valid_from": _("与该单位 %(start)s 起的浮动费率（×%(ratio)s）时间重叠。")
                % {"start": clash.valid_from.isoformat(), "ratio": f"{clash.ratio:.2f}"}
            }
        )


@transaction.atomic
def work_injury_float_set(
    *,
    employer: Employer,
    ratio: Decimal,
    valid_from: datetime.date,
    basis: str = "",
    acting_user: Any,
) -> WorkInjuryFloat:
    """Give an employer a new float grade from ``valid_from``; the grade in force before it ends that day."""
    if not office_in_jurisdiction(acting_user, employer.office):
        raise ValidationError({"employer": _("该单位不在您的辖区内。")})
    current = (
        WorkInjuryFloat.objects.select_for_update()
        .filter(employer=employer, valid_from__lt=valid_from)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=valid_from))
        .first()
    )
    if current is not None:
        current.valid_to = valid_from
        audited_save(current, acting_user=acting_user, update_fields=["valid_to"])
    grade = WorkInjuryFloat(employer=employer, ratio=ratio, valid_from=valid_from, basis=basis)
    work_injury_float_prepare(instance=grade)
    audited_save(grade, acting_user=acting_user)
    return grade
