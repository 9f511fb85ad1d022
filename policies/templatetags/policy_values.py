"""``{% param_value resolved_or_value %}``: a parameter value as a small Chinese table (table values) or as text."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string

from policies.display import value_table
from policies.models import ParameterValue
from policies.selectors import display_value, parameter_shape
from policies.values import to_python

register = template.Library()


@register.simple_tag
def param_value(value: Any) -> str:
    """A ResolvedParameter or a ParameterValue: its table, or its text."""
    if value is None:
        return ""
    if isinstance(value, ParameterValue):
        shape, unit = value.parameter.shape, value.parameter.unit
        python, text = to_python(value.kind, shape, value.stored_value), value.value_text
    else:
        shape, unit = parameter_shape(value.code), value.unit
        python, text = value.value, display_value(value)
    table = value_table(shape, python, unit) if value.kind == "table" else None
    if table is None:
        return text
    return render_to_string("policies/_value_table.html", {"table": table})
