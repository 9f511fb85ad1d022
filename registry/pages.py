"""Small helpers every app's pages share (the API has its own in ``registry/api/``)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from registry.exceptions import error_messages_by_field
from registry.forms import PageForm


def page_number(query) -> str:
    """The ``page`` of a query string for ``Paginator.get_page``, read through a form like every page input; anything
    that is not a page number (text, too long) is left to ``get_page``, which turns it into the first or last page."""
    form = PageForm(query)
    return (form.cleaned_data["page"] if form.is_valid() else "") or "1"


def query_string_without_page(request: HttpRequest) -> str:
    """The current query without ``page``, ready to prefix ``page=N`` in pager links (``?{{ query_string }}page=2``)."""
    params = request.GET.copy()
    params.pop("page", None)
    encoded = params.urlencode()
    return f"{encoded}&" if encoded else ""


def form_errors_add(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: on the named field when the form has it, else on top."""
    for field, messages in error_messages_by_field(exc).items():
        form.add_error(field if field in form.fields else None, messages)
