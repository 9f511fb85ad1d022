"""The daily supervision digest (时限监察日报): per office, its cases due within two working days and its overdue
ones, sent to the office's heads. Idempotent per office and day (``SupervisionDigest``)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils.translation import gettext as _

from cases.models import ACTIVE_STATES, Case
from policies.workdays import WorkCalendar
from registry import roles
from registry.models import Office, User

from ..models import SupervisionDigest
from ..selectors import DUE_SOON_WORKING_DAYS


@dataclass(frozen=True)
class DigestReport:
    office_code: str
    due_soon: int
    overdue: int
    created: bool


def _line(case: Case) -> str:
    return f"{case.number}  {case.item.name}  {case.get_state_display()}  {_('期限')} {case.due_date:%Y-%m-%d}"


def _send(office: Office, heads: list[User], due: list[Case], late: list[Case], on: datetime.date) -> None:
    emails = [h.email for h in heads if h.email]
    if not emails:
        return
    body = [_("%(office)s %(on)s 时限监察：") % {"office": office.name, "on": on.isoformat()}]
    body += ["", _("已超期 %(n)d 件：") % {"n": len(late)}, *[_line(c) for c in late]]
    body += ["", _("%(d)d 个工作日内到期 %(n)d 件：") % {"d": DUE_SOON_WORKING_DAYS, "n": len(due)}]
    body += [_line(c) for c in due]
    send_mail(
        subject=_("【时限监察】%(office)s 超期 %(o)d 件、即将到期 %(d)d 件")
        % {"office": office.name, "o": len(late), "d": len(due)},
        message="\n".join(body),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=emails,
        fail_silently=False,
    )


@transaction.atomic
def supervision_digest_send(*, on: datetime.date) -> list[DigestReport]:
    """For every office with an office head: the running cases at it or below it due by the second working day after
    ``on`` and those already overdue (reform plan 二(四)3, time limits enforced). One query for the cases."""
    limit = WorkCalendar().add_working_days(on, DUE_SOON_WORKING_DAYS)
    cases = list(
        Case.objects.filter(state__in=ACTIVE_STATES, due_date__lte=limit)
        .select_related("item", "current_office")
        .order_by("due_date", "number")
    )
    heads: dict[int, list[User]] = defaultdict(list)
    for user in User.objects.filter(is_active=True, groups__name=roles.OFFICE_HEAD, office__isnull=False).order_by(
        "username"
    ):
        heads[user.office_id].append(user)
    reports = []
    for office in Office.objects.filter(pk__in=heads).order_by("path"):
        mine = [c for c in cases if c.current_office.path.startswith(office.path)]
        due = [c for c in mine if c.due_date >= on]
        late = [c for c in mine if c.due_date < on]
        if not mine:
            continue
        _digest, created = SupervisionDigest.objects.get_or_create(
            office=office,
            on=on,
            defaults={
                "due_soon": [c.number for c in due],
                "overdue": [c.number for c in late],
                "recipients": "、".join(h.get_full_name() or h.username for h in heads[office.pk]),
            },
        )
        if created:
            _send(office, heads[office.pk], due, late, on)
        reports.append(DigestReport(office.code, len(due), len(late), created))
    return reports
