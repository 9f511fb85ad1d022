"""The statutory holidays and make-up working days (调休) of 2016–2026 from the ``holidays`` package.

The package carries the State Council's yearly schedules (国务院办公厅关于部分节假日安排的通知) for
these years: holidays as dates and the weekend days worked as ``weekend_workdays``. Later years are
entered by administrators in admin when announced (or loaded with the admin action once a newer package
knows them); until then such a year counts weekends only and the case pages warn.
"""

from django.db import migrations

YEARS = range(2016, 2027)


def load(apps, schema_editor):
    import holidays

    CalendarYear = apps.get_model("cases", "CalendarYear")
    CalendarDay = apps.get_model("cases", "CalendarDay")
    for year in YEARS:
        china = holidays.China(years=[year], language="zh_CN")
        workdays = sorted(d for d in china.weekend_workdays if d.year == year)
        if not workdays:
            continue  # the installed package does not know this year's schedule: leave it to the administrators
        calendar = CalendarYear.objects.create(
            year=year, source="package", note=f"由 holidays {holidays.__version__} 载入（国务院办公厅放假安排）"
        )
        rows = [
            CalendarDay(calendar=calendar, date=d, kind="holiday", name=str(name)[:60])
            for d, name in sorted(china.items())
            if d.year == year
        ]
        rows += [CalendarDay(calendar=calendar, date=d, kind="workday", name="调休上班") for d in workdays]
        CalendarDay.objects.bulk_create(rows)


def unload(apps, schema_editor):
    apps.get_model("cases", "CalendarYear").objects.filter(year__in=list(YEARS), source="package").delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_load_catalogue")]

    operations = [migrations.RunPython(load, unload)]
