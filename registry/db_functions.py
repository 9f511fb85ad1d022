"""Database expressions shared by models (indexes) and selectors (queries that must match those indexes)."""

from __future__ import annotations

from django.db.models import CharField, Func


class ByteOrder(Func):
    """A text expression compared and sorted byte by byte: ``COLLATE "C"`` on PostgreSQL, ``BINARY`` on SQLite.

    Pinyin keys are lower-case ASCII, which every collation sorts alike, so the order users see does not
    change. What byte order adds: PostgreSQL serves a prefix range *and* the ORDER BY from one B-tree index
    only when index, condition and ORDER BY all use a "C" collation (the database default, even
    C.UTF-8, does not count as one before PostgreSQL 17). An index and the queries meant to use it must
    both be written with this expression. (Not a subclass of Django's ``Collate``: inside an index that
    one is taken for a wrapper around a column, and subclasses of it are refused there.)
    """

    template = "%(expressions)s COLLATE %(collation)s"
    output_field = CharField()

    def as_sql(self, compiler, connection, **extra_context):
        extra_context.setdefault("collation", connection.ops.quote_name("C"))
        return super().as_sql(compiler, connection, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, collation="BINARY", **extra_context)


# Office.path is '/<city code>/<district code>/<township code>/…/' (registry.models.Office), city and district
# codes of 6 digits: the district code starts after '/331000/', at character 9 (SQL counts from 1).
_DISTRICT_CODE_START = len("/331000/") + 1
_DISTRICT_CODE_LENGTH = 6


def office_district_code_sql(path: str) -> str:
    """SQL for the district code of the office path ``path`` (a column or expression, e.g. ``"o.path"``):
    '331003' for the district and everything under it, '' for the city office — ``Office.district_code`` in SQL,
    for set-based statements that join district-level parameters or accounts."""
    return f"substr({path}, {_DISTRICT_CODE_START}, {_DISTRICT_CODE_LENGTH})"
