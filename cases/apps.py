from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("经办")

    def ready(self) -> None:
        # Registers this app's Celery tasks by name in every process (services queue them by name:
        # registry.task_queue). In ready(): a tasks module imports services and models.
        from cases import tasks  # noqa: F401
