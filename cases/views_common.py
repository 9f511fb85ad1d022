"""Helpers shared by the pages and the API of cases."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.utils.http import content_disposition_header

from .models import Attachment


def public_base_url(request) -> str:
    """Where the public verification page is reached: ``PUBLIC_BASE_URL`` (setting) or this request's host."""
    configured = getattr(settings, "PUBLIC_BASE_URL", "") or ""
    return configured.rstrip("/") or request.build_absolute_uri("/").rstrip("/")


def attachment_response(attachment: Attachment, content: bytes) -> HttpResponse:
    """Always a download, never rendered inline; the browser must not sniff another type."""
    response = HttpResponse(content, content_type=attachment.content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=attachment.original_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["Content-Length"] = str(len(content))
    return response
