from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsolidationConfig(AppConfig):
    name = "consolidation"
    verbose_name = _("数据大集中")

    def ready(self) -> None:
        # Registers this app's Celery tasks by name in every process (services queue them by name:
        # registry.task_queue). In ready(): the tasks module imports services and models.
        from consolidation import tasks  # noqa: F401
