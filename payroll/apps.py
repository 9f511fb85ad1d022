from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PayrollConfig(AppConfig):
    name = "payroll"
    verbose_name = _("待遇发放")

    def ready(self) -> None:
        # Registers this app's Celery tasks by name in every process (services queue them by name:
        # registry.task_queue). In ready(): a tasks module imports services and models.
        from payroll import tasks  # noqa: F401
