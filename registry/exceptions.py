"""The project's own errors: a refusal a user is meant to read (HackSoft's ApplicationError is the model).

Services and rules raise these; they are turned into a response in two places only:

- pages: ``registry.middleware.ApplicationErrorMiddleware`` renders the message with the error's status
  (a view that shows a refusal in place, as a message on the page it redirects to, catches it itself);
- API: ``registry.api.errors.exception_handler`` writes the one error format with the error's status and code.

Field-level input errors stay Django's ``ValidationError`` (forms and serializers put them next to their
field). Python's built-in ``PermissionError`` is an ``OSError`` — a file the server may not write — and is
never raised for a business refusal: it must reach the logs as a server error, not a clerk as a message.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


class ApplicationError(Exception):
    """A refusal with a message for the user (Chinese, translatable); ``extra`` maps fields to messages."""

    status_code = 400
    code: str | None = None  # the API's error code; None: the one of the status (registry.api.errors)

    def __init__(self, message: Any, extra: dict[str, list[Any]] | None = None, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return str(self.message)

    @property
    def messages(self) -> list[str]:
        """Like ``ValidationError.messages``, so a page can join refusals of either kind."""
        return [str(self.message)]


class PermissionDeniedError(ApplicationError):
    """The user's role, office level or the two-person rule does not allow this action (403)."""

    status_code = 403


class ConflictError(ApplicationError):
    """The record's current state does not allow the request, e.g. an archived file that fails its checksum (409)."""

    status_code = 409


def error_messages(exc: Exception) -> list[str]:
    """Every message of a refusal, flat, field by field in order: a ValidationError's (each field's messages as
    they are: per-line ones name their line), an ApplicationError's, else the exception's text."""
    if isinstance(exc, ValidationError | ApplicationError):
        return [str(m) for m in exc.messages]
    return [str(exc)]


def error_messages_by_field(exc: ValidationError) -> dict[str, list[str]]:
    """A ValidationError's messages per field; one without fields under ``NON_FIELD_ERRORS`` ("__all__")."""
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for e in errors for m in e.messages] for field, errors in exc.error_dict.items()}
    return {NON_FIELD_ERRORS: [str(m) for m in exc.messages]}
