"""Forms of the registry's pages."""

from __future__ import annotations

from django import forms
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


class PersonSearchForm(forms.Form):
    """The person search: an ID number, a name or a pinyin prefix (posted for ID numbers, GET for names)."""

    q = forms.CharField(required=False, max_length=100)
    page = forms.CharField(required=False, max_length=12)

    def values(self) -> tuple[str, str]:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return (data.get("q") or "").strip(), data.get("page") or "1"


class PageForm(forms.Form):
    """The page number of a paged list (Paginator.get_page takes care of a bad one); read by pages.page_number."""

    page = forms.CharField(required=False, max_length=20)


class NextForm(forms.Form):
    """Where to go after a form (checked against the host by the caller)."""

    next = forms.CharField(required=False, max_length=2000)

    @classmethod
    def target(cls, *sources) -> str:
        for data in sources:
            form = cls(data)
            if form.is_valid() and form.cleaned_data["next"]:
                return form.cleaned_data["next"]
        return ""
