import pytest
from django.test import Client

from hall.tests.factories import person_account

pytestmark = pytest.mark.django_db


def test_admin_lists_hall_accounts_read_only_with_masked_identity(city_admin):
    account = person_account()
    client = Client()
    client.force_login(city_admin)
    listed = client.get("/admin/hall/hallaccount/").content.decode()
    assert account.name in listed and account.phone not in listed
    page = client.get(f"/admin/hall/hallaccount/{account.pk}/change/").content.decode()
    assert account.id_number not in page and account.id_number[:6] + "********" in page
    assert client.get("/admin/hall/hallaccount/add/").status_code == 403
