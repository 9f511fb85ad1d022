"""One audited save: ``registry.audit`` is the only place that tells simple-history who acted."""

import pathlib
import re
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from simple_history.models import HistoricalRecords

from registry.audit import audit_mark, audited_delete, audited_save, recorded_user
from registry.models import Person, User
from registry.tests.factories import PersonFactory, UserFactory, township_of
from registry.tests.helpers import project_apps

pytestmark = pytest.mark.django_db


def test_audited_save_records_user_office_and_reason(huangyan_clerk):
    person = PersonFactory()
    person.name = "王小二"
    audited_save(person, acting_user=huangyan_clerk, reason="更正姓名")
    record = person.history.order_by("-history_id").first()
    assert (record.name, record.history_user, record.history_office, record.history_change_reason) == (
        "王小二",
        huangyan_clerk,
        huangyan_clerk.office,
        "更正姓名",
    )


def test_audited_save_validates_first_and_writes_nothing_when_invalid(huangyan_clerk):
    person = PersonFactory()
    before = person.history.count()
    person.id_number = "not a number"
    with pytest.raises(ValidationError) as exc:
        audited_save(person, acting_user=huangyan_clerk)
    assert "id_number" in exc.value.message_dict
    assert person.history.count() == before
    assert Person.objects.get(pk=person.pk).id_number != "not a number"


def test_audited_save_with_update_fields_writes_only_those(huangyan_clerk):
    person = PersonFactory(name="甲")
    Person.objects.filter(pk=person.pk).update(phone="13800000000")
    person.name = "乙"
    audited_save(person, acting_user=huangyan_clerk, update_fields=["name"])
    stored = Person.objects.get(pk=person.pk)
    assert (stored.name, stored.phone) == ("乙", "13800000000")
    assert person.history.order_by("-history_id").first().history_user == huangyan_clerk


def test_a_job_without_user_is_recorded_as_nobody_even_inside_a_request(huangyan_clerk, luqiao_clerk):
    # A service called by a nightly job (acting_user=None) during some request must not borrow that request's user.
    HistoricalRecords.context.request = SimpleNamespace(user=luqiao_clerk)
    try:
        person = PersonFactory()
        audited_save(person, acting_user=None, reason="夜间任务")
    finally:
        del HistoricalRecords.context.request
    record = person.history.order_by("-history_id").first()
    assert (record.history_user, record.history_office_id) == (None, luqiao_clerk.office_id)


def test_audited_delete_records_who_removed_it_and_why(huangyan_clerk):
    person = PersonFactory()
    pk = person.pk
    audited_delete(person, acting_user=huangyan_clerk, reason="重复登记")
    record = Person.history.filter(id=pk).order_by("-history_id").first()
    assert (record.history_type, record.history_user, record.history_change_reason) == ("-", huangyan_clerk, "重复登记")


def test_recorded_user_keeps_only_saved_users():
    unsaved = User(username="unsaved")
    assert recorded_user(None) is None
    assert recorded_user(unsaved) is None
    saved = UserFactory(office=township_of("331003"))
    assert recorded_user(saved) is saved
    obj = SimpleNamespace()
    audit_mark(obj, acting_user=saved)
    assert obj._history_user is saved and not hasattr(obj, "_change_reason")


def test_no_code_but_registry_audit_sets_the_history_user_by_hand():
    root = pathlib.Path(settings.BASE_DIR)
    pattern = re.compile(r"\._history_user\s*=|\._change_reason\s*=")
    offenders = [
        str(path.relative_to(root))
        for app in project_apps()
        for path in (root / app).rglob("*.py")
        if "tests" not in path.parts and path != root / "registry" / "audit.py" and pattern.search(path.read_text())
    ]
    assert offenders == [], "save through registry.audit.audited_save / audit_mark instead"
