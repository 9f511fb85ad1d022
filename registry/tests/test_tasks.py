import time

import pytest
from django.db import transaction

from registry.models import Person
from registry.tasks import person_pinyin_refresh
from registry.tests.factories import PersonFactory


@pytest.mark.django_db
def test_pinyin_refresh_is_idempotent():
    person = PersonFactory(name="曾小明")
    Person.objects.filter(pk=person.pk).update(name_pinyin="wrong", name_initials="w")
    assert person_pinyin_refresh.delay([person.pk]).get() == 1
    person.refresh_from_db()
    assert (person.name_pinyin, person.name_initials) == ("cengxiaoming", "cxm")
    assert person_pinyin_refresh.delay([person.pk]).get() == 0


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_task_dispatched_on_commit_runs_on_a_real_worker_through_redis(_restore_migration_data):
    from celery.contrib.testing.worker import start_worker

    from taizhou_si.celery import app

    person = PersonFactory(name="单田芳")
    Person.objects.filter(pk=person.pk).update(name_pinyin="x", name_initials="x")
    results = []
    app.control.purge()  # this worker is to run this test's task, nothing another run left in the queue
    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, shutdown_timeout=20):
        with transaction.atomic():
            transaction.on_commit(lambda: results.append(person_pinyin_refresh.delay([person.pk])))
            assert results == []  # nothing is sent before the commit
        assert len(results) == 1  # sent after the commit
        # Task results are not kept (CELERY_TASK_IGNORE_RESULT: the records carry their state): the row tells.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not Person.objects.get(pk=person.pk).name_pinyin.endswith("tianfang"):
            time.sleep(0.1)
    person.refresh_from_db()
    assert person.name_pinyin.endswith("tianfang")
