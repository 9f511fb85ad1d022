"""Bad files get one clear message and nothing of them is kept: wrong layout, wrong encoding, a line with another
number of cells, an xlsx claiming a huge sheet (refused before it is parsed), a folder file changed after it
was registered. GBK and xlsx files load."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from consolidation.models import BatchStatus, StagedPerson
from consolidation.services.load import batch_load
from consolidation.tests.factories import city_admin, csv_bytes, deliver, xlsx_bytes
from registry.tests.factories import make_id_number

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _persons(*rows):
    return [
        [make_id_number("331003", "19800101", 11 + 2 * i), name, "", "", "", "", "", "", "", ""]
        for i, name in enumerate(rows)
    ]


def _load(files):
    admin = city_admin()
    batch, _queued = deliver(user=admin, district="331003", files=files)
    return batch_load(batch_id=batch.pk)


def test_gbk_csv_and_xlsx_load():
    batch = _load({"persons": ("人员.csv", csv_bytes("persons", _persons("王小明", "陈静"), encoding="gbk"))})
    assert batch.status == BatchStatus.CHECKED
    assert sorted(StagedPerson.objects.filter(batch=batch).values_list("name", flat=True)) == ["王小明", "陈静"]
    assert batch.files.get().encoding == "GB18030"
    batch = _load({"persons": ("人员.xlsx", xlsx_bytes("persons", _persons("林婷")))})
    assert batch.status == BatchStatus.CHECKED and batch.files.get().file_format == "xlsx"
    assert StagedPerson.objects.get(batch=batch).name == "林婷"


def test_a_file_without_the_required_columns_rejects_the_batch_with_the_expected_header():
    data = csv_bytes("persons", [["x", "y"]], header=["身份证", "名字"])
    batch = _load({"persons": ("persons.csv", data)})
    assert batch.status == BatchStatus.REJECTED
    assert "缺少列：公民身份号码、姓名" in batch.error and "列名行应为" in batch.error
    assert not StagedPerson.objects.filter(batch=batch).exists()


def test_utf16_is_refused_with_a_message():
    data = "公民身份号码,姓名\r\n".encode("utf-16")
    batch = _load({"persons": ("persons.csv", data)})
    assert batch.status == BatchStatus.REJECTED and "UTF-16" in batch.error


def test_a_line_with_another_number_of_cells_names_the_line():
    data = csv_bytes("persons", _persons("王小明")) + "330000,多余,1,2,3,4,5,6,7,8,9,10\r\n".encode()
    batch = _load({"persons": ("persons.csv", data)})
    assert batch.status == BatchStatus.REJECTED
    assert "第 3 行" in batch.error and "列数与列名行不一致" in batch.error
    assert not StagedPerson.objects.filter(batch=batch).exists()


def test_mixed_encodings_are_refused_with_the_line():
    data = csv_bytes("persons", _persons("王小明")) + (make_id_number() + ",陈静,,,,,,,,\r\n").encode("gbk")
    batch = _load({"persons": ("persons.csv", data)})
    assert batch.status == BatchStatus.REJECTED and "编码" in batch.error


def test_an_xlsx_claiming_a_huge_sheet_is_refused_before_it_is_parsed():
    data = xlsx_bytes("persons", _persons("王小明"))
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1:XFD1048576"/>', content)
                assert b"XFD1048576" in content
            target.writestr(item, content)
    batch = _load({"persons": ("bomb.xlsx", out.getvalue())})
    assert batch.status == BatchStatus.REJECTED
    assert "超过限制" in batch.error


def test_a_legacy_xls_is_refused():
    batch = _load({"persons": ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)})
    assert batch.status == BatchStatus.REJECTED and ".xls" in batch.error
