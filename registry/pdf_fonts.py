"""The Chinese font of every PDF the project prints (ReportLab): certificates, contribution records, fund reports.

ReportLab can embed only TrueType-outline fonts, so the first of the ``PDF_FONT`` setting (the older
``CASES_PDF_FONT`` / ``CONTRIBUTIONS_PDF_FONT`` are still read) and ``TTF_CANDIDATES`` that exists and loads is
embedded (subset). Debian's fonts-noto-cjk ships ``NotoSansCJK-Regular.ttc`` with PostScript (CFF) outlines,
which ReportLab refuses ("postscript outlines are not supported"); fonts-wqy-zenhei (TrueType, installed by
.ci/run) is embedded instead. With no TrueType CJK font at all the PDF falls back to Adobe's built-in CID font
``STSong-Light`` (UniGB-UCS2-H), referenced, not embedded: every PDF reader ships it or substitutes it (a
certificate records ``font_embedded = False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

CID_FALLBACK = "STSong-Light"
EMBEDDED_NAME = "TaizhouCJK"
TTF_CANDIDATES = [
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansSC-Regular.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # CFF outlines: refused by ReportLab, kept for completeness
]


@dataclass(frozen=True)
class PdfFont:
    name: str  # the ReportLab font name to use in styles
    embedded: bool  # False: the CID fallback, referenced only


def _configured() -> str:
    for setting in ("PDF_FONT", "CASES_PDF_FONT", "CONTRIBUTIONS_PDF_FONT"):
        value = getattr(settings, setting, "") or ""
        if value:
            return value
    return ""


@lru_cache(maxsize=1)
def pdf_font() -> PdfFont:
    """Register (once per process) and return the font for Chinese text (see the module docstring)."""
    for candidate in [_configured(), *TTF_CANDIDATES]:
        if not candidate or not Path(candidate).is_file():
            continue
        try:
            font = TTFont(EMBEDDED_NAME, candidate, subfontIndex=0)
        except (TTFError, OSError, ValueError):
            continue
        pdfmetrics.registerFont(font)
        return PdfFont(EMBEDDED_NAME, True)
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK))
    return PdfFont(CID_FALLBACK, False)
