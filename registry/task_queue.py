"""Queueing a Celery task from a service, by the task's registered name.

A service queues work (a bill run, a bill export, a payment file, webhook dispatch) and its app's
``tasks.py`` calls that same service: importing the task object into the service would make tasks ↔
services an import circle. The service names the task instead (``"contributions.bill_run_execute"``); every
app's ``AppConfig.ready`` imports its tasks module, so the name is known in web and worker processes alike.
The task is sent after the commit (the worker must find the row), and runs at once, in-process, when
``CELERY_TASK_ALWAYS_EAGER`` (no ``REDIS_URL``: ``make run`` and the tests).
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction


def task_enqueue_on_commit(name: str, *args: Any) -> None:
    """Send task ``name`` with ``args`` when the current transaction commits (at once outside one)."""
    task = current_app.tasks[name]  # an unknown name fails here, inside the service, not after the commit
    transaction.on_commit(lambda: task.delay(*args))
