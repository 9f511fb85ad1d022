"""Template helpers of the evaluation pages (and the supervision panel other pages include)."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils import timezone

from ..forms import EscalateForm
from ..selectors import supervision_cases

register = template.Library()


@register.filter
def pct(value) -> str:
    """A fraction as a percentage with two decimals (0.6667 → 66.67%); '—' when there is none."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)) * 100:.2f}%"


@register.inclusion_tag("evaluation/_supervision_panel.html", takes_context=True)
def supervision_panel(context) -> dict:
    """The office head's time-limit panel (时限监察) for any page: ``{% load evaluation_tags %}{% supervision_panel %}``.
    Empty for anyone who may not escalate (only office heads and city administrators see it)."""
    user = context.get("user")
    office = getattr(user, "office", None)
    if office is None or not user.has_perm("cases.add_caseescalation"):
        return {"show": False}
    return {
        "show": True,
        "office": office,
        "supervision": supervision_cases(office=office, today=timezone.localdate()),
        "form": EscalateForm(),
        "csrf_token": context.get("csrf_token"),
    }
