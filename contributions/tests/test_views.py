"""Clerk pages of contributions: declaration entry and payroll upload, bill runs, bills, arrears, the
personal record and its PDF; jurisdiction and query counts."""

from __future__ import annotations

import datetime
import io
import re
import time
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contributions.models import BillRun, BillRunScope, BillRunStatus, Declaration, DeclarationLine
from contributions.tests.factories import (
    bill_employer,
    declare,
    employ,
    huangyan_employer,
    huangyan_parameters_2025,
    pay,
)
from registry import roles
from registry.pdf_fonts import pdf_fonts
from registry.tests.factories import PersonFactory, UserFactory, make_id_number, office, township_of

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal


@pytest.fixture
def params(db):
    huangyan_parameters_2025()


@pytest.fixture
def reviewer(params):
    return UserFactory(username="hy_page_reviewer", office=office("331003"), roles=[roles.REVIEWER])


@pytest.fixture
def client(reviewer):
    c = Client()
    c.force_login(reviewer)
    return c


@pytest.fixture
def staff(params):
    employer = huangyan_employer()
    return employer, [employ(employer) for _ in range(3)]


def entry_url(employer, period=202503):
    return reverse("contributions_declaration_entry", kwargs={"uid": employer.uid}) + f"?period={period}"


def text(response) -> str:
    return response.content.decode()


# --- declaration entry -----------------------------------------------------------------------


def test_entry_form_lists_the_employees_and_saves_with_clamps_shown(client, staff):
    employer, (a, b, c) = staff
    page = client.get(entry_url(employer))
    assert page.status_code == 200
    for person in (a, b, c):
        assert f'name="base_{person.uid}"' in text(page)
        assert person.id_number not in text(page)
    response = client.post(
        entry_url(employer),
        {
            "action": "lines",
            f"base_{a.uid}": "5000",
            f"row_{a.uid}": "1",
            f"base_{b.uid}": "1000",
            f"row_{b.uid}": "2",
            f"below_floor_{b.uid}": "1",  # the clerk confirms b's base below the floor
            f"base_{c.uid}": "",
            f"row_{c.uid}": "3",
        },
    )
    declaration = Declaration.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("contributions_declaration_detail", kwargs={"uid": declaration.uid})
    detail = client.get(response["Location"])
    body = text(detail)
    assert "其中 1 人的基数按上下限调整" in body
    clamped = re.search(r'data-testid="clamped".*?</table>', body, re.S).group(0)
    assert b.name in clamped and "低于下限，按下限" in clamped and "3600.00" in clamped
    assert DeclarationLine.objects.count() == 2


def test_entry_form_errors_name_the_row_and_nothing_is_written(client, staff):
    employer, (a, b, _c) = staff
    response = client.post(
        entry_url(employer),
        {"action": "lines", f"base_{a.uid}": "abc", f"row_{a.uid}": "1", f"base_{b.uid}": "-5", f"row_{b.uid}": "2"},
    )
    assert response.status_code == 400
    body = text(response)
    assert "第 1 行：缴费基数“abc”不是数字" in body
    assert "第 2 行：缴费基数必须大于 0" in body
    assert 'value="abc"' in body  # what the clerk typed is kept
    huge = client.post(entry_url(employer), {"action": "lines", f"base_{a.uid}": "1e30", f"row_{a.uid}": "1"})
    assert huge.status_code == 400 and "第 1 行：金额“1e30”位数过多" in text(huge)
    assert Declaration.objects.count() == 0


def _upload(client, employer, name, data, period=202503):
    return client.post(entry_url(employer, period), {"action": "upload", "payroll": SimpleUploadedFile(name, data)})


def totals(people, base, sep=","):
    """The payroll's totals lines, here after the last line (line numbers stay those of a header-first file)."""
    return f"#合计人数{sep}{people}\r\n#合计基数{sep}{base}\r\n"


def test_upload_gbk_csv(client, staff):
    """A base below the floor in the file is refused until the clerk confirms it on its line: the refused upload
    fills the entry form, where the line is ticked and the declaration saved."""
    employer, (a, b, c) = staff
    content = (
        "姓名,公民身份号码,缴费基数,备注\r\n"
        f"{a.name},{a.id_number},5000.00,正常\r\n"
        f'{b.name},{b.id_number.lower()},"2,000",低于下限\r\n'
        "\r\n"
        f"{c.name},{c.id_number},30000,高于上限\r\n" + totals(3, "37000.00")
    ).encode("gbk")
    refused = _upload(client, employer, "工资表.csv", content)
    assert refused.status_code == 400
    assert f"第 3 行：{b.name} 的缴费基数 2000 低于本期下限 3600" in text(refused)
    assert f'name="base_{b.uid}" value="2,000"' in text(refused) and f'name="below_floor_{b.uid}"' in text(refused)
    assert Declaration.objects.count() == 0
    form = {"action": "lines"}
    for row, (person, base) in enumerate([(a, "5000.00"), (b, "2000"), (c, "30000")], start=1):
        form |= {f"base_{person.uid}": base, f"row_{person.uid}": str(row)}
    form[f"below_floor_{b.uid}"] = "1"
    response = client.post(entry_url(employer), form)
    assert response.status_code == 302, text(response)
    lines = {line.person: line for line in DeclarationLine.objects.all()}
    assert lines[a].base == Y("5000.00") and lines[a].clamp == ""
    assert (lines[b].declared_base, lines[b].base, lines[b].clamp) == (Y("2000.00"), Y("3600.00"), "floor")
    assert (lines[c].base, lines[c].clamp) == (Y("18000.00"), "ceiling")
    assert Declaration.objects.get().channel == "counter"  # confirmed at the counter, line by line
    detail = text(client.get(response["Location"]))
    assert "其中 2 人的基数按上下限调整" in detail
    assert "高于上限，按上限" in detail


def test_upload_of_a_csv_saved_by_excel_with_numbers_in_scientific_notation(client, staff):
    employer, (a, *_rest) = staff
    content = (f"公民身份号码,缴费基数\r\n3.31003E+17,5000\r\n{a.id_number},5000\r\n" + totals(2, 10000)).encode("gbk")
    response = _upload(client, employer, "p.csv", content)
    assert response.status_code == 400
    assert "第 2 行：公民身份号码被 Excel 存成了科学计数法（3.31003E+17）" in text(response)
    assert Declaration.objects.count() == 0


def test_upload_utf8_csv_with_bom_and_semicolons(client, staff):
    employer, (a, *_rest) = staff
    content = (f"公民身份号码;缴费基数\n{a.id_number};6000\n" + totals(1, 6000, ";")).encode("utf-8-sig")
    assert _upload(client, employer, "payroll.csv", content).status_code == 302
    assert DeclarationLine.objects.get().base == Y("6000.00")


def test_upload_xlsx(client, staff):
    from openpyxl import Workbook

    employer, (a, b, _c) = staff
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["公民身份号码", "姓名", "缴费基数"])
    sheet.append([a.id_number, a.name, 5200.5])
    sheet.append([b.id_number, b.name, "4000"])
    sheet.append(["#合计人数", 2])
    sheet.append(["#合计基数", 9200.5])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = _upload(client, employer, "工资表.xlsx", buffer.getvalue())
    assert response.status_code == 302, text(response)
    lines = {line.person: line.base for line in DeclarationLine.objects.all()}
    assert lines == {a: Y("5200.50"), b: Y("4000.00")}


def test_upload_bad_lines_are_each_listed_with_their_line_number_and_nothing_is_written(client, staff):
    from openpyxl import Workbook

    employer, (a, b, c) = staff
    stranger = PersonFactory(residence_office=township_of("331003"), name="外单位人")
    bad_check = a.id_number[:-1] + ("0" if a.id_number[-1] != "0" else "1")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["公民身份号码", "缴费基数"])
    sheet.append([a.id_number, 5000])  # line 2: fine
    sheet.append([bad_check, 5000])  # line 3: wrong check character
    sheet.append([int(b.id_number[:-1] + "1"), 5000])  # line 4: a number (18 digits whatever b's last character)
    sheet.append([stranger.id_number, 5000])  # line 5: not enrolled
    sheet.append([c.id_number, "五千"])  # line 6: not a number
    sheet.append([make_id_number(area="331003", birth="19900101", seq=999), 5000])  # line 7: unknown person
    sheet.append(["#合计人数", 6])  # (a base that is no number leaves the sum unchecked: line 6 says why)
    sheet.append(["#合计基数", 25000])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = _upload(client, employer, "payroll.xlsx", buffer.getvalue())
    assert response.status_code == 400
    errors = re.findall(r"<li>(第 \d+ 行：[^<]*)</li>", text(response))
    assert [int(re.match(r"第 (\d+) 行", e).group(1)) for e in errors] == [3, 4, 5, 6, 7], errors
    assert "校验" in errors[0]
    assert "存成了数字" in errors[1]
    assert "外单位人" in errors[2] and "未在本单位参加职工保险" in errors[2]
    assert "不是数字" in errors[3]
    assert "不存在或不在您的辖区内" in errors[4]
    assert Declaration.objects.count() == 0
    assert DeclarationLine.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("p.csv", "身份证,工资\r\n331003198001010011,5000\r\n".encode("gbk"), "文件缺少列：公民身份号码、缴费基数"),
        ("p.csv", "公民身份号码,工资\r\n".encode(), "文件缺少列：缴费基数"),
        ("p.csv", "公民身份号码,缴费基数\r\n".encode("utf-16"), "UTF-16"),
        ("p.csv", b"\x81\x30\xff\xfe\xfd" * 10, "无法识别文件编码"),
        ("p.csv", b"", "空的"),
        ("p.xlsx", b"not a workbook", "不是 Excel 工作簿"),
        ("p.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "不支持旧版 Excel"),
        ("p.csv", "公民身份号码,缴费基数\r\n".encode(), "没有数据行"),
    ],
)
def test_unusable_files_get_a_clear_message(client, staff, name, data, message):
    employer, _persons = staff
    response = _upload(client, employer, name, data)
    assert response.status_code == 400
    assert message in text(response)
    assert Declaration.objects.count() == 0


def test_entry_page_of_another_district_employer_is_404(client, params):
    luqiao_employer = huangyan_employer(office=township_of("331004"))
    assert client.get(entry_url(luqiao_employer)).status_code == 404
    assert client.post(entry_url(luqiao_employer), {"action": "lines"}).status_code == 404


def test_payroll_template_download(client):
    response = client.get(reverse("contributions_payroll_template"))
    assert response.status_code == 200
    assert response.content.decode("utf-8-sig").startswith("#合计人数,0\r\n#合计基数,0.00\r\n公民身份号码,缴费基数")


def test_declaration_list_page(client, staff, reviewer):
    employer, (a, *_rest) = staff
    declare(employer, 202503, {a: "2000"}, reviewer)
    page = client.get(reverse("contributions_declaration_list"), {"q": employer.name, "period": "202503"})
    assert page.status_code == 200
    assert employer.name in text(page)
    assert entry_url(employer) in text(page)


# --- bill runs -------------------------------------------------------------------------------


def test_bill_run_page_starts_a_run_and_shows_progress(client, staff, django_capture_on_commit_callbacks):
    url = reverse("contributions_bill_run_list")
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"period": "202503", "scope": "district", "office": "331003"})
    assert response.status_code == 302
    run = BillRun.objects.get()
    assert run.status == BillRunStatus.DONE
    page = text(client.get(url))
    assert f"{run.done}/{run.total}（100%）" in page
    assert 'http-equiv="refresh"' not in page
    detail = client.get(reverse("contributions_bill_run_detail", kwargs={"uid": run.uid}))
    assert detail.status_code == 200 and staff[0].name in text(detail)


def test_bill_run_page_refreshes_while_a_run_is_active_and_reports_errors(client, params):
    url = reverse("contributions_bill_run_list")
    BillRun.objects.create(period=202503, scope=BillRunScope.DISTRICT, office=office("331003"), total=10, done=4)
    page = text(client.get(url))
    assert 'http-equiv="refresh"' in page and "4/10（40%）" in page
    refused = client.post(url, {"period": "202503", "scope": "district", "office": "331003"})
    assert refused.status_code == 400 and "正在进行" in text(refused)
    refused = client.post(url, {"period": "209901", "scope": "district", "office": "331003"})
    assert "尚未到来" in text(refused)
    assert BillRun.objects.count() == 1


def test_counter_clerk_sees_runs_only_if_allowed(params):
    clerk = UserFactory(office=office("331003"))
    c = Client()
    c.force_login(clerk)
    assert c.get(reverse("contributions_bill_run_list")).status_code == 403
    assert c.get(reverse("contributions_bill_list")).status_code == 200


# --- bills, arrears, record ------------------------------------------------------------------


@pytest.fixture
def billed(reviewer, staff):
    employer, persons = staff
    declare(employer, 202503, {persons[0]: "5000"}, reviewer)
    bill = bill_employer(employer, 202503, reviewer)
    pay(bill, "1000.00", D(2025, 4, 20), reviewer)
    return bill


def test_bill_detail_page(client, billed):
    response = client.get(reverse("contributions_bill_detail", kwargs={"uid": billed.uid}))
    assert response.status_code == 200
    body = text(response)
    assert "职工基本养老保险" in body and "已缴" in body
    assert f"{billed.total - Y('1000.00'):.2f}" in body
    assert 'data-testid="late-fee"' in body
    assert "未申报，按下限" in body


def test_arrears_page(client, billed):
    response = client.get(reverse("contributions_arrears"), {"on": "2025-05-01"})
    assert response.status_code == 200
    body = text(response)
    assert billed.employer.name in body
    expected = ((billed.total * 5 + (billed.total - 1000) * 11) * Y("0.0005")).quantize(Y("0.01"))
    assert f"{expected:.2f}" in body
    assert "不是有效日期" in text(client.get(reverse("contributions_arrears"), {"on": "x"}))


def test_person_record_page_and_pdf(client, billed, reviewer):
    person = DeclarationLine.objects.get().person
    pay(billed, str(billed.total - Y("1000.00")), D(2025, 4, 25), reviewer)
    page = client.get(reverse("contributions_person_record", kwargs={"uid": person.uid}))
    assert page.status_code == 200
    body = text(page)
    assert "2025年03月" in body and "已缴清" in body
    assert re.search(r'data-insurance="emp_pension"><td>[^<]+</td><td>1</td>', body)
    assert person.id_number not in body
    pdf = client.get(reverse("contributions_person_record_pdf", kwargs={"uid": person.uid}))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    if not pdf_fonts().embedded:
        assert b"STSong-Light" in pdf.content
    else:
        assert b"FontFile2" in pdf.content  # an embedded TrueType subset
    assert person.id_number.encode() not in pdf.content


def test_pages_of_another_district_are_404(client, params):
    luqiao = UserFactory(office=office("331004"), roles=[roles.REVIEWER])
    employer = huangyan_employer(office=township_of("331004"))
    person = employ(employer)
    declaration = declare(employer, 202503, {person: "5000"}, luqiao)
    bill = bill_employer(employer, 202503, luqiao)
    run = BillRun.objects.get()
    for name, uid in (
        ("contributions_bill_detail", bill.uid),
        ("contributions_declaration_detail", declaration.uid),
        ("contributions_bill_run_detail", run.uid),
        ("contributions_person_record", person.uid),
        ("contributions_person_record_pdf", person.uid),
        ("contributions_declaration_entry", employer.uid),
    ):
        assert client.get(reverse(name, kwargs={"uid": uid})).status_code == 404, name
    assert bill.employer.name not in text(client.get(reverse("contributions_bill_list")))
    assert bill.employer.name not in text(client.get(reverse("contributions_arrears"), {"on": "2026-01-01"}))


def test_nav_link_only_for_those_who_may_see_bills(client, params):
    assert reverse("contributions_bill_list") in text(client.get(reverse("home")))
    nobody = UserFactory(office=office("331003"), roles=[])
    c = Client()
    c.force_login(nobody)
    assert reverse("contributions_bill_list") not in text(c.get(reverse("home")))


# --- query counts ----------------------------------------------------------------------------


def _more_bills(n, reviewer):
    for _ in range(n):
        employer = huangyan_employer()
        person = employ(employer)
        declare(employer, 202503, {person: "5000"}, reviewer)
        bill = bill_employer(employer, 202503, reviewer)
        pay(bill, "10.00", D(2025, 4, 1), reviewer)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("contributions_bill_list", {}),
        ("contributions_arrears", {"on": "2025-06-01"}),
        ("contributions_declaration_list", {}),
        ("contributions_bill_run_list", {}),
    ],
)
def test_page_query_counts_do_not_grow_with_rows(client, reviewer, name, params):
    url = reverse(name)
    _more_bills(1, reviewer)
    client.get(url, params)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url, params).status_code == 200
        return len(ctx.captured_queries)

    small = count()
    _more_bills(4, reviewer)
    assert count() == small


def test_bill_detail_and_record_query_counts_do_not_grow_with_lines(client, reviewer):
    employer = huangyan_employer()
    first = employ(employer)
    bill = bill_employer(employer, 202503, reviewer)
    pay(bill, "10.00", D(2025, 4, 1), reviewer)
    other = huangyan_employer()
    for _ in range(4):
        employ(other)
    big = bill_employer(other, 202503, reviewer)
    pay(big, "10.00", D(2025, 4, 1), reviewer)
    pay(big, "10.00", D(2025, 4, 2), reviewer)

    def count(url):
        client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    detail = "contributions_bill_detail"
    assert count(reverse(detail, kwargs={"uid": bill.uid})) == count(reverse(detail, kwargs={"uid": big.uid}))
    record = reverse("contributions_person_record", kwargs={"uid": first.uid})
    small = count(record)
    bill_employer(employer, 202504, reviewer)
    bill_employer(employer, 202505, reviewer)
    assert count(record) == small


def test_person_page_link_snippet(reviewer, params):
    from django.contrib.auth.context_processors import PermWrapper
    from django.template.loader import render_to_string

    person = PersonFactory(residence_office=township_of("331003"))
    html = render_to_string("contributions/person_record_link.html", {"person": person, "perms": PermWrapper(reviewer)})
    assert reverse("contributions_person_record", kwargs={"uid": person.uid}) in html
    nobody = UserFactory(office=office("331003"), roles=[])
    assert (
        render_to_string(
            "contributions/person_record_link.html", {"person": person, "perms": PermWrapper(nobody)}
        ).strip()
        == ""
    )


def test_an_xlsx_bomb_payroll_is_refused_at_once_with_a_message(client, staff, settings):
    """Issue 14, fault 5: a tiny xlsx claiming A1:XFD1048576, and one unpacking to more XML than a web request may
    read: refused before parsing, nothing written."""
    from registry.tests.xlsx_bombs import claimed_range_bomb, shared_strings_bomb

    employer, _people = staff
    started = time.monotonic()
    response = _upload(client, employer, "工资表.xlsx", claimed_range_bomb())
    assert response.status_code == 400 and "声明了 1048576 行 16384 列" in text(response)
    settings.TABLE_WEB_LIMITS = {**settings.TABLE_WEB_LIMITS, "max_uncompressed_bytes": 4 * 1024 * 1024}
    response = _upload(client, employer, "工资表.xlsx", shared_strings_bomb(16 * 1024 * 1024))
    assert response.status_code == 400 and "请拆分文件或改用 CSV" in text(response)
    assert time.monotonic() - started < 5
    assert Declaration.objects.count() == 0


def test_a_payroll_cut_mid_number_is_refused_by_its_totals_and_a_base_below_the_floor_needs_the_clerk(client, staff):
    """Issue 14, fault 6: a payroll cut mid-number ("8000" → "80") was declared and raised to the floor. Its totals
    lines now refuse it; and a base below the floor that the totals do not catch is refused until confirmed."""
    employer, (a, b, _c) = staff
    cut = (f"公民身份号码,缴费基数\r\n{a.id_number},5000\r\n{b.id_number},80\r\n" + totals(2, 13000)).encode()
    response = _upload(client, employer, "工资表.csv", cut)
    assert response.status_code == 400
    assert "合计行与明细不符：#合计基数为 13000.00，2 行明细的基数合计为 5080.00" in text(response)
    missing = _upload(client, employer, "工资表.csv", f"公民身份号码,缴费基数\r\n{a.id_number},5000\r\n".encode())
    assert missing.status_code == 400 and "工资表缺少合计行 #合计人数、#合计基数" in text(missing)
    low = (f"公民身份号码,缴费基数\r\n{a.id_number},5000\r\n{b.id_number},80\r\n" + totals(2, 5080)).encode()
    response = _upload(client, employer, "工资表.csv", low)
    assert response.status_code == 400
    assert f"第 3 行：{b.name} 的缴费基数 80 低于本期下限 3600" in text(response)
    assert Declaration.objects.count() == 0
