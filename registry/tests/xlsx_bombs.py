"""Hostile xlsx files for the tests of registry.tables (issue 14, fault 5), built without openpyxl's help."""

from __future__ import annotations

import io
import zipfile

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/></Relationships>'
)
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _sheet(dimension: str | None, rows: str) -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}>{dim}<sheetData>{rows}</sheetData></worksheet>'


def xlsx(sheet: str, shared_strings: int = 0) -> bytes:
    """A minimal workbook; ``shared_strings`` bytes of filler strings in sharedStrings.xml, written in pieces."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as handle:
            handle.write(f'<?xml version="1.0" encoding="UTF-8"?><sst {_NS}>'.encode())
            item = b"<si><t>" + b"A" * 1000 + b"</t></si>"
            for _ in range(shared_strings // len(item)):
                handle.write(item)
            handle.write(b"<si><t>x</t></si></sst>")
    return out.getvalue()


def claimed_range_bomb() -> bytes:
    """A tiny file whose sheet claims A1:XFD1048576 (openpyxl pads every row to it: gigabytes)."""
    return xlsx(_sheet("A1:XFD1048576", '<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>'
                       '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>y</t></is></c></row>'))  # fmt: skip


def shared_strings_bomb(size: int) -> bytes:
    """A small file that unpacks to ``size`` bytes of sharedStrings.xml (openpyxl loads it whole before any row)."""
    return xlsx(_sheet("A1:A1", '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), shared_strings=size)


def undeclared_rows(rows: int, columns: int = 2) -> bytes:
    """No <dimension>: the rows and columns are only known by reading."""
    cells = "".join('<c t="inlineStr"><is><t>v</t></is></c>' for _ in range(columns))
    return xlsx(_sheet(None, "".join(f'<row r="{n}">{cells}</row>' for n in range(1, rows + 1))))
