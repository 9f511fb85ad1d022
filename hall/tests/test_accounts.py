"""Registration with SMS, counter confirmation and activation codes, login (password + SMS) with throttling,
password reset, the security log — and the bad input of the issue: clear Chinese message, nothing written."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.tests.factories import clerk
from hall import sms
from hall.models import AccountKind, AccountStatus, HallAccount, SmsCode
from hall.tests.conftest import last_code
from hall.tests.factories import PASSWORD, employer_account, hall_client, person_account
from registry.models import Office, SecurityEvent, SecurityEventKind
from registry.tests.factories import EmployerFactory, PersonFactory, township_of

pytestmark = pytest.mark.django_db


def _register(client: Client, person, phone: str, *, action: str, code: str = "", **extra):
    data = {"id_number": person.id_number, "name": person.name, "phone": phone, "password": PASSWORD, "code": code}
    data.update(extra)
    return client.post(reverse("hall:register"), {**data, "action": action})


def test_registration_with_the_registry_phone_opens_at_once():
    person = PersonFactory(phone="13900000001")
    client = Client()
    response = _register(client, person, "13900000001", action="send")
    assert response.status_code == 200 and len(sms.outbox) == 1 and sms.outbox[0].phone == "13900000001"
    response = _register(client, person, "13900000001", action="submit", code=last_code())
    assert response.status_code == 302 and response["Location"] == reverse("hall:me")
    account = HallAccount.objects.get(person=person)
    assert account.status == AccountStatus.ACTIVE and account.phone_matches_registry
    assert client.get(reverse("hall:me")).status_code == 200
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.SMS_SENT, username="hall:13900000001").exists()
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.LOGIN, detail__channel="hall").exists()


def test_registration_with_another_phone_opens_nothing_until_a_clerk_confirms():
    person = PersonFactory(phone="13900000002", residence_office=township_of("331003"))
    client = Client()
    _register(client, person, "13700000009", action="send")
    response = _register(client, person, "13700000009", action="submit", code=last_code())
    assert response["Location"] == reverse("hall:activate")
    account = HallAccount.objects.get(person=person)
    assert account.status == AccountStatus.PENDING
    for name in ("me", "record", "record_pdf", "enrollments", "certificates", "applications", "messages"):
        page = client.get(reverse(f"hall:{name}"))
        assert page.status_code == 302 and page["Location"] == reverse("hall:activate"), name
    assert person.name not in client.get(reverse("hall:activate")).content.decode()
    # A clerk of another district cannot confirm it (404); the township's clerk can.
    other = clerk(township_of("331004"))
    staff = Client()
    staff.force_login(other)
    assert staff.post(reverse("hall_counter_action", args=[account.uid]), {"action": "confirm"}).status_code == 404
    assert account.uid.hex not in staff.get(reverse("hall_counter")).content.decode().replace("-", "")
    desk = clerk(township_of("331003"))
    staff.force_login(desk)
    listed = staff.get(reverse("hall_counter")).content.decode()
    assert person.name in listed and person.id_number not in listed
    staff.post(reverse("hall_counter_action", args=[account.uid]), {"action": "confirm"})
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and account.confirmed_by == desk
    assert client.get(reverse("hall:me")).status_code == 200


def test_activation_code_handed_over_by_a_clerk():
    account = person_account(status=AccountStatus.PENDING)
    desk = clerk(account.office)
    staff = Client()
    staff.force_login(desk)
    response = staff.post(reverse("hall_counter_action", args=[account.uid]), {"action": "code"}, follow=True)
    text = response.content.decode()
    code = text.split("激活码：")[1][:8]
    client = hall_client(account)
    wrong = client.post(reverse("hall:activate"), {"code": "WRONG123"})
    assert wrong.status_code == 400 and "激活码不正确" in wrong.content.decode()
    assert client.post(reverse("hall:activate"), {"code": code}).status_code == 302
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert code not in str(HallAccount.objects.filter(pk=account.pk).values().first())


def test_employer_admin_is_pending_until_confirmed():
    employer = EmployerFactory(name="台州测试机械有限公司")
    client = Client()
    data = {
        "credit_code": employer.credit_code,
        "employer_name": employer.name,
        "name": "林法人",
        "id_number": PersonFactory.build().id_number,
        "phone": "13600000001",
        "password": PASSWORD,
    }
    client.post(reverse("hall:register_employer"), {**data, "action": "send"})
    response = client.post(reverse("hall:register_employer"), {**data, "action": "submit", "code": last_code()})
    assert response["Location"] == reverse("hall:activate")
    account = HallAccount.objects.get(employer=employer)
    assert account.kind == AccountKind.EMPLOYER_ADMIN and account.status == AccountStatus.PENDING
    assert client.get(reverse("hall:employer")).status_code == 302


# ---------------------------------------------------------------------------------------------
# Bad input: clear Chinese message, nothing written.


def _no_account():
    return not HallAccount.objects.exists()


def test_wrong_code_expired_code_and_the_sixth_try():
    person = PersonFactory(phone="13900000003")
    client = Client()
    _register(client, person, "13900000003", action="send")
    good = last_code()
    wrong = "000000" if good != "000000" else "111111"
    for left in (4, 3, 2, 1, 0):
        response = _register(client, person, "13900000003", action="submit", code=wrong)
        assert response.status_code == 400 and f"验证码错误，还可尝试 {left} 次" in response.content.decode()
    sixth = _register(client, person, "13900000003", action="submit", code=good)
    assert "错误次数已达 5 次" in sixth.content.decode() and _no_account()
    SmsCode.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=10))
    _register(client, person, "13900000003", action="send")
    SmsCode.objects.filter(used_at__isnull=True).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    expired = _register(client, person, "13900000003", action="submit", code=last_code())
    assert "验证码已过期" in expired.content.decode() and _no_account()


def test_unknown_id_number_and_a_phone_bound_to_another_person():
    stranger = PersonFactory.build()
    response = _register(Client(), stranger, "13900000004", action="send")
    assert "不在台州市区社保登记中" in response.content.decode() and not sms.outbox
    taken = person_account(phone="13900000005")
    person = PersonFactory()
    response = _register(Client(), person, "13900000005", action="send")
    assert "已绑定其他人员的账户" in response.content.decode() and not sms.outbox
    assert HallAccount.objects.count() == 1 and HallAccount.objects.get() == taken
    wrong_name = _register(Client(), person, "13900000006", action="send", name="不是本人")
    assert "姓名与登记信息不一致" in wrong_name.content.decode()


def test_sms_sends_are_throttled_per_phone_and_per_address(settings):
    person = PersonFactory()
    client = Client()
    _register(client, person, "13900000007", action="send")
    again = _register(client, person, "13900000007", action="send")
    assert "秒后再获取" in again.content.decode() and len(sms.outbox) == 1
    settings.HALL_SMS_RESEND_SECONDS = 0
    settings.HALL_SMS_PER_IP_HOUR = 3
    others = [PersonFactory() for _i in range(3)]
    for index, other in enumerate(others):
        _register(client, other, f"1390000010{index}", action="send")
    assert len(sms.outbox) == 3  # the 3rd other was refused: 3 sends from this address within the hour
    assert "网络地址获取验证码次数过多" in _register(client, others[-1], "13900000200", action="send").content.decode()


# ---------------------------------------------------------------------------------------------
# Login.


def _login(client: Client, account, password: str = PASSWORD, **extra):
    return client.post(reverse("hall:login"), {"phone": account.phone, "password": password, **extra})


def test_login_is_password_then_sms_code():
    account = person_account()
    client = Client()
    response = _login(client, account)
    assert response["Location"] == reverse("hall:login_code")
    assert client.get(reverse("hall:me")).status_code == 302  # not yet
    response = client.post(reverse("hall:login_code"), {"code": last_code()})
    assert response.status_code == 302
    assert client.get(reverse("hall:me")).status_code == 200
    assert response.cookies["tzsi_hall"]["path"] == "/hall/"


def test_employer_login_needs_the_credit_code():
    account = employer_account()
    client = Client()
    assert _login(client, account).status_code == 400
    response = _login(client, account, credit_code=account.employer.credit_code)
    assert response.status_code == 302


def test_login_throttled_per_account_and_per_address(settings):
    account = person_account()
    client = Client()
    for _i in range(5):
        assert _login(client, account, password="wrong-one").status_code == 400
    locked = _login(client, account)
    assert "登录失败次数过多" in locked.content.decode() and not sms.outbox
    kinds = list(SecurityEvent.objects.filter(detail__channel="hall").values_list("kind", flat=True))
    assert kinds.count(SecurityEventKind.LOGIN_FAILED) == 5 and SecurityEventKind.LOCKED_OUT in kinds
    settings.HALL_LOGIN_FAILURES_PER_IP = 6
    other = person_account()
    assert _login(Client(), other, password="wrong").status_code == 400  # the 6th failure from this address
    assert "登录失败次数过多" in _login(Client(), other).content.decode()


def test_password_reset_by_sms():
    account = person_account()
    client = Client()
    data = {"phone": account.phone, "password": "Newpass#2027", "credit_code": ""}
    client.post(reverse("hall:password_reset"), {**data, "action": "send"})
    response = client.post(reverse("hall:password_reset"), {**data, "action": "submit", "code": last_code()})
    assert response.status_code == 302
    assert _login(Client(), account, password="Newpass#2027").status_code == 302


def test_agents_with_chosen_rights():
    admin = employer_account()
    client = hall_client(admin)
    response = client.post(
        reverse("hall:agents"),
        {"name": "赵会计", "id_number": PersonFactory.build().id_number, "phone": "13500000001", "password": PASSWORD,
         "rights": ["bills"]},
    )  # fmt: skip
    assert response.status_code == 302
    agent = HallAccount.objects.get(kind=AccountKind.EMPLOYER_AGENT)
    assert agent.rights == ["bills"] and agent.employer == admin.employer
    agent_client = hall_client(agent)
    assert agent_client.get(reverse("hall:bills")).status_code == 200
    assert agent_client.get(reverse("hall:declaration")).status_code == 404
    assert agent_client.get(reverse("hall:agents")).status_code == 404
    assert Office.objects.filter(pk=agent.office_id).exists()


def test_someone_who_only_knows_the_id_number_never_keeps_the_person_out():
    person = PersonFactory(phone="13900000300")
    squatter = Client()
    _register(squatter, person, "13700000300", action="send")
    _register(squatter, person, "13700000300", action="submit", code=last_code())
    pending = HallAccount.objects.get(person=person)
    assert pending.status == AccountStatus.PENDING
    assert squatter.get(reverse("hall:record")).status_code == 302  # sees nothing
    owner = Client()
    _register(owner, person, "13900000300", action="send")
    response = _register(owner, person, "13900000300", action="submit", code=last_code())
    assert response["Location"] == reverse("hall:me")
    assert HallAccount.objects.get(person=person, status=AccountStatus.ACTIVE).phone == "13900000300"
    staff = Client()
    staff.force_login(clerk(person.residence_office))
    refused = staff.post(reverse("hall_counter_action", args=[pending.uid]), {"action": "confirm"}, follow=True)
    assert "已有一个已开通的账户" in refused.content.decode()
    pending.refresh_from_db()
    assert pending.status == AccountStatus.PENDING


def test_the_session_expiry_moves_with_every_request():
    client = hall_client(person_account())
    first = client.get(reverse("hall:me"))
    assert first.cookies["tzsi_hall"]["max-age"] == 30 * 60
