"""The one Chinese PDF font loader: the configured font first, then the known TrueType fonts, else the CID font."""

from pathlib import Path

import pytest
from reportlab.pdfbase import pdfmetrics

from registry import pdf_fonts


@pytest.fixture
def fresh_loader():
    pdf_fonts.pdf_font.cache_clear()
    yield pdf_fonts.pdf_font
    pdf_fonts.pdf_font.cache_clear()


def test_without_an_embeddable_font_the_cid_font_is_referenced(fresh_loader, settings, monkeypatch, tmp_path):
    not_a_font = tmp_path / "not-a-font.ttf"
    not_a_font.write_bytes(b"plain text")
    settings.PDF_FONT = str(not_a_font)  # refused by ReportLab: the next candidate is tried
    monkeypatch.setattr(pdf_fonts, "TTF_CANDIDATES", [str(tmp_path / "missing.ttc")])
    font = fresh_loader()
    assert font == pdf_fonts.PdfFont("STSong-Light", False)
    assert pdfmetrics.getFont("STSong-Light")


@pytest.mark.skipif(
    not Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc").is_file(), reason="fonts-wqy-zenhei not installed"
)
def test_the_configured_truetype_font_is_embedded(fresh_loader, settings, monkeypatch):
    settings.PDF_FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
    monkeypatch.setattr(pdf_fonts, "TTF_CANDIDATES", [])
    font = fresh_loader()
    assert font == pdf_fonts.PdfFont(pdf_fonts.EMBEDDED_NAME, True)
    assert pdfmetrics.getFont(pdf_fonts.EMBEDDED_NAME).face.filename.endswith("wqy-zenhei.ttc")
