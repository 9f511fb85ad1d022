"""The working-day calendar now belongs to policies (policies 0005 took over its tables): state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0006_closed_cases_immutable_always"),
        ("policies", "0005_calendar_moved_from_cases"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(model_name="historicalcalendaryear", name="history_office"),
                migrations.RemoveField(model_name="historicalcalendaryear", name="history_user"),
                migrations.DeleteModel(name="CalendarDay"),
                migrations.DeleteModel(name="CalendarYear"),
                migrations.DeleteModel(name="HistoricalCalendarYear"),
            ],
        ),
    ]
