"""The nightly office metrics job (evaluation.metrics_refresh) at 02:40 Asia/Shanghai, as a django-celery-beat task
administrators can move or pause in admin."""

from django.db import migrations

NAME = "评价考核：每晚计算机构月度指标"


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute="40", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "evaluation.metrics_refresh",
            "crontab": crontab,
            "enabled": True,
            "description": "重新计算本月和上月（未发布考核的）各经办机构的办件量、按时办结率、评价、征缴率等指标。",
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("evaluation", "0001_evaluation_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
