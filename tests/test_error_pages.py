"""With DEBUG off a clerk gets the error pages in Chinese, in the site's layout: 403 (no permission), 404 (no such
page or record, or outside his jurisdiction) and 500 (a bug: nothing saved, logged)."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from registry import roles
from registry.tests.factories import UserFactory, township_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk_client(settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(office=township_of("331003"), roles=[roles.COUNTER_CLERK]))
    return client


def _page(response) -> str:
    body = response.content.decode()
    assert "台州市区社保一体化" in body and 'class="topbar"' in body  # the site's layout
    return body


def test_404_is_chinese_in_the_layout(clerk_client):
    response = clerk_client.get("/no-such-page/")
    assert response.status_code == 404
    body = _page(response)
    assert "页面不存在（404）" in body and 'data-status="404"' in body
    record = clerk_client.get(reverse("cases_detail", kwargs={"uid": uuid.uuid4()}))
    assert record.status_code == 404 and "页面不存在" in _page(record)


def test_403_is_chinese_in_the_layout(clerk_client):
    response = clerk_client.get(reverse("funds_dashboard"))  # a counter clerk has no fund pages
    assert response.status_code == 403
    assert "无权访问（403）" in _page(response)


def test_500_is_chinese_in_the_layout(clerk_client, settings):
    settings.ROOT_URLCONF = "tests.error_page_urls"
    response = clerk_client.get("/test-page-failure/")
    assert response.status_code == 500
    body = _page(response)
    assert "系统出错（500）" in body and "RuntimeError" not in body
