"""Request body parsers of the API: JSON with a limit on nesting depth.

A 2 KB body of 1,000 nested arrays made Python's JSON decoder (or the validation walking the result) exceed
the interpreter's recursion limit: a RecursionError, which DRF's parser does not catch — a 500. Here a body
nested deeper than ``API_JSON_MAX_DEPTH`` (32; no request of this API needs more than 4) is a 400 parse error,
checked without recursion.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


def json_depth_exceeds(data, limit: int) -> bool:
    """Whether ``data`` (parsed JSON) nests lists/objects deeper than ``limit``; iterative, so any depth is safe."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class DepthLimitedJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_JSON_MAX_DEPTH
        message = _("嵌套层数超过 %(limit)s 层。") % {"limit": limit}
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(message) from None
        if json_depth_exceeds(data, limit):
            raise ParseError(message)
        return data
