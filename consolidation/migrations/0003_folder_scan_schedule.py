"""The import folder's scan as a django-celery-beat row: every 5 minutes new batch folders (with their batch.json)
are registered and queued, and batches whose worker died are queued again. Administrators change the interval
in admin (周期任务)."""

from django.db import migrations

NAME = "数据大集中：扫描导入目录（每 5 分钟）"
TASK = "consolidation.import_folder_scan"
EVERY, PERIOD = 300, "seconds"
DESCRIPTION = "登记导入目录中新到的批次（含 batch.json 的子目录）并排队装载检查；重新排队处理进程已中断的批次。"


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
        ("consolidation", "0002_sql_functions"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(load, unload)]
