"""API v1 /persons/: jurisdiction, masking, search by ID number, reveal, filters, errors, query counts."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from stdnum.cn import ric

from registry import roles, selectors
from registry.models import Person, SensitiveAccess
from registry.tests.factories import PersonFactory, UserFactory, make_id_number, office, township_of
from registry.tests.helpers import assert_error, client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/persons/"


def wrong_check_character(number: str) -> str:
    wrong = "0" if number[-1] != "0" else "1"
    return number[:-1] + wrong


def payload(**overrides) -> dict:
    data = {
        "id_number": make_id_number(area="331003", birth="19620315"),
        "name": "吕小明",
        "household_type": "rural",
        "residence_office": township_of("331003").code,
    }
    data.update(overrides)
    return data


@pytest.fixture
def huangyan_colleague(db):
    """Another counter clerk of the same 黄岩 district office."""
    return UserFactory(username="hy_colleague", office=office("331003"))


@pytest.fixture
def huangyan_reviewer(db):
    return UserFactory(username="hy_reviewer", office=office("331003"), roles=[roles.REVIEWER])


@pytest.fixture
def luqiao_person(db):
    return PersonFactory(residence_office=township_of("331004"), name="路桥人")


@pytest.fixture
def huangyan_person(db):
    return PersonFactory(residence_office=township_of("331003"), name="黄岩人")


# --- create -----------------------------------------------------------------------------------


def test_create_derives_identity_masks_the_number_and_records_history(huangyan_clerk):
    data = payload()
    response = client_for(huangyan_clerk).post(URL, data, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    number = data["id_number"]
    assert body["id_number_masked"] == number[:6] + "********" + number[-4:]
    assert "id_number" not in body
    assert number not in response.content.decode()
    assert body["sex"] == ("M" if int(number[16]) % 2 else "F")
    assert body["birth_date"] == "1962-03-15"
    assert body["name_pinyin"] == "lvxiaoming"
    assert body["residence_office"] == data["residence_office"]
    person = Person.objects.get(uid=body["uid"])
    assert person.id_number == number
    record = person.history.get()
    assert record.history_type == "+"
    assert record.history_user == huangyan_clerk
    assert record.history_office == huangyan_clerk.office


def test_create_accepts_lower_case_x(huangyan_clerk):
    body = "33100319800101007"
    number = body + ric.calc_check_digit(body + "0")
    if not number.endswith("X"):  # find a sequence whose check character is X
        for seq in range(1000):
            body = f"33100319800101{seq:03d}"
            number = body + ric.calc_check_digit(body + "0")
            if number.endswith("X"):
                break
    response = client_for(huangyan_clerk).post(URL, payload(id_number=number.lower()), format="json")
    assert response.status_code == 201, response.content
    assert Person.objects.get().id_number == number


def test_fifteen_digit_legacy_number_is_converted(huangyan_clerk):
    legacy = "331003620315123"
    body = "33100319620315123"
    expected = body + ric.calc_check_digit(body + "0")
    response = client_for(huangyan_clerk).post(URL, payload(id_number=legacy), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["id_number_masked"] == expected[:6] + "********" + expected[-4:]
    person = Person.objects.get()
    assert person.id_number == expected
    assert person.birth_date == datetime.date(1962, 3, 15)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"id_number": wrong_check_character(make_id_number(seq=5))}, "id_number", "校验位错误"),
        ({"id_number": "331003199902310014"}, "id_number", "19990231 不存在"),
        ({"id_number": "33100319800101"}, "id_number", "应为 18 位"),
        ({"id_number": "33100319800101001Y"}, "id_number", "只能由数字组成"),
        ({"id_number": ""}, "id_number", ""),
        ({"residence_office": "339999"}, "residence_office", "未知的经办机构代码“339999”"),
        ({"residence_office": "331004001"}, "residence_office", "不在您的辖区内"),
        ({"residence_office": "331004"}, "residence_office", "不在您的辖区内"),
        ({"residence_office": "331000"}, "residence_office", "不在您的辖区内"),
        ({"household_type": "martian"}, "household_type", "martian"),
        ({"name": ""}, "name", ""),
        ({"name": "   "}, "name", ""),
        ({"name": {"first": "三"}}, "name", ""),
        ({"name": ["张三"]}, "name", ""),
        ({"household_type": 5}, "household_type", ""),
        ({"residence_office": ["331003001"]}, "residence_office", ""),
        ({"residence_office": {"code": "331003001"}}, "residence_office", ""),
        ({"card_status": "gold"}, "card_status", ""),
        ({"phone": "1" * 21}, "phone", ""),
        ({"id_number": 331003196203151238}, "id_number", ""),
        ({"id_number": None}, "id_number", ""),
        ({"sex": "F"}, "sex", "未知字段"),
        ({"birth_date": "1990-01-01"}, "birth_date", "未知字段"),
        ({"uid": "00000000-0000-0000-0000-000000000000"}, "uid", "未知字段"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(huangyan_clerk, overrides, field, reason):
    response = client_for(huangyan_clerk).post(URL, payload(**overrides), format="json")
    body = assert_error(response, 400, field, reason)
    assert body["code"] == "validation_error"
    assert Person.objects.count() == 0
    assert Person.history.count() == 0


def test_missing_required_fields_are_each_named(huangyan_clerk):
    response = client_for(huangyan_clerk).post(URL, {}, format="json")
    body = assert_error(response, 400)
    assert {"id_number", "name", "household_type", "residence_office"} <= set(body["errors"])
    assert Person.objects.count() == 0


def test_duplicate_id_number_is_refused_without_saying_where(huangyan_clerk, luqiao_person):
    """Registered in another district: 409 and nothing of that person (not even the district; issue 17, hole 10)."""
    response = client_for(huangyan_clerk).post(URL, payload(id_number=luqiao_person.id_number), format="json")
    body = assert_error(response, 409)
    assert body["code"] == "registered_elsewhere"
    assert body["message"] == "已在本市其他辖区登记。"
    text = response.content.decode()
    assert "路桥" not in text and luqiao_person.name not in text and str(luqiao_person.uid) not in text
    assert Person.objects.count() == 1


def test_duplicate_id_number_within_the_jurisdiction_is_a_field_error(huangyan_clerk):
    mine = PersonFactory(residence_office=township_of("331003"))
    response = client_for(huangyan_clerk).post(URL, payload(id_number=mine.id_number), format="json")
    body = assert_error(response, 400, "id_number", "已登记")
    assert body["code"] == "validation_error"


def test_non_json_body_is_a_400_parse_error(huangyan_clerk):
    response = client_for(huangyan_clerk).post(URL, data="{not json", content_type="application/json")
    body = assert_error(response, 400)
    assert body["code"] == "parse_error"
    assert "JSON" in body["message"]
    assert Person.objects.count() == 0


@pytest.mark.parametrize("document", ["[]", '"text"', "42", "null", '[{"name": "张三"}]'])
def test_json_that_is_not_an_object_is_refused(huangyan_clerk, document):
    response = client_for(huangyan_clerk).post(URL, data=document, content_type="application/json")
    assert_error(response, 400)
    assert Person.objects.count() == 0


def test_unsupported_media_type_is_a_415_in_the_error_format(huangyan_clerk):
    response = client_for(huangyan_clerk).post(URL, data="id_number=1", content_type="text/plain")
    body = assert_error(response, 415)
    assert body["code"] == "unsupported_media_type"


def test_every_error_body_is_in_chinese_and_english_whatever_the_caller_asks_for(huangyan_clerk):
    client = client_for(huangyan_clerk)
    number = wrong_check_character(make_id_number(seq=6))
    response = client.post(URL, payload(id_number=number), format="json", HTTP_ACCEPT_LANGUAGE="en")
    body = assert_error(response, 400, "id_number", "校验位错误")
    assert body["message"] == "提交的数据有误。"
    assert body["message_en"] == "The submitted data is invalid."
    expected, given = body["errors"]["id_number"][0].split("应为 ")[1].split("，而不是 ")
    assert body["errors_en"]["id_number"] == [
        f"Wrong check character in the citizen ID number: the last character should be {expected}, "
        f"not {given.rstrip('。')}."
    ]
    assert response["Content-Language"] == "zh-hans"


# --- read ---------------------------------------------------------------------------------------


def test_list_shows_only_own_district_with_masked_numbers(huangyan_clerk, huangyan_person, luqiao_person):
    response = client_for(huangyan_clerk).get(URL)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["uid"] for r in results] == [str(huangyan_person.uid)]
    number = huangyan_person.id_number
    assert results[0]["id_number_masked"] == f"{number[:6]}********{number[-4:]}"
    content = response.content.decode()
    assert number not in content
    assert str(luqiao_person.uid) not in content


def test_retrieve_masks_and_other_district_is_404(huangyan_clerk, huangyan_person, luqiao_person):
    client = client_for(huangyan_clerk)
    response = client.get(f"{URL}{huangyan_person.uid}/")
    assert response.status_code == 200
    assert (
        response.json()["id_number_masked"] == huangyan_person.id_number[:6] + "*" * 8 + huangyan_person.id_number[-4:]
    )
    assert huangyan_person.id_number not in response.content.decode()
    body = assert_error(client.get(f"{URL}{luqiao_person.uid}/"), 404)
    assert body["code"] == "not_found"
    assert_error(client.get(f"{URL}not-a-uuid/"), 404)


def test_city_admin_sees_every_district(city_admin, huangyan_person, luqiao_person):
    response = client_for(city_admin).get(URL)
    assert {r["uid"] for r in response.json()["results"]} == {str(huangyan_person.uid), str(luqiao_person.uid)}


def test_a_township_clerk_sees_only_his_township(huangyan_person):
    other_township = PersonFactory(residence_office=office("331003002"))
    clerk = UserFactory(office=huangyan_person.residence_office)
    client = client_for(clerk)
    assert [r["uid"] for r in client.get(URL).json()["results"]] == [str(huangyan_person.uid)]
    assert client.get(f"{URL}{other_township.uid}/").status_code == 404


def test_unauthenticated_is_401_and_roleless_staff_is_403(huangyan_person):
    anonymous = APIClient().get(URL)
    assert_error(anonymous, 401)
    roleless = UserFactory(office=office("331003"), roles=[])
    body = assert_error(client_for(roleless).get(URL), 403)
    assert body["code"] == "permission_denied"


def test_read_only_role_may_not_write(huangyan_person):
    auditor = UserFactory(office=office("331003"), roles=[roles.AUDITOR])
    client = client_for(auditor)
    assert client.get(URL).status_code == 200
    assert_error(client.post(URL, payload(), format="json"), 403)
    assert_error(client.patch(f"{URL}{huangyan_person.uid}/", {"phone": "1"}, format="json"), 403)
    assert Person.objects.count() == 1


# --- filters ------------------------------------------------------------------------------------


def test_office_filter_includes_the_subtree(huangyan_clerk):
    in_district_office = PersonFactory(residence_office=office("331003"))
    township_one = PersonFactory(residence_office=office("331003001"))
    township_two = PersonFactory(residence_office=office("331003002"))
    PersonFactory(residence_office=office("331004001"))
    client = client_for(huangyan_clerk)

    def uids(**params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return {r["uid"] for r in response.json()["results"]}

    assert uids(office="331003") == {str(p.uid) for p in (in_district_office, township_one, township_two)}
    assert uids(office="331003001") == {str(township_one.uid)}
    # Another district's code filters to nothing rather than leaking or failing.
    assert uids(office="331004") == set()
    assert uids(office="999999") == set()


def test_name_and_pinyin_prefix_filters(huangyan_clerk):
    zhang_wei = PersonFactory(name="张伟")
    zhang_san = PersonFactory(name="张三丰")
    wang_fang = PersonFactory(name="王芳")
    PersonFactory(name="张伟", residence_office=township_of("331004"))
    client = client_for(huangyan_clerk)

    def uids(**params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return {r["uid"] for r in response.json()["results"]}

    assert uids(name="张") == {str(zhang_wei.uid), str(zhang_san.uid)}
    assert uids(name="张伟") == {str(zhang_wei.uid)}
    assert uids(name="伟") == set()  # a prefix, not a substring
    assert uids(pinyin="zhang") == {str(zhang_wei.uid), str(zhang_san.uid)}
    assert uids(pinyin="zhangwei") == {str(zhang_wei.uid)}
    assert uids(pinyin="ZhangWei") == {str(zhang_wei.uid)}
    assert uids(pinyin="zsf") == {str(zhang_san.uid)}
    assert uids(pinyin="wf") == {str(wang_fang.uid)}
    assert uids(pinyin="zw") == {str(zhang_wei.uid)}


def test_card_status_filter_refuses_unknown_values(huangyan_clerk):
    response = client_for(huangyan_clerk).get(URL, {"card_status": "gold"})
    assert_error(response, 400, "card_status")


def test_bad_page_size_and_cursor_are_refused_in_the_error_format(huangyan_clerk, huangyan_person):
    client = client_for(huangyan_clerk)
    assert_error(client.get(URL, {"page_size": "abc"}), 400, "page_size")
    assert_error(client.get(URL, {"page_size": "0"}), 400, "page_size")
    assert client.get(URL, {"page_size": "100000"}).status_code == 200  # capped at the maximum
    response = client.get(URL, {"cursor": "garbage"})
    assert_error(response, 404)


# --- search by ID number ------------------------------------------------------------------------


def test_search_finds_in_jurisdiction_and_404_for_other_district(huangyan_clerk, huangyan_person, luqiao_person):
    client = client_for(huangyan_clerk)
    response = client.post(f"{URL}search/", {"id_number": huangyan_person.id_number}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["uid"] == str(huangyan_person.uid)
    assert huangyan_person.id_number not in response.content.decode()
    body = assert_error(client.post(f"{URL}search/", {"id_number": luqiao_person.id_number}, format="json"), 404)
    assert body["code"] == "not_found"
    # Unknown and out of jurisdiction are indistinguishable.
    unknown = client.post(f"{URL}search/", {"id_number": make_id_number(area="331004", seq=999)}, format="json")
    assert unknown.json()["message"] == body["message"]


def test_search_normalises_the_number(huangyan_clerk):
    body = "33100319620315123"
    number = body + ric.calc_check_digit(body + "0")
    person = PersonFactory(id_number=number)
    client = client_for(huangyan_clerk)
    for given in (number.lower(), f" {number} ", "331003620315123"):
        response = client.post(f"{URL}search/", {"id_number": given}, format="json")
        assert response.status_code == 200, (given, response.content)
        assert response.json()["uid"] == str(person.uid)


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        (wrong_check_character(make_id_number(seq=7)), "校验位错误"),
        ("331003199902310014", "不存在"),
        ("12345", "应为 18 位"),
        ("", ""),
    ],
)
def test_search_with_a_bad_number_names_the_field(huangyan_clerk, given, reason):
    response = client_for(huangyan_clerk).post(f"{URL}search/", {"id_number": given}, format="json")
    assert_error(response, 400, "id_number", reason)


def test_search_refuses_unknown_fields_and_bad_bodies(huangyan_clerk, huangyan_person):
    client = client_for(huangyan_clerk)
    assert_error(
        client.post(f"{URL}search/", {"id_number": huangyan_person.id_number, "name": "x"}, format="json"),
        400,
        "name",
        "未知字段",
    )
    assert_error(client.post(f"{URL}search/", data="{", content_type="application/json"), 400)
    assert_error(client.post(f"{URL}search/", data="[]", content_type="application/json"), 400)
    assert_error(client.post(f"{URL}search/", {"id_number": ["x"]}, format="json"), 400, "id_number")


def test_search_needs_a_role(huangyan_person):
    roleless = UserFactory(office=office("331003"), roles=[])
    response = client_for(roleless).post(f"{URL}search/", {"id_number": huangyan_person.id_number}, format="json")
    assert_error(response, 403)
    assert_error(APIClient().post(f"{URL}search/", {"id_number": huangyan_person.id_number}, format="json"), 401)


# --- reveal -------------------------------------------------------------------------------------


def test_reviewer_may_reveal_and_every_reveal_is_logged(huangyan_reviewer, huangyan_person):
    client = client_for(huangyan_reviewer)
    url = f"{URL}{huangyan_person.uid}/reveal-id-number/"
    first = client.post(url, HTTP_X_REQUEST_ID="req-reveal-1")
    assert first.status_code == 200, first.content
    assert first.json() == {"id_number": huangyan_person.id_number}
    second = client.post(url)
    assert second.status_code == 200
    accesses = list(SensitiveAccess.objects.order_by("id"))
    assert len(accesses) == 2
    assert accesses[0].user == huangyan_reviewer
    assert accesses[0].office == huangyan_reviewer.office
    assert accesses[0].person == huangyan_person
    assert accesses[0].channel == SensitiveAccess.Channel.API
    assert accesses[0].field == "id_number"
    assert accesses[0].request_id == "req-reveal-1"
    assert accesses[1].request_id == second["X-Request-ID"]


def test_counter_clerk_may_not_reveal_and_nothing_is_logged(huangyan_clerk, huangyan_person):
    response = client_for(huangyan_clerk).post(f"{URL}{huangyan_person.uid}/reveal-id-number/")
    body = assert_error(response, 403)
    assert "无权查看完整公民身份号码" in body["message"]
    assert huangyan_person.id_number not in response.content.decode()
    assert SensitiveAccess.objects.count() == 0


def test_reveal_of_other_district_is_404_even_for_a_reviewer(huangyan_reviewer, luqiao_person):
    response = client_for(huangyan_reviewer).post(f"{URL}{luqiao_person.uid}/reveal-id-number/")
    assert_error(response, 404)
    assert SensitiveAccess.objects.count() == 0


def test_reveal_is_post_only(huangyan_reviewer, huangyan_person):
    response = client_for(huangyan_reviewer).get(f"{URL}{huangyan_person.uid}/reveal-id-number/")
    assert_error(response, 405)
    assert SensitiveAccess.objects.count() == 0


# --- update -------------------------------------------------------------------------------------


def test_patch_by_owner_and_same_office_colleague_but_not_other_district(
    huangyan_clerk, huangyan_colleague, luqiao_clerk
):
    created = client_for(huangyan_clerk).post(URL, payload(), format="json").json()
    url = f"{URL}{created['uid']}/"
    owner = client_for(huangyan_clerk).patch(url, {"phone": "13800000001"}, format="json")
    assert owner.status_code == 200, owner.content
    assert owner.json()["phone"] == "13800000001"
    colleague = client_for(huangyan_colleague).patch(url, {"address": "黄岩区劳动北路 1 号"}, format="json")
    assert colleague.status_code == 200, colleague.content
    other = client_for(luqiao_clerk).patch(url, {"phone": "0"}, format="json")
    assert_error(other, 404)
    person = Person.objects.get(uid=created["uid"])
    assert (person.phone, person.address) == ("13800000001", "黄岩区劳动北路 1 号")


def test_patch_name_rederives_pinyin_and_records_who_and_where(huangyan_clerk, huangyan_colleague):
    created = client_for(huangyan_clerk).post(URL, payload(name="张三"), format="json").json()
    response = client_for(huangyan_colleague).patch(f"{URL}{created['uid']}/", {"name": "李四"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name_pinyin"] == "lisi"
    person = Person.objects.get(uid=created["uid"])
    assert person.name_initials == "ls"
    latest = person.history.order_by("-history_id").first()
    assert latest.history_type == "~"
    assert latest.history_user == huangyan_colleague
    assert latest.history_office == huangyan_colleague.office
    entry = selectors.object_history(person)[0]
    assert entry.user == huangyan_colleague.get_full_name() or huangyan_colleague.username
    assert entry.office == huangyan_colleague.office.name
    assert [(c.field, c.old, c.new) for c in entry.changes] == [("name", "张三", "李四")]


def test_patch_moving_to_another_district_is_refused(huangyan_clerk, huangyan_person):
    history_before = huangyan_person.history.count()
    response = client_for(huangyan_clerk).patch(
        f"{URL}{huangyan_person.uid}/", {"residence_office": "331004001"}, format="json"
    )
    assert_error(response, 400, "residence_office", "不在您的辖区内")
    huangyan_person.refresh_from_db()
    assert huangyan_person.residence_office.code.startswith("331003")
    assert huangyan_person.history.count() == history_before


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"id_number": "331003196203151238"}, "id_number", "未知字段"),
        ({"sex": "F"}, "sex", "未知字段"),
        ({"name": ""}, "name", ""),
        ({"name": "  "}, "name", ""),
        ({"household_type": "martian"}, "household_type", ""),
        ({"card_status": "active"}, "card_status", "没有社会保障卡号"),
        ({"phone": {"a": 1}}, "phone", ""),
        ({"residence_office": "xyz"}, "residence_office", "未知的经办机构代码"),
    ],
)
def test_bad_patch_names_the_field_and_changes_nothing(huangyan_clerk, huangyan_person, change, field, reason):
    before = Person.objects.values().get(pk=huangyan_person.pk)
    history_before = huangyan_person.history.count()
    response = client_for(huangyan_clerk).patch(f"{URL}{huangyan_person.uid}/", change, format="json")
    assert_error(response, 400, field, reason)
    assert Person.objects.values().get(pk=huangyan_person.pk) == before
    assert huangyan_person.history.count() == history_before


def test_patch_card_number_and_status_together(huangyan_clerk, huangyan_person):
    response = client_for(huangyan_clerk).patch(
        f"{URL}{huangyan_person.uid}/", {"card_number": "A1234567", "card_status": "active"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["card_status"] == "active"


def test_put_and_delete_are_not_allowed(huangyan_clerk, huangyan_person):
    client = client_for(huangyan_clerk)
    assert_error(client.put(f"{URL}{huangyan_person.uid}/", payload(), format="json"), 405)
    assert_error(client.delete(f"{URL}{huangyan_person.uid}/"), 405)
    assert Person.objects.filter(pk=huangyan_person.pk).exists()


# --- query counts -------------------------------------------------------------------------------


def _count_queries(user, url, params=None) -> tuple[int, dict]:
    # A fresh user object each time: permissions are cached on the instance after the first request.
    client = client_for(type(user).objects.get(pk=user.pk))
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries), response.json()


def test_list_does_a_constant_number_of_queries(huangyan_clerk):
    PersonFactory.create_batch(3)
    few, body = _count_queries(huangyan_clerk, URL)
    assert len(body["results"]) == 3
    PersonFactory.create_batch(27)
    many, body = _count_queries(huangyan_clerk, URL)
    assert len(body["results"]) == 30
    assert many == few
    filtered, body = _count_queries(huangyan_clerk, URL, {"office": "331003", "pinyin": "z"})
    assert filtered <= few + 1


def test_the_documented_example_request_is_accepted(huangyan_clerk):
    client = client_for(huangyan_clerk)
    schema = client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    operation = schema.json()["paths"]["/api/v1/persons/"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    (example,) = examples.values()
    response = client.post(URL, example["value"], format="json")
    assert response.status_code == 201, response.content


def test_a_card_number_already_held_is_refused_on_the_card_number(huangyan_clerk):
    PersonFactory(card_number="A0000001", card_status="active")
    response = client_for(huangyan_clerk).post(
        URL, payload(card_number="A0000001", card_status="active"), format="json"
    )
    assert_error(response, 400, "card_number")
    assert Person.objects.count() == 1


@pytest.mark.parametrize("url", ["/api/v1/employers/", "/api/v1/enrollments/", "/api/v1/offices/331003/"])
def test_methods_no_endpoint_offers_are_405_for_everybody(huangyan_clerk, url):
    client = client_for(huangyan_clerk)
    assert_error(client.delete(url), 405)
    if url.startswith("/api/v1/offices/"):
        assert_error(client.patch(url, {"name": "x"}, format="json"), 405)
