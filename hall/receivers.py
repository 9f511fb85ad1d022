"""A case event the applicant should hear of (accepted, 补正, completed, rejected) queues the hall's notification
task after the commit; the task writes the message once (its key) and sends the SMS."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from cases.models import CaseAction, CaseEvent
from registry.task_queue import task_enqueue_on_commit

NOTIFIED_ACTIONS = frozenset({CaseAction.ACCEPT, CaseAction.CORRECT, CaseAction.COMPLETE, CaseAction.REJECT})


@receiver(post_save, sender=CaseEvent, dispatch_uid="hall.case_event_notify")
def on_case_event(sender, instance: CaseEvent, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw and instance.action in NOTIFIED_ACTIONS:
        task_enqueue_on_commit("hall.case_event_notify", instance.pk)
