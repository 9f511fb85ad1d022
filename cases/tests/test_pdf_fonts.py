"""Every character the browser shows is in the PDFs too: a name with 𠮷 (CJK Extension B, not in the main
font) and 䶮 (Extension A) is printed from the fallback font and found again in the PDF's text."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from pypdf import PdfReader

from cases import services
from cases.tests.factories import clerk, item, paid_months
from contributions.pdf import contribution_record_pdf
from contributions.selectors import person_contribution_record
from registry.models import Person
from registry.pdf_fonts import pdf_fonts, pdf_markup
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, township_of

pytestmark = pytest.mark.django_db

RARE = "𠮷䶮"


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _needs_fonts():
    fonts = pdf_fonts()
    if not fonts.embedded or not fonts.fallbacks:
        pytest.skip("needs fonts-wqy-zenhei and fonts-hanazono (installed by .ci/run)")
    return fonts


def test_a_character_the_main_font_lacks_is_set_in_a_fallback_font():
    fonts = _needs_fonts()
    assert ord("𠮷") not in fonts.covered  # why the fallback exists
    markup = pdf_markup("吉<𠮷>")
    assert markup.startswith("吉&lt;<font name=") and "𠮷</font>&gt;" in markup


def test_a_certificate_for_a_name_with_rare_characters_prints_them():
    _needs_fonts()
    hy_town = township_of("331003")
    person = PersonFactory(residence_office=hy_town)
    Person.objects.filter(pk=person.pk).update(name=f"{RARE}明")
    person.refresh_from_db()
    EnrollmentFactory(person=person, insurance_type="emp_pension", employer=EmployerFactory(office=hy_town))
    paid_months(person, "emp_pension", 2)
    case = services.case_intake(acting_user=clerk(hy_town), item=item("ZM-001"), person=person)
    pdf = default_storage.open(case.certificate.attachment.file.name).read()
    assert b"/FontFile2" in pdf
    assert f"{RARE}明" in _text(pdf)

    record = person_contribution_record(user=clerk(hy_town), person=person)
    assert f"{RARE}明" in _text(contribution_record_pdf(record))
