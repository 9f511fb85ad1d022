from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EvaluationConfig(AppConfig):
    name = "evaluation"
    verbose_name = _("评价考核与统计")

    def ready(self) -> None:
        # Registers this app's Celery tasks by name in every process (registry.task_queue queues by name).
        # The 时限监察 panel on the clerk's home page: cases shows it without depending on evaluation.
        from cases.counter.panels import home_panel_register
        from evaluation import tasks  # noqa: F401
        from evaluation.views import supervision_panel

        home_panel_register(supervision_panel)
