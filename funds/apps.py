from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FundsConfig(AppConfig):
    name = "funds"
    verbose_name = _("基金")

    def ready(self) -> None:
        # Registers this app's Celery tasks by name in every process (services queue them by name:
        # registry.task_queue). In ready(): a tasks module imports services and models.
        from funds import tasks  # noqa: F401
