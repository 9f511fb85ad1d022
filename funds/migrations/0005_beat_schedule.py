"""The nightly jobs of funds as django-celery-beat rows (Asia/Shanghai): income posting at 01:30, the early
warning at 02:00. Administrators change times in admin (周期任务); this migration only creates them."""

from django.db import migrations

TASKS = [
    # name, task, minute, hour, description
    (
        "基金：缴费及补贴收入入账（每晚）",
        "funds.contribution_income_post",
        "30",
        "1",
        "把截至运行时的到账分配和已缴清居民账单的财政补贴记入基金账（不会重复记账）。",
    ),
    (
        "基金：预警指标计算（每晚）",
        "funds.fund_warning_run",
        "0",
        "2",
        "计算前一日的可支付月数、当期结余、预算执行偏差和征缴率，新出现或升级的预警通知基金管理人员。",
    ),
]
TIMEZONE = "Asia/Shanghai"


def load(apps, schema_editor):
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
    from django.utils import timezone

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
    dependencies = [("funds", "0004_load_fund_parameters"), ("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(load, unload)]
