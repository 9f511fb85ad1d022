"""The nightly bill file for the collecting agency as a django-celery-beat row (02:30 Asia/Shanghai): the
current period for the city and each district, CSV in UTF-8. Administrators change the time or the formats
(task kwargs, e.g. {"formats": [["csv", "gbk"], ["xlsx", ""]]}) in admin (周期任务); this only creates it."""

import json

from django.db import migrations

NAME = "缴费：账单文件导出（每晚）"
TASK = "contributions.bill_exports_nightly"
MINUTE, HOUR = "30", "2"
TIMEZONE = "Asia/Shanghai"
DESCRIPTION = "导出当前所属期的账单文件（全市及各区各一份，含记录数、合计和 SHA-256 校验文件），供征收机构下载。"


def load(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    schedule, _created = CrontabSchedule.objects.get_or_create(
        minute=MINUTE, hour=HOUR, day_of_week="*", day_of_month="*", month_of_year="*", timezone=TIMEZONE
    )
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "crontab": schedule,
            "enabled": True,
            "description": DESCRIPTION,
            "args": "[]",
            "kwargs": json.dumps({"formats": [["csv", "utf-8"]]}),
        },
    )
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unload(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()
    CrontabSchedule.objects.filter(
        minute=MINUTE,
        hour=HOUR,
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=TIMEZONE,
        periodictask__isnull=True,
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("contributions", "0003_exchange_files"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(load, unload)]
