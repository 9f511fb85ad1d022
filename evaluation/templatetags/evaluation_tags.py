"""Template helpers of the evaluation pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def pct(value) -> str:
    """A fraction as a percentage with two decimals (0.6667 → 66.67%); '—' when there is none."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)) * 100:.2f}%"
