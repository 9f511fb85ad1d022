"""The file formats of the administrators' import and export (django-import-export; setting IMPORT_EXPORT_FORMATS):
CSV and xlsx only. Exports neutralise every text cell a spreadsheet would take for a formula (registry.spreadsheets;
the library's own option only strips a leading "="); an xlsx import is read in streaming mode within a web
request's limits, sizes and the sheet's dimension checked before any XML is parsed (registry.tables)."""

from __future__ import annotations

from typing import Any

import tablib
from django.utils.translation import gettext as _
from import_export.formats import base_formats

from registry.spreadsheets import row_neutralise
from registry.tables import TableError, TableLimits, xlsx_rows


def _neutralised(dataset: tablib.Dataset) -> tablib.Dataset:
    safe = tablib.Dataset(headers=dataset.headers, title=dataset.title)
    for row in dataset:
        safe.append(row_neutralise(row))
    return safe


class CSV(base_formats.CSV):
    """Named as the library's (tests and the admin's format list go by the name)."""

    def create_dataset(self, in_stream: Any, **kwargs: Any) -> tablib.Dataset:
        limits = TableLimits.web()
        if len(in_stream) > limits.max_bytes:
            raise TableError(_("文件超过 %(mb)s MB，无法在此读取。") % {"mb": limits.max_bytes // (1024 * 1024)})
        return super().create_dataset(in_stream, **kwargs)

    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> Any:
        return super().export_data(_neutralised(dataset), **kwargs)


class XLSX(base_formats.XLSX):
    def create_dataset(self, in_stream: bytes) -> tablib.Dataset:
        rows = xlsx_rows(in_stream, TableLimits.web())  # a TableError is shown on the import form
        dataset = tablib.Dataset()
        header = next(rows, None)
        if header is not None:
            dataset.headers = header
            width = len(header)
            for row in rows:
                if any(value is not None for value in row):
                    dataset.append((row + [None] * width)[:width])
        return dataset

    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> Any:
        return super().export_data(_neutralised(dataset), **kwargs)
