"""One-time form tokens: a write form carries a token; the first submit claims it, a second submit of the same form
(back button, double click, two tabs) finds it claimed and is sent to the result of the first.

The claim is ``cache.add`` (atomic in Redis and in the local-memory cache), so two requests at the same moment cannot
both win. A failed write releases the token, so that the clerk corrects the form and submits it again. The database
constraint case_open_once is the backstop when the cache is lost.
"""

from __future__ import annotations

import secrets

from django import forms
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

TOKEN_FIELD = "form_token"  # noqa: S105 - a form field name
TIMEOUT_SECONDS = 24 * 3600
PENDING = "pending"


def token_new() -> str:
    return secrets.token_urlsafe(18)


def _key(token: str) -> str:
    return f"form-token:{token}"


class TokenClaim:
    """The outcome of claiming a token: ``won`` (go on and write), or the earlier result's URL (or pending)."""

    def __init__(self, token: str, won: bool, earlier: str | None):
        self.token, self.won, self.earlier = token, won, earlier

    def release(self) -> None:
        if self.won and self.token:
            cache.delete(_key(self.token))

    def done(self, url: str) -> None:
        if self.token:
            cache.set(_key(self.token), url, TIMEOUT_SECONDS)


def token_claim(token: str) -> TokenClaim:
    if not token:  # a client without the form (tests, scripts): the database's uniqueness still applies
        return TokenClaim("", True, None)
    if cache.add(_key(token), PENDING, TIMEOUT_SECONDS):
        return TokenClaim(token, True, None)
    earlier = cache.get(_key(token))
    return TokenClaim(token, False, None if earlier in (None, PENDING) else earlier)


class FormTokenMixin(forms.Form):
    """Adds the hidden one-time token; a fresh token each time the form is shown unbound or re-shown with errors."""

    form_token = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["form_token"].initial = token_new()

    def token(self) -> str:
        return (getattr(self, "cleaned_data", {}) or {}).get("form_token") or ""

    def fresh_token(self) -> None:
        """Show the form again with a new token (the old one was released or used)."""
        if self.is_bound:
            data = self.data.copy()
            data[self.add_prefix(TOKEN_FIELD)] = token_new()
            self.data = data


ALREADY_SUBMITTED = _("该表单已经提交过，已为您打开第一次提交的结果。")
STILL_RUNNING = _("该表单正在提交，请勿重复提交。")
