from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EvaluationConfig(AppConfig):
    name = "evaluation"
    verbose_name = _("评价考核与统计")

    def ready(self) -> None:
        # Registers this app's Celery tasks by name in every process (registry.task_queue queues by name).
        from evaluation import tasks  # noqa: F401
