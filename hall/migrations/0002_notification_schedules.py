"""The hall's daily notices as django-celery-beat tasks administrators can move or pause in admin: bills (issued,
due soon, overdue) at 08:30 and the resident pension grade season reminder at 09:00, Asia/Shanghai."""

from django.db import migrations

SCHEDULES = [
    (
        "网厅：账单通知（出账、即将到期、逾期）",
        "hall.bill_notices_run",
        "30",
        "8",
        "向有网厅账户的缴费人发送账单通知。",
    ),
    ("网厅：居民养老缴费档次选择提醒", "hall.grade_season_run", "0", "9", "选择季向尚未选择次年档次的人员发送提醒。"),
]


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minute, hour, description in SCHEDULES:
        crontab, _created = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
        )
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "crontab": crontab, "enabled": True, "description": description}
        )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("hall", "0001_hall_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
