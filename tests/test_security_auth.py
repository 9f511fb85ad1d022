"""Authentication and sessions (issue 17, hardening): the second factor at login, the password policy, the session
policy, and the security log that records them — each through the real login form, as a person signs in."""

from __future__ import annotations

import datetime
import io
import time

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from registry import roles
from registry.exceptions import PermissionDeniedError
from registry.models import SecurityEvent, SecurityEventKind, User, UserSession
from registry.security import twofactor
from registry.security.log import security_events_purge
from registry.security.sessions import SESSION_LOGIN_AT, SESSION_SEEN_AT
from registry.tests.factories import UserFactory, office

pytestmark = pytest.mark.django_db
PASSWORD = "pass-12345"  # noqa: S105 — the factories' test password
STRONG = "Lantern#Harbour-2031"


def login(client: Client, username: str, password: str = PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def events(kind: str, **filters) -> int:
    return SecurityEvent.objects.filter(kind=kind, **filters).count()


@pytest.fixture
def admin_user(db):
    return UserFactory(username="sec_admin", office=office("331000"), roles=[roles.CITY_ADMIN], is_staff=True)


@pytest.fixture
def enrolled_admin(admin_user):
    device = twofactor.two_factor_enrolment_start(user=admin_user)
    device.confirmed = True
    device.save()
    codes = twofactor.backup_codes_regenerate(user=admin_user)
    return admin_user, device, codes


# ---------------------------------------------------------------------------------------------
# Second factor.


def test_an_administrator_needs_the_second_factor_after_the_password(enrolled_admin):
    user, device, _codes = enrolled_admin
    client = Client()
    assert login(client, user.username).status_code == 302
    home = client.get(reverse("home"))
    assert home.status_code == 302 and home["Location"].startswith(reverse("security_two_factor"))
    assert client.get("/admin/").status_code == 302
    api = client.get("/api/v1/persons/")
    assert api.status_code == 403 and "双因素" in api.json()["message"]

    wrong = client.post(reverse("security_two_factor"), {"token": "000000"})
    assert wrong.status_code == 400
    assert events(SecurityEventKind.OTP_FAILED, user=user) == 1

    device.refresh_from_db()
    device.throttle_reset()
    ok = client.post(reverse("security_two_factor"), {"token": twofactor.totp_code(device), "next": "/admin/"})
    assert ok.status_code == 302 and ok["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert events(SecurityEventKind.LOGIN, user=user) == 1
    assert events(SecurityEventKind.OTP_VERIFIED, user=user) == 1


def test_a_backup_code_works_once(enrolled_admin):
    user, _device, codes = enrolled_admin
    client = Client()
    login(client, user.username)
    assert client.post(reverse("security_two_factor"), {"token": codes[0].upper()}).status_code == 302
    assert client.get(reverse("home")).status_code == 200
    assert events(SecurityEventKind.OTP_BACKUP_USED, user=user) == 1
    again = Client()
    login(again, user.username)
    assert again.post(reverse("security_two_factor"), {"token": codes[0]}).status_code == 400


def test_a_new_administrator_binds_an_authenticator_at_the_first_login(admin_user):
    client = Client()
    login(client, admin_user.username)
    home = client.get(reverse("home"))
    assert home["Location"].startswith(reverse("security_two_factor_enrol"))
    page = client.get(reverse("security_two_factor_enrol"))
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    assert twofactor.totp_secret_base32(device) in page.content.decode()
    assert client.post(reverse("security_two_factor_enrol"), {"token": "123"}).status_code == 400
    done = client.post(reverse("security_two_factor_enrol"), {"token": twofactor.totp_code(device)})
    assert done.status_code == 200
    codes = done.context["codes"]
    assert len(codes) == twofactor.BACKUP_CODE_COUNT and codes[0] in done.content.decode()
    assert client.get(reverse("home")).status_code == 200
    assert events(SecurityEventKind.OTP_ENROLLED, user=admin_user) == 1

    # The next login asks for a code (the next one: a code is accepted only once).
    client = Client()
    login(client, admin_user.username)
    assert client.get(reverse("home")).status_code == 302
    device.refresh_from_db()
    token = twofactor.totp_code(device, at=time.time() + device.step)
    assert client.post(reverse("security_two_factor"), {"token": token}).status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_city_level_staff_need_it_district_clerks_only_when_their_role_is_configured(settings):
    city = UserFactory(username="sec_city_reviewer", office=office("331000"), roles=[roles.REVIEWER])
    district = UserFactory(username="sec_hy_reviewer", office=office("331003"), roles=[roles.REVIEWER])
    clerk = UserFactory(username="sec_hy_clerk", office=office("331003"))
    assert twofactor.two_factor_required(city)
    assert not twofactor.two_factor_required(district) and not twofactor.two_factor_required(clerk)
    client = Client()
    login(client, clerk.username)
    assert client.get(reverse("home")).status_code == 200
    settings.TWO_FACTOR_REQUIRED_ROLES = [roles.REVIEWER]
    assert twofactor.two_factor_required(district) and not twofactor.two_factor_required(clerk)
    client = Client()
    login(client, district.username)
    assert client.get(reverse("home")).status_code == 302


def test_a_second_administrator_resets_a_lost_authenticator(enrolled_admin):
    user, _device, _codes = enrolled_admin
    lost = Client()
    login(lost, user.username)
    assert UserSession.objects.filter(user=user).count() == 1
    with pytest.raises(PermissionDeniedError):
        twofactor.two_factor_reset(user=user, acting_user=user)
    other = UserFactory(username="sec_admin2", office=office("331000"), roles=[roles.CITY_ADMIN], is_staff=True)
    district_admin = UserFactory(
        username="sec_hy_admin", office=office("331003"), roles=[roles.CITY_ADMIN], is_staff=True
    )
    with pytest.raises(PermissionDeniedError):
        twofactor.two_factor_reset(user=user, acting_user=district_admin)  # the city user is outside his district
    client = Client()
    client.force_login(other)
    response = client.post(
        "/admin/registry/user/", {"action": "reset_second_factor", "_selected_action": [user.pk]}, follow=True
    )
    assert response.status_code == 200
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not UserSession.objects.filter(user=user).exists()
    assert lost.get(reverse("home")).status_code == 302  # the session ended
    event = SecurityEvent.objects.get(kind=SecurityEventKind.OTP_RESET)
    assert event.user == user and event.actor == other


# ---------------------------------------------------------------------------------------------
# Passwords.


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("Short#1a", "至少需要 12 个字符"),  # too short
        ("alllowercaseletters", "至少 3 类"),  # one class
        ("Sec_Changer#2031x", "不能包含用户名"),  # the user name inside
        ("Qwerty123456", "常见"),  # common (Django's list of 20,000)
        ("123456789012345", "只包含数字"),  # numeric
    ],
)
def test_a_weak_password_is_refused(new, message):
    user = UserFactory(username="sec_changer", office=office("331003"))
    user.set_password(STRONG)
    user.save()
    client = Client()
    assert login(client, user.username, STRONG).status_code == 302
    response = client.post(
        reverse("security_password_change"),
        {"old_password": STRONG, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["new_password2"])
    assert message in errors, errors
    user.refresh_from_db()
    assert user.check_password(STRONG)


def test_a_clerk_changes_his_password_and_cannot_reuse_the_last_five():
    user = UserFactory(username="sec_rotating", office=office("331003"))
    history = [
        "Lantern#Harbour-2031",
        "Copper%Meadow-4172",
        "Silent!Orchid-5820",
        "Velvet@Canyon-6391",
        "Amber^Tide-7402",
    ]
    client = Client()
    login(client, user.username)
    current = PASSWORD
    for new in history:
        response = client.post(
            reverse("security_password_change"),
            {"old_password": current, "new_password1": new, "new_password2": new},
        )
        assert response.status_code == 302, response.context["form"].errors
        current = new
    reused = client.post(
        reverse("security_password_change"),
        {"old_password": current, "new_password1": history[0], "new_password2": history[0]},
    )
    assert reused.status_code == 400 and "最近 5 次" in " ".join(reused.context["form"].errors["new_password2"])
    assert events(SecurityEventKind.PASSWORD_CHANGED, user=user) == 5
    user.refresh_from_db()
    assert user.password_changed_at is not None
    assert user.password_history.count() == 5


def test_an_expired_password_must_be_changed_before_anything_else(settings):
    settings.PASSWORD_MAX_AGE_DAYS = 90
    user = UserFactory(username="sec_expired", office=office("331003"))
    User.objects.filter(pk=user.pk).update(password_changed_at=timezone.now() - datetime.timedelta(days=91))
    client = Client()
    login(client, user.username)
    response = client.get(reverse("person_search"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("security_password_change"))
    page = client.get(reverse("security_password_change"))
    assert "有效期" in page.content.decode()
    changed = client.post(
        reverse("security_password_change"),
        {"old_password": PASSWORD, "new_password1": STRONG, "new_password2": STRONG},
    )
    assert changed.status_code == 302
    assert client.get(reverse("person_search")).status_code == 200


def test_an_administrator_forces_a_password_change():
    user = UserFactory(username="sec_forced", office=office("331003"))
    admin = UserFactory(username="sec_forcer", office=office("331000"), roles=[roles.CITY_ADMIN], is_staff=True)
    mine = Client()
    login(mine, user.username)
    client = Client()
    client.force_login(admin)
    client.post("/admin/registry/user/", {"action": "force_password_change", "_selected_action": [user.pk]})
    user.refresh_from_db()
    assert user.must_change_password
    assert mine.get(reverse("home")).status_code == 302  # his session ended
    login(mine, user.username)
    assert mine.get(reverse("home"))["Location"].startswith(reverse("security_password_change"))
    mine.post(
        reverse("security_password_change"),
        {"old_password": PASSWORD, "new_password1": STRONG, "new_password2": STRONG},
    )
    user.refresh_from_db()
    assert not user.must_change_password
    assert events(SecurityEventKind.PASSWORD_RESET_FORCED, user=user, actor=admin) == 1


# ---------------------------------------------------------------------------------------------
# Sessions.


def test_an_idle_session_expires(settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 30
    user = UserFactory(username="sec_idle", office=office("331003"))
    client = Client()
    login(client, user.username)
    assert client.get(reverse("home")).status_code == 200
    session = client.session
    session[SESSION_SEEN_AT] = int(time.time()) - 29 * 60
    session.save()
    assert client.get(reverse("home")).status_code == 200  # 29 minutes: still alive, and the activity is noted
    session = client.session
    assert session[SESSION_SEEN_AT] >= int(time.time()) - 5
    session[SESSION_SEEN_AT] = int(time.time()) - 31 * 60
    session.save()
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.get(reverse("home"))["Location"].startswith(reverse("login"))  # logged out
    event = SecurityEvent.objects.get(kind=SecurityEventKind.SESSION_EXPIRED)
    assert event.user == user and event.detail == {"reason": "idle"}


def test_a_session_ends_after_its_absolute_lifetime_however_active(settings):
    settings.SESSION_ABSOLUTE_HOURS = 10
    user = UserFactory(username="sec_long", office=office("331003"))
    client = Client()
    login(client, user.username)
    session = client.session
    session[SESSION_LOGIN_AT] = int(time.time()) - 10 * 3600 - 1
    session.save()
    assert client.get(reverse("home"))["Location"].startswith(reverse("login"))
    api = Client()
    login(api, user.username)
    session = api.session
    session[SESSION_LOGIN_AT] = int(time.time()) - 10 * 3600 - 1
    session.save()
    assert api.get("/api/v1/persons/").status_code == 401


def test_one_session_per_user_when_configured_and_log_out_everywhere(settings):
    user = UserFactory(username="sec_sessions", office=office("331003"))
    first, second = Client(), Client()
    login(first, user.username)
    login(second, user.username)
    assert first.get(reverse("home")).status_code == 200 and second.get(reverse("home")).status_code == 200
    settings.SESSION_SINGLE_PER_USER = True
    third = Client()
    login(third, user.username)
    assert first.get(reverse("home")).status_code == 302 and second.get(reverse("home")).status_code == 302
    assert third.get(reverse("home")).status_code == 200
    settings.SESSION_SINGLE_PER_USER = False
    fourth = Client()
    login(fourth, user.username)
    assert "sessions" in fourth.get(reverse("security_account")).content.decode()
    ended = fourth.post(reverse("security_sessions_end"))
    assert ended.status_code == 302
    assert third.get(reverse("home")).status_code == 302 and fourth.get(reverse("home")).status_code == 302
    assert not UserSession.objects.filter(user=user).exists()
    assert events(SecurityEventKind.SESSIONS_ENDED, user=user) == 1


# ---------------------------------------------------------------------------------------------
# The security log.


def test_logins_failures_lockouts_and_role_changes_are_logged(settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = UserFactory(username="sec_logged", office=office("331003"))
    for _n in range(3):
        login(Client(REMOTE_ADDR="10.1.2.3"), user.username, "wrong")
    assert events(SecurityEventKind.LOGIN_FAILED, username="sec_logged") >= 2
    assert events(SecurityEventKind.LOCKED_OUT, username="sec_logged") == 1
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.LOGIN_FAILED).first().client_ip == "10.1.2.3"
    login(Client(), "nobody-such", "wrong")
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.LOGIN_FAILED, username="nobody-such").exists()

    admin = UserFactory(username="sec_role_admin", office=office("331000"), roles=[roles.CITY_ADMIN], is_staff=True)
    client = Client()
    client.force_login(admin)
    reviewer_group = Group.objects.get(name=roles.REVIEWER)
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": "",
        "email": "",
        "is_active": "on",
        "groups": [reviewer_group.pk],
        "office": user.office.pk,
        "date_joined_0": "2025-01-01",
        "date_joined_1": "08:00:00",
        "initial-date_joined_0": "2025-01-01",
        "initial-date_joined_1": "08:00:00",
    }
    response = client.post(f"/admin/registry/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    event = SecurityEvent.objects.filter(kind=SecurityEventKind.ROLES_CHANGED, user=user).first()  # the newest
    assert event is not None and event.actor == admin


@pytest.mark.postgres
def test_the_security_log_is_append_only_and_purged_only_after_six_months(settings):
    young = SecurityEvent.objects.create(kind=SecurityEventKind.LOGIN, username="x")
    old = SecurityEvent.objects.create(kind=SecurityEventKind.LOGIN, username="y")
    kept = SecurityEvent.objects.create(kind=SecurityEventKind.LOGIN, username="z")
    with connection.cursor() as cursor:
        # Backdating needs the trigger's owner to switch it off: the application role could not.
        cursor.execute("ALTER TABLE registry_securityevent DISABLE TRIGGER security_event_append_only")
        cursor.execute("UPDATE registry_securityevent SET at = now() - interval '400 days' WHERE id = %s", [old.pk])
        cursor.execute("UPDATE registry_securityevent SET at = now() - interval '100 days' WHERE id = %s", [kept.pk])
        cursor.execute("ALTER TABLE registry_securityevent ENABLE ALWAYS TRIGGER security_event_append_only")
    for statement in (
        "UPDATE registry_securityevent SET username = 'changed' WHERE id = %s",
        "DELETE FROM registry_securityevent WHERE id = %s",
    ):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [young.pk])
    settings.SECURITY_LOG_RETENTION_DAYS = 365
    assert security_events_purge() == 1
    assert set(SecurityEvent.objects.values_list("username", flat=True)) >= {"x", "z"}
    assert security_events_purge(retention_days=30) == 0  # the 183-day floor holds whatever is asked


def test_only_auditors_browse_and_export_the_audit_logs():
    from openpyxl import load_workbook

    SecurityEvent.objects.create(
        kind=SecurityEventKind.LOGIN_FAILED, username='=HYPERLINK("http://x")', office=office("331003")
    )
    auditor = UserFactory(username="sec_auditor", office=office("331000"), roles=[roles.AUDITOR], is_staff=True)
    admin = UserFactory(username="sec_not_auditor", office=office("331000"), roles=[roles.CITY_ADMIN], is_staff=True)
    superuser = UserFactory(username="sec_root", office=None, roles=[], is_staff=True, is_superuser=True)
    for user in (admin, superuser):
        client = Client()
        client.force_login(user)
        for url in ("/admin/registry/securityevent/", "/admin/registry/sensitiveaccess/"):
            assert client.get(url).status_code == 403, (user.username, url)
    client = Client()
    client.force_login(auditor)
    assert client.get("/admin/registry/securityevent/").status_code == 200
    assert client.get("/admin/registry/sensitiveaccess/").status_code == 200
    ids = list(SecurityEvent.objects.values_list("pk", flat=True))
    response = client.post("/admin/registry/securityevent/", {"action": "export_xlsx", "_selected_action": ids})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    usernames = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert '\'=HYPERLINK("http://x")' in usernames  # neutralised: never a live formula
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.AUDIT_EXPORT, user=auditor).exists()


def test_the_demo_password_passes_the_policy_for_every_demo_account():
    from django.contrib.auth.password_validation import validate_password

    from registry.management.commands.load_demo import DEMO_PASSWORD, DEMO_STAFF

    for username, name, code, _roles, _staff in DEMO_STAFF:
        validate_password(DEMO_PASSWORD, User(username=username, first_name=name, office=office(code)))
