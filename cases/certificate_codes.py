"""The verification code and signature of a certificate, and its public check address.

Pure helpers under both the service that issues certificates (``services.certificates``) and the selector
that verifies one (``selectors.certificate_verify``): the code is random (16 characters without
look-alikes); the signature is an HMAC (SECRET_KEY) over content, code and PDF hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from django.conf import settings
from django.urls import reverse

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 16


def certificate_code_normalize(raw: str) -> str:
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())


def certificate_signature(*, content: dict, code: str, pdf_sha256: str) -> str:
    message = json.dumps({"content": content, "code": code, "pdf": pdf_sha256}, ensure_ascii=False, sort_keys=True)
    return hmac.new(settings.SECRET_KEY.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_path(code: str) -> str:
    return reverse("cases_verify_code", kwargs={"code": code})


def verify_url(code: str, public_base_url: str = "") -> str:
    base = (public_base_url or getattr(settings, "PUBLIC_BASE_URL", "") or "").rstrip("/")
    return f"{base}{verify_path(code)}"
