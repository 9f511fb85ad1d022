"""The nightly overdue report: per office, to its heads, once a day; scheduled by django-celery-beat."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django_celery_beat.models import PeriodicTask

from cases import services, tasks
from cases.models import Case, OverdueNotice
from cases.tests.factories import enrollment_case, head
from registry.models import Office
from registry.tests.factories import township_of

D = datetime.date
pytestmark = pytest.mark.django_db


def test_overdue_cases_are_listed_per_office_and_mailed_to_its_heads():
    hy = Office.objects.get(code="331003")
    lq = Office.objects.get(code="331004")
    boss = head(hy, email="hy-head@example.cn")
    head(lq, email="lq-head@example.cn")
    late = enrollment_case(township=township_of("331003"))
    on_time = enrollment_case(township=township_of("331003"))
    paused = enrollment_case(township=township_of("331003"), materials=())
    Case.objects.filter(pk__in=[late.pk, paused.pk]).update(due_date=D(2025, 1, 2))
    Case.objects.filter(pk=on_time.pk).update(due_date=D(2025, 2, 1))

    reports = services.case_overdue_notify(on=D(2025, 1, 10))
    assert [(r.office_code, r.case_count, r.recipients) for r in reports] == [("331003", 1, [boss.username])]
    notice = OverdueNotice.objects.get(office=hy, on=D(2025, 1, 10))
    assert notice.case_numbers == [late.number]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["hy-head@example.cn"]
    assert late.number in mail.outbox[0].body
    assert "超期" in mail.outbox[0].subject

    # Idempotent for the day.
    services.case_overdue_notify(on=D(2025, 1, 10))
    assert len(mail.outbox) == 1


def test_the_task_runs_the_service_and_is_scheduled_nightly():
    assert tasks.overdue_notify.name == "cases.overdue_notify"
    assert tasks.overdue_notify.acks_late
    assert tasks.overdue_notify.delay().get() == 0
    task = PeriodicTask.objects.get(task="cases.overdue_notify")
    assert task.enabled and (task.crontab.hour, task.crontab.minute) == ("1", "30")
