import pytest
from django.contrib.auth.models import Group

from policies.selectors import parameter_cache_clear
from registry import roles
from registry.models import Office, User


@pytest.fixture(autouse=True)
def _fresh_parameter_cache():
    # The cache outlives each test's rolled-back transaction; start and end every test clean.
    parameter_cache_clear()
    yield
    parameter_cache_clear()


def make_user(username: str, office_code: str, *role_names: str, **extra) -> User:
    roles.roles_sync()
    # No password: tests log in with force_login (hashing a password costs most of a test's time).
    user = User(username=username, office=Office.objects.get(code=office_code), **extra)
    user.set_unusable_password()
    user.save()
    user.groups.set(Group.objects.filter(name__in=role_names))
    return User.objects.get(pk=user.pk)  # fresh: no stale permission cache


@pytest.fixture
def officer(db):
    """A policy officer at the city office."""
    return make_user("officer", "331000", roles.POLICY_OFFICER, is_staff=True)


@pytest.fixture
def huangyan_officer(db):
    return make_user("hy_officer", "331003", roles.POLICY_OFFICER)


@pytest.fixture
def admin_a(db):
    return make_user("admin_a", "331000", roles.CITY_ADMIN, is_staff=True)


@pytest.fixture
def admin_b(db):
    return make_user("admin_b", "331000", roles.CITY_ADMIN, is_staff=True)


@pytest.fixture
def clerk(db):
    township = Office.objects.filter(level=3, parent__code="331003").order_by("code").first()
    return make_user("hy_clerk", township.code, roles.COUNTER_CLERK)


@pytest.fixture
def nobody(db):
    """A staff member without any role."""
    return make_user("no_role", "331003")
