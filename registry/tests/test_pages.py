"""The helpers every app's pages share."""

from django.test import RequestFactory

from registry.pages import query_string_without_page


def test_the_pager_query_keeps_every_filter_but_the_page():
    request = RequestFactory().get("/x/", {"q": "黄岩", "status": ["open", "closed"], "page": "3"})
    assert query_string_without_page(request) == "q=%E9%BB%84%E5%B2%A9&status=open&status=closed&"
    assert query_string_without_page(RequestFactory().get("/x/", {"page": "2"})) == ""
    assert query_string_without_page(RequestFactory().get("/x/")) == ""
