"""The nightly overdue report: per office, the open cases past their due date, sent to the office heads."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils.translation import gettext as _

from registry import roles
from registry.models import Office, User

from .. import selectors
from ..models import OverdueNotice


@dataclass(frozen=True)
class OverdueReport:
    office_code: str
    case_count: int
    recipients: list[str]
    created: bool


@transaction.atomic
def case_overdue_notify(*, on: datetime.date) -> list[OverdueReport]:
    """List the overdue cases of each office (by current office) and mail them to its office heads.

    Idempotent per office and day: a second run on the same day sends nothing new.
    """
    by_office = selectors.overdue_by_office(on=on)
    reports = []
    for office_id, cases in by_office.items():
        office = Office.objects.get(pk=office_id)
        heads = list(
            User.objects.filter(office=office, is_active=True, groups__name=roles.OFFICE_HEAD).order_by("username")
        )
        numbers = [c.number for c in cases]
        _notice, created = OverdueNotice.objects.get_or_create(
            office=office,
            on=on,
            defaults={
                "case_numbers": numbers,
                "recipients": "、".join(h.get_full_name() or h.username for h in heads),
            },
        )
        if created:
            emails = [h.email for h in heads if h.email]
            if emails:
                lines = [
                    f"{c.number}  {c.item.name}  {c.get_state_display()}  {_('期限')} {c.due_date:%Y-%m-%d}"
                    for c in cases
                ]
                body = _("%(office)s 截至 %(on)s 有 %(n)d 件超期未办结：") % {
                    "office": office.name,
                    "on": on.isoformat(),
                    "n": len(cases),
                }
                send_mail(
                    subject=_("【超期提醒】%(office)s %(n)d 件办件超期") % {"office": office.name, "n": len(cases)},
                    message=body + "\n\n" + "\n".join(lines),
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    recipient_list=emails,
                    fail_silently=False,
                )
        reports.append(
            OverdueReport(
                office_code=office.code,
                case_count=len(numbers),
                recipients=[h.username for h in heads],
                created=created,
            )
        )
    return reports
