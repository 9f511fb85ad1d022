from rest_framework.pagination import CursorPagination


class StandardPagination(CursorPagination):
    """Cursor pagination: stable under concurrent inserts and cheap on millions of rows."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"
