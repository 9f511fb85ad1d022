"""Notifications: case accepted, 补正, completed, rejected; bills issued, due soon, overdue; the pension grade season.
Message box and SMS from a Celery task after the commit, each event once, with a per-person opt-out of reminders."""

from __future__ import annotations

import datetime

import pytest

from cases import services as case_services
from cases.models import CaseAction
from cases.tests.factories import clerk, reviewer
from cases.tests.factories import item as catalogue_item
from contributions.tests.factories import huangyan_employer, issued_bill
from hall import sms, tasks
from hall.models import HallMessage, MessageKind
from hall.services import applications, notifications
from hall.tests.factories import employer_account, person_account
from registry.tests.factories import EnrollmentFactory, PersonFactory, township_of

pytestmark = pytest.mark.django_db


def _online_case(account):
    return applications.application_submit(
        account=account, item=catalogue_item("KA-001"), form_data={}, files={}, note="申领社保卡"
    )


def test_completing_a_case_twice_over_a_retried_task_gives_one_message(django_capture_on_commit_callbacks):
    township = township_of("331003")
    account = person_account(PersonFactory(residence_office=township))
    case = _online_case(account)
    with django_capture_on_commit_callbacks(execute=True):
        case_services.case_accept(case=case, acting_user=clerk(township), materials_received=["photo"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        case_services.case_pass(case=case, acting_user=reviewer(township.parent))
    assert callbacks, "completion queued its notification after the commit"
    completion = case.events.get(action=CaseAction.COMPLETE)
    for _retry in range(2):  # the broker redelivers the task (acks_late): it runs again
        tasks.case_event_notify.apply(args=[completion.pk]).get()
    done = HallMessage.objects.filter(kind=MessageKind.CASE_COMPLETED, person=account.person)
    assert done.count() == 1 and done.get().sms_sent_at is not None
    texts = [m.text for m in sms.outbox if "已办结" in m.text]
    assert len(texts) == 1 and sms.outbox[-1].phone == account.phone
    assert HallMessage.objects.filter(kind=MessageKind.CASE_ACCEPTED).count() == 1


def test_correction_and_rejection_reach_the_message_box(django_capture_on_commit_callbacks):
    township = township_of("331003")
    account = person_account(PersonFactory(residence_office=township))
    case = _online_case(account)
    with django_capture_on_commit_callbacks(execute=True):
        case_services.case_accept(case=case, acting_user=clerk(township), materials_received=["photo"])
        case_services.case_request_correction(
            case=case, acting_user=reviewer(township.parent), missing=["photo"], note="照片不清晰"
        )
        case_services.case_reject(case=case, acting_user=reviewer(township.parent), reason="材料不实")
    kinds = set(HallMessage.objects.filter(person=account.person).values_list("kind", flat=True))
    assert {MessageKind.CASE_CORRECTION, MessageKind.CASE_REJECTED} <= kinds
    assert "照片不清晰" in HallMessage.objects.get(kind=MessageKind.CASE_CORRECTION).body


def test_bill_notices_once_each_and_reminders_respect_the_opt_out():
    employer = huangyan_employer()
    account = employer_account(employer)
    overdue = issued_bill(employer, 202610)
    due_soon = issued_bill(employer, 202611)
    on = due_soon.due_date - datetime.timedelta(days=1)
    account.notify_opt_out = True
    account.save()
    notifications.bill_notices_run(on=on)
    notifications.bill_notices_run(on=on)
    keys = set(HallMessage.objects.values_list("key", flat=True))
    assert f"bill:{overdue.uid}:overdue" in keys  # mandatory: sent despite the opt-out
    assert f"bill:{due_soon.uid}:due-soon" not in keys and f"bill:{due_soon.uid}:issued" not in keys
    assert HallMessage.objects.count() == 1
    account.notify_opt_out = False
    account.save()
    notifications.bill_notices_run(on=on)
    assert HallMessage.objects.filter(key=f"bill:{due_soon.uid}:due-soon").exists()
    assert HallMessage.objects.filter(kind=MessageKind.BILL_ISSUED).count() == 2


def test_grade_season_reminds_once():
    person = PersonFactory()
    EnrollmentFactory(person=person, insurance_type="res_pension", employer=None)
    person_account(person)
    assert notifications.grade_season_run(on=datetime.date(2026, 6, 1)) == 0
    assert notifications.grade_season_run(on=datetime.date(2026, 11, 2)) == 1
    assert notifications.grade_season_run(on=datetime.date(2026, 11, 3)) == 0
    assert HallMessage.objects.get().key == f"grade:2027:{person.pk}"
