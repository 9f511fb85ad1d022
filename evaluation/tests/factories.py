"""Test data of the evaluation: cases written as rows with the dates a test needs (the workflow stamps 'now'), and
the ``OUT_OF_JURISDICTION`` makers for tests/test_jurisdiction_routes.py (records in 路桥)."""

from __future__ import annotations

import contextlib
import datetime
import itertools
from unittest import mock

from django.utils import timezone

from cases.models import Case, CaseAction, CaseEscalation, CaseEvent, CaseRating, CaseState, ServiceItem
from registry.models import Office
from registry.tests.factories import PersonFactory

from ..models import OfficeMonthMetric, StatCell, SupervisionDigest

_seq = itertools.count(1)


def local(*args: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(*args))


@contextlib.contextmanager
def clock(at: datetime.datetime):
    """Rows stamped with ``auto_now_add`` (ratings, escalations, allocations) get the time the test needs."""
    with mock.patch("django.utils.timezone.now", return_value=at):
        yield


def item() -> ServiceItem:
    return ServiceItem.objects.filter(is_active=True).order_by("sort_order", "code").first()


def case_row(
    office: Office,
    *,
    received: datetime.datetime | None,
    state: str = CaseState.REVIEW,
    closed: datetime.datetime | None = None,
    due: datetime.date | None = None,
    paused_days: int = 0,
    paused_on: datetime.date | None = None,
    current: Office | None = None,
    service_item: ServiceItem | None = None,
) -> Case:
    """A case as the workflow would have left it, with the given dates (a closed one is never changed after)."""
    return Case.objects.create(
        number=f"T{next(_seq):09d}",
        item=service_item or item(),
        person=PersonFactory(residence_office=office),
        intake_office=office,
        current_office=current or office,
        state=state,
        suspended_state=CaseState.REVIEW if state == CaseState.SUSPENDED else "",
        submitted_at=received or timezone.now(),
        received_at=received,
        time_limit_days=5,
        due_date=due,
        paused_on=paused_on,
        paused_working_days=paused_days,
        completed_at=closed,
    )


def correction_event(case: Case) -> CaseEvent:
    return CaseEvent.objects.create(case=case, action=CaseAction.CORRECT, from_state="review", to_state="suspended")


def rating(case: Case, score: int, at: datetime.datetime) -> CaseRating:
    with clock(at):
        return CaseRating.objects.create(case=case, office=case.current_office, score=score, channel="tablet")


def escalation(case: Case, at: datetime.datetime, note: str = "超期督办") -> CaseEscalation:
    with clock(at):
        return CaseEscalation.objects.create(
            case=case,
            from_office=case.current_office,
            to_office=case.current_office.parent,
            note=note,
            due_date=case.due_date,
        )


def _out_metric(township: Office) -> OfficeMonthMetric:
    return OfficeMonthMetric.objects.create(
        office=township, month=datetime.date(1900 + next(_seq) % 100, 1, 1), rollup=False, computed_at=timezone.now()
    )


def _out_digest(township: Office) -> SupervisionDigest:
    return SupervisionDigest.objects.create(
        office=township, on=datetime.date(2026, 1, 1) + datetime.timedelta(next(_seq))
    )


def _out_stat(township: Office) -> StatCell:
    return StatCell.objects.create(
        topic="insured", month=datetime.date(2026, 1, 1), office=township, dim_a=str(next(_seq)), m1=1
    )


def _out_escalation(township: Office) -> CaseEscalation:
    case = case_row(township, received=timezone.now(), due=datetime.date(2026, 1, 5))
    return escalation(case, timezone.now())


OUT_OF_JURISDICTION = {
    "evaluation.StatCell": _out_stat,
    "cases.CaseEscalation": _out_escalation,
    "evaluation.OfficeMonthMetric": _out_metric,
    "evaluation.SupervisionDigest": _out_digest,
}
