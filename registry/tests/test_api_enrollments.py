"""API v1 /enrollments/: employer rules, overlaps, active_on, jurisdiction, errors, query counts."""

from __future__ import annotations

import datetime
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from registry import selectors
from registry.models import Enrollment, InsuranceType
from registry.tests.factories import (
    EmployerFactory,
    EnrollmentFactory,
    PersonFactory,
    UserFactory,
    office,
    township_of,
)
from registry.tests.helpers import assert_error, client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/enrollments/"


@pytest.fixture
def person(db):
    return PersonFactory(residence_office=township_of("331003"))


@pytest.fixture
def employer(db):
    return EmployerFactory(office=office("331003002"))


@pytest.fixture
def luqiao_person(db):
    return PersonFactory(residence_office=township_of("331004"))


@pytest.fixture
def luqiao_employer(db):
    return EmployerFactory(office=township_of("331004"))


def employee_payload(person_, employer_, **overrides) -> dict:
    data = {
        "person": str(person_.uid),
        "insurance_type": InsuranceType.EMPLOYEE_PENSION,
        "employer": str(employer_.uid),
        "start_date": "2021-01-01",
    }
    data.update(overrides)
    return data


def test_employee_enrollment_is_handled_by_the_employers_office(huangyan_clerk, person, employer):
    response = client_for(huangyan_clerk).post(URL, employee_payload(person, employer), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["person"] == str(person.uid)
    assert body["employer"] == str(employer.uid)
    assert body["office"] == "331003002"
    assert body["end_date"] is None
    assert body["is_flexible"] is False
    enrollment = Enrollment.objects.get(uid=body["uid"])
    record = enrollment.history.get()
    assert (record.history_user, record.history_office) == (huangyan_clerk, huangyan_clerk.office)


def test_flexible_and_resident_enrollments_are_handled_by_the_persons_office(huangyan_clerk, person):
    client = client_for(huangyan_clerk)
    flexible = client.post(
        URL,
        {
            "person": str(person.uid),
            "insurance_type": InsuranceType.EMPLOYEE_MEDICAL,
            "is_flexible": True,
            "start_date": "2021-01-01",
        },
        format="json",
    )
    assert flexible.status_code == 201, flexible.content
    assert flexible.json()["office"] == person.residence_office.code
    resident = client.post(
        URL,
        {"person": str(person.uid), "insurance_type": InsuranceType.RESIDENT_MEDICAL, "start_date": "2021-01-01"},
        format="json",
    )
    assert resident.status_code == 201, resident.content
    assert resident.json()["employer"] is None


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"employer": None}, "employer", "职工险种必须填写参保单位"),
        ({"insurance_type": InsuranceType.RESIDENT_PENSION}, "employer", "不填写参保单位"),
        ({"is_flexible": True}, "employer", "灵活就业参保不填写参保单位"),
        ({"insurance_type": InsuranceType.UNEMPLOYMENT, "is_flexible": True, "employer": None}, "is_flexible", ""),
        ({"end_date": "2020-12-31"}, "end_date", "不能早于开始日期"),
        ({"start_date": "2021-02-30"}, "start_date", ""),
        ({"start_date": "20210101x"}, "start_date", ""),
        ({"start_date": None}, "start_date", ""),
        ({"start_date": 20210101}, "start_date", ""),
        ({"insurance_type": "space_travel"}, "insurance_type", "space_travel"),
        ({"person": "not-a-uuid"}, "person", "编号格式无效"),
        ({"person": 12}, "person", ""),
        ({"person": "00000000-0000-0000-0000-000000000000"}, "person", "不存在或不在您的辖区内"),
        ({"employer": "00000000-0000-0000-0000-000000000000"}, "employer", "不存在或不在您的辖区内"),
        ({"employer": ["x"]}, "employer", ""),
        ({"is_flexible": "perhaps"}, "is_flexible", ""),
        ({"office": "331003"}, "office", "未知字段"),
    ],
)
def test_bad_input_is_refused_naming_the_field(huangyan_clerk, person, employer, overrides, field, reason):
    response = client_for(huangyan_clerk).post(URL, employee_payload(person, employer, **overrides), format="json")
    body = assert_error(response, 400, field, reason)
    assert body["code"] == "validation_error"
    assert Enrollment.objects.count() == 0


def test_person_or_employer_of_another_district_is_refused(
    huangyan_clerk, person, employer, luqiao_person, luqiao_employer
):
    client = client_for(huangyan_clerk)
    response = client.post(URL, employee_payload(luqiao_person, employer), format="json")
    assert_error(response, 400, "person", "不存在或不在您的辖区内")
    response = client.post(URL, employee_payload(person, luqiao_employer), format="json")
    assert_error(response, 400, "employer", "不存在或不在您的辖区内")
    assert Enrollment.objects.count() == 0


def test_overlapping_periods_of_the_same_insurance_are_refused(huangyan_clerk, person, employer):
    client = client_for(huangyan_clerk)
    first = client.post(URL, employee_payload(person, employer, end_date="2021-12-31"), format="json")
    assert first.status_code == 201
    for start, end in [("2021-12-31", None), ("2020-01-01", "2021-01-01"), ("2021-06-01", "2021-07-01")]:
        response = client.post(URL, employee_payload(person, employer, start_date=start, end_date=end), format="json")
        assert_error(response, 400, "start_date", "参保期间不能重叠")
    assert Enrollment.objects.count() == 1
    # The day after the inclusive end, and another insurance on the same days, are fine.
    assert (
        client.post(URL, employee_payload(person, employer, start_date="2022-01-01"), format="json").status_code == 201
    )
    other_type = employee_payload(person, employer, insurance_type=InsuranceType.WORK_INJURY)
    assert client.post(URL, other_type, format="json").status_code == 201
    assert Enrollment.objects.count() == 3


def test_list_retrieve_and_filters(huangyan_clerk, person, employer, luqiao_person, luqiao_employer):
    closed = EnrollmentFactory(
        person=person,
        employer=employer,
        start_date=datetime.date(2018, 1, 1),
        end_date=datetime.date(2019, 12, 31),
    )
    running = EnrollmentFactory(person=person, employer=employer, start_date=datetime.date(2020, 1, 1))
    other_person = EnrollmentFactory(
        person=PersonFactory(),
        employer=EmployerFactory(office=office("331003001")),
        start_date=datetime.date(2020, 1, 1),
    )
    luqiao = EnrollmentFactory(person=luqiao_person, employer=luqiao_employer)
    client = client_for(huangyan_clerk)

    def uids(**params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return {r["uid"] for r in response.json()["results"]}

    assert uids() == {str(e.uid) for e in (closed, running, other_person)}
    assert uids(person=str(person.uid)) == {str(closed.uid), str(running.uid)}
    assert uids(employer=str(employer.uid)) == {str(closed.uid), str(running.uid)}
    assert uids(office="331003002") == {str(closed.uid), str(running.uid)}
    assert uids(office="331003") == {str(e.uid) for e in (closed, running, other_person)}
    assert uids(active_on="2019-12-31") == {str(closed.uid)}
    assert uids(active_on="2020-01-01") == {str(running.uid), str(other_person.uid)}
    assert uids(active_on="2017-12-31") == set()
    assert uids(insurance_type=InsuranceType.EMPLOYEE_PENSION, active_on="2019-06-30") == {str(closed.uid)}
    assert uids(person=str(luqiao_person.uid)) == set()
    assert_error(client.get(URL, {"active_on": "2019-02-30"}), 400, "active_on")
    assert_error(client.get(URL, {"person": "nope"}), 400, "person")
    assert client.get(f"{URL}{running.uid}/").json()["start_date"] == "2020-01-01"
    assert_error(client.get(f"{URL}{luqiao.uid}/"), 404)


def test_patch_end_date_is_recorded_with_old_and_new(huangyan_clerk, luqiao_clerk, person, employer):
    created = client_for(huangyan_clerk).post(URL, employee_payload(person, employer), format="json").json()
    url = f"{URL}{created['uid']}/"
    assert_error(client_for(luqiao_clerk).patch(url, {"end_date": "2022-06-30"}, format="json"), 404)
    colleague = UserFactory(office=office("331003"))
    response = client_for(colleague).patch(url, {"end_date": "2022-06-30"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["end_date"] == "2022-06-30"
    enrollment = Enrollment.objects.get(uid=created["uid"])
    entry = selectors.object_history(enrollment)[0]
    assert entry.kind == "~"
    assert entry.office == colleague.office.name
    assert [(c.field, c.old, c.new) for c in entry.changes] == [("end_date", None, datetime.date(2022, 6, 30))]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"end_date": "2020-12-31"}, "end_date", "不能早于开始日期"),
        ({"insurance_type": InsuranceType.MATERNITY}, "insurance_type", "未知字段"),
        ({"employer": None}, "employer", "未知字段"),
        ({"start_date": "yesterday"}, "start_date", ""),
        ({"start_date": None}, "start_date", ""),
    ],
)
def test_bad_patch_changes_nothing(huangyan_clerk, person, employer, change, field, reason):
    enrollment = EnrollmentFactory(person=person, employer=employer, start_date=datetime.date(2021, 1, 1))
    before = Enrollment.objects.values().get(pk=enrollment.pk)
    response = client_for(huangyan_clerk).patch(f"{URL}{enrollment.uid}/", change, format="json")
    assert_error(response, 400, field, reason)
    assert Enrollment.objects.values().get(pk=enrollment.pk) == before


def test_patch_into_an_overlap_is_refused(huangyan_clerk, person, employer):
    EnrollmentFactory(person=person, employer=employer, start_date=datetime.date(2022, 1, 1))
    earlier = EnrollmentFactory(
        person=person, employer=employer, start_date=datetime.date(2020, 1, 1), end_date=datetime.date(2021, 12, 31)
    )
    response = client_for(huangyan_clerk).patch(f"{URL}{earlier.uid}/", {"end_date": "2022-01-01"}, format="json")
    assert_error(response, 400, "start_date", "不能重叠")
    earlier.refresh_from_db()
    assert earlier.end_date == datetime.date(2021, 12, 31)


def test_list_does_a_constant_number_of_queries(huangyan_clerk, employer):
    def count() -> tuple[int, int]:
        client = client_for(type(huangyan_clerk).objects.get(pk=huangyan_clerk.pk))
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL)
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.json()["results"])

    def make(n):
        for _ in range(n):
            EnrollmentFactory(person=PersonFactory(), employer=employer)

    make(3)
    few, rows = count()
    assert rows == 3
    make(27)
    many, rows = count()
    assert rows == 30
    assert many == few


# --- enrollment status by ID number (POST: the number never goes into the URL) -------------------

STATUS = "/api/v1/enrollments/status/"


def test_status_lists_the_enrollments_active_on_the_day_in_jurisdiction(
    huangyan_clerk, person, employer, luqiao_employer
):
    pension = EnrollmentFactory(person=person, employer=employer, insurance_type=InsuranceType.EMPLOYEE_PENSION)
    pension.start_date, pension.end_date = datetime.date(2020, 1, 1), None
    pension.save()
    ended = EnrollmentFactory(person=person, employer=employer, insurance_type=InsuranceType.UNEMPLOYMENT)
    ended.start_date, ended.end_date = datetime.date(2020, 1, 1), datetime.date(2024, 12, 31)
    ended.save()
    # Employed in 路桥 for medical: the 黄岩 clerk sees the person (a 黄岩 resident) but not that enrollment.
    elsewhere = EnrollmentFactory(
        person=person, employer=luqiao_employer, insurance_type=InsuranceType.EMPLOYEE_MEDICAL
    )
    elsewhere.start_date, elsewhere.end_date = datetime.date(2020, 1, 1), None
    elsewhere.save()
    response = client_for(huangyan_clerk).post(
        STATUS, {"id_number": person.id_number, "on": "2025-06-30"}, format="json"
    )
    assert response.status_code == 200, response.content.decode()
    body = response.json()
    assert body["person"]["uid"] == str(person.uid)
    assert body["person"]["id_number_masked"] != person.id_number
    assert body["on"] == "2025-06-30"
    assert [e["insurance_type"] for e in body["enrollments"]] == [InsuranceType.EMPLOYEE_PENSION]
    assert body["enrollments"][0]["employer_name"] == employer.name
    earlier = client_for(huangyan_clerk).post(
        STATUS, {"id_number": person.id_number, "on": "2024-06-30"}, format="json"
    )
    assert {e["insurance_type"] for e in earlier.json()["enrollments"]} == {
        InsuranceType.EMPLOYEE_PENSION,
        InsuranceType.UNEMPLOYMENT,
    }


def test_status_of_another_districts_person_is_404_and_a_bad_number_names_the_field(
    huangyan_clerk, luqiao_clerk, person, luqiao_person
):
    assert_error(client_for(huangyan_clerk).post(STATUS, {"id_number": luqiao_person.id_number}, format="json"), 404)
    assert (
        client_for(luqiao_clerk).post(STATUS, {"id_number": luqiao_person.id_number}, format="json").status_code == 200
    )
    assert_error(
        client_for(huangyan_clerk).post(STATUS, {"id_number": "331003199013451234"}, format="json"), 400, "id_number"
    )
    assert_error(client_for(huangyan_clerk).post(STATUS, {"id_number": person.id_number, "x": 1}, format="json"), 400)


def test_status_takes_a_constant_number_of_queries(huangyan_clerk, person, employer):
    for insurance in (InsuranceType.EMPLOYEE_PENSION, InsuranceType.EMPLOYEE_MEDICAL, InsuranceType.UNEMPLOYMENT):
        EnrollmentFactory(person=person, employer=employer, insurance_type=insurance)
    client = client_for(huangyan_clerk)
    client.post(STATUS, {"id_number": person.id_number}, format="json")
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(STATUS, {"id_number": person.id_number}, format="json")
    assert response.status_code == 200
    assert len(response.json()["enrollments"]) == 3
    assert len(ctx.captured_queries) <= 4, [q["sql"] for q in ctx.captured_queries]


def test_whoami_tells_the_caller_and_its_office(huangyan_clerk):
    body = client_for(huangyan_clerk).get("/api/v1/whoami/").json()
    assert body == {"username": huangyan_clerk.username, "system": None, "office": huangyan_clerk.office.code}
    assert APIClient().get("/api/v1/whoami/").status_code in (401, 403)


def test_a_system_reads_status_with_the_read_operation_only(city_admin, person, employer):
    from django.test import Client

    from registry.services import api_key_issue, system_account_create

    EnrollmentFactory(person=person, employer=employer, insurance_type=InsuranceType.EMPLOYEE_PENSION)
    account = system_account_create(
        acting_user=city_admin, code="hy-status", name="黄岩区系统", office=office("331003")
    )
    _key, raw = api_key_issue(account=account, acting_user=city_admin)
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {raw}"}
    body = {"id_number": person.id_number}
    refused = Client().post(STATUS, body, content_type="application/json", **headers)
    assert refused.status_code == 403 and refused.json()["code"] == "operation_not_allowed"
    account.operations = ["enrollment:read"]
    account.save()
    allowed = Client().post(STATUS, body, content_type="application/json", **headers)
    assert allowed.status_code == 200, allowed.content.decode()
    assert allowed.json()["person"]["uid"] == str(person.uid)
    assert Client().get("/api/v1/whoami/", **headers).json()["system"] == "hy-status"
    # On PostgreSQL one query finds the key, its system, the service user with its permissions and the office;
    # then the person, the enrollments and the call log: four in all, whatever the roles. (SQLite: the ORM way,
    # two more for the permissions.)
    client = Client()
    client.post(STATUS, body, content_type="application/json", **headers)
    with CaptureQueriesContext(connection) as ctx:
        assert client.post(STATUS, body, content_type="application/json", **headers).status_code == 200
    expected = 4 if connection.vendor == "postgresql" else 6
    assert len(ctx.captured_queries) == expected, [q["sql"][:80] for q in ctx.captured_queries]


def test_status_body_is_what_the_documented_serializer_renders(city_admin, person, employer):
    from registry.endpoints import EnrollmentStatusSerializer, enrollment_status_body
    from registry.selectors import enrollment_status_by_id_number

    employed = EnrollmentFactory(person=person, employer=employer, insurance_type=InsuranceType.EMPLOYEE_PENSION)
    employed.end_date = datetime.date(2030, 6, 30)
    employed.save()
    flexible = EnrollmentFactory(
        person=person, employer=None, is_flexible=True, insurance_type=InsuranceType.EMPLOYEE_MEDICAL
    )
    on = datetime.date(2025, 6, 30)
    # What the endpoint renders: the selector's rows, which load only the columns the body shows.
    found, enrollments = enrollment_status_by_id_number(user=city_admin, id_number=person.id_number, on=on)
    assert {e.pk for e in enrollments} == {employed.pk, flexible.pk}
    with CaptureQueriesContext(connection) as ctx:
        documented = EnrollmentStatusSerializer({"person": found, "on": on, "enrollments": enrollments}).data
        body = enrollment_status_body(person=found, on=on, enrollments=enrollments)
    assert ctx.captured_queries == []  # no deferred column is read afterwards, one query each
    # As the client receives them: both through the JSON renderer (the serializer leaves UUID objects).
    assert json.loads(JSONRenderer().render(body)) == json.loads(JSONRenderer().render(documented))
    assert body["enrollments"][0]["employer"] == str(employer.uid) or body["enrollments"][1]["employer"] == str(
        employer.uid
    )
