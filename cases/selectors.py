"""Reads of cases, jurisdiction applied. Pages, the API and other code use these, not the managers."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from policies.workdays import WorkCalendar
from registry.exceptions import ConflictError
from registry.jurisdiction import scope_to_user, user_office
from registry.models import Enrollment, Person
from registry.selectors import person_identity

from .certificate_codes import certificate_code_normalize, certificate_signature
from .models import (
    ACTIVE_STATES,
    OPEN_STATES,
    Attachment,
    BenefitPayment,
    CardApplication,
    CardApplicationState,
    CardBatch,
    Case,
    CaseState,
    Certificate,
    ServiceItem,
    ServiceItemMaterial,
    ServiceItemStep,
    StepKind,
)
from .rules import user_has_role

logger = logging.getLogger("cases.archive")

DEFAULT_DUE_SOON_WORKING_DAYS = 2


def due_soon_working_days() -> int:
    return int(getattr(settings, "CASES_DUE_SOON_WORKING_DAYS", DEFAULT_DUE_SOON_WORKING_DAYS))


# ---------------------------------------------------------------------------------------------
# Catalogue.


def catalogue_items(*, active_only: bool = True) -> QuerySet[ServiceItem]:
    qs = ServiceItem.objects.prefetch_related(
        Prefetch("steps", queryset=ServiceItemStep.objects.order_by("sequence")),
        Prefetch("materials", queryset=ServiceItemMaterial.objects.order_by("sequence", "id")),
    )
    return qs.filter(is_active=True) if active_only else qs


def catalogue_item_get(*, code: str) -> ServiceItem:
    return catalogue_items(active_only=False).get(code=code)


def items_for_intake(*, user: Any) -> list[ServiceItem]:
    """Active items the user may take in at his office (his office level is at or above the item's intake level)."""
    office = user_office(user)
    items = []
    for item in catalogue_items():
        intake = next((s for s in item.steps.all() if s.kind == StepKind.INTAKE), None)
        if intake is None or not user_has_role(user, intake.role):
            continue
        if office is not None and office.level > intake.lowest_level:
            continue
        items.append(item)
    return items


def person_enrollments_all(person: Person) -> QuerySet[Enrollment]:
    """Every enrollment of the person, wherever it is handled, and those left with the records merged into it (a
    merge moves only the open ones): a certificate is about the person (access to the person is checked by the
    caller), like contributions' personal record."""
    return (
        Enrollment.objects.filter(person_id__in=person_identity(person))
        .select_related("employer")
        .order_by("insurance_type", "start_date")
    )


def person_open_cases(person: Person) -> list[Case]:
    """The open cases (intake to completion, or waiting for missing materials) of ``person``, no jurisdiction:
    a person merge moves them all."""
    return list(Case.objects.filter(person=person, state__in=OPEN_STATES).order_by("id"))


# ---------------------------------------------------------------------------------------------
# Cases.


def case_list(*, user: Any) -> QuerySet[Case]:
    return scope_to_user(
        Case.objects.select_related(
            "item", "person", "employer", "intake_office", "current_office", "current_step", "assignee"
        ),
        user,
    )


def case_get(*, user: Any, uid: Any) -> Case:
    """One case by its opaque id; Case.DoesNotExist when absent or outside the user's jurisdiction."""
    try:
        return case_list(user=user).prefetch_related("item__steps", "item__materials").get(uid=uid)
    except (ValueError, TypeError):
        raise Case.DoesNotExist from None


SLA_ON_TIME = "on_time"
SLA_DUE_SOON = "due_soon"
SLA_OVERDUE = "overdue"
SLA_PAUSED = "paused"
SLA_DONE = "done"
SLA_LATE = "done_late"
SLA_NONE = "none"
SLA_CHOICES = [
    (SLA_ON_TIME, gettext_lazy("正常")),
    (SLA_DUE_SOON, gettext_lazy("即将到期")),
    (SLA_OVERDUE, gettext_lazy("已超期")),
    (SLA_PAUSED, gettext_lazy("补正暂停")),
]


@dataclass(frozen=True)
class Sla:
    code: str
    label: str
    css: str  # ok / warn / bad / "" (neutral)
    days_left: int | None = None


def case_sla(case: Case, *, today: datetime.date | None = None, calendar: WorkCalendar | None = None) -> Sla:
    today = today or timezone.localdate()
    calendar = calendar or WorkCalendar()
    if case.state == CaseState.COMPLETED:
        done_on = timezone.localdate(case.completed_at) if case.completed_at else today
        if case.due_date and done_on > case.due_date:
            return Sla(SLA_LATE, _("超期办结"), "bad")
        return Sla(SLA_DONE, _("按时办结"), "ok")
    if case.state not in OPEN_STATES:
        return Sla(SLA_NONE, case.get_state_display(), "")
    if case.state == CaseState.SUSPENDED:
        return Sla(SLA_PAUSED, _("补正暂停计时"), "")
    if case.due_date is None:
        return Sla(SLA_NONE, _("未受理，未起算"), "")
    if today > case.due_date:
        late = calendar.working_days_between(case.due_date, today)
        return Sla(SLA_OVERDUE, _("已超期 %(n)d 个工作日") % {"n": late}, "bad", -late)
    left = calendar.working_days_between(today, case.due_date)
    if left <= due_soon_working_days():
        return Sla(SLA_DUE_SOON, _("即将到期（剩 %(n)d 个工作日）") % {"n": left}, "warn", left)
    return Sla(SLA_ON_TIME, _("正常（剩 %(n)d 个工作日）") % {"n": left}, "ok", left)


def filter_by_sla(qs: QuerySet[Case], sla: str, *, today: datetime.date | None = None) -> QuerySet[Case]:
    today = today or timezone.localdate()
    running = qs.filter(state__in=ACTIVE_STATES, due_date__isnull=False)
    if sla == SLA_PAUSED:
        return qs.filter(state=CaseState.SUSPENDED)
    soon = WorkCalendar().add_working_days(today, due_soon_working_days())
    if sla == SLA_OVERDUE:
        return running.filter(due_date__lt=today)
    if sla == SLA_DUE_SOON:
        return running.filter(due_date__gte=today, due_date__lte=soon)
    if sla == SLA_ON_TIME:
        return running.filter(due_date__gt=soon)
    return qs


QUEUE_PENDING = "todo"
QUEUE_TAKEN_IN = "taken_in"
QUEUE_MINE = "mine"
QUEUE_ALL = "all"
QUEUE_CHOICES = [
    (QUEUE_PENDING, gettext_lazy("本机构待办")),
    (QUEUE_MINE, gettext_lazy("我领办的")),
    (QUEUE_TAKEN_IN, gettext_lazy("本机构受理的")),
    (QUEUE_ALL, gettext_lazy("辖区全部")),
]


def case_queue(
    *, user: Any, scope: str = QUEUE_PENDING, item_code: str = "", state: str = "", sla: str = ""
) -> QuerySet[Case]:
    """The office's queue: open cases whose current office is the user's office (by default)."""
    qs = case_list(user=user)
    office = user_office(user)
    if scope == QUEUE_PENDING:
        qs = qs.filter(state__in=OPEN_STATES, current_office=office)
    elif scope == QUEUE_MINE:
        qs = qs.filter(state__in=OPEN_STATES, assignee=user)
    elif scope == QUEUE_TAKEN_IN:
        qs = qs.filter(intake_office=office)
    if item_code:
        qs = qs.filter(item__code=item_code)
    if state:
        qs = qs.filter(state=state)
    if sla:
        qs = filter_by_sla(qs, sla)
    if scope in (QUEUE_PENDING, QUEUE_MINE):
        return qs.order_by("due_date", "submitted_at", "id")
    return qs.order_by("-submitted_at", "-id")


def queue_counts(*, user: Any) -> dict[str, int]:
    """How many open cases of the office's queue are on time / due soon / overdue / paused."""
    base = case_list(user=user).filter(state__in=OPEN_STATES, current_office=user_office(user))
    counts = {code: filter_by_sla(base, code).count() for code, _label in SLA_CHOICES}
    counts["total"] = base.count()
    return counts


def case_events(case: Case):
    return case.events.select_related("actor", "actor_office").order_by("at", "id")


def case_materials(case: Case):
    return case.materials.select_related("material").order_by("material__sequence", "material_id")


def case_attachments(case: Case):
    return case.attachments.select_related("material", "uploaded_by").order_by("uploaded_at", "id")


# ---------------------------------------------------------------------------------------------
# Archive.


class AttachmentIntegrityError(ConflictError):
    """The stored file is missing or no longer matches its SHA-256 (409 ``integrity_error``)."""

    code = "integrity_error"


def attachment_get(*, user: Any, uid: Any) -> Attachment:
    try:
        return scope_to_user(Attachment.objects.select_related("case", "case__intake_office"), user).get(uid=uid)
    except (ValueError, TypeError):
        raise Attachment.DoesNotExist from None


def attachment_read_verified(attachment: Attachment) -> bytes:
    """The file's bytes, re-hashed; AttachmentIntegrityError (logged) when missing or altered."""
    try:
        with default_storage.open(attachment.file.name, "rb") as handle:
            content = handle.read()
    except (FileNotFoundError, OSError):
        logger.error(
            "attachment %s of case %s: file %s is missing", attachment.uid, attachment.case_id, attachment.file.name
        )
        raise AttachmentIntegrityError(_("档案文件缺失，已记录并通知管理员。")) from None
    digest = hashlib.sha256(content).hexdigest()
    if not hmac.compare_digest(digest, attachment.sha256):
        logger.error(
            "attachment %s of case %s: SHA-256 mismatch (stored %s, file %s)",
            attachment.uid,
            attachment.case_id,
            attachment.sha256,
            digest,
        )
        raise AttachmentIntegrityError(
            _("档案文件校验失败（内容与归档时的 SHA-256 不一致），可能已被篡改，已记录并通知管理员。")
        )
    return content


@dataclass
class ArchiveEntry:
    case: Case
    attachments: list[Attachment]


def person_archive(*, user: Any, person: Person) -> list[ArchiveEntry]:
    """The archive index of one person across all his cases in the user's jurisdiction."""
    cases = (
        case_list(user=user)
        .filter(person=person)
        .prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.select_related("material").order_by("uploaded_at"))
        )
        .order_by("-submitted_at")
    )
    return [ArchiveEntry(case=c, attachments=list(c.attachments.all())) for c in cases]


# ---------------------------------------------------------------------------------------------
# Certificates.


@dataclass(frozen=True)
class Verification:
    certificate: Certificate
    genuine: bool


def certificate_verify(*, code: str) -> Verification | None:
    """Public check of a certificate by its code (no login): the record and whether its signature holds."""
    normalized = certificate_code_normalize(code)
    if not normalized:
        return None
    certificate = (
        Certificate.objects.select_related("issuing_office", "case", "case__item").filter(code=normalized).first()
    )
    if certificate is None:
        return None
    expected = certificate_signature(
        content=certificate.content, code=certificate.code, pdf_sha256=certificate.pdf_sha256
    )
    return Verification(certificate=certificate, genuine=hmac.compare_digest(expected, certificate.signature))


# ---------------------------------------------------------------------------------------------
# Jobs and funds.


def overdue_by_office(*, on: datetime.date) -> dict[int, list[Case]]:
    """Open, running cases past their due date, grouped by current office (no jurisdiction: a batch job)."""
    out: dict[int, list[Case]] = defaultdict(list)
    for case in (
        Case.objects.filter(state__in=ACTIVE_STATES, due_date__lt=on)
        .select_related("item")
        .order_by("current_office_id", "due_date", "id")
    ):
        out[case.current_office_id].append(case)
    return dict(out)


def benefit_payments_unposted() -> QuerySet[BenefitPayment]:
    """Benefit payments whose fund expenditure is not booked (should stay empty: payments post in their transaction)."""
    return BenefitPayment.objects.filter(posted_to_funds=False).select_related("award", "award__office")


def state_counts(*, user: Any) -> dict[str, int]:
    rows = case_list(user=user).order_by().values("state").annotate(n=Count("id"))
    return {r["state"]: r["n"] for r in rows}


def calendar_missing_years(years: list[int]) -> list[int]:
    calendar = WorkCalendar().preload(years)
    return [y for y in years if not calendar.has_year(y)]


def open_case_filter() -> Q:
    return Q(state__in=OPEN_STATES)


def case_for_window(*, user: Any, uid: Any) -> Case:
    """A case taken in at the user's window for a person of another district (通城通办): the window sees it (and its
    receipt) although the case belongs to the holding office. Case.DoesNotExist otherwise."""
    office = user_office(user)
    if office is None:
        raise Case.DoesNotExist
    try:
        return (
            Case.objects.select_related("item", "person", "intake_office", "current_office", "window_office")
            .filter(window_office__path__startswith=office.path)
            .get(uid=uid)
        )
    except (ValueError, TypeError, ValidationError):
        raise Case.DoesNotExist from None


def window_cases(*, user: Any, limit: int = 20) -> list[Case]:
    """The latest cases the user's window took in for other districts (通城通办)."""
    office = user_office(user)
    if office is None:
        return []
    return list(
        Case.objects.select_related("item", "intake_office")
        .filter(window_office__path__startswith=office.path)
        .order_by("-submitted_at")[:limit]
    )


# ---------------------------------------------------------------------------------------------
# Social security cards.


def card_applications_waiting(*, user: Any) -> QuerySet[CardApplication]:
    """Applications of the user's jurisdiction not yet in a production batch, oldest first."""
    return (
        scope_to_user(CardApplication.objects.select_related("person", "case"), user)
        .filter(state=CardApplicationState.APPLIED)
        .order_by("created_at", "id")
    )


def card_batch_list(*, user: Any) -> QuerySet[CardBatch]:
    return scope_to_user(CardBatch.objects.select_related("office", "created_by"), user).order_by("-created_at", "-id")


def card_batch_get(*, user: Any, uid: Any) -> CardBatch:
    """One batch by its opaque id; CardBatch.DoesNotExist when absent or outside the user's jurisdiction."""
    try:
        return card_batch_list(user=user).get(uid=uid)
    except (ValueError, TypeError):
        raise CardBatch.DoesNotExist from None


def card_batch_applications(batch: CardBatch) -> QuerySet[CardApplication]:
    return batch.applications.select_related("person", "case").order_by("id")
