"""The nightly purge of the security log (rows beyond SECURITY_LOG_RETENTION_DAYS, never younger than 183 days)
and of stale session registrations, at 03:30 Asia/Shanghai, as a django-celery-beat row administrators may move."""

from django.db import migrations

NAME = "安全：清理过期的安全事件记录和登录会话（每晚）"
TASK = "registry.security_log_purge"
TIMEZONE = "Asia/Shanghai"


def load(apps, schema_editor):
    from django.utils import timezone

    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    schedule, _created = CrontabSchedule.objects.get_or_create(
        minute="30", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone=TIMEZONE
    )
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "crontab": schedule,
            "enabled": True,
            "description": "删除早于保留天数（设置项 SECURITY_LOG_RETENTION_DAYS，至少 183 天）的安全事件记录。",
            "args": "[]",
            "kwargs": "{}",
        },
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unload(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0013_security_log_append_only"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(load, unload)]
