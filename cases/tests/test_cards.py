"""The card lifecycle: KA-001 application → production batch (xlsx for the issuer) → the issuer's confirmation file
→ card issued; KA-003 replacement; a wrong confirmation file changes nothing; the pages."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cases import selectors, services
from cases.card_files import CONFIRMATION_HEADER, PRODUCTION_HEADER
from cases.models import CardApplication, CardApplicationState, CardBatch, CardBatchState, CaseState
from cases.services import cards
from cases.tests.factories import clerk, item, person_with_card, reviewer
from registry.models import CardStatus, Office, Person, SensitiveAccess
from registry.tests.factories import PersonFactory, township_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def hy_town():
    return township_of("331003")


@pytest.fixture
def hy_district():
    return Office.objects.get(code="331003")


def _apply(person, code, town, district):
    case = services.case_intake(acting_user=clerk(town), item=item(code), person=person, materials_received=["photo"])
    case = services.case_pass(case=case, acting_user=reviewer(district))
    assert case.state == CaseState.COMPLETED
    return case


def _confirmation(rows, encoding="utf-8") -> SimpleUploadedFile:
    text = "\n".join(",".join(r) for r in [CONFIRMATION_HEADER, *rows]) + "\n"
    return SimpleUploadedFile("回盘.csv", text.encode(encoding), content_type="text/csv")


def test_application_batch_confirmation_issues_the_card(hy_town, hy_district):
    person = PersonFactory(residence_office=hy_town)
    Person.objects.filter(pk=person.pk).update(name="=HYPERLINK(1)")
    case = _apply(Person.objects.get(pk=person.pk), "KA-001", hy_town, hy_district)
    person.refresh_from_db()
    assert (person.card_status, person.card_number) == (CardStatus.APPLIED, None)
    application = CardApplication.objects.get(case=case)
    assert (application.state, application.office) == (CardApplicationState.APPLIED, hy_district)

    district_clerk = clerk(hy_district)
    batch = cards.card_batch_create(acting_user=district_clerk)
    application.refresh_from_db()
    assert (batch.size, application.state, application.batch) == (1, CardApplicationState.IN_PRODUCTION, batch)
    sheet = openpyxl.load_workbook(
        io.BytesIO(cards.card_batch_production_file(batch=batch, acting_user=district_clerk))
    )
    rows = list(sheet.active.iter_rows(values_only=True))
    assert list(rows[0]) == PRODUCTION_HEADER
    assert rows[1][:4] == (batch.number, str(application.uid), person.id_number, "'=HYPERLINK(1)")  # neutralised
    assert SensitiveAccess.objects.filter(person=person, channel="export").exists()

    upload = _confirmation([[batch.number, str(application.uid), person.id_number, "A12345678", "成功", ""]], "gbk")
    batch = cards.card_batch_confirm(batch=batch, upload=upload, acting_user=district_clerk)
    person.refresh_from_db()
    application.refresh_from_db()
    assert (person.card_status, person.card_number) == (CardStatus.ACTIVE, "A12345678")
    assert (application.state, application.card_number) == (CardApplicationState.ISSUED, "A12345678")
    assert (batch.state, batch.issued_count, batch.failed_count) == (CardBatchState.CONFIRMED, 1, 0)
    assert len(batch.confirmation_sha256) == 64


def test_replacement_marks_the_old_card_and_a_failed_card_can_be_applied_for_again(hy_town, hy_district):
    person = person_with_card(hy_town)
    old = person.card_number
    with pytest.raises(ValidationError) as exc:  # a cardholder replaces, never applies anew
        services.case_intake(
            acting_user=clerk(hy_town), item=item("KA-001"), person=person, materials_received=["photo"]
        )
    assert "请办理补换" in exc.value.message_dict["person"][0]
    _apply(person, "KA-003", hy_town, hy_district)
    person.refresh_from_db()
    assert (person.card_status, person.card_number) == (CardStatus.REPLACED, old)
    with pytest.raises(ValidationError) as exc:  # one open application per person
        services.case_intake(
            acting_user=clerk(hy_town), item=item("KA-003"), person=person, materials_received=["photo"]
        )
    assert "制卡中" in exc.value.message_dict["person"][0]
    application = CardApplication.objects.get(person=person)
    assert application.previous_card_number == old
    batch = cards.card_batch_create(acting_user=clerk(hy_district))
    upload = _confirmation([[batch.number, str(application.uid), person.id_number, "", "失败", "照片不合格"]])
    cards.card_batch_confirm(batch=batch, upload=upload, acting_user=clerk(hy_district))
    application.refresh_from_db()
    person.refresh_from_db()
    assert (application.state, application.result_note) == (CardApplicationState.FAILED, "照片不合格")
    assert person.card_status == CardStatus.REPLACED
    _apply(person, "KA-003", hy_town, hy_district)  # may apply again


def test_a_wrong_confirmation_file_changes_nothing(hy_town, hy_district):
    first, second = PersonFactory(residence_office=hy_town), PersonFactory(residence_office=hy_town)
    taken = person_with_card(hy_town)
    for person in (first, second):
        _apply(person, "KA-001", hy_town, hy_district)
    batch = cards.card_batch_create(acting_user=clerk(hy_district))
    a1, a2 = (CardApplication.objects.get(person=p) for p in (first, second))
    bad = [
        [batch.number, str(a1.uid), second.id_number, "A00000001", "成功", ""],
        [batch.number, str(a2.uid), second.id_number, taken.card_number.upper(), "成功", ""],
    ]
    with pytest.raises(ValidationError) as exc:
        cards.card_batch_confirm(batch=batch, upload=_confirmation(bad), acting_user=clerk(hy_district))
    problems = exc.value.message_dict["file"]
    assert problems[0] == "第 2 行：公民身份号码与申领人不符"
    assert "已被使用" in problems[1]
    for upload, words in [
        (SimpleUploadedFile("x.csv", b"", content_type="text/csv"), "空的"),
        (SimpleUploadedFile("x.csv", b"a,b\n1,2\n", content_type="text/csv"), "表头应为"),
        (SimpleUploadedFile("x.csv", b"x" * (2 * 1024 * 1024 + 1), content_type="text/csv"), "超过 2 MB"),
        (_confirmation([[batch.number, str(a1.uid), first.id_number, "A00000001", "成功", ""]]), "缺少本批次的 1 条"),
    ]:
        with pytest.raises(ValidationError) as exc:
            cards.card_batch_confirm(batch=batch, upload=upload, acting_user=clerk(hy_district))
        assert words in exc.value.message_dict["file"][0]
    batch.refresh_from_db()
    assert batch.state == CardBatchState.SENT
    assert set(CardApplication.objects.values_list("state", flat=True)) == {CardApplicationState.IN_PRODUCTION}
    assert Person.objects.filter(pk__in=[first.pk, second.pk], card_status=CardStatus.APPLIED).count() == 2


def test_the_card_pages_walk_a_batch_and_refuse_other_districts(hy_town, hy_district):
    person = PersonFactory(residence_office=hy_town)
    _apply(person, "KA-001", hy_town, hy_district)
    client = Client()
    client.force_login(clerk(hy_district))
    page = client.get(reverse("cases_card_batches"))
    assert page.status_code == 200 and person.name in page.content.decode()
    assert person.id_number not in page.content.decode()
    response = client.post(reverse("cases_card_batch_create"))
    batch = CardBatch.objects.get()
    assert response.url == reverse("cases_card_batch", kwargs={"uid": batch.uid})
    download = client.get(reverse("cases_card_batch_download", kwargs={"uid": batch.uid}))
    assert download.status_code == 200 and download.content.startswith(b"PK")
    bad = client.post(reverse("cases_card_batch", kwargs={"uid": batch.uid}), {})
    assert bad.status_code == 400 and "请选择回盘文件。" in bad.content.decode()
    application = selectors.card_batch_applications(batch).get()
    upload = _confirmation([[batch.number, str(application.uid), person.id_number, "B12345678", "成功", ""]])
    done = client.post(reverse("cases_card_batch", kwargs={"uid": batch.uid}), {"file": upload})
    assert done.status_code == 302
    person.refresh_from_db()
    assert person.card_number == "B12345678"

    other = Client()
    other.force_login(clerk(Office.objects.get(code="331004")))
    assert other.get(reverse("cases_card_batch", kwargs={"uid": batch.uid})).status_code == 404
    assert batch.number not in other.get(reverse("cases_card_batches")).content.decode()
