"""Services queue Celery tasks by name (registry.task_queue), after the commit."""

import pytest
from celery.exceptions import NotRegistered

from registry.task_queue import task_enqueue_on_commit

pytestmark = pytest.mark.django_db


def test_every_app_registers_its_tasks_by_name_at_start_up():
    from celery import current_app

    for name in (
        "registry.webhooks_dispatch",
        "contributions.bill_run_execute",
        "contributions.bill_export_execute",
        "contributions.payment_file_process",
    ):
        assert name in current_app.tasks


def test_an_unknown_task_name_fails_in_the_service_not_after_the_commit():
    with pytest.raises(NotRegistered):
        task_enqueue_on_commit("contributions.no_such_task", 1)


def test_the_task_is_sent_when_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        task_enqueue_on_commit("registry.webhooks_dispatch")
    assert len(callbacks) == 1
    callbacks[0]()  # eager in tests: the dispatch runs (nothing to send) without error
