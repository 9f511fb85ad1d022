"""Clerk pages: login and lockout, person search, person page, reveal, language switch, query counts."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registry import roles
from registry.models import SensitiveAccess
from registry.tests.factories import (
    EmployerFactory,
    EnrollmentFactory,
    PersonFactory,
    UserFactory,
    make_id_number,
    office,
    township_of,
)
from registry.tests.helpers import page_client_for

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
SEARCH = "/persons/"


def masked(number: str) -> str:
    return f"{number[:6]}********{number[-4:]}"


def result_names(response) -> list[str]:
    return re.findall(r'<td><a href="/persons/[0-9a-f-]+/">([^<]+)</a></td>', response.content.decode())


@pytest.fixture
def huangyan_reviewer(db):
    return UserFactory(username="hy_reviewer", office=office("331003"), roles=[roles.REVIEWER])


# --- login and lockout --------------------------------------------------------------------------


def test_login_page_is_in_chinese():
    response = Client().get(LOGIN)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "工作人员登录" in html
    assert "用户名" in html and "密码" in html


def test_pages_need_a_login():
    for url in ("/", SEARCH):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)


def test_login_with_the_right_password_lands_on_the_office_workbench(huangyan_clerk):
    client = Client()
    response = client.post(LOGIN, {"username": "hy_clerk", "password": "pass-12345"}, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "黄岩区社会保险服务中心 · 工作台" in html
    assert 'data-testid="staff-office">黄岩区社会保险服务中心<' in html
    assert "柜员" in html


def test_a_wrong_password_says_so_in_chinese(huangyan_clerk):
    response = Client().post(LOGIN, {"username": "hy_clerk", "password": "wrong"})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(huangyan_clerk):
    client = Client()
    for _attempt in range(5):
        response = client.post(LOGIN, {"username": "hy_clerk", "password": "wrong"})
        assert "_auth_user_id" not in client.session
    response = client.post(LOGIN, {"username": "hy_clerk", "password": "pass-12345"})
    assert response.status_code in (403, 429)
    assert "账户已暂时锁定" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


def test_four_wrong_passwords_do_not_lock(huangyan_clerk):
    client = Client()
    for _attempt in range(4):
        client.post(LOGIN, {"username": "hy_clerk", "password": "wrong"})
    response = client.post(LOGIN, {"username": "hy_clerk", "password": "pass-12345"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_a_lockout_is_per_user(huangyan_clerk, luqiao_clerk):
    client = Client()
    for _attempt in range(5):
        client.post(LOGIN, {"username": "hy_clerk", "password": "wrong"})
    response = Client().post(LOGIN, {"username": "lq_clerk", "password": "pass-12345"})
    assert response.status_code == 302


# --- language -----------------------------------------------------------------------------------


def test_language_switch_to_english_and_back(huangyan_clerk):
    client = page_client_for(huangyan_clerk)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/persons/"})
    assert response.status_code == 302
    assert response["Location"] == "/persons/"
    page = client.get("/persons/")
    html = page.content.decode()
    assert '<html lang="en">' in html
    assert '<option value="en" selected>' in html
    # Django's own strings follow the language (the project's own catalog has no English yet).
    assert client.get("/admin/login/").status_code in (200, 302)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert '<html lang="zh-hans">' in client.get("/persons/").content.decode()


def test_language_switch_refuses_an_outside_next_url(huangyan_clerk):
    response = page_client_for(huangyan_clerk).post(
        "/i18n/setlang/", {"language": "en", "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


# --- search -------------------------------------------------------------------------------------


@pytest.fixture
def people(db):
    return {
        "zhang_wei": PersonFactory(name="张伟"),
        "zhang_sanfeng": PersonFactory(name="张三丰", residence_office=office("331003002")),
        "wang_fang": PersonFactory(name="王芳"),
        "lq_zhang_wei": PersonFactory(name="张伟", residence_office=township_of("331004")),
        "jj_zhang": PersonFactory(name="张三丰", residence_office=township_of("331002")),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("张", ["张三丰", "张伟"]),
        ("张伟", ["张伟"]),
        ("zhang", ["张三丰", "张伟"]),
        ("ZhangWei", ["张伟"]),
        ("zw", ["张伟"]),
        ("zsf", ["张三丰"]),
        ("wf", ["王芳"]),
        ("李", []),
    ],
)
def test_search_by_name_pinyin_and_initials_stays_in_jurisdiction(huangyan_clerk, people, query, expected):
    response = page_client_for(huangyan_clerk).get(SEARCH, {"q": query})
    assert response.status_code == 200
    assert sorted(result_names(response)) == sorted(expected)
    html = response.content.decode()
    assert masked(people["lq_zhang_wei"].id_number) not in html
    if not expected:
        assert "辖区内没有找到符合条件的人员" in html


def test_search_by_id_number_is_posted_and_shows_the_masked_number(huangyan_clerk, people):
    person = people["zhang_wei"]
    client = page_client_for(huangyan_clerk)
    for given in (person.id_number, person.id_number.lower(), f" {person.id_number} "):
        response = client.post(SEARCH, {"q": given})
        assert response.status_code == 200
        assert result_names(response) == ["张伟"], given
        html = response.content.decode()
        assert masked(person.id_number) in html
        # The whole number is only in the search box the clerk typed it into, never in a URL.
        assert html.count(person.id_number) <= 1
        assert person.id_number not in response.wsgi_request.get_full_path()
    # An address with the number (an old bookmark) still works.
    assert result_names(client.get(SEARCH, {"q": person.id_number})) == ["张伟"]


def test_search_forms_post_and_name_searches_move_to_an_address(huangyan_clerk, people):
    client = page_client_for(huangyan_clerk)
    for url in ("/", SEARCH):
        html = client.get(url).content.decode()
        form = re.search(r'<form class="search"[^>]*>', html).group(0)
        assert 'method="post"' in form
        assert 'name="csrfmiddlewaretoken"' in html
    response = client.post(SEARCH, {"q": "张 伟"})
    assert response.status_code == 302
    assert response["Location"] == "/persons/?q=%E5%BC%A0+%E4%BC%9F"
    assert result_names(client.get(response["Location"])) == ["张伟"]
    assert result_names(client.post(SEARCH, {"q": "zw"}, follow=True)) == ["张伟"]


def test_search_by_another_districts_id_number_finds_nothing(huangyan_clerk, people):
    response = page_client_for(huangyan_clerk).post(SEARCH, {"q": people["lq_zhang_wei"].id_number})
    assert result_names(response) == []
    assert "辖区内没有找到符合条件的人员" in response.content.decode()


def test_search_with_a_bad_id_number_says_what_is_wrong(huangyan_clerk, people):
    number = people["zhang_wei"].id_number
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    response = page_client_for(huangyan_clerk).post(SEARCH, {"q": wrong})
    assert response.status_code == 200
    html = response.content.decode()
    assert "公民身份号码：公民身份号码校验位错误" in html
    assert "辖区内没有找到" not in html
    response = page_client_for(huangyan_clerk).post(SEARCH, {"q": "331003199902310014"})
    assert "19990231 不存在" in response.content.decode()
    response = page_client_for(huangyan_clerk).post(SEARCH, {"q": "3310031999023100"})
    assert "应为 18 位" in response.content.decode()


def test_search_is_paginated_and_keeps_the_query(huangyan_clerk):
    PersonFactory.create_batch(25, name="张伟")
    client = page_client_for(huangyan_clerk)
    first = client.get(SEARCH, {"q": "zw"})
    assert len(result_names(first)) == 20
    assert "?q=zw&page=2" in first.content.decode()
    second = client.get(SEARCH, {"q": "zw", "page": "2"})
    assert len(result_names(second)) == 5
    assert client.get(SEARCH, {"q": "zw", "page": "abc"}).status_code == 200
    assert client.get(SEARCH, {"q": "zw", "page": "999"}).status_code == 200


def test_search_query_is_escaped(huangyan_clerk):
    response = page_client_for(huangyan_clerk).get(SEARCH, {"q": '<script>alert("x")</script>'})
    assert response.status_code == 200
    assert '<script>alert("x")</script>' not in response.content.decode()


def test_search_needs_the_view_person_permission():
    roleless = UserFactory(office=office("331003"), roles=[])
    assert page_client_for(roleless).get(SEARCH, {"q": "zw"}).status_code == 403


def test_search_page_does_a_constant_number_of_queries(huangyan_clerk):
    def count() -> tuple[int, int]:
        client = page_client_for(type(huangyan_clerk).objects.get(pk=huangyan_clerk.pk))
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(SEARCH, {"q": "zw"})
        return len(ctx.captured_queries), len(result_names(response))

    PersonFactory.create_batch(3, name="张伟")
    few, rows = count()
    assert rows == 3
    PersonFactory.create_batch(15, name="张伟", residence_office=office("331003005"))
    many, rows = count()
    assert rows == 18
    assert many == few


# --- person page --------------------------------------------------------------------------------


def test_person_page_shows_identity_enrollments_and_history(huangyan_clerk):
    number = make_id_number(area="331003", birth="19620315", seq=123)
    person = PersonFactory(id_number=number, name="吕小明", phone="13800000000")
    employer = EmployerFactory(name="黄岩模具厂")
    EnrollmentFactory(person=person, employer=employer, start_date=datetime.date(2020, 1, 1))
    EnrollmentFactory(
        person=person,
        employer=None,
        insurance_type="emp_medical",
        is_flexible=True,
        start_date=datetime.date(2019, 1, 1),
        end_date=datetime.date(2019, 12, 31),
    )
    from registry import services

    services.person_update(person=person, acting_user=huangyan_clerk, phone="13900000000", reason="电话变更")
    response = page_client_for(huangyan_clerk).get(f"/persons/{person.uid}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert masked(number) in html
    assert number not in html
    assert "吕小明" in html and "lvxiaoming" in html
    assert "1962-03-15" in html
    assert ("男" if int(number[16]) % 2 else "女") in html
    assert "东城街道劳动保障所" in html
    enrollments = html[html.index('data-testid="enrollments"') : html.index('data-testid="history"')]
    assert "职工基本养老保险" in enrollments and "黄岩模具厂" in enrollments and "持续参保" in enrollments
    assert "职工基本医疗保险" in enrollments and "灵活就业" in enrollments and "2019-12-31" in enrollments
    history = html[html.index('data-testid="history"') :]
    assert "修改" in history
    assert "联系电话：13800000000 → 13900000000" in history
    assert "黄岩区社会保险服务中心" in history


def test_another_districts_person_page_is_404(huangyan_clerk):
    theirs = PersonFactory(residence_office=township_of("331004"))
    client = page_client_for(huangyan_clerk)
    assert client.get(f"/persons/{theirs.uid}/").status_code == 404
    assert client.post(f"/persons/{theirs.uid}/reveal-id/").status_code == 404
    assert client.get("/persons/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_person_page_does_a_constant_number_of_queries(huangyan_clerk):
    person = PersonFactory()

    def count() -> int:
        client = page_client_for(type(huangyan_clerk).objects.get(pk=huangyan_clerk.pk))
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/persons/{person.uid}/").status_code == 200
        return len(ctx.captured_queries)

    EnrollmentFactory(person=person)
    few = count()
    for insurance in ("emp_medical", "unemployment", "work_injury", "maternity"):
        EnrollmentFactory(person=person, insurance_type=insurance)
    assert count() == few


# --- reveal -------------------------------------------------------------------------------------


def test_reveal_button_only_for_roles_that_may(huangyan_clerk, huangyan_reviewer):
    person = PersonFactory()
    assert "查看完整号码" not in page_client_for(huangyan_clerk).get(f"/persons/{person.uid}/").content.decode()
    assert "查看完整号码" in page_client_for(huangyan_reviewer).get(f"/persons/{person.uid}/").content.decode()


def test_reviewer_reveal_shows_the_number_once_and_is_logged(huangyan_reviewer):
    person = PersonFactory()
    client = page_client_for(huangyan_reviewer)
    response = client.post(f"/persons/{person.uid}/reveal-id/", follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert person.id_number in html
    assert "完整号码的查看已记录" in html
    access = SensitiveAccess.objects.get()
    assert (access.user, access.person, access.channel) == (huangyan_reviewer, person, SensitiveAccess.Channel.PAGE)
    assert access.office == huangyan_reviewer.office
    assert access.request_id
    again = client.get(f"/persons/{person.uid}/").content.decode()
    assert person.id_number not in again
    assert masked(person.id_number) in again


def test_counter_clerk_reveal_is_refused_and_not_logged(huangyan_clerk):
    person = PersonFactory()
    response = page_client_for(huangyan_clerk).post(f"/persons/{person.uid}/reveal-id/", follow=True)
    html = response.content.decode()
    assert person.id_number not in html
    assert "无权查看完整公民身份号码" in html
    assert SensitiveAccess.objects.count() == 0


def test_reveal_is_post_only_and_needs_a_role():
    person = PersonFactory()
    reviewer = UserFactory(office=office("331003"), roles=[roles.REVIEWER])
    assert page_client_for(reviewer).get(f"/persons/{person.uid}/reveal-id/").status_code == 405
    roleless = UserFactory(office=office("331003"), roles=[])
    assert page_client_for(roleless).post(f"/persons/{person.uid}/reveal-id/").status_code == 403
    assert SensitiveAccess.objects.count() == 0


def test_reveal_needs_the_csrf_token(huangyan_reviewer):
    person = PersonFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(huangyan_reviewer)
    assert client.post(f"/persons/{person.uid}/reveal-id/").status_code == 403
    assert SensitiveAccess.objects.count() == 0


def test_history_on_the_person_page_names_offices_and_choices(huangyan_clerk):
    from registry import services

    person = PersonFactory(residence_office=office("331003001"), household_type="urban")
    services.person_update(
        person=person, acting_user=huangyan_clerk, residence_office=office("331003002"), household_type="rural"
    )
    history = page_client_for(huangyan_clerk).get(f"/persons/{person.uid}/").content.decode()
    history = history[history.index('data-testid="history"') :]
    assert "所属机构：东城街道劳动保障所 → 西城街道劳动保障所" in history
    assert "户籍类型：城镇 → 农村" in history
