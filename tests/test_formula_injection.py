"""Fault 4: an employer named ``=cmd|' /C calc'!A0`` reaches every file a person opens in a spreadsheet as text —
the CSV bill file, the xlsx bill file, the reconciliation workbook, the funds and policies reports and the
administrators' export — never as a formula; amounts stay numbers."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.files.storage import default_storage
from openpyxl import load_workbook

from contributions import services
from contributions.exchange.layout import reconciliation_xlsx
from contributions.tests.factories import issued_bill
from funds.reports import Report, report_xlsx
from registry import roles
from registry.tests.factories import EmployerFactory, UserFactory, office, township_of

pytestmark = pytest.mark.django_db
EVIL = "=cmd|' /C calc'!A0"
OTHERS = ["+SUM(A1:A9)", "-2+3", "@SUM(1)", "\tTAB", "\rCR"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def evil_bill(db):
    employer = EmployerFactory(office=township_of("331003"), name=EVIL)
    issued_bill(employer, 202510)
    return employer


def _export(fmt, encoding):
    reviewer = UserFactory(username=f"hy_fi_{fmt}", office=office("331003"), roles=[roles.REVIEWER])
    made = services.bill_export_start(
        period=202510, office=office("331003"), format=fmt, encoding=encoding, acting_user=reviewer
    )
    services.bill_export_execute(bill_export_id=made.pk)
    made.refresh_from_db()
    with default_storage.open(made.file.name, "rb") as handle:
        return handle.read()


def _no_formula_cells(data: bytes) -> list:
    workbook = load_workbook(io.BytesIO(data))  # not read-only: data_type "f" marks a formula
    cells = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    return [c.value for c in cells]


def test_the_csv_bill_file_holds_the_name_as_text_and_amounts_as_numbers(evil_bill):
    rows = list(csv.reader(io.StringIO(_export("csv", "utf-8").decode("utf-8-sig"))))
    row = next(r for r in rows if evil_bill.credit_code in r)
    assert "'" + EVIL in row and EVIL not in row
    assert "1795.00" in row  # amounts untouched


def test_the_xlsx_bill_file_writes_the_name_as_a_string(evil_bill):
    values = _no_formula_cells(_export("xlsx", ""))
    assert "'" + EVIL in values and EVIL not in values
    assert Decimal("1795.00") in [Decimal(str(v)) for v in values if isinstance(v, int | float | Decimal)]


def test_the_reconciliation_workbook_neutralises_names_and_the_file_name():
    from contributions.models import ReconciliationCategory

    categories = ReconciliationCategory.values
    zero = dict.fromkeys(categories, 0)
    total = SimpleNamespace(office=None, counts=zero, due=zero, paid=zero)
    item = SimpleNamespace(
        payer_code="91331003MA2H7K5Q8L", payer_type="employer", employer_id=1, person_id=None,
        employer=SimpleNamespace(name=EVIL), office=SimpleNamespace(code="331003", name="黄岩"),
        category=categories[0], period=202510, due=Decimal("10"), paid=Decimal("10"), line_count=1, first_line=2,
    )  # fmt: skip
    payment_file = SimpleNamespace(
        name=OTHERS[0], sha256="0" * 64, created_at=datetime.datetime.now(datetime.UTC), periods=[202510]
    )
    values = _no_formula_cells(
        reconciliation_xlsx(payment_file=payment_file, rows=[], total=total, items=[item], full_ids=False)
    )
    assert "'" + EVIL in values and "'" + OTHERS[0] in values


def test_reports_neutralise_every_formula_start():
    report = Report(title="基金", subtitle=EVIL, header=["a", "b"], rows=[[o, Decimal("-1.00")] for o in OTHERS])
    values = _no_formula_cells(report_xlsx(report))
    # (XML reads a carriage return back as a line feed.)
    assert "'" + EVIL in values and all("'" + o.replace("\r", "\n") in values for o in OTHERS)
    assert Decimal("-1.00") in [Decimal(str(v)) for v in values if isinstance(v, int | float | Decimal)]


def test_the_administrators_export_neutralises_names(evil_bill):
    from registry.import_formats import CSV, XLSX
    from registry.resources import EmployerResource

    dataset = EmployerResource(user=UserFactory(username="fi_admin", is_superuser=True, is_staff=True)).export()
    assert "'" + EVIL in CSV().export_data(dataset)
    values = _no_formula_cells(XLSX().export_data(dataset))
    assert "'" + EVIL in values
