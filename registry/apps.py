from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = _("参保登记（基础信息）")

    def ready(self) -> None:
        from simple_history.signals import pre_create_historical_record

        from registry import audit
        from registry.roles import roles_sync
        from registry.security.dbroles import grants_after_migrate

        post_migrate.connect(roles_sync, dispatch_uid="registry_roles_sync")
        post_migrate.connect(grants_after_migrate, dispatch_uid="registry_db_grants")
        pre_create_historical_record.connect(audit.history_record_office, dispatch_uid="registry_history_office")
        # Every model declaring change_feed_type writes the change feed in its own transaction (registry.feed.changes).
        from registry.feed.changes import change_feed_connect

        change_feed_connect()
        # Security log, sessions and the second factor at login (registry.security).
        from registry.security import receivers

        receivers.connect()
        # Registers the Celery tasks by name in every process (services queue them by name: registry.task_queue).
        from registry import tasks  # noqa: F401
