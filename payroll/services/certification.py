"""Yearly certification of benefit recipients (待遇资格认证).

Rule (人力资源社会保障部办公厅《关于印发〈领取社会保险待遇资格确认经办规程（暂行）〉的通知》人社厅发〔2018〕107号:
a recipient's entitlement is confirmed once per cycle of 12 months, at a counter, by himself online, or by comparing
other departments' data; payment is suspended when it is not confirmed in time and resumed, with the months missed,
once it is): a person's certification is due 12 months (``PAYROLL_CERTIFICATION_MONTHS``) after his last one, or
after the start of his earliest running benefit. Each payroll run reminds everyone due within
``PAYROLL_CERTIFICATION_REMIND_DAYS`` of the pay date, and suspends from the run's month everyone reminded more than
``PAYROLL_CERTIFICATION_GRACE_DAYS`` before the pay date who is still not certified (grace period: local practice,
a demo value). A certification resumes those suspensions; the months missed are paid in arrears by the next run.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import BenefitAward
from registry.audit import audited_save, recorded_user
from registry.jurisdiction import office_in_jurisdiction, user_office
from registry.models import Office, Person

from ..models import (
    Certification,
    CertificationChannel,
    CertificationReminder,
    Suspension,
    SuspensionReason,
)

_AWARD = BenefitAward._meta.db_table
_CERT = Certification._meta.db_table
_REMINDER = CertificationReminder._meta.db_table
_SUSPENSION = Suspension._meta.db_table
_PERSON = Person._meta.db_table


def running_awards_sql(month: str) -> str:
    """Awards paying in ``month`` (an SQL expression): started, within their term, not stopped for good (a
    suspension for missing certification still counts: the person must certify)."""
    return f"""
        SELECT a.* FROM {_AWARD} a
        WHERE a.start_month <= {month}
          AND (a.months IS NULL OR a.start_month + make_interval(months => a.months) > {month})
          AND NOT EXISTS (SELECT 1 FROM {_SUSPENSION} s WHERE s.award_id = a.id AND s.resumed_month IS NULL
                          AND s.reason <> 'certification')"""


def certification_due_sql() -> str:
    """(person_id, due_on) of every recipient; parameters: month, interval months."""
    # The last certifications hashed once, not looked up per recipient (400,000 probes).
    return f"""
        SELECT r.person_id,
               (COALESCE(c.last_on, r.first_start) + make_interval(months => %(interval)s))::date AS due_on
        FROM (SELECT ra.person_id, MIN(ra.start_month) AS first_start
              FROM ({running_awards_sql("%(month)s::date")}) ra GROUP BY ra.person_id) r
        LEFT JOIN (SELECT person_id, MAX(certified_on) AS last_on FROM {_CERT} GROUP BY person_id) c
               ON c.person_id = r.person_id"""


def certification_sweep(*, on: datetime.date, month: datetime.date, acting_user: Any = None) -> tuple[int, int]:
    """Suspend from ``month`` the running awards of everyone reminded more than the grace period before ``on``
    and still not certified; remind everyone due within the reminder lead. (suspended awards, reminders)."""
    params = {
        "on": on,
        "month": month,
        "interval": settings.PAYROLL_CERTIFICATION_MONTHS,
        "remind": datetime.timedelta(days=settings.PAYROLL_CERTIFICATION_REMIND_DAYS),
        "grace": datetime.timedelta(days=settings.PAYROLL_CERTIFICATION_GRACE_DAYS),
        "now": timezone.now(),
        "user": getattr(recorded_user(acting_user), "pk", None),
        "note": _("提醒后逾期未认证，自动暂停发放"),
    }
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH due AS ({certification_due_sql()}),
            reminded AS (
                INSERT INTO {_REMINDER} (person_id, due_on, reminded_on, office_id)
                SELECT d.person_id, d.due_on, %(on)s, p.residence_office_id
                FROM due d JOIN {_PERSON} p ON p.id = d.person_id
                WHERE d.due_on <= %(on)s::date + %(remind)s
                ON CONFLICT (person_id, due_on) DO NOTHING
                RETURNING 1
            ),
            suspended AS (
                INSERT INTO {_SUSPENSION} (award_id, reason, from_month, resumed_month, event_date, note, source,
                    office_id, created_at, created_by_id, resumed_at, resumed_by_id)
                SELECT a.id, 'certification', %(month)s, NULL, d.due_on, %(note)s, 'payroll', p.residence_office_id,
                       %(now)s, %(user)s, NULL, NULL
                FROM due d
                JOIN {_REMINDER} r ON r.person_id = d.person_id AND r.due_on = d.due_on
                JOIN ({running_awards_sql("%(month)s::date")}) a ON a.person_id = d.person_id
                JOIN {_PERSON} p ON p.id = d.person_id
                WHERE r.reminded_on + %(grace)s <= %(on)s::date AND d.due_on <= %(on)s::date
                ON CONFLICT (award_id) WHERE resumed_month IS NULL DO NOTHING
                RETURNING 1
            )
            SELECT (SELECT COUNT(*) FROM suspended), (SELECT COUNT(*) FROM reminded)
            """,
            params,
        )
        suspended, reminded = cur.fetchone()
    return suspended, reminded


def _running_awards(person: Person, on: datetime.date) -> list[BenefitAward]:
    month = on.replace(day=1)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT ra.id FROM ({running_awards_sql('%(month)s::date')}) ra WHERE ra.person_id = %(person)s",
            {"month": month, "person": person.pk},
        )
        ids = [row[0] for row in cur.fetchall()]
    return list(BenefitAward.objects.filter(pk__in=ids))


@transaction.atomic
def certification_record(
    *,
    person: Person,
    certified_on: datetime.date,
    channel: str,
    acting_user: Any,
    office: Office | None = None,
    note: str = "",
) -> Certification:
    """Record that ``person`` was certified alive and entitled; resumes his suspensions for missing
    certification (the months missed are paid by the next run). Refused for a person without a running benefit."""
    if not office_in_jurisdiction(acting_user, person.residence_office) and channel != CertificationChannel.SYSTEM:
        raise Person.DoesNotExist
    if not isinstance(certified_on, datetime.date) or certified_on > timezone.localdate():
        raise ValidationError({"certified_on": [_("认证日期不能晚于今天。")]})
    if channel not in CertificationChannel.values:
        raise ValidationError({"channel": [_("未知的认证方式。")]})
    if connection.vendor != "postgresql":  # the running awards are PostgreSQL SQL (running_awards_sql); make run
        raise ValidationError(
            {
                "person": [
                    _(
                        "待遇资格认证需要 PostgreSQL 数据库（设置 DATABASE_URL=postgres://…）；SQLite 演示环境不能登记认证。"
                    )
                ]
            }
        )
    if not _running_awards(person, certified_on):
        raise ValidationError({"person": [_("该人员没有正在领取的社会保险待遇，无需资格认证。")]})
    office = office or user_office(acting_user) or person.residence_office
    cert = Certification(
        person=person,
        certified_on=certified_on,
        channel=channel,
        office=office,
        note=note,
        created_by=recorded_user(acting_user),
    )
    cert.full_clean()
    cert.save()
    award_ids = BenefitAward.objects.filter(person=person).values("pk")
    for suspension in Suspension.objects.filter(
        award_id__in=award_ids, reason=SuspensionReason.CERTIFICATION, resumed_month__isnull=True
    ):
        suspension.resumed_month = max(certified_on.replace(day=1), suspension.from_month)
        suspension.resumed_at = timezone.now()
        suspension.resumed_by = recorded_user(acting_user)
        audited_save(suspension, acting_user=acting_user, reason=_("资格认证后恢复发放"))
    return cert
