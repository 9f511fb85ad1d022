"""The helpers every app's pages share."""

from django import forms
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from registry.exceptions import ApplicationError, error_messages, error_messages_by_field
from registry.pages import form_errors_add, query_string_without_page


def test_the_pager_query_keeps_every_filter_but_the_page():
    request = RequestFactory().get("/x/", {"q": "黄岩", "status": ["open", "closed"], "page": "3"})
    assert query_string_without_page(request) == "q=%E9%BB%84%E5%B2%A9&status=open&status=closed&"
    assert query_string_without_page(RequestFactory().get("/x/", {"page": "2"})) == ""
    assert query_string_without_page(RequestFactory().get("/x/")) == ""


def test_a_refusal_flattens_to_its_messages_field_by_field():
    by_field = ValidationError({"a": ["甲 %(n)s"], "__all__": ["总"], "b": ["乙1", "乙2"]})
    by_field.error_dict["a"][0].params = {"n": 1}
    assert error_messages(by_field) == ["甲 1", "总", "乙1", "乙2"]
    assert error_messages(ValidationError(["一", "二"])) == ["一", "二"]
    assert error_messages(ApplicationError("不行")) == ["不行"]
    assert error_messages(RuntimeError("x")) == ["x"]
    assert error_messages_by_field(by_field) == {"a": ["甲 1"], "__all__": ["总"], "b": ["乙1", "乙2"]}
    assert error_messages_by_field(ValidationError("一")) == {"__all__": ["一"]}


def test_a_refusal_goes_next_to_its_field_or_on_top_of_the_form():
    class Form(forms.Form):
        name = forms.CharField(required=False)

    form = Form(data={})
    assert form.is_valid()
    form_errors_add(form, ValidationError({"name": ["名不对"], "office": ["无此机构"]}))
    assert form.errors == {"name": ["名不对"], "__all__": ["无此机构"]}
    form = Form(data={})
    form.is_valid()
    form_errors_add(form, ValidationError("整体不对"))
    assert form.non_field_errors() == ["整体不对"]
