import pytest
from django.core.management import call_command

from contributions.tests.factories import employ, huangyan_employer
from hall.models import HallAccount

pytestmark = pytest.mark.django_db


def test_demo_accounts_are_made_once():
    employ(huangyan_employer())
    call_command("hall_demo")
    assert set(HallAccount.objects.values_list("kind", "status")) == {
        ("person", "active"),
        ("employer_admin", "active"),
    }
    call_command("hall_demo")
    assert HallAccount.objects.count() == 2
