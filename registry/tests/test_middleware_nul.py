"""A NUL character (U+0000) in a URL, a query string or a form is refused before any view: PostgreSQL stores
no NUL in text and psycopg refuses one as a query parameter, so a NUL that reached a filter or a save was a 500."""

import pytest
from rest_framework.test import APIClient

from registry.models import Person
from registry.tests.factories import PersonFactory, township_of
from registry.tests.helpers import ERROR_KEYS, page_client_for


@pytest.mark.django_db
def test_a_nul_in_a_page_query_is_a_400_page_naming_the_field(huangyan_clerk):
    PersonFactory(residence_office=township_of("331003"), name="张伟")
    client = page_client_for(huangyan_clerk)
    assert client.get("/persons/", {"q": "张伟"}).status_code == 200
    response = client.get("/persons/", {"q": "张\x00伟"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "“q”含有空字符（NUL）" in page and 'data-testid="bad-request-message"' in page
    assert huangyan_clerk.office.name in page  # an ordinary page of the system: the clerk's office is shown


@pytest.mark.django_db
def test_a_nul_in_a_form_or_a_field_name_is_a_400_and_nothing_is_written(huangyan_clerk):
    person = PersonFactory(residence_office=township_of("331003"))
    client = page_client_for(huangyan_clerk)
    before = Person.objects.count()
    response = client.post(f"/persons/{person.uid}/reveal-id/", {"reason": "核对\x00身份"})
    assert response.status_code == 400 and "“reason”含有空字符" in response.content.decode()
    response = client.post(f"/persons/{person.uid}/reveal-id/", {"rea\x00son": "核对"})
    assert response.status_code == 400 and "“rea\\0son”" in response.content.decode()
    assert Person.objects.count() == before


@pytest.mark.django_db
def test_the_api_checks_its_own_parameters_and_gets_its_uploads_unread(huangyan_clerk):
    # The middleware leaves API fields to the filters and serializers (a multipart upload streams past it):
    # they too refuse a NUL with the field named, in the error format.
    client = APIClient()
    client.force_authenticate(huangyan_clerk)
    assert client.get("/api/v1/persons/", {"name": "张"}).status_code == 200
    response = client.get("/api/v1/persons/", {"name": "张\x00"})
    assert response.status_code == 400
    body = response.json()
    assert tuple(body) == ERROR_KEYS and "name" in body["errors"] and body["request_id"]


def test_the_page_message_has_english():
    from django.utils import translation

    with translation.override("en"):
        from registry.middleware import _  # the gettext the middleware uses

        english = _("“%(field)s”含有空字符（NUL），请删除后重新提交。") % {"field": "q"}
    assert english == "“q” contains a NUL character; remove it and submit again."


@pytest.mark.django_db
def test_a_nul_in_the_url_names_no_record_404(huangyan_clerk):
    assert page_client_for(huangyan_clerk).get("/verify/ABCD-EFGH%00/").status_code == 404
    client = APIClient()
    client.force_authenticate(huangyan_clerk)
    response = client.get("/api/v1/offices/331003%00/")
    assert response.status_code == 404 and tuple(response.json()) == ERROR_KEYS
