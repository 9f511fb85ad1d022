"""Cache invalidation only: any saved or deleted document, parameter or value bumps the parameter cache version.

No business rule lives here; the services validate before they save.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_migrate, post_save

from .cache import parameters_changed
from .models import Parameter, ParameterValue, PolicyDocument

_dispatch = "policies_parameters_changed"


def connect() -> None:
    for model in (PolicyDocument, Parameter, ParameterValue):
        post_save.connect(parameters_changed, sender=model, dispatch_uid=f"{_dispatch}_save_{model.__name__}")
        post_delete.connect(parameters_changed, sender=model, dispatch_uid=f"{_dispatch}_delete_{model.__name__}")
    # Reference data loaded by migrations bypasses the model signals.
    post_migrate.connect(parameters_changed, dispatch_uid=f"{_dispatch}_migrate")
