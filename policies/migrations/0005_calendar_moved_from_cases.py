"""The statutory working-day calendar moves from cases to policies (state only: the tables keep their names).

The State Council's yearly holiday notice is a policy document, and contributions needs the calendar for
due dates too. ``CalendarYear``, ``CalendarDay`` and the history of ``CalendarYear`` keep their tables
(``cases_calendaryear``, ``cases_calendarday``, ``cases_historicalcalendaryear``: ``db_table`` on the models);
cases 0007 removes them from cases' state. Their content types are renamed to policies, so the permissions
granted to roles and the admin log keep pointing at them. This one migration depends on a cases migration:
the tables it takes over are created there.
"""

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

MODELS = ("calendaryear", "calendarday", "historicalcalendaryear")


def _rename_content_types(apps, old: str, new: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not content_type.objects.filter(app_label=new, model=model).exists():
            content_type.objects.filter(app_label=old, model=model).update(app_label=new)


def forwards(apps, schema_editor):
    _rename_content_types(apps, "cases", "policies")


def backwards(apps, schema_editor):
    _rename_content_types(apps, "policies", "cases")


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0004_load_collection_parameters"),
        ("cases", "0005_closed_cases_immutable"),
        ("registry", "0011_change_event_cheaper_indexes"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="CalendarYear",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("year", models.PositiveSmallIntegerField(unique=True, verbose_name="年度")),
                        (
                            "source",
                            models.CharField(
                                choices=[("package", "holidays 软件包"), ("notice", "国务院办公厅通知（手工录入）")],
                                max_length=10,
                                verbose_name="来源",
                            ),
                        ),
                        (
                            "document",
                            models.CharField(
                                blank=True, help_text="如 国办发明电〔2025〕7号", max_length=100, verbose_name="文号"
                            ),
                        ),
                        ("note", models.CharField(blank=True, max_length=300, verbose_name="说明")),
                        ("updated_at", models.DateTimeField(auto_now=True, verbose_name="更新时间")),
                    ],
                    options={
                        "verbose_name": "节假日安排（年度）",
                        "verbose_name_plural": "节假日安排",
                        "db_table": "cases_calendaryear",
                        "ordering": ["-year"],
                    },
                ),
                migrations.CreateModel(
                    name="CalendarDay",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("date", models.DateField(unique=True, verbose_name="日期")),
                        (
                            "kind",
                            models.CharField(
                                choices=[("holiday", "放假"), ("workday", "调休上班")],
                                max_length=8,
                                verbose_name="类型",
                            ),
                        ),
                        ("name", models.CharField(blank=True, max_length=60, verbose_name="名称")),
                        (
                            "calendar",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="days",
                                to="policies.calendaryear",
                                verbose_name="年度",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "节假日/调休日",
                        "verbose_name_plural": "节假日/调休日",
                        "db_table": "cases_calendarday",
                        "ordering": ["date"],
                    },
                ),
                migrations.CreateModel(
                    name="HistoricalCalendarYear",
                    fields=[
                        ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                        ("year", models.PositiveSmallIntegerField(db_index=True, verbose_name="年度")),
                        (
                            "source",
                            models.CharField(
                                choices=[("package", "holidays 软件包"), ("notice", "国务院办公厅通知（手工录入）")],
                                max_length=10,
                                verbose_name="来源",
                            ),
                        ),
                        (
                            "document",
                            models.CharField(
                                blank=True, help_text="如 国办发明电〔2025〕7号", max_length=100, verbose_name="文号"
                            ),
                        ),
                        ("note", models.CharField(blank=True, max_length=300, verbose_name="说明")),
                        ("updated_at", models.DateTimeField(blank=True, editable=False, verbose_name="更新时间")),
                        ("history_id", models.AutoField(primary_key=True, serialize=False)),
                        ("history_date", models.DateTimeField(db_index=True)),
                        ("history_change_reason", models.TextField(null=True)),
                        (
                            "history_type",
                            models.CharField(
                                choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1
                            ),
                        ),
                        (
                            "history_office",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="registry.office",
                                verbose_name="操作机构",
                            ),
                        ),
                        (
                            "history_user",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "historical 节假日安排（年度）",
                        "verbose_name_plural": "historical 节假日安排",
                        "db_table": "cases_historicalcalendaryear",
                        "ordering": ("-history_date", "-history_id"),
                        "get_latest_by": ("history_date", "history_id"),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
