"""The nightly statistics (evaluation.statistics_refresh) at 03:10 Asia/Shanghai, as a django-celery-beat task
administrators can move or pause in admin."""

from django.db import migrations

NAME = "统计分析：每晚汇总统计数据"


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute="10", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "evaluation.statistics_refresh",
            "crontab": crontab,
            "enabled": True,
            "description": "汇总参保人员、参保单位（本月、上月月末）和缴费、待遇、基金收支（近 24 个月），供统计分析页面和省级接口使用。",
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("evaluation", "0006_stat_cell"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
