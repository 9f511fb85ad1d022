from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = _("政策参数")

    def ready(self) -> None:
        from . import signals

        signals.connect()
