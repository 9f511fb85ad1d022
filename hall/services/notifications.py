"""Notifications to the hall's message box and by SMS (the same pluggable backend as the codes).

Each event has one key (``HallMessage.key`` is unique): a task run twice — a retry after a lost acknowledgement,
a case completed and the event replayed — finds the message already there and neither writes nor sends again.
The SMS goes out once per message (``sms_sent_at``, under a row lock). Non-mandatory messages (reminders: bill
issued or due soon, the pension grade season) are not written for a person or employer whose accounts opted out.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import CaseAction, CaseEvent
from contributions.models import Bill, BillKind, ResidentPensionChoice
from contributions.selectors import with_amounts
from registry.models import Enrollment, InsuranceType

from ..models import MANDATORY_KINDS, AccountStatus, HallAccount, HallMessage, MessageKind
from ..sms import SmsError, sms_send

DUE_SOON_DAYS = 3


def _recipients(*, person_id: int | None, employer_id: int | None) -> list[HallAccount]:
    qs = HallAccount.objects.filter(status=AccountStatus.ACTIVE)
    if person_id:
        return list(qs.filter(kind="person", person_id=person_id))
    accounts = list(qs.filter(employer_id=employer_id).exclude(kind="person"))
    return [a for a in accounts if a.has_right("bills") or a.has_right("apply")]


def message_create(
    *, key: str, kind: str, title: str, body: str, link: str = "", person: Any = None, employer: Any = None
) -> HallMessage | None:
    """The message of one event, once; None when it is a reminder the recipient opted out of, or already there."""
    accounts = _recipients(person_id=getattr(person, "pk", None), employer_id=getattr(employer, "pk", None))
    if kind not in MANDATORY_KINDS and accounts and all(a.notify_opt_out for a in accounts):
        return None
    try:
        with transaction.atomic():
            message = HallMessage.objects.create(
                key=key, kind=kind, title=title, body=body[:500], link=link, person=person, employer=employer
            )
    except IntegrityError:
        return None  # this event's message exists: a repeated task
    _sms(message, accounts)
    return message


def _sms(message: HallMessage, accounts: list[HallAccount]) -> None:
    with transaction.atomic():
        locked = HallMessage.objects.select_for_update().get(pk=message.pk)
        if locked.sms_sent_at is not None:
            return
        phones = sorted({a.phone for a in accounts if message.kind in MANDATORY_KINDS or not a.notify_opt_out})
        for phone in phones:
            try:
                sms_send(phone=phone, text=f"【台州社保】{message.title}：{message.body}")
            except SmsError:
                continue  # the message box still has it; a gateway outage must not lose the message
        locked.sms_sent_at = timezone.now()
        locked.save(update_fields=["sms_sent_at"])


_CASE_KINDS = {
    CaseAction.ACCEPT: (MessageKind.CASE_ACCEPTED, "accepted"),
    CaseAction.CORRECT: (MessageKind.CASE_CORRECTION, None),
    CaseAction.COMPLETE: (MessageKind.CASE_COMPLETED, "completed"),
    CaseAction.REJECT: (MessageKind.CASE_REJECTED, "rejected"),
}


def _case_text(event: CaseEvent) -> tuple[str, str]:
    case = event.case
    item = case.item.name
    if event.action == CaseAction.ACCEPT:
        due = case.due_date.isoformat() if case.due_date else "—"
        return _("办件已受理"), _("您申请的“%(item)s”（%(n)s）已受理，办结期限 %(due)s。") % {
            "item": item,
            "n": case.number,
            "due": due,
        }
    if event.action == CaseAction.CORRECT:
        return _("办件需补正材料"), _("您申请的“%(item)s”（%(n)s）需补正：%(note)s") % {
            "item": item,
            "n": case.number,
            "note": event.note,
        }
    if event.action == CaseAction.COMPLETE:
        return _("办件已办结"), _("您申请的“%(item)s”（%(n)s）已办结：%(r)s 欢迎评价。") % {
            "item": item,
            "n": case.number,
            "r": case.result_summary,
        }
    return _("办件不予办理"), _("您申请的“%(item)s”（%(n)s）不予办理：%(r)s") % {
        "item": item,
        "n": case.number,
        "r": case.closing_reason,
    }


def case_event_notify(*, event_id: int) -> HallMessage | None:
    """The message (and SMS) of one case event to the applicant; once per event, whatever the retries."""
    event = CaseEvent.objects.select_related("case", "case__item").filter(pk=event_id).first()
    if event is None or event.action not in _CASE_KINDS:
        return None
    kind, suffix = _CASE_KINDS[event.action]
    case = event.case
    # A case is completed (or accepted, rejected) once; a 补正 may be asked more than once: one message per event.
    key = f"case:{case.uid}:{suffix}" if suffix else f"case-event:{event.pk}:correction"
    title, body = _case_text(event)
    person = case.person if case.person_id else None
    employer = case.employer if person is None else None
    link = f"/hall/me/applications/{case.uid}/" if person else f"/hall/employer/applications/{case.uid}/"
    return message_create(key=key, kind=kind, title=title, body=body, link=link, person=person, employer=employer)


def _bill_message(bill: Bill, kind: str, on: datetime.date) -> HallMessage | None:
    suffix = {MessageKind.BILL_ISSUED: "issued", MessageKind.BILL_DUE_SOON: "due-soon"}.get(kind, "overdue")
    amount = getattr(bill, "open_amount", bill.total)
    texts = {
        MessageKind.BILL_ISSUED: _("%(p)s 账单已生成，应缴 %(a)s 元，缴费截止 %(d)s。"),
        MessageKind.BILL_DUE_SOON: _("%(p)s 账单尚有 %(a)s 元未缴，将于 %(d)s 到期。"),
        MessageKind.BILL_OVERDUE: _("%(p)s 账单已于 %(d)s 到期，尚欠 %(a)s 元，逾期每日加收滞纳金。"),
    }
    body = texts[kind] % {"p": bill.period, "a": amount, "d": bill.due_date.isoformat()}
    link = "/hall/employer/bills/" if bill.employer_id else "/hall/me/record/"
    return message_create(
        key=f"bill:{bill.uid}:{suffix}",
        kind=kind,
        title=str(dict(MessageKind.choices)[kind]),
        body=body,
        link=link,
        person=bill.person if bill.person_id else None,
        employer=bill.employer if bill.employer_id else None,
    )


def bill_notices_run(*, on: datetime.date) -> int:
    """Bills of payers with an active hall account: issued in the last week, due within ``DUE_SOON_DAYS``, overdue.
    One query for the bills (only payers with accounts), then one message per bill and event (keys)."""
    accounts = HallAccount.objects.filter(status=AccountStatus.ACTIVE)
    payers = Q(employer_id__in=accounts.exclude(kind="person").values("employer_id")) | Q(
        person_id__in=accounts.filter(kind="person").values("person_id")
    )
    week_ago = timezone.now() - datetime.timedelta(days=7)
    bills = with_amounts(
        Bill.objects.filter(payers, issued_at__isnull=False)
        .exclude(kind=BillKind.REFUND)
        .select_related("employer", "person")
    ).filter(Q(issued_at__gte=week_ago) | Q(open_amount__gt=0, due_date__lte=on + datetime.timedelta(DUE_SOON_DAYS)))
    sent = 0
    for bill in bills:
        if bill.issued_at >= week_ago:
            sent += _bill_message(bill, MessageKind.BILL_ISSUED, on) is not None
        if bill.open_amount > 0 and bill.due_date < on:
            sent += _bill_message(bill, MessageKind.BILL_OVERDUE, on) is not None
        elif bill.open_amount > 0 and bill.due_date <= on + datetime.timedelta(DUE_SOON_DAYS):
            sent += _bill_message(bill, MessageKind.BILL_DUE_SOON, on) is not None
    return sent


def grade_season_run(*, on: datetime.date) -> int:
    """In the season (``HALL_GRADE_SEASON_MONTHS``, demo value: November and December) each resident pension
    member with a hall account who has not chosen next year's grade is reminded once."""
    if on.month not in getattr(settings, "HALL_GRADE_SEASON_MONTHS", (11, 12)):
        return 0
    year = on.year + 1
    first = datetime.date(year, 1, 1)
    members = Enrollment.objects.filter(insurance_type=InsuranceType.RESIDENT_PENSION).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=first)
    )
    accounts = (
        HallAccount.objects.filter(
            status=AccountStatus.ACTIVE, kind="person", person_id__in=members.values("person_id")
        )
        .exclude(person_id__in=ResidentPensionChoice.objects.filter(year=year).values("person_id"))
        .select_related("person")
    )
    sent = 0
    for account in accounts:
        sent += (
            message_create(
                key=f"grade:{year}:{account.person_id}",
                kind=MessageKind.GRADE_SEASON,
                title=_("请选择 %(y)s 年居民养老保险缴费档次") % {"y": year},
                body=_("%(y)s 年度城乡居民基本养老保险缴费档次可在网上办事大厅选择。") % {"y": year},
                link="/hall/me/pension-grade/",
                person=account.person,
            )
            is not None
        )
    return sent
