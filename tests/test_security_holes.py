"""The eleven holes a probe of the running system found (issue 17), each reproduced as the attack and now refused.

1 SSRF through webhooks · 2 whole ID numbers in certificate PDFs · 3 a district system withdrawing counter cases ·
4 a district fund officer posting city-wide income · 5 the admin raw-id widget naming a foreign person · 6 deeply
nested JSON · 7 a new API key's secret in the messages cookie · 8 whole ID numbers leaving unlogged in bill files
and reconciliation · 9 city-wide payment-file totals shown to district clerks · 10 ID numbers in GET query
strings and the "already registered" existence oracle · 11 unthrottled API-key guessing.
"""

from __future__ import annotations

import io
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from contributions.tests.test_bill_exports import bills, export, media, reviewer  # noqa: F401 (fixtures)
from contributions.tests.test_payment_file_pages import city_admin_user, city_file  # noqa: F401 (fixtures)
from funds.tests.test_posting import april  # noqa: F401 (fixture)
from registry import roles
from registry.feed.webhooks import webhook_deliveries_send
from registry.identifiers import id_number_mask
from registry.models import (
    ApiKey,
    Office,
    Person,
    SecurityEvent,
    SecurityEventKind,
    SensitiveAccess,
    WebhookDelivery,
    WebhookSubscription,
)
from registry.services import api_key_issue, system_account_create
from registry.tests.factories import PersonFactory, UserFactory, make_id_number, office, township_of

pytestmark = pytest.mark.django_db


def _system(code: str, office_code: str, operations: list[str] | None = None):
    admin = UserFactory(username=f"admin-{code}", office=office("331000"), roles=[], is_superuser=True)
    account = system_account_create(
        acting_user=admin, code=code, name=f"{code} 系统", office=office(office_code), operations=operations or []
    )
    return account, admin


def _key_client(account, admin, address: str = "10.20.30.40") -> APIClient:
    _key, secret = api_key_issue(account=account, acting_user=admin)
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


# ---------------------------------------------------------------------------------------------
# 1. SSRF through webhooks.


class _Receiver:
    """A local HTTP endpoint that records whether anything reached it and answers 500 with a body."""

    def __init__(self):
        self.hits = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hits += 1
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b"internal: redis on 10.0.0.7:6379 refused")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def strict_webhooks(settings):
    """Production rules: https only, no address inside the network allowed."""
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    settings.WEBHOOK_ALLOWED_HOSTS = []


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:6379/",
        "https://localhost/hooks",
        "https://10.0.0.7/hooks",
        "https://192.168.1.1/",
        "https://172.16.5.4/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://224.0.0.1/",
        "https://0.0.0.0/",
        "https://240.0.0.1/",
        "http://hy-si.example.gov.cn/hooks",
        "https://user:pass@example.com/hooks",
        "https://no-such-host.invalid/hooks",
    ],
)
def test_1_webhook_urls_inside_the_network_are_refused_at_registration(strict_webhooks, url):
    account, _admin = _system("ssrf-reg", "331003", ["webhook:write"])
    client = Client()
    client.force_login(account.user)
    response = client.post("/api/v1/webhooks/", {"url": url}, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "url" in response.json()["errors"]
    assert not WebhookSubscription.objects.exists()


def test_1_a_receiver_that_now_resolves_inside_the_network_is_not_contacted(strict_webhooks, settings):
    """DNS can change after registration: the address is checked again before every delivery."""
    account, admin = _system("ssrf-send", "331003")
    receiver = _Receiver()
    try:
        subscription = WebhookSubscription.objects.create(
            account=account, url=f"http://127.0.0.1:{receiver.port}/", secret="s" * 40, created_by=admin
        )
        PersonFactory(residence_office=township_of("331003"))
        from registry.models import ChangeEvent

        event = ChangeEvent.objects.order_by("-id").first()
        WebhookDelivery.objects.create(subscription=subscription, change=event, next_attempt_at=timezone.now())
        settings.WEBHOOK_ALLOW_HTTP = True  # the scheme is not what stops it here: the address is
        assert webhook_deliveries_send() == {"delivered": 0, "failed": 1, "parked": 0}
        assert receiver.hits == 0
        delivery = WebhookDelivery.objects.get()
        assert "不允许的地址" in delivery.last_error and delivery.last_status_code is None

        # Inside an allowed network it is sent, and what the receiver answered is not stored.
        settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        assert webhook_deliveries_send() == {"delivered": 0, "failed": 1, "parked": 0}
        assert receiver.hits == 1
        delivery.refresh_from_db()
        assert delivery.last_error == "HTTP 500" and "redis" not in delivery.last_error
    finally:
        receiver.close()


def test_1_the_stored_error_does_not_tell_open_ports_from_closed_ones(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    from registry.feed.targets import pinned_post

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(1)
    try:
        refused = pinned_post(f"http://127.0.0.1:{port}/", b"{}", {}, timeout=0.5)
        silent = pinned_post(f"http://127.0.0.1:{listening.getsockname()[1]}/", b"{}", {}, timeout=0.5)
    finally:
        listening.close()
    assert refused == silent == (None, "无法连接接收地址或连接超时。")


# ---------------------------------------------------------------------------------------------
# 2. Certificates carry the masked number.


def test_2_the_certificate_pdf_shows_the_id_number_masked():
    from django.core.files.storage import default_storage
    from pypdf import PdfReader

    from cases import services as case_services
    from cases.tests.factories import clerk, item, paid_months
    from registry.tests.factories import EmployerFactory, EnrollmentFactory

    town = township_of("331003")
    person = PersonFactory(residence_office=town, id_number=make_id_number(area="331003", birth="19700315"))
    EnrollmentFactory(person=person, insurance_type="emp_pension", employer=EmployerFactory(office=town))
    paid_months(person, "emp_pension", 12)
    case = case_services.case_intake(acting_user=clerk(town), item=item("ZM-001"), person=person)
    pdf = default_storage.open(case.certificate.attachment.file.name).read()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace(" ", "")
    assert id_number_mask(person.id_number) in text
    assert person.id_number not in text
    assert person.id_number[6:14] not in text  # not even the birth-date digits


# ---------------------------------------------------------------------------------------------
# 3. A system acts only on the cases it submitted.


def test_3_a_district_system_cannot_withdraw_or_add_to_a_counter_case():
    from cases.models import CaseState
    from cases.tests.factories import enrollment_case

    case = enrollment_case(township=township_of("331003"))  # taken in at a 黄岩 counter
    account, admin = _system("hy-district", "331003", ["case:read", "case:write", "case-attachment:write"])
    client = _key_client(account, admin)
    refused = client.post(f"/api/v1/cases/{case.uid}/transition/", {"action": "withdraw", "note": "x"}, format="json")
    assert refused.status_code == 403, refused.content
    assert "本系统提交" in refused.json()["message"]
    case.refresh_from_db()
    assert case.state != CaseState.WITHDRAWN
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cases.tests.factories import pdf_bytes

    upload = client.post(
        "/api/v1/case-attachments/",
        {"case": str(case.uid), "file": SimpleUploadedFile("x.pdf", pdf_bytes(), content_type="application/pdf")},
        format="multipart",
    )
    assert upload.status_code == 403, upload.content


def test_3_a_system_withdraws_its_own_application():
    account, admin = _system("hy-own", "331003", ["case:read", "case:write"])
    client = _key_client(account, admin)
    person = PersonFactory(residence_office=township_of("331003"))
    created = client.post(
        "/api/v1/cases/",
        {
            "item": "CJ-GR-001",
            "person": str(person.uid),
            "channel": "online",
            "form_data": {"insurance_type": "res_medical", "start_date": "2025-03-01"},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    uid = created.json()["uid"]
    done = client.post(f"/api/v1/cases/{uid}/transition/", {"action": "withdraw", "note": "申请人撤回"}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["state"] == "withdrawn"
    # Another system of the same district may not.
    other, other_admin = _system("hy-other", "331003", ["case:read", "case:write"])
    created = client.post(
        "/api/v1/cases/",
        {
            "item": "CJ-GR-001",
            "person": str(person.uid),
            "channel": "online",
            "form_data": {"insurance_type": "res_pension", "start_date": "2025-03-01"},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    refused = _key_client(other, other_admin).post(
        f"/api/v1/cases/{created.json()['uid']}/transition/", {"action": "withdraw", "note": "x"}, format="json"
    )
    assert refused.status_code == 403


# ---------------------------------------------------------------------------------------------
# 4. Posting income is limited to the poster's jurisdiction.


def test_4_a_district_fund_officer_posts_only_his_districts_income(april):  # noqa: F811
    from funds.models import LedgerTransaction
    from funds.services.posting import SOURCE_ALLOCATION

    officer = UserFactory(username="hy_fund_poster", office=office("331003"), roles=[roles.FUND_OFFICER])
    client = Client()
    client.force_login(officer)
    response = client.post(reverse("funds_posting_run"))
    assert response.status_code == 302
    posted = LedgerTransaction.objects.filter(source_type=SOURCE_ALLOCATION).select_related("office")
    assert posted.exists()
    assert {t.office.code for t in posted} == {"331003"}  # 椒江's allocations are left to its own or city staff
    city = UserFactory(username="city_fund_poster", office=office("331000"), roles=[roles.FUND_OFFICER])
    client.force_login(city)
    client.post(reverse("funds_posting_run"))
    assert {t.office.code for t in LedgerTransaction.objects.filter(source_type=SOURCE_ALLOCATION)} == {
        "331002",
        "331003",
    }


# ---------------------------------------------------------------------------------------------
# 5. The admin raw-id widget does not name a person of another district.


def test_5_the_raw_id_label_of_a_foreign_person_is_not_shown():
    foreign = PersonFactory(residence_office=township_of("331004"), name="路桥外人")
    mine = PersonFactory(residence_office=township_of("331003"), name="黄岩本人")
    admin_user = UserFactory(
        username="hy_admin_rawid", office=office("331003"), roles=[roles.CITY_ADMIN], is_staff=True
    )
    client = Client()
    client.force_login(admin_user)
    leak = client.get(f"/admin/registry/enrollment/add/?person={foreign.pk}")
    assert leak.status_code == 200
    assert "路桥外人" not in leak.content.decode()
    own = client.get(f"/admin/registry/enrollment/add/?person={mine.pk}")
    assert "黄岩本人" in own.content.decode()


# ---------------------------------------------------------------------------------------------
# 6. Deeply nested JSON is a 400.


@pytest.mark.parametrize("route", ["/api/v1/persons/search/", "/api/v1/cases/"])
@pytest.mark.parametrize("depth", [1000, 100_000, 40])
def test_6_deeply_nested_json_is_a_400(route, depth, huangyan_clerk):
    client = APIClient()
    client.force_authenticate(huangyan_clerk)
    body = "[" * depth + "]" * depth
    response = client.post(route, data=body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "parse_error"
    assert "嵌套" in response.json()["message"]


# ---------------------------------------------------------------------------------------------
# 7. A new key's secret never travels in a cookie.


def test_7_a_new_api_key_is_shown_once_from_the_session_never_in_a_cookie(city_admin):
    account, _admin = _system("cookie-sys", "331003")
    client = Client()
    client.force_login(city_admin)
    response = client.post("/admin/registry/systemaccount/", {"action": "issue_key", "_selected_action": [account.pk]})
    assert response.status_code == 302
    key = ApiKey.objects.filter(account=account).order_by("-id").first()
    cookies = " ".join(f"{c.key}={c.value}" for c in response.cookies.values())
    assert key.prefix not in cookies and "messages" not in response.cookies
    shown = client.get(response["Location"]).content.decode()
    assert f"{key.prefix}." in shown  # shown once, on the next page, from the server-side session
    assert f"{key.prefix}." not in client.get(response["Location"]).content.decode()


# ---------------------------------------------------------------------------------------------
# 8. Whole ID numbers leaving in files are logged.


def test_8_bill_file_downloads_log_the_persons_whose_numbers_they_carry(bills, reviewer):  # noqa: F811
    made = export("csv", "utf-8", reviewer)
    client = Client()
    client.force_login(reviewer)
    response = client.get(reverse("contributions_bill_export_download", kwargs={"uid": made.uid}))
    assert response.status_code == 200
    b"".join(response.streaming_content)
    logged = SensitiveAccess.objects.filter(user=reviewer, channel=SensitiveAccess.Channel.EXPORT)
    assert list(logged.values_list("person_id", flat=True)) == [bills["person"].pk]
    api = APIClient()
    api.force_authenticate(reviewer)
    assert api.get(f"/api/v1/bill-exports/{made.uid}/download/").status_code == 200
    assert SensitiveAccess.objects.filter(user=reviewer, channel=SensitiveAccess.Channel.API).count() == 1


def test_8_reconciliation_page_and_xlsx_with_whole_numbers_are_logged(city_file):  # noqa: F811
    boss = UserFactory(username="rec_reviewer", office=office("331003"), roles=[roles.REVIEWER])
    client = Client()
    client.force_login(boss)
    payment_file = city_file["file"]
    page = client.get(reverse("contributions_payment_file_reconciliation", kwargs={"uid": payment_file.uid}))
    assert city_file["person"].id_number in page.content.decode()
    assert SensitiveAccess.objects.filter(
        user=boss, person=city_file["person"], channel=SensitiveAccess.Channel.PAGE
    ).exists()
    xlsx = client.get(reverse("contributions_payment_file_reconciliation_xlsx", kwargs={"uid": payment_file.uid}))
    assert xlsx.status_code == 200
    assert SensitiveAccess.objects.filter(
        user=boss, person=city_file["person"], channel=SensitiveAccess.Channel.EXPORT
    ).exists()
    # A clerk who may not see whole numbers gets them masked, and nothing is logged.
    clerk = UserFactory(username="rec_clerk", office=office("331003"))
    client.force_login(clerk)
    page = client.get(reverse("contributions_payment_file_reconciliation", kwargs={"uid": payment_file.uid}))
    assert city_file["person"].id_number not in page.content.decode()
    assert not SensitiveAccess.objects.filter(user=clerk).exists()


# ---------------------------------------------------------------------------------------------
# 9. A district clerk sees his jurisdiction's part of a city-wide payment file.


def test_9_payment_file_pages_show_a_district_clerk_only_his_districts_figures(city_file, huangyan_clerk):  # noqa: F811
    payment_file = city_file["file"]
    assert payment_file.line_count == 3
    client = Client()
    client.force_login(huangyan_clerk)
    detail = client.get(reverse("contributions_payment_file_detail", kwargs={"uid": payment_file.uid}))
    text = detail.content.decode()
    assert detail.status_code == 200
    own = text.split('data-testid="own-figures">')[1].split("<")[0]
    assert own.split()[0] == "1" and "1795.00" in own  # the 黄岩 payer only
    assert 'data-testid="imported"' not in text  # the file's city-wide counts are not shown
    assert "3590.00" not in text and "3678.00" not in text
    listing = client.get(reverse("contributions_payment_file_list")).content.decode()
    assert "3590.00" not in listing and "3678.00" not in listing and "1795.00" in listing


# ---------------------------------------------------------------------------------------------
# 10. No ID number in a query string; no existence oracle over the API.


@pytest.mark.parametrize(
    "path",
    ["/api/v1/persons/?q={n}", "/api/v1/persons/?name={n}", "/api/v1/enrollments/?{n}=1", "/api/v1/cases/?x={n15}"],
)
def test_10_an_id_number_in_a_query_string_is_refused(huangyan_clerk, path):
    number = make_id_number(area="331003", birth="19800101")
    legacy = "331003800101123"  # 15 digits: a legacy number
    client = APIClient()
    client.force_authenticate(huangyan_clerk)
    response = client.get(path.format(n=number, n15=legacy))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "id_number_in_url" and "POST /api/v1/persons/search/" in body["message"]


def test_10_other_long_numbers_in_query_strings_pass(huangyan_clerk):
    client = APIClient()
    client.force_authenticate(huangyan_clerk)
    assert client.get("/api/v1/employers/?credit_code=91331003000000001X").status_code == 200
    assert client.get("/api/v1/persons/?name=123456789012345678").status_code == 200  # no such birth date


def test_10_a_look_up_outside_the_jurisdiction_answers_as_an_unknown_number(huangyan_clerk):
    foreign = PersonFactory(residence_office=township_of("331004"))
    unknown = make_id_number(area="331003", birth="19811111")
    client = APIClient()
    client.force_authenticate(huangyan_clerk)
    answers = []
    for number in (foreign.id_number, unknown):
        for route in ("/api/v1/persons/search/", "/api/v1/enrollments/status/"):
            response = client.post(route, {"id_number": number}, format="json")
            body = response.json()
            body.pop("request_id")
            answers.append((route, response.status_code, body))
    assert answers[0][1:] == answers[2][1:] and answers[1][1:] == answers[3][1:]
    assert answers[0][1] == 404


def test_10_creating_a_number_registered_elsewhere_is_a_409_without_the_persons_data(huangyan_clerk):
    foreign = PersonFactory(residence_office=township_of("331004"), name="路桥张三", phone="13800000000")
    client = APIClient()
    client.force_authenticate(huangyan_clerk)
    response = client.post(
        "/api/v1/persons/",
        {"id_number": foreign.id_number, "name": "冒名", "household_type": "urban", "residence_office": "331003"},
        format="json",
    )
    assert response.status_code == 409
    text = response.content.decode()
    assert response.json()["code"] == "registered_elsewhere" and "已在本市其他辖区登记" in text
    for secret in ("路桥", "路桥张三", "13800000000", str(foreign.uid), foreign.residence_office.code):
        assert secret not in text
    assert Person.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# 11. Failed API-key attempts lock the prefix and the address.


def test_11_repeated_failures_lock_the_key_prefix_and_the_address_and_are_logged(settings):
    settings.API_KEY_FAILURE_LIMIT = 5
    settings.API_KEY_LOCKOUT_SECONDS = 600
    account, admin = _system("guessed", "331003", ["person:read"])
    _key, secret = api_key_issue(account=account, acting_user=admin)
    prefix = secret.split(".")[0]

    attacker = APIClient(REMOTE_ADDR="10.66.0.9")
    for attempt in range(5):
        attacker.credentials(HTTP_AUTHORIZATION=f"Api-Key {prefix}.wrong-{attempt}")
        assert attacker.get("/api/v1/whoami/").status_code == 401
    # The right secret from the attacker's address is refused now, and so is the prefix from anywhere.
    attacker.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    locked = attacker.get("/api/v1/whoami/")
    assert locked.status_code == 429 and locked.json()["code"] == "api_key_locked"
    assert int(locked["Retry-After"]) > 0
    elsewhere = APIClient(REMOTE_ADDR="10.66.0.10")
    elsewhere.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert elsewhere.get("/api/v1/whoami/").status_code == 429
    events = SecurityEvent.objects.filter(kind=SecurityEventKind.API_KEY_LOCKED)
    assert {e.detail["locked"] for e in events} == {"prefix", "ip"}
    assert {e.client_ip for e in events} == {"10.66.0.9"}
    # Another key from another address is not affected.
    other, other_admin = _system("innocent", "331003", ["person:read"])
    assert _key_client(other, other_admin, address="10.66.0.11").get("/api/v1/whoami/").status_code == 200


def test_11_unknown_prefixes_from_one_address_lock_the_address(settings):
    settings.API_KEY_FAILURE_LIMIT = 3
    scanner = APIClient(REMOTE_ADDR="10.66.1.1")
    for n in range(3):
        scanner.credentials(HTTP_AUTHORIZATION=f"Api-Key {n:012x}.nothing")
        assert scanner.get("/api/v1/whoami/").status_code == 401
    scanner.credentials(HTTP_AUTHORIZATION="Api-Key abcdef012345.more")
    assert scanner.get("/api/v1/whoami/").status_code == 429
    assert SecurityEvent.objects.get(kind=SecurityEventKind.API_KEY_LOCKED).detail["locked"] == "ip"


def test_every_hole_is_tested_here():
    """A table of contents, kept honest: one test (or more) per hole."""
    names = {name.split("_")[1] for name in globals() if name.startswith("test_") and name.split("_")[1].isdigit()}
    assert names == {str(n) for n in range(1, 12)}
    assert Office.objects.filter(level=1).exists()
