"""Queueing a Celery task from a service, by the task's registered name.

A service queues work (a bill run, a bill export, a payment file, webhook dispatch) and its app's
``tasks.py`` calls that same service: importing the task object into the service would make tasks ↔
services an import circle. The service names the task instead (``"contributions.bill_run_execute"``); every
app's ``AppConfig.ready`` imports its tasks module, so the name is known in web and worker processes alike.
The task is sent after the commit (the worker must find the row), and runs at once, in-process, when
``CELERY_TASK_ALWAYS_EAGER`` (no ``REDIS_URL``: ``make run`` and the tests).

A broker that cannot be reached (Redis down) never fails the write that queued the work: the record is
committed as queued, the request answers as usual, a warning is logged, and the sweeper
(``contributions.services.sweeper``) sends the task once the broker is back (docs/operations.md).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What a publish raises when the broker is unreachable (kombu wraps most; a bare socket error may get through).
BROKER_DOWN_ERRORS = (BrokerError, RedisError, ConnectionError, TimeoutError, OSError)


def task_send(name: str, *args: Any) -> bool:
    """Send task ``name`` now; False (and a logged warning) when the broker cannot be reached."""
    task = current_app.tasks[name]
    if current_app.conf.task_always_eager:
        task.delay(*args)  # in-process: its own errors are the caller's
        return True
    try:
        task.delay(*args)
    except BROKER_DOWN_ERRORS as exc:
        logger.warning("broker unreachable, task %s%r left for the sweeper: %s", name, args, exc)
        return False
    return True


def task_enqueue_on_commit(name: str, *args: Any) -> None:
    """Send task ``name`` with ``args`` when the current transaction commits (at once outside one)."""
    current_app.tasks[name]  # an unknown name fails here, inside the service, not after the commit
    transaction.on_commit(lambda: task_send(name, *args))
