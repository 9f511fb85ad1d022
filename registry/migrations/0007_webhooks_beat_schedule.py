"""Webhook dispatch as a django-celery-beat row: every 30 seconds, new change events are enqueued for each
subscription and due deliveries are sent. Administrators change the interval in admin (周期任务)."""

from django.db import migrations

NAME = "接口：Webhook 推送（每 30 秒）"
TASK = "registry.webhooks_dispatch"
EVERY, PERIOD = 30, "seconds"
DESCRIPTION = (
    "把新的数据变更加入各外部系统 Webhook 的投递队列，并投递到期的推送（失败按退避重试，多次失败后暂停待人工重投）。"
)


def load(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    schedule, _created = IntervalSchedule.objects.get_or_create(every=EVERY, period=PERIOD)
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "interval": schedule,
            "enabled": True,
            "description": DESCRIPTION,
            "args": "[]",
            "kwargs": "{}",
        },
    )
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unload(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()
    IntervalSchedule.objects.filter(every=EVERY, period=PERIOD, periodictask__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0006_api_purge_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(load, unload)]
