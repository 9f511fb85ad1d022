import os

import pytest
from django.conf import settings


def pytest_collection_modifyitems(config, items):
    on_pg = settings.IS_POSTGRES
    has_redis = bool(settings.REDIS_URL)
    has_chromium = os.path.exists(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://… (SQLite is in use)")
    skip_redis = pytest.mark.skip(reason="needs Redis and a Celery worker: set REDIS_URL=redis://…")
    skip_browser = pytest.mark.skip(reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    for item in items:
        if "postgres" in item.keywords and not on_pg:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not has_redis:
            item.add_marker(skip_redis)
        if "browser" in item.keywords and not has_chromium:
            item.add_marker(skip_browser)


@pytest.fixture(autouse=True)
def _no_axes_lockout_between_tests(settings):
    settings.AXES_ENABLED = True


def pytest_configure(config):
    # Also outside test functions (a module fixture reloading the migrations' data fires the change-feed signals):
    # tasks run in-process and never leave messages in the broker for the one test that starts a real worker.
    from taizhou_si.celery import app

    app.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def _celery_eager_unless_real_worker(request):
    """Tasks run in-process in ordinary tests; tests marked ``redis`` use the real broker and a worker."""
    from taizhou_si.celery import app

    eager = "redis" not in request.keywords
    old = app.conf.task_always_eager
    app.conf.task_always_eager = eager or not settings.REDIS_URL
    yield
    app.conf.task_always_eager = old


@pytest.fixture
def huangyan_clerk(db):
    from registry.tests.factories import UserFactory, township_of

    return UserFactory(username="hy_clerk", office=township_of("331003").parent)


@pytest.fixture
def luqiao_clerk(db):
    from registry.tests.factories import UserFactory, township_of

    return UserFactory(username="lq_clerk", office=township_of("331004").parent)


@pytest.fixture
def city_admin(db):
    from registry import roles
    from registry.models import Office
    from registry.tests.factories import UserFactory

    return UserFactory(
        username="city_admin", office=Office.objects.get(level=1), roles=[roles.CITY_ADMIN], is_staff=True
    )


# Password hashing dominates factory-made users; tests do not need a slow hasher.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Each test process (pytest-xdist worker) has its own test database, so it needs its own cache keys:
# a shared Redis must never serve one worker's cached parameters to another.
settings.CACHES = {
    **settings.CACHES,
    "default": {
        **settings.CACHES["default"],
        "KEY_PREFIX": f"tzsi-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}",
    },
}


@pytest.fixture(scope="module")
def _restore_migration_data(django_db_blocker):
    """A transactional test ends with an emptied database; put back what the migrations loaded (offices, roles,
    parameters, the catalogue, the calendar) once the module's tests are done, for the tests that follow."""
    yield
    from django.db import connection

    contents = getattr(connection, "_test_serialized_contents", None)
    if contents:
        with django_db_blocker.unblock():
            connection.creation.deserialize_db_from_string(contents)
