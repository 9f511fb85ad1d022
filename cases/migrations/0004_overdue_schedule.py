"""The nightly overdue report (cases.overdue_notify) at 01:30 Asia/Shanghai, as a django-celery-beat task
administrators can move or pause in admin."""

from django.db import migrations

NAME = "经办：每日超期办件通报"


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute="30", hour="1", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "cases.overdue_notify",
            "crontab": crontab,
            "enabled": True,
            "description": "列出各经办机构超过办结期限的办件，并通知机构负责人。",
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0003_load_calendar"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
