"""Celery tasks of the registry: thin wrappers that take ids and call a service."""

from celery import shared_task

from . import services


@shared_task(name="registry.person_pinyin_refresh", acks_late=True, autoretry_for=(Exception,), max_retries=3)
def person_pinyin_refresh(person_ids: list[int]) -> int:
    return services.person_pinyin_refresh(person_ids=person_ids)
