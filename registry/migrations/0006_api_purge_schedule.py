"""The nightly purges of the API tables as django-celery-beat rows (Asia/Shanghai): the call log beyond
API_CALL_LOG_RETENTION_DAYS at 03:10, expired Idempotency-Key records at 03:20. Administrators change times
in admin (周期任务); this migration only creates them."""

from django.db import migrations

TASKS = [
    # name, task, minute, hour, description
    (
        "接口：清理过期的调用记录（每晚）",
        "registry.api_call_log_purge",
        "10",
        "3",
        "删除早于保留天数（设置项 API_CALL_LOG_RETENTION_DAYS）的接口调用记录。",
    ),
    (
        "接口：清理过期的幂等键（每晚）",
        "registry.idempotency_record_purge",
        "20",
        "3",
        "删除超过有效期（设置项 IDEMPOTENCY_KEY_TTL_HOURS）的 Idempotency-Key 记录。",
    ),
]
TIMEZONE = "Asia/Shanghai"


def load(apps, schema_editor):
    from django.utils import timezone

    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, task, minute, hour, description in TASKS:
        schedule, _created = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone=TIMEZONE
        )
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "crontab": schedule,
                "enabled": True,
                "description": description,
                "args": "[]",
                "kwargs": "{}",
            },
        )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unload(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[t[0] for t in TASKS]).delete()
    for _name, _task, minute, hour, _description in TASKS:
        CrontabSchedule.objects.filter(
            minute=minute,
            hour=hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=TIMEZONE,
            periodictask__isnull=True,
        ).delete()


class Migration(migrations.Migration):
    # After 0007 (the latest registry migration when this was written), so the chain stays linear.
    dependencies = [
        ("registry", "0005_change_feed_webhooks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(load, unload)]
