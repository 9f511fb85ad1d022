from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContributionsConfig(AppConfig):
    name = "contributions"
    verbose_name = _("征缴")

    def ready(self) -> None:
        # Registers this app's Celery tasks by name in every process (services queue them by name:
        # registry.task_queue). In ready(): a tasks module imports services and models.
        from contributions import tasks  # noqa: F401
        from registry.partitions import period_partitioned_register

        # The bill lines are partitioned by period (migration 0018): the nightly job makes their months ahead.
        period_partitioned_register(self.get_model("BillLine")._meta.db_table, "period")
