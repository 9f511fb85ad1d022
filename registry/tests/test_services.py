import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from registry import roles, selectors, services
from registry.exceptions import PermissionDeniedError
from registry.models import Enrollment, InsuranceType, Office, Person
from registry.tests.factories import (
    EmployerFactory,
    EnrollmentFactory,
    PersonFactory,
    UserFactory,
    make_id_number,
    township_of,
)

pytestmark = pytest.mark.django_db


def test_person_create_derives_identity_and_records_who_and_where(huangyan_clerk):
    number = make_id_number(area="331003", birth="19620315", seq=123)
    person = services.person_create(
        acting_user=huangyan_clerk,
        id_number=number.lower(),
        name="吕小明",
        household_type="rural",
        residence_office=township_of("331003"),
    )
    assert person.id_number == number
    assert person.birth_date == datetime.date(1962, 3, 15)
    assert person.sex == "M"
    assert person.name_pinyin == "lvxiaoming"
    assert person.name_initials == "lxm"
    record = person.history.get()
    assert record.history_user == huangyan_clerk
    assert record.history_office == huangyan_clerk.office


def test_person_create_outside_jurisdiction_is_refused_and_writes_nothing(huangyan_clerk):
    with pytest.raises(ValidationError) as caught:
        services.person_create(
            acting_user=huangyan_clerk,
            id_number=make_id_number(),
            name="张三",
            household_type="urban",
            residence_office=township_of("331004"),
        )
    assert "residence_office" in caught.value.message_dict
    assert "不在您的辖区内" in caught.value.message_dict["residence_office"][0]
    assert Person.objects.count() == 0


def test_duplicate_id_number_is_refused(huangyan_clerk):
    existing = PersonFactory()
    with pytest.raises(ValidationError) as caught:
        services.person_create(
            acting_user=huangyan_clerk,
            id_number=existing.id_number,
            name="重复",
            household_type="urban",
            residence_office=township_of("331003"),
        )
    assert "已登记" in caught.value.message_dict["id_number"][0]


def test_person_update_history_shows_old_and_new(huangyan_clerk):
    person = services.person_create(
        acting_user=huangyan_clerk,
        id_number=make_id_number(),
        name="王芳",
        household_type="urban",
        residence_office=township_of("331003"),
    )
    services.person_update(person=person, acting_user=huangyan_clerk, phone="13800000000", reason="电话变更")
    history = selectors.object_history(person)
    assert history[0].kind == "~"
    assert history[0].reason == "电话变更"
    assert [(c.field, c.old, c.new) for c in history[0].changes] == [("phone", "", "13800000000")]
    assert history[0].office == huangyan_clerk.office.name
    assert history[1].kind == "+"


def test_person_update_of_other_district_is_not_found(huangyan_clerk):
    person = PersonFactory(residence_office=township_of("331004"))
    with pytest.raises(Person.DoesNotExist):
        services.person_update(person=person, acting_user=huangyan_clerk, phone="1")


def test_enrollment_overlap_is_refused_with_a_field_message(huangyan_clerk):
    enrollment = EnrollmentFactory(start_date=datetime.date(2020, 1, 1), end_date=datetime.date(2020, 12, 31))
    with pytest.raises(ValidationError) as caught:
        services.enrollment_create(
            acting_user=huangyan_clerk,
            person=enrollment.person,
            insurance_type=InsuranceType.EMPLOYEE_PENSION,
            employer=enrollment.employer,
            start_date=datetime.date(2020, 12, 31),
        )
    assert "不能重叠" in caught.value.message_dict["start_date"][0]
    # The day after the inclusive end date is free.
    follow_on = services.enrollment_create(
        acting_user=huangyan_clerk,
        person=enrollment.person,
        insurance_type=InsuranceType.EMPLOYEE_PENSION,
        employer=enrollment.employer,
        start_date=datetime.date(2021, 1, 1),
    )
    assert follow_on.office == enrollment.employer.office


@pytest.mark.postgres
def test_database_refuses_overlapping_enrollments_even_without_the_service():
    enrollment = EnrollmentFactory(start_date=datetime.date(2020, 1, 1))
    with pytest.raises(IntegrityError, match="enrollment_no_overlap"), transaction.atomic():
        Enrollment.objects.create(
            person=enrollment.person,
            insurance_type=enrollment.insurance_type,
            employer=enrollment.employer,
            start_date=datetime.date(2024, 1, 1),
            office=enrollment.office,
        )


@pytest.mark.parametrize(
    "insurance_type, with_employer, flexible, field",
    [
        (InsuranceType.EMPLOYEE_PENSION, False, False, "employer"),
        (InsuranceType.RESIDENT_MEDICAL, True, False, "employer"),
        (InsuranceType.UNEMPLOYMENT, False, True, "is_flexible"),
    ],
)
def test_enrollment_employer_must_match_the_insurance_type(
    huangyan_clerk, insurance_type, with_employer, flexible, field
):
    person = PersonFactory()
    with pytest.raises(ValidationError) as caught:
        services.enrollment_create(
            acting_user=huangyan_clerk,
            person=person,
            insurance_type=insurance_type,
            employer=EmployerFactory() if with_employer else None,
            is_flexible=flexible,
            start_date=datetime.date(2022, 1, 1),
        )
    assert field in caught.value.message_dict
    assert Enrollment.objects.count() == 0


def test_flexible_employment_and_resident_enrollments(huangyan_clerk):
    person = PersonFactory()
    flexible = services.enrollment_create(
        acting_user=huangyan_clerk,
        person=person,
        insurance_type=InsuranceType.EMPLOYEE_PENSION,
        is_flexible=True,
        start_date=datetime.date(2022, 1, 1),
    )
    resident = services.enrollment_create(
        acting_user=huangyan_clerk,
        person=person,
        insurance_type=InsuranceType.RESIDENT_MEDICAL,
        start_date=datetime.date(2022, 1, 1),
    )
    assert flexible.office == person.residence_office == resident.office


def test_enrollment_end_before_start_is_refused(huangyan_clerk):
    enrollment = EnrollmentFactory(start_date=datetime.date(2022, 5, 1))
    with pytest.raises(ValidationError) as caught:
        services.enrollment_update(
            enrollment=enrollment, acting_user=huangyan_clerk, end_date=datetime.date(2022, 4, 30)
        )
    assert "end_date" in caught.value.message_dict


def test_office_subtree_is_one_query():
    district = Office.objects.get(code="331003")
    with CaptureQueriesContext(connection) as queries:
        codes = list(selectors.office_subtree(district).values_list("code", flat=True))
    assert len(queries) == 1
    assert len(codes) == 1 + 19  # the district and its 19 townships
    assert all(code.startswith("331003") for code in codes)


def test_moving_an_office_moves_its_subtree(city_admin):
    township = township_of("331003")
    community = services.office_save(
        office=Office(code="331003001901", name="演示社区", level=4, parent=township), acting_user=city_admin
    )
    assert community.path == f"{township.path}331003001901/"
    township.parent = Office.objects.get(code="331004")
    services.office_save(office=township, acting_user=city_admin)
    community.refresh_from_db()
    assert community.path.startswith("/331000/331004/")


def test_office_level_must_follow_the_parent(city_admin):
    with pytest.raises(ValidationError) as caught:
        services.office_save(
            office=Office(code="331003999", name="错层", level=4, parent=Office.objects.get(code="331003")),
            acting_user=city_admin,
        )
    assert "level" in caught.value.message_dict


def test_api_keys_rotate_and_revoke(city_admin):
    account = services.system_account_create(
        acting_user=city_admin, code="huangyan", name="黄岩区系统", office=Office.objects.get(code="331003")
    )
    old, old_raw = services.api_key_issue(account=account, acting_user=city_admin)
    _new, new_raw = services.api_key_issue(account=account, acting_user=city_admin)
    assert services.api_key_check(old_raw) == old  # both valid during the rotation
    assert services.api_key_check(new_raw) is not None
    services.api_key_revoke(key=old, acting_user=city_admin)
    assert services.api_key_check(old_raw) is None
    assert services.api_key_check(new_raw) is not None
    assert services.api_key_check(old_raw.split(".")[0] + ".wrong") is None
    assert account.user.groups.filter(name=roles.SYSTEM).exists()


def test_id_number_reveal_is_logged_and_limited_to_allowed_roles(huangyan_clerk):
    person = PersonFactory()
    with pytest.raises(PermissionDeniedError):
        services.id_number_reveal(person=person, acting_user=huangyan_clerk, channel="page")
    reviewer = UserFactory(office=huangyan_clerk.office, roles=[roles.REVIEWER])
    assert services.id_number_reveal(person=person, acting_user=reviewer, channel="page") == person.id_number
    assert person.sensitiveaccess_set.get().user == reviewer
