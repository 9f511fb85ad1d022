from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HallConfig(AppConfig):
    name = "hall"
    verbose_name = _("网上办事大厅")

    def ready(self) -> None:
        # Registers the Celery tasks by name and connects the case-event notifications (a CaseEvent saved → a
        # task after the commit). In ready(): both modules import models.
        from hall import receivers, tasks  # noqa: F401
