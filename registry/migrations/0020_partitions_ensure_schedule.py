"""The nightly creation of the months ahead of the tables partitioned by month (registry.partitions), at 02:40
Asia/Shanghai, as a django-celery-beat row administrators may move."""

from django.db import migrations

NAME = "数据库：提前创建接口调用记录和数据变更的月分区（每晚）"
TASK = "registry.partitions_ensure"
TIMEZONE = "Asia/Shanghai"


def load(apps, schema_editor):
    from django.utils import timezone

    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    schedule, _created = CrontabSchedule.objects.get_or_create(
        minute="40", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone=TIMEZONE
    )
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "crontab": schedule,
            "enabled": True,
            "description": "为按月分区的表（接口调用记录、数据变更）提前创建本月及之后 3 个月的分区（数据库属主的函数 registry_partitions_ensure）。",
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
        ("registry", "0019_partition_call_log_and_change_events"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(load, unload)]
