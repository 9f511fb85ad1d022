"""工伤认定申请: the time limits of an application for work-injury recognition (工伤保险条例第十七条).

* The employer applies within ``case.time_limit_days.work_injury_report_employer`` (30) days of the accident
  (art. 17 para. 1). A later application by the employer is accepted but flagged: the work-injury costs arising
  between the end of that limit and the application are borne by the employer (art. 17 para. 4).
* The worker or his close relatives apply within ``case.time_limit_months.work_injury_report_worker`` (12) months
  of the accident (art. 17 para. 2); later, the application is refused.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from policies import codes
from policies.selectors import parameter_value
from registry.models import Office

APPLICANT_EMPLOYER = "employer"
APPLICANT_WORKER = "worker"


@dataclass(frozen=True)
class InjuryApplicationCheck:
    accident_date: datetime.date
    applicant: str
    employer_limit: datetime.date  # last day of the employer's 30 days
    worker_limit: datetime.date  # last day of the worker's year
    late_employer: bool
    note: str


def _months_after(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return datetime.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def work_injury_application_check(
    *, accident_date: datetime.date, applicant: str, received_on: datetime.date, office: Office | None
) -> InjuryApplicationCheck:
    """Check the limits for an application received on ``received_on``; refuses (ValidationError by field) an
    accident in the future and a worker's application after his year."""
    if accident_date > received_on:
        raise ValidationError({"accident_date": [_("事故伤害发生日期不能晚于申请日期。")]})
    days = int(
        parameter_value(codes.CASE_TIME_LIMIT_DAYS_WORK_INJURY_REPORT_EMPLOYER, on=received_on, office=office).value
    )
    months = int(
        parameter_value(codes.CASE_TIME_LIMIT_MONTHS_WORK_INJURY_REPORT_WORKER, on=received_on, office=office).value
    )
    employer_limit = accident_date + datetime.timedelta(days=days)
    worker_limit = _months_after(accident_date, months)
    if applicant == APPLICANT_WORKER and received_on > worker_limit:
        raise ValidationError(
            {
                "accident_date": [
                    _(
                        "职工或其近亲属应自事故伤害发生之日起 %(m)s 个月内（至 %(limit)s）提出工伤认定申请"
                        "（工伤保险条例第十七条第二款），已超过时限。"
                    )
                    % {"m": months, "limit": worker_limit}
                ]
            }
        )
    late = applicant == APPLICANT_EMPLOYER and received_on > employer_limit
    note = ""
    if late:
        note = _(
            "用人单位逾期申请：应于 %(limit)s 前提出（事故发生之日起 %(d)s 日内）。%(start)s 至 %(end)s 期间发生的工伤待遇等"
            "有关费用由该用人单位负担（工伤保险条例第十七条第四款）。"
        ) % {
            "limit": employer_limit,
            "d": days,
            "start": employer_limit + datetime.timedelta(days=1),
            "end": received_on,
        }
    return InjuryApplicationCheck(accident_date, applicant, employer_limit, worker_limit, late, note)
