"""Forms of the registry's pages."""

from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator


class LoginForm(AuthenticationForm):
    """Django's login form with the user name's length checked. Django sets ``max_length`` on the field only
    after building it (no validator comes with it), so an over-long name went on to ``authenticate`` and
    django-axes's record of the failed login (a 255-character column) failed on PostgreSQL: a 500."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length))
