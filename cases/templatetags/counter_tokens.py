"""``{% form_token %}``: the hidden one-time token of a write form (cases.counter.tokens)."""

from django import template
from django.utils.html import format_html

from cases.counter.tokens import TOKEN_FIELD, token_new

register = template.Library()


@register.simple_tag
def form_token() -> str:
    return format_html('<input type="hidden" name="{}" value="{}">', TOKEN_FIELD, token_new())
