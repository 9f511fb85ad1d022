"""Supervision (时限监察): the office head's panel, escalation of an overdue case to the office above (a case event,
counted in the evaluation), and the daily digest (idempotent per office and day)."""

from __future__ import annotations

import datetime
import pathlib
import re

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, CaseAction, CaseEscalation, CaseEvent, CaseState
from cases.services import case_escalate
from cases.tests.factories import clerk, head
from evaluation.models import SupervisionDigest
from evaluation.services import supervision_digest_send
from evaluation.tests.factories import case_row
from policies.workdays import WorkCalendar
from registry.exceptions import ApplicationError, ConflictError, PermissionDeniedError
from registry.models import Office
from registry.tests.factories import township_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def hy():
    return Office.objects.get(code="331003")


@pytest.fixture
def cases(today, hy):
    town, lq = township_of("331003"), township_of("331004")
    received = timezone.now() - datetime.timedelta(days=20)
    soon = WorkCalendar().add_working_days(today, 1)
    return {
        "late": case_row(town, received=received, due=today - datetime.timedelta(days=3), current=hy),
        "soon": case_row(town, received=received, due=soon),
        "later": case_row(town, received=received, due=today + datetime.timedelta(days=30)),
        "paused": case_row(
            town,
            received=received,
            state=CaseState.SUSPENDED,
            due=today - datetime.timedelta(days=3),
            paused_on=today - datetime.timedelta(days=5),
        ),
        "lq_late": case_row(lq, received=received, due=today - datetime.timedelta(days=3)),
    }


def test_an_overdue_case_is_escalated_to_the_office_above_once(cases, hy):
    boss = head(hy)
    escalation = case_escalate(case=cases["late"], acting_user=boss, note="请市中心督办")
    assert (escalation.from_office, escalation.to_office) == (hy, hy.parent)
    event = CaseEvent.objects.get(case=cases["late"], action=CaseAction.ESCALATE)
    assert (event.note, event.data["to_office"], event.actor) == ("请市中心督办", hy.parent.code, boss)
    assert Case.objects.get(pk=cases["late"].pk).current_office == hy  # the case stays where it is
    with pytest.raises(ConflictError):
        case_escalate(case=cases["late"], acting_user=boss, note="再次")
    assert CaseEscalation.objects.count() == 1


def test_escalation_refusals_change_nothing(cases, hy):
    boss = head(hy)
    with pytest.raises(ConflictError):  # in time
        case_escalate(case=cases["soon"], acting_user=boss, note="x")
    with pytest.raises(ConflictError):  # paused for 补正: its clock stands
        case_escalate(case=cases["paused"], acting_user=boss, note="x")
    with pytest.raises(ApplicationError):
        case_escalate(case=cases["late"], acting_user=boss, note="  ")
    with pytest.raises(PermissionDeniedError):
        case_escalate(case=cases["late"], acting_user=clerk(hy), note="x")
    with pytest.raises(Case.DoesNotExist):  # another district's case
        case_escalate(case=cases["lq_late"], acting_user=boss, note="x")
    assert not CaseEscalation.objects.exists()
    assert not CaseEvent.objects.filter(action=CaseAction.ESCALATE).exists()


def test_the_head_sees_the_panel_on_his_home_page_and_escalates_from_it(client, cases, hy):
    client.force_login(head(hy))
    text = client.get(reverse("home")).content.decode()
    assert 'data-testid="supervision-panel"' in text
    assert cases["late"].number in text and cases["soon"].number in text
    assert cases["later"].number not in text and cases["paused"].number not in text
    assert cases["lq_late"].number not in text
    response = client.post(reverse("evaluation:escalate", args=[cases["late"].uid]), {"note": "督办"})
    assert response.status_code == 302 and CaseEscalation.objects.filter(case=cases["late"]).exists()
    assert client.post(reverse("evaluation:escalate", args=[cases["lq_late"].uid]), {"note": "x"}).status_code == 404
    client.post(reverse("evaluation:escalate", args=[cases["soon"].uid]), {"note": "x"})
    assert not CaseEscalation.objects.filter(case=cases["soon"]).exists()
    # The office above sees what was escalated to it.
    client.force_login(head(hy.parent))
    assert 'data-testid="escalated-to-us"' in client.get(reverse("home")).content.decode()


def test_a_clerk_has_no_panel(client, cases, hy):
    client.force_login(clerk(hy))
    assert 'data-testid="supervision-panel"' not in client.get(reverse("home")).content.decode()


@pytest.mark.django_db(False)
def test_no_app_below_evaluation_loads_its_template_tags():
    """The panel reaches the home page through cases.counter.panels: the apps evaluation builds on stay independent
    of it in their templates too, not only in their imports (import-linter sees only Python)."""
    root = pathlib.Path(settings.BASE_DIR)
    loads = re.compile(r"{%\s*load\b[^%]*\bevaluation_tags\b")
    found = [
        str(path.relative_to(root))
        for app in ("registry", "policies", "contributions", "funds", "cases")
        for path in (root / app / "templates").rglob("*.html")
        if loads.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []
    assert list((root / "cases" / "templates").rglob("*.html"))  # the scan reads the templates it means to


def test_the_daily_digest_is_sent_once_per_office_and_day(cases, hy, today):
    boss = head(hy, email="hy-head@example.gov.cn")
    head(Office.objects.get(code="331004"), email="lq-head@example.gov.cn")
    reports = {r.office_code: r for r in supervision_digest_send(on=today)}
    assert (reports["331003"].overdue, reports["331003"].due_soon) == (1, 1)
    assert reports["331004"].overdue == 1
    digest = SupervisionDigest.objects.get(office=hy, on=today)
    assert (digest.overdue, digest.due_soon) == ([cases["late"].number], [cases["soon"].number])
    sent = {m.to[0]: m for m in mail.outbox}
    assert cases["late"].number in sent[boss.email].body and cases["lq_late"].number not in sent[boss.email].body
    again = supervision_digest_send(on=today)
    assert not any(r.created for r in again) and len(mail.outbox) == 2
