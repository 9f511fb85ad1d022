from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination


class StandardPagination(CursorPagination):
    """Cursor pagination: stable under concurrent inserts and cheap on millions of rows."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"

    def get_page_size(self, request):
        # DRF silently falls back to the default on a bad page_size; a caller's wrong type is a 400 here.
        # More than the maximum is still capped at the maximum, as documented.
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
            raise ValidationError({self.page_size_query_param: [_("每页条数应为正整数。")]})
        return min(int(raw), self.max_page_size)

    def get_paginated_response_schema(self, schema):
        result = super().get_paginated_response_schema(schema)
        properties = result["properties"]
        properties["next"]["description"] = "下一页的完整地址；已是最后一页时为 null"
        properties["previous"]["description"] = "上一页的完整地址；已是第一页时为 null"
        properties["results"] = {**properties["results"], "description": "本页记录"}
        result["required"] = ["next", "previous", "results"]
        return result

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.cursor_query_param:
                parameter["description"] = "分页游标：取自上一次响应的 next 或 previous 地址，不要自行构造"
            elif parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"每页条数，默认 {self.page_size}；超过 {self.max_page_size} 按 {self.max_page_size}"
                )
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
