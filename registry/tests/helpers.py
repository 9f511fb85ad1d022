"""Helpers every app's tests share: a client signed in as a user, and the API's one error format.

Importable from any app's tests (``from registry.tests.helpers import assert_error, client_for``): registry is
the kernel every app may import.
"""

from __future__ import annotations

import pathlib
import re

from django.apps import apps
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

# The API's error body (registry/api/errors.py), keys in this order.
ERROR_KEYS = ("code", "message", "message_en", "errors", "errors_en", "request_id")
_CJK = re.compile(r"[\u3400-\u9fff]")


def project_apps() -> tuple[str, ...]:
    """The project's own apps (every installed app whose folder is in the project) and its settings package: the
    tests that check the whole code (import circles, function lengths, shared helpers, SQL) take a new app in
    without being told."""
    root = pathlib.Path(settings.BASE_DIR).resolve()
    own = tuple(c.name for c in apps.get_app_configs() if pathlib.Path(c.path).resolve().parent == root)
    return ("taizhou_si", *own)


def client_for(user) -> APIClient:
    """An API client authenticated as ``user`` (no session, no second factor: the API's own tests do those)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def page_client_for(user) -> Client:
    """A browser-like client signed in as ``user`` (a session: pages, and the API through session auth)."""
    client = Client()
    client.force_login(user)
    return client


def assert_error(
    response,
    status: int,
    field: str | None = None,
    contains: str | None = None,
    *,
    code: str | None = None,
    bilingual: bool = False,
) -> dict:
    """The one error format: JSON, a message and its English, field errors in both languages (as many), the request
    id of the response header; ``field`` among the errors (its messages containing ``contains``), ``code``.
    ``bilingual``: also the message is Chinese and no English one holds a Chinese character (an English field
    message may quote Chinese data, a name, so this is for errors that carry none)."""
    assert response.status_code == status, response.content.decode()
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert tuple(body) == ERROR_KEYS, body
    assert body["message"] and body["message_en"], body
    assert set(body["errors_en"]) == set(body["errors"]), body
    for name, messages in body["errors"].items():
        assert messages and all(isinstance(m, str) and m for m in messages), body
        assert len(body["errors_en"][name]) == len(messages), body
    assert body["request_id"] and body["request_id"] == response["X-Request-ID"], body
    if bilingual:
        assert _CJK.search(body["message"]), body
        assert not _CJK.search(body["message_en"]), body
        assert all(not _CJK.search(m) for messages in body["errors_en"].values() for m in messages), body
    if code is not None:
        assert body["code"] == code, body
    if field is not None:
        assert field in body["errors"], body
        if contains is not None:
            assert contains in " ".join(body["errors"][field]), body["errors"][field]
    return body
