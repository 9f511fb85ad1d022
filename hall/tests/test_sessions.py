"""Staff and hall sessions never cross: a staff session opens nothing in the hall, a hall session nothing of the
staff pages, admin or the API — whichever cookie name a session key is put under."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from hall.tests.conftest import last_code
from hall.tests.factories import hall_client, person_account
from registry.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STAFF_PAGES = ["/", "/admin/", "/api/v1/persons/", "/cases/", "/contributions/bills/", "/hall-accounts/"]
HALL_PAGES = ["hall:me", "hall:record", "hall:certificates", "hall:applications", "hall:messages", "hall:employer"]


def _opens_nothing_of_staff(client: Client) -> None:
    for url in STAFF_PAGES:
        response = client.get(url)
        assert response.status_code in (302, 401, 403), f"{url} gave {response.status_code}"
        if response.status_code == 302:
            assert "login" in response["Location"], url


def test_a_hall_session_opens_nothing_of_the_staff_side():
    account = person_account()
    client = hall_client(account)
    assert client.get(reverse("hall:me")).status_code == 200
    _opens_nothing_of_staff(client)
    # The hall session's key sent under the staff cookie's name: still nobody on the staff side.
    client.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.HALL_SESSION_COOKIE_NAME].value
    _opens_nothing_of_staff(client)


def test_a_staff_session_opens_nothing_in_the_hall():
    staff = UserFactory(is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/").status_code == 200
    for name in HALL_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("hall:login")), name
    # The staff session's key sent under the hall cookie's name: the hall finds no account in it.
    client.cookies[settings.HALL_SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    for name in HALL_PAGES:
        assert client.get(reverse(name)).status_code == 302, name
    page = client.get(reverse("hall:home")).content.decode()
    assert staff.username not in page


def test_the_hall_cookie_belongs_to_the_hall_path_only():
    account = person_account()
    client = Client()
    client.post(reverse("hall:login"), {"phone": account.phone, "password": "Hall#pass2026"})
    response = client.post(reverse("hall:login_code"), {"code": last_code()})
    cookie = response.cookies[settings.HALL_SESSION_COOKIE_NAME]
    assert cookie["path"] == "/hall/" and cookie["httponly"]
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_logout_ends_the_hall_session():
    client = hall_client(person_account())
    client.post(reverse("hall:logout"))
    assert client.get(reverse("hall:me")).status_code == 302


def test_a_password_change_ends_other_sessions():
    account = person_account()
    client = hall_client(account)
    account.password = "changed"
    account.save(update_fields=["password"])
    assert client.get(reverse("hall:me")).status_code == 302
