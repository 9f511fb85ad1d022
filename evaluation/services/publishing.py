"""Publishing a month's evaluation (then its metrics are frozen) and correcting it (a new version with a reason)."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from registry import roles
from registry.exceptions import ApplicationError, ConflictError, PermissionDeniedError
from registry.jurisdiction import user_office, user_sees_everything
from registry.models import OfficeLevel

from ..models import EvaluationLine, EvaluationMonth, EvaluationReport
from ..periods import month_start
from ..selectors import evaluation_score
from .metrics import office_metrics_compute


def _check_city_admin(user: Any) -> None:
    office = user_office(user)
    is_city = user_sees_everything(user) or (office is not None and office.level == OfficeLevel.CITY)
    has_role = getattr(user, "is_superuser", False) or user.groups.filter(name=roles.CITY_ADMIN).exists()
    if not (is_city and has_role):
        raise PermissionDeniedError(_("只有市级管理员可以发布或更正考核结果。"))


def _check_month_over(month: datetime.date) -> None:
    if month >= month_start(timezone.localdate()):
        raise ApplicationError(
            _("%(month)s 尚未结束，不能发布考核。") % {"month": f"{month:%Y-%m}"},
            {"month": [_("只能发布已结束月份的考核。")]},
        )


def _write_version(month: datetime.date, acting_user: Any, *, version: int, reason: str) -> EvaluationReport:
    office_metrics_compute(month=month, allow_published=True)
    scheme, scored = evaluation_score(months=[month])
    report = EvaluationReport(
        month=month, version=version, reason=reason, scheme=scheme.record, pool=scheme.pool, published_by=acting_user
    )
    report.full_clean()
    report.save()
    EvaluationLine.objects.bulk_create(
        EvaluationLine(
            report=report,
            office_id=s.figures.office_id,
            level=s.figures.level,
            rank=s.rank,
            score=s.score,
            components={k: (None if v is None else str(v)) for k, v in s.components.items()},
            figures=s.figures.as_record(),
            amount=s.amount,
        )
        for s in scored
    )
    EvaluationMonth.objects.filter(month=month).update(published_at=report.published_at)
    return report


@transaction.atomic
def evaluation_publish(*, month: datetime.date, acting_user: Any) -> EvaluationReport:
    """Publish ``month``'s evaluation (reform plan 二(六)2: funding follows the result): the metrics are brought up to
    date, scored with the scheme in force, stored as version 1, and the month is frozen. Only a city administrator;
    only a month that is over; a published month is changed only by ``evaluation_correct``."""
    _check_city_admin(acting_user)
    month = month_start(month)
    _check_month_over(month)
    EvaluationMonth.objects.get_or_create(month=month)
    row = EvaluationMonth.objects.select_for_update().get(month=month)
    if row.is_published:
        raise ConflictError(
            _("%(month)s 的考核已发布，不能再次发布；如需修改请发布更正版本并说明理由。") % {"month": f"{month:%Y-%m}"},
            code="month_published",
        )
    return _write_version(month, acting_user, version=1, reason="")


@transaction.atomic
def evaluation_correct(*, month: datetime.date, acting_user: Any, reason: str) -> EvaluationReport:
    """A correction of a published month: the metrics recomputed (e.g. after a case record was put right) and a new
    version with the reason; earlier versions stay as they were."""
    _check_city_admin(acting_user)
    month = month_start(month)
    text = (reason or "").strip()
    if not text:
        raise ApplicationError(_("请填写更正理由。"), {"reason": [_("请填写更正理由。")]})
    row = EvaluationMonth.objects.select_for_update().filter(month=month).first()
    if row is None or not row.is_published:
        raise ConflictError(
            _("%(month)s 的考核尚未发布，无需更正。") % {"month": f"{month:%Y-%m}"}, code="not_published"
        )
    last = EvaluationReport.objects.filter(month=month).aggregate(v=Max("version"))["v"] or 0
    return _write_version(month, acting_user, version=last + 1, reason=text)
