"""Small helpers every app's pages share (the API has its own in ``registry/api/``)."""

from __future__ import annotations

from django.http import HttpRequest


def query_string_without_page(request: HttpRequest) -> str:
    """The current query without ``page``, ready to prefix ``page=N`` in pager links (``?{{ query_string }}page=2``)."""
    params = request.GET.copy()
    params.pop("page", None)
    encoded = params.urlencode()
    return f"{encoded}&" if encoded else ""
