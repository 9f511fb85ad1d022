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


@pytest.fixture(autouse=True)
def _security_defaults_for_tests(settings):
    """Counters of failed API-key attempts outlive a test in the shared cache: ordinary tests (schemathesis sends
    hundreds of bad keys from 127.0.0.1) get a limit they never reach; tests/test_security_holes.py sets its own.
    Webhook tests post to a receiver on 127.0.0.1 over http and register example hosts that do not resolve."""
    settings.API_KEY_FAILURE_LIMIT = 1_000_000
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOK_ALLOWED_HOSTS = ["hy.example", "lq.example", "x.example", "hy-si.example.gov.cn"]


@pytest.fixture(autouse=True)
def _force_login_passes_the_second_factor(request, monkeypatch):
    """``client.force_login``/``client.login`` sessions count as having passed the second factor, so the many tests
    that sign in an administrator or city-level user that way test their page, not the login. The real login (the
    form, then the code) is tested in tests/test_security_*.py, which post the login form instead."""
    if "real_second_factor" in request.keywords:
        return
    from django.test.client import ClientMixin

    from registry.security.twofactor import SESSION_DEVICE, SESSION_REQUIRED

    original = ClientMixin._login

    def _login(self, user, backend=None):
        original(self, user, backend)
        session = self.session
        if session.get(SESSION_REQUIRED):
            session[SESSION_DEVICE] = "tests.force_login"
            session.save()

    monkeypatch.setattr(ClientMixin, "_login", _login)


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
