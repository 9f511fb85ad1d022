"""The daily supervision digest (evaluation.supervision_digest) at 07:30 Asia/Shanghai, as a django-celery-beat task
administrators can move or pause in admin."""

from django.db import migrations

NAME = "评价考核：每日时限监察日报"


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute="30", hour="7", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "evaluation.supervision_digest",
            "crontab": crontab,
            "enabled": True,
            "description": "向各经办机构负责人发送本机构及下级机构 2 个工作日内到期和已超期的办件清单。",
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("evaluation", "0004_statistics_permission"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
