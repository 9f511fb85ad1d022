"""Django admin of the registry: search, masking, add/change forms, import and export, permissions."""

from __future__ import annotations

import csv
import datetime
import io
import re

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from stdnum.cn import ric

from registry import roles
from registry.models import Employer, Enrollment, Office, Person, SensitiveAccess
from registry.tests.factories import (
    EmployerFactory,
    EnrollmentFactory,
    PersonFactory,
    UserFactory,
    make_credit_code,
    make_id_number,
    office,
    township_of,
)
from registry.tests.helpers import page_client_for

pytestmark = pytest.mark.django_db

PERSONS = "/admin/registry/person/"
HEADER = "id_number,name,household_type,phone,address,residence_office,card_number,card_status"


def masked(number: str) -> str:
    return f"{number[:6]}********{number[-4:]}"


def wrong_check_character(number: str) -> str:
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def errors_in(response) -> list[str]:
    html = response.content.decode()
    return [
        re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.S)
    ]


@pytest.fixture
def huangyan_admin(db):
    """A 黄岩 district staff member using admin, without the right to see whole ID numbers."""
    return UserFactory(username="hy_admin", office=office("331003"), is_staff=True, roles=[roles.COUNTER_CLERK])


@pytest.fixture
def huangyan_head(db):
    """The 黄岩 office head: may see whole numbers."""
    return UserFactory(username="hy_head", office=office("331003"), is_staff=True, roles=[roles.OFFICE_HEAD])


@pytest.fixture
def luqiao_admin(db):
    return UserFactory(username="lq_admin", office=office("331004"), is_staff=True, roles=[roles.COUNTER_CLERK])


# --- changelist ---------------------------------------------------------------------------------


def test_changelist_masks_numbers_and_hides_other_districts(huangyan_admin):
    mine = PersonFactory(name="黄一")
    theirs = PersonFactory(name="路一", residence_office=township_of("331004"))
    response = page_client_for(huangyan_admin).get(PERSONS)
    assert response.status_code == 200
    html = response.content.decode()
    assert masked(mine.id_number) in html
    assert mine.id_number not in html
    assert "路一" not in html
    assert masked(theirs.id_number) not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("id", ["张伟"]),
        ("张", ["张伟", "张三丰"]),
        ("张伟", ["张伟"]),
        ("zhang", ["张伟", "张三丰"]),
        ("zhangwei", ["张伟"]),
        ("zsf", ["张三丰"]),
        ("WF", ["王芳"]),
        ("331003", []),
        ("nobody", []),
    ],
)
def test_changelist_search_by_id_number_name_and_pinyin(huangyan_admin, query, expected):
    zhang_wei = PersonFactory(name="张伟")
    PersonFactory(name="张三丰")
    PersonFactory(name="王芳")
    PersonFactory(name="张伟", residence_office=township_of("331004"))
    PersonFactory(name="张三丰", residence_office=township_of("331002"))
    if query == "id":
        query = zhang_wei.id_number.lower()
    response = page_client_for(huangyan_admin).get(PERSONS, {"q": query})
    assert response.status_code == 200
    html = response.content.decode()
    names = re.findall(r'<th class="field-name"><a href="[^"]+">([^<]+)</a>', html)
    assert sorted(names) == sorted(expected)


def test_other_district_search_by_id_number_finds_nothing(huangyan_admin):
    theirs = PersonFactory(name="路一", residence_office=township_of("331004"))
    html = page_client_for(huangyan_admin).get(PERSONS, {"q": theirs.id_number}).content.decode()
    assert "路一" not in html


def test_changelist_and_search_query_count_does_not_grow_with_rows(huangyan_admin):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(query=""):
        client = page_client_for(type(huangyan_admin).objects.get(pk=huangyan_admin.pk))
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(PERSONS, {"q": query} if query else {}).status_code == 200
        return len(ctx.captured_queries)

    PersonFactory.create_batch(3, name="张伟")
    few, few_search = count(), count("zw")
    PersonFactory.create_batch(27, name="张伟")
    assert count() == few
    assert count("zw") == few_search


# --- add and change forms -----------------------------------------------------------------------


def person_form(**overrides) -> dict:
    data = {
        "id_number": make_id_number(area="331003", birth="19620315"),
        "name": "吕小明",
        "household_type": "rural",
        "phone": "",
        "address": "",
        "residence_office": office("331003001").pk,
        "card_number": "",
        "card_status": "none",
    }
    data.update(overrides)
    return data


def test_person_add_form_derives_sex_birth_date_and_pinyin(huangyan_admin):
    data = person_form(name=" 吕小明 ")
    data["id_number"] = data["id_number"].lower()
    response = page_client_for(huangyan_admin).post(f"{PERSONS}add/", data)
    assert response.status_code == 302, errors_in(response)
    person = Person.objects.get()
    assert person.id_number == data["id_number"].upper()
    assert person.name == "吕小明"
    assert person.birth_date == datetime.date(1962, 3, 15)
    assert person.sex == ("M" if int(person.id_number[16]) % 2 else "F")
    assert (person.name_pinyin, person.name_initials) == ("lvxiaoming", "lxm")
    record = person.history.get()
    assert (record.history_user, record.history_office) == (huangyan_admin, huangyan_admin.office)


def test_person_add_form_converts_a_legacy_number(huangyan_admin):
    body = "33100362031512"
    response = page_client_for(huangyan_admin).post(f"{PERSONS}add/", person_form(id_number=body + "3"))
    assert response.status_code == 302, errors_in(response)
    expected = "33100319620315123"
    assert Person.objects.get().id_number == expected + ric.calc_check_digit(expected + "0")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"id_number": wrong_check_character(make_id_number(seq=31))}, "校验位错误"),
        ({"id_number": "331003199902310014"}, "19990231 不存在"),
        ({"id_number": ""}, ""),
        ({"name": "  "}, ""),
        ({"residence_office": "999999"}, ""),
    ],
)
def test_person_add_form_refuses_bad_input_with_the_reason(huangyan_admin, overrides, reason):
    response = page_client_for(huangyan_admin).post(f"{PERSONS}add/", person_form(**overrides))
    assert response.status_code == 200
    errors = errors_in(response)
    assert errors, "the form must show an error"
    assert any(reason in e for e in errors), errors
    assert Person.objects.count() == 0


def test_person_add_form_refuses_an_office_of_another_district(huangyan_admin):
    response = page_client_for(huangyan_admin).post(
        f"{PERSONS}add/", person_form(residence_office=office("331004001").pk)
    )
    assert response.status_code == 200
    assert errors_in(response)
    assert Person.objects.count() == 0


def test_person_add_form_refuses_a_registered_number_even_written_differently(huangyan_admin):
    body = "33100319620315123"
    number = body + ric.calc_check_digit(body + "0")
    PersonFactory(id_number=number, residence_office=township_of("331004"))
    response = page_client_for(huangyan_admin).post(f"{PERSONS}add/", person_form(id_number="331003620315123"))
    assert response.status_code == 200
    assert any("公民身份号码" in e for e in errors_in(response)), errors_in(response)
    assert Person.objects.count() == 1


def test_person_change_form_shows_a_masked_number_and_rederives_pinyin(huangyan_admin):
    person = PersonFactory(name="张三")
    client = page_client_for(huangyan_admin)
    url = f"{PERSONS}{person.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert person.id_number not in html
    assert masked(person.id_number) in html
    data = person_form(name="李四", residence_office=person.residence_office.pk)
    data.pop("id_number")
    response = client.post(url, data)
    assert response.status_code == 302, errors_in(response)
    person.refresh_from_db()
    assert (person.name, person.name_pinyin, person.name_initials) == ("李四", "lisi", "ls")


def test_person_change_form_cannot_change_the_id_number(huangyan_admin):
    person = PersonFactory(name="张三")
    original = person.id_number
    data = person_form(residence_office=person.residence_office.pk, id_number=make_id_number(seq=77))
    response = page_client_for(huangyan_admin).post(f"{PERSONS}{person.pk}/change/", data)
    assert response.status_code == 302, errors_in(response)
    person.refresh_from_db()
    assert person.id_number == original


def test_person_history_pages_do_not_show_the_whole_number(huangyan_admin):
    person = PersonFactory(name="张三")
    client = page_client_for(huangyan_admin)
    history = client.get(f"{PERSONS}{person.pk}/history/")
    assert history.status_code == 200
    assert person.id_number not in history.content.decode()
    version = person.history.first()
    form_view = client.get(f"{PERSONS}{person.pk}/history/{version.history_id}/")
    assert form_view.status_code == 200
    assert person.id_number not in form_view.content.decode()


def test_other_district_person_pages_are_404(huangyan_admin):
    theirs = PersonFactory(residence_office=township_of("331004"))
    client = page_client_for(huangyan_admin)
    assert client.get(f"{PERSONS}{theirs.pk}/change/").status_code == 404
    assert client.post(f"{PERSONS}{theirs.pk}/change/", person_form()).status_code == 404
    assert client.get(f"{PERSONS}{theirs.pk}/history/").status_code == 404


def test_employer_add_and_change_forms(huangyan_admin):
    code = make_credit_code(area="331003")
    client = page_client_for(huangyan_admin)
    data = {
        "credit_code": f" {code.lower()} ",
        "name": "黄岩模具厂",
        "employer_type": "enterprise",
        "industry": "",
        "risk_class": "2",
        "office": office("331003001").pk,
        "status": "active",
    }
    response = client.post("/admin/registry/employer/add/", data)
    assert response.status_code == 302, errors_in(response)
    employer = Employer.objects.get()
    assert employer.credit_code == code
    assert employer.name_pinyin == "huangyanmujuchang"
    bad = client.post("/admin/registry/employer/add/", {**data, "credit_code": code[:-1] + "I"})
    assert any("统一社会信用代码" in e for e in errors_in(bad)), errors_in(bad)
    out = client.post(
        "/admin/registry/employer/add/",
        {**data, "credit_code": make_credit_code(), "office": office("331004001").pk},
    )
    assert out.status_code == 200 and errors_in(out)
    assert Employer.objects.count() == 1
    change = client.post(f"/admin/registry/employer/{employer.pk}/change/", {**data, "name": "黄岩塑料厂"})
    assert change.status_code == 302, errors_in(change)
    employer.refresh_from_db()
    assert (employer.name, employer.name_pinyin, employer.credit_code) == ("黄岩塑料厂", "huangyansuliaochang", code)


def enrollment_form(person, employer, **overrides) -> dict:
    data = {
        "person": person.pk,
        "insurance_type": "emp_pension",
        "employer": employer.pk if employer else "",
        "is_flexible": "",
        "start_date": "2020-01-01",
        "end_date": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_enrollment_add_form_sets_the_office_and_refuses_bad_periods(huangyan_admin):
    person = PersonFactory()
    employer = EmployerFactory(office=office("331003002"))
    client = page_client_for(huangyan_admin)
    response = client.post("/admin/registry/enrollment/add/", enrollment_form(person, employer))
    assert response.status_code == 302, errors_in(response)
    enrollment = Enrollment.objects.get()
    assert enrollment.office == employer.office
    overlap = client.post("/admin/registry/enrollment/add/", enrollment_form(person, employer, start_date="2021-01-01"))
    assert overlap.status_code == 200
    assert any("不能重叠" in e for e in errors_in(overlap)), errors_in(overlap)
    no_employer = client.post("/admin/registry/enrollment/add/", enrollment_form(person, None))
    assert any("必须填写参保单位" in e for e in errors_in(no_employer)), errors_in(no_employer)
    backwards = client.post(
        "/admin/registry/enrollment/add/",
        enrollment_form(person, employer, insurance_type="work_injury", start_date="2021-01-01", end_date="2020-01-01"),
    )
    assert backwards.status_code == 200 and errors_in(backwards)
    assert Enrollment.objects.count() == 1


def test_enrollment_add_form_refuses_another_districts_person(huangyan_admin):
    theirs = PersonFactory(residence_office=township_of("331004"))
    response = page_client_for(huangyan_admin).post(
        "/admin/registry/enrollment/add/", enrollment_form(theirs, EmployerFactory())
    )
    assert response.status_code == 200 and errors_in(response)
    assert Enrollment.objects.count() == 0


def test_enrollment_change_form_checks_the_new_dates(huangyan_admin):
    person = PersonFactory()
    employer = EmployerFactory()
    EnrollmentFactory(person=person, employer=employer, start_date=datetime.date(2022, 1, 1))
    earlier = EnrollmentFactory(
        person=person, employer=employer, start_date=datetime.date(2020, 1, 1), end_date=datetime.date(2020, 12, 31)
    )
    client = page_client_for(huangyan_admin)
    url = f"/admin/registry/enrollment/{earlier.pk}/change/"
    response = client.post(url, enrollment_form(person, employer, end_date="2022-06-30"))
    assert response.status_code == 200
    assert any("不能重叠" in e for e in errors_in(response)), errors_in(response)
    earlier.refresh_from_db()
    assert earlier.end_date == datetime.date(2020, 12, 31)
    ok = client.post(url, enrollment_form(person, employer, end_date="2021-06-30"))
    assert ok.status_code == 302, errors_in(ok)
    earlier.refresh_from_db()
    assert earlier.end_date == datetime.date(2021, 6, 30)


def test_office_admin_refuses_a_wrong_level_instead_of_failing(city_admin):
    city_admin.is_superuser = True
    city_admin.save()
    district = office("331003")
    response = page_client_for(city_admin).post(
        "/admin/registry/office/add/",
        {
            "code": "331003999",
            "name": "测试社区",
            "short_name": "",
            "level": "4",
            "parent": district.pk,
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert any("层级" in e for e in errors_in(response)), errors_in(response)
    assert not Office.objects.filter(code="331003999").exists()


# --- import -------------------------------------------------------------------------------------


def _format_index(kind: str, model=Person) -> str:
    model_admin = admin.site._registry[model]
    formats = model_admin.get_import_formats() if kind == "import" else model_admin.get_export_formats()
    return str([f().get_title() for f in formats].index("csv"))


def upload(client, rows: list[str], name="persons.csv", encoding="utf-8", header=HEADER):
    content = "\n".join([header, *rows]) + "\n"
    return client.post(
        f"{PERSONS}import/",
        {
            "resource": "0",
            "format": _format_index("import"),
            "import_file": SimpleUploadedFile(name, content.encode(encoding), content_type="text/csv"),
        },
    )


def confirm(client, response):
    form = response.context["confirm_form"]
    return client.post(
        f"{PERSONS}process_import/",
        {
            "import_file_name": form.initial["import_file_name"],
            "original_file_name": form.initial["original_file_name"],
            "format": form.initial["format"],
            "resource": form.initial.get("resource", ""),
        },
    )


def test_import_with_a_bad_check_character_shows_the_row_and_writes_nothing(huangyan_admin):
    existing = PersonFactory()
    good = make_id_number(birth="19700202")
    bad = wrong_check_character(make_id_number(birth="19700203"))
    response = upload(
        page_client_for(huangyan_admin), [f"{good},张三,urban,,,331003001,,none", f"{bad},李四,rural,,,331003002,,none"]
    )
    assert response.status_code == 200
    assert "confirm_form" not in response.context or response.context["confirm_form"] is None
    result = response.context["result"]
    assert result.has_validation_errors()
    invalid = result.invalid_rows
    assert [row.number for row in invalid] == [2]
    assert "校验位错误" in " ".join(invalid[0].error_dict["id_number"])
    html = response.content.decode()
    assert "公民身份号码校验位错误" in html
    assert Person.objects.count() == 1
    assert list(Person.objects.values_list("pk", flat=True)) == [existing.pk]


def test_a_good_file_imports_after_confirmation(huangyan_admin):
    first = make_id_number(birth="19700202")
    body = "33100319620315123"
    legacy_expected = body + ric.calc_check_digit(body + "0")
    client = page_client_for(huangyan_admin)
    response = upload(
        client,
        [
            f"{first.lower()}, 张三 ,urban,13800000000,黄岩区,331003001,,none",
            "331003620315123,吕小明,rural,,,331003,,none",
        ],
    )
    assert response.status_code == 200
    assert not response.context["result"].has_validation_errors()
    assert Person.objects.count() == 0  # the first step is a dry run
    done = confirm(client, response)
    assert done.status_code == 302
    persons = {p.id_number: p for p in Person.objects.all()}
    assert set(persons) == {first, legacy_expected}
    assert persons[first].name == "张三"
    assert persons[first].name_pinyin == "zhangsan"
    assert persons[legacy_expected].birth_date == datetime.date(1962, 3, 15)
    assert persons[legacy_expected].name_initials == "lxm"
    record = persons[first].history.get()
    assert record.history_user == huangyan_admin
    assert record.history_office == huangyan_admin.office


def test_import_of_a_row_with_another_districts_office_is_refused(huangyan_admin):
    response = upload(
        page_client_for(huangyan_admin),
        [
            f"{make_id_number(birth='19700202')},张三,urban,,,331003001,,none",
            f"{make_id_number(area='331004', birth='19700203')},李四,urban,,,331004001,,none",
        ],
    )
    result = response.context["result"]
    assert [row.number for row in result.invalid_rows] == [2]
    assert "不在您的辖区内" in " ".join(result.invalid_rows[0].error_dict["residence_office"])
    assert "不在您的辖区内" in response.content.decode()
    assert Person.objects.count() == 0


def test_import_cannot_take_over_another_districts_person(huangyan_admin):
    theirs = PersonFactory(name="路桥人", residence_office=township_of("331004"))
    response = upload(page_client_for(huangyan_admin), [f"{theirs.id_number},改名,urban,,,331003001,,none"])
    assert response.status_code == 200
    result = response.context["result"]
    assert result.has_validation_errors() or result.has_errors()
    theirs.refresh_from_db()
    assert (theirs.name, theirs.residence_office.code[:6]) == ("路桥人", "331004")


def test_import_updates_an_own_person(huangyan_admin):
    mine = PersonFactory(name="张三", phone="")
    client = page_client_for(huangyan_admin)
    response = upload(client, [f"{mine.id_number},张三,urban,13900000000,,{mine.residence_office.code},,none"])
    assert not response.context["result"].has_validation_errors()
    assert confirm(client, response).status_code == 302
    mine.refresh_from_db()
    assert mine.phone == "13900000000"


def test_import_with_an_unknown_office_code_names_it(huangyan_admin):
    response = upload(page_client_for(huangyan_admin), [f"{make_id_number()},张三,urban,,,339999,,none"])
    result = response.context["result"]
    assert result.has_validation_errors()
    assert "339999" in response.content.decode()
    assert Person.objects.count() == 0


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("{n},张三,martian,,,331003001,,none", "household_type"),
        ("{n},,urban,,,331003001,,none", "name"),
        ("331003199902310014,张三,urban,,,331003001,,none", "id_number"),
        ("{n},张三,urban,,,,,none", "residence_office"),
    ],
)
def test_import_row_errors_name_the_field(huangyan_admin, row, field):
    response = upload(page_client_for(huangyan_admin), [row.format(n=make_id_number())])
    assert response.status_code == 200
    result = response.context["result"]
    assert result.has_validation_errors()
    assert field in result.invalid_rows[0].error_dict
    assert Person.objects.count() == 0


def test_a_file_that_is_not_utf8_is_an_error_not_a_crash(huangyan_admin):
    response = upload(
        page_client_for(huangyan_admin), [f"{make_id_number()},张三,urban,,,331003001,,none"], encoding="gbk"
    )
    assert response.status_code == 200
    assert Person.objects.count() == 0


def test_a_file_without_the_id_number_column_is_an_error_not_a_crash(huangyan_admin):
    response = upload(page_client_for(huangyan_admin), ["张三,urban"], header="name,household_type")
    assert response.status_code == 200
    assert Person.objects.count() == 0


def test_confirming_a_bad_file_directly_still_writes_nothing(huangyan_admin):
    """The confirm step must not import the good rows of a file whose dry run failed."""
    model_admin = admin.site._registry[Person]
    good = make_id_number(birth="19700202")
    bad = wrong_check_character(make_id_number(birth="19700203"))
    content = f"{HEADER}\n{good},张三,urban,,,331003001,,none\n{bad},李四,urban,,,331003001,,none\n"
    input_format = model_admin.get_import_formats()[int(_format_index("import"))]()
    input_format.encoding = model_admin.from_encoding
    storage = model_admin.write_to_tmp_storage(SimpleUploadedFile("p.csv", content.encode()), input_format)
    client = page_client_for(huangyan_admin)
    client.post(
        f"{PERSONS}process_import/",
        {
            "import_file_name": storage.name,
            "original_file_name": "p.csv",
            "format": _format_index("import"),
            "resource": "0",
        },
    )
    assert Person.objects.count() == 0


def test_read_only_staff_may_not_import_and_roleless_staff_may_not_export(huangyan_admin):
    auditor = UserFactory(office=office("331003"), is_staff=True, roles=[roles.AUDITOR])
    response = upload(page_client_for(auditor), [f"{make_id_number()},张三,urban,,,331003001,,none"])
    assert response.status_code == 403
    assert Person.objects.count() == 0
    PersonFactory()
    roleless = UserFactory(office=office("331003"), is_staff=True, roles=[])
    assert page_client_for(roleless).get(f"{PERSONS}export/").status_code == 403
    exported = page_client_for(roleless).post(f"{PERSONS}export/", {"format": _format_index("export"), "resource": "0"})
    assert exported.status_code == 403


# --- export -------------------------------------------------------------------------------------


def export_csv(client, model=Person, **params) -> list[dict]:
    # The changelist's search and filters travel in the export URL's query string.
    url = f"/admin/registry/{model._meta.model_name}/export/"
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    resource = admin.site._registry[model].get_export_resource_classes(None)[0]
    fields = {f"{resource.__name__.lower()}_{name}": "on" for name in resource().get_export_order()}
    response = client.post(url, {"format": _format_index("export", model), "resource": "0", **fields})
    assert response.status_code == 200, errors_in(response)
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_export_by_a_district_admin_has_only_own_rows_with_masked_numbers(huangyan_admin):
    mine = [PersonFactory(name="黄一"), PersonFactory(name="黄二", residence_office=office("331003"))]
    PersonFactory(name="路一", residence_office=township_of("331004"))
    PersonFactory(name="椒一", residence_office=township_of("331002"))
    rows = export_csv(page_client_for(huangyan_admin))
    assert list(rows[0])[:3] == ["公民身份号码", "姓名", "户籍类型"]  # Chinese headings for the administrators
    assert sorted(r["姓名"] for r in rows) == ["黄一", "黄二"]
    assert sorted(r["公民身份号码"] for r in rows) == sorted(masked(p.id_number) for p in mine)
    assert SensitiveAccess.objects.count() == 0


def test_export_with_the_right_to_whole_numbers_is_logged(huangyan_head):
    mine = [PersonFactory(name="黄一"), PersonFactory(name="黄二")]
    PersonFactory(name="路一", residence_office=township_of("331004"))
    rows = export_csv(page_client_for(huangyan_head))
    assert sorted(r["公民身份号码"] for r in rows) == sorted(p.id_number for p in mine)
    accesses = SensitiveAccess.objects.filter(channel=SensitiveAccess.Channel.EXPORT)
    assert sorted(a.person_id for a in accesses) == sorted(p.pk for p in mine)
    assert {a.user_id for a in accesses} == {huangyan_head.pk}


def test_export_respects_the_search(huangyan_admin):
    PersonFactory(name="张伟")
    PersonFactory(name="王芳")
    rows = export_csv(page_client_for(huangyan_admin), q="zw")
    assert [r["姓名"] for r in rows] == ["张伟"]


def test_employer_and_enrollment_exports_stay_in_jurisdiction(huangyan_admin):
    mine = EnrollmentFactory()
    EnrollmentFactory(
        person=PersonFactory(residence_office=township_of("331004")),
        employer=EmployerFactory(office=township_of("331004")),
    )
    client = page_client_for(huangyan_admin)
    employers = export_csv(client, model=Employer)
    assert [r["统一社会信用代码"] for r in employers] == [mine.employer.credit_code]
    enrollments = export_csv(client, model=Enrollment)
    assert [r["参保人员编号"] for r in enrollments] == [str(mine.person.uid)]


# --- system accounts and staff ------------------------------------------------------------------


def test_system_account_added_in_admin_gets_its_service_user_and_keys_work(city_admin):
    from registry.models import SystemAccount

    client = page_client_for(city_admin)
    inline = {
        "keys-TOTAL_FORMS": "0",
        "keys-INITIAL_FORMS": "0",
        "keys-MIN_NUM_FORMS": "0",
        "keys-MAX_NUM_FORMS": "1000",
    }
    response = client.post(
        "/admin/registry/systemaccount/add/",
        {
            "code": "hy-system",
            "name": "黄岩区社保系统",
            "office": office("331003").pk,
            "is_active": "on",
            "operations": ["person:read", "employer:read"],
            **inline,
        },
    )
    assert response.status_code == 302, errors_in(response)
    account = SystemAccount.objects.get(code="hy-system")
    assert account.operations == ["employer:read", "person:read"]
    assert account.user.username == "sys-hy-system"
    assert account.user.office == office("331003")
    assert account.user.is_system and not account.user.has_usable_password()
    duplicate = client.post(
        "/admin/registry/systemaccount/add/",
        {"code": "hy-system", "name": "重复", "office": office("331003").pk, **inline},
    )
    assert duplicate.status_code == 200 and errors_in(duplicate)

    issued = client.post(
        "/admin/registry/systemaccount/",
        {"action": "issue_key", "_selected_action": [account.pk]},
        follow=True,
    )
    message = next(str(m) for m in issued.context["messages"])
    raw = re.search(r"：(\S+)$", message).group(1)
    PersonFactory(residence_office=township_of("331003"))
    PersonFactory(residence_office=township_of("331004"))
    api = Client().get("/api/v1/persons/", HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert api.status_code == 200
    assert len(api.json()["results"]) == 1


def test_revoke_action_ends_a_key(city_admin):
    from registry.models import ApiKey
    from registry.services import api_key_issue, system_account_create

    account = system_account_create(acting_user=city_admin, code="lq", name="路桥", office=office("331004"))
    key, raw = api_key_issue(account=account, acting_user=city_admin)
    client = page_client_for(city_admin)
    client.post("/admin/registry/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert Client().get("/api/v1/persons/", HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code == 401


def test_staff_changelist_shows_own_jurisdiction_only(city_admin):
    head = UserFactory(office=office("331003"), is_staff=True, roles=[roles.OFFICE_HEAD])
    UserFactory(username="lq_someone", office=office("331004"))
    UserFactory(username="hy_someone", office=office("331003001"))
    html = page_client_for(head).get("/admin/registry/user/").content.decode()
    assert "hy_someone" in html
    assert "lq_someone" not in html


def test_a_city_admin_cannot_make_anybody_superuser(city_admin, huangyan_clerk):
    client = page_client_for(city_admin)
    url = f"/admin/registry/user/{huangyan_clerk.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(
        {
            "is_superuser": "on",
            "office": huangyan_clerk.office.pk,
            "date_joined_0": "2024-01-01",
            "date_joined_1": "00:00:00",
        }
    )
    data["first_name"] = "改名"
    response = client.post(url, data)
    assert response.status_code == 302, errors_in(response)
    huangyan_clerk.refresh_from_db()
    assert huangyan_clerk.first_name == "改名"
    assert not huangyan_clerk.is_superuser


# --- enrollment and employer imports -------------------------------------------------------------

ENROLLMENT_HEADER = "uid,person_uid,insurance_type,employer_uid,is_flexible,start_date,end_date"


def upload_to(client, model, header: str, rows: list[str]):
    content = "\n".join([header, *rows]) + "\n"
    return client.post(
        f"/admin/registry/{model._meta.model_name}/import/",
        {
            "resource": "0",
            "format": str([f().get_title() for f in admin.site._registry[model].get_import_formats()].index("csv")),
            "import_file": SimpleUploadedFile("file.csv", content.encode(), content_type="text/csv"),
        },
    )


def test_enrollment_import_sets_the_office_and_refuses_other_districts_persons(huangyan_admin):
    mine = PersonFactory()
    theirs = PersonFactory(residence_office=township_of("331004"))
    employer = EmployerFactory(office=office("331003002"))
    client = page_client_for(huangyan_admin)
    refused = upload_to(
        client,
        Enrollment,
        ENROLLMENT_HEADER,
        [
            f",{mine.uid},emp_pension,{employer.uid},0,2020-01-01,",
            f",{theirs.uid},emp_pension,{employer.uid},0,2020-01-01,",
        ],
    )
    result = refused.context["result"]
    assert [row.number for row in result.invalid_rows] == [2]
    assert "不在您的辖区内" in " ".join(result.invalid_rows[0].error_dict["person"])
    assert Enrollment.objects.count() == 0

    accepted = upload_to(
        client, Enrollment, ENROLLMENT_HEADER, [f",{mine.uid},emp_pension,{employer.uid},0,2020-01-01,"]
    )
    assert not accepted.context["result"].has_validation_errors()
    assert confirm_at(client, Enrollment, accepted).status_code == 302
    assert Enrollment.objects.get().office == employer.office


def test_enrollment_import_checks_overlaps_and_employer_rules(huangyan_admin):
    person = PersonFactory()
    employer = EmployerFactory()
    EnrollmentFactory(person=person, employer=employer, start_date=datetime.date(2020, 1, 1))
    response = upload_to(
        page_client_for(huangyan_admin),
        Enrollment,
        ENROLLMENT_HEADER,
        [
            f",{person.uid},emp_pension,{employer.uid},0,2021-01-01,",
            f",{person.uid},work_injury,,0,2021-01-01,",
            f",{person.uid},res_medical,,0,2021-01-01,2020-01-01",
        ],
    )
    invalid = {row.number: row.error_dict for row in response.context["result"].invalid_rows}
    assert "不能重叠" in " ".join(invalid[1]["start_date"])
    assert "必须填写参保单位" in " ".join(invalid[2]["employer"])
    assert "不能早于开始日期" in " ".join(invalid[3]["end_date"])
    assert Enrollment.objects.count() == 1


def test_enrollment_import_may_only_change_the_period(huangyan_admin):
    enrollment = EnrollmentFactory(start_date=datetime.date(2020, 1, 1))
    row = "{uid},{person},{itype},{employer},0,2020-01-01,{end}"
    client = page_client_for(huangyan_admin)
    changed_type = upload_to(
        client,
        Enrollment,
        ENROLLMENT_HEADER,
        [
            row.format(
                uid=enrollment.uid,
                person=enrollment.person.uid,
                itype="maternity",
                employer=enrollment.employer.uid,
                end="",
            )
        ],
    )
    (invalid,) = changed_type.context["result"].invalid_rows
    assert "请终止本登记并新建一条" in " ".join(invalid.error_dict["insurance_type"])
    ended = upload_to(
        client,
        Enrollment,
        ENROLLMENT_HEADER,
        [
            row.format(
                uid=enrollment.uid,
                person=enrollment.person.uid,
                itype="emp_pension",
                employer=enrollment.employer.uid,
                end="2023-12-31",
            )
        ],
    )
    assert not ended.context["result"].has_validation_errors()
    assert confirm_at(client, Enrollment, ended).status_code == 302
    enrollment.refresh_from_db()
    assert (enrollment.insurance_type, enrollment.end_date) == ("emp_pension", datetime.date(2023, 12, 31))


def test_employer_import_matches_a_credit_code_however_written(huangyan_admin):
    employer = EmployerFactory(name="旧名称")
    client = page_client_for(huangyan_admin)
    header = "credit_code,name,employer_type,industry,risk_class,office,status"
    response = upload_to(
        client,
        Employer,
        header,
        [f" {employer.credit_code.lower()} ,新名称,enterprise,,2,{employer.office.code},active"],
    )
    assert not response.context["result"].has_validation_errors()
    assert confirm_at(client, Employer, response).status_code == 302
    employer.refresh_from_db()
    assert (employer.name, employer.name_pinyin) == ("新名称", "xinmingcheng")
    assert Employer.objects.count() == 1
    bad = upload_to(client, Employer, header, [f"{make_credit_code()[:-1]}I,甲,enterprise,,2,331003001,active"])
    (invalid,) = bad.context["result"].invalid_rows
    assert "credit_code" in invalid.error_dict


def confirm_at(client, model, response):
    form = response.context["confirm_form"]
    return client.post(
        f"/admin/registry/{model._meta.model_name}/process_import/",
        {name: form.initial.get(name, "") for name in ("import_file_name", "original_file_name", "format", "resource")},
    )
