"""Chinese column headers for the administrators' import/export files (django-import-export resources).

A resource with ``ChineseHeaders`` writes each column under a Chinese heading — its entry in ``HEADERS``, else the
model field's verbose name — and reads a file with either the Chinese heading or the English field name used
before (files kept from earlier exports still import)."""

from __future__ import annotations

from typing import Any


class ChineseHeaders:
    """Mixin for a ``resources.ModelResource``: Chinese headings out, Chinese or English headings in."""

    HEADERS: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._english_headers: dict[str, str] = {}
        for name, field in self.fields.items():
            chinese = self._heading(name, field)
            if chinese and chinese != field.column_name:
                self._english_headers[field.column_name] = chinese
                field.column_name = chinese

    def _heading(self, name: str, field: Any) -> str:
        if name in self.HEADERS:
            return str(self.HEADERS[name])
        model = self._meta.model
        attribute = (field.attribute or name).split("__")[0]
        try:
            return str(model._meta.get_field(attribute).verbose_name)
        except Exception:  # not a model field (a computed column): keep its name
            return field.column_name

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        if dataset.headers:
            dataset.headers = [self._english_headers.get(str(h).strip(), h) for h in dataset.headers]
        super().before_import(dataset, **kwargs)
