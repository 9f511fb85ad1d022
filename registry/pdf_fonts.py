"""The one font loader of every PDF the project prints (certificates, the personal record, fund reports).

ReportLab embeds TrueType-outline fonts only. Debian's fonts-noto-cjk, which the browser uses, has PostScript (CFF)
outlines that ReportLab refuses, so the PDFs embed a TrueType font instead: the first of the ``PDF_FONT`` setting
(older settings ``CASES_PDF_FONT`` / ``CONTRIBUTIONS_PDF_FONT`` are still read) and ``PRIMARY_CANDIDATES`` that
loads, fonts-wqy-zenhei on this project's machines. It covers the common characters and CJK Extension A (䶮), but
not Extension B (𠮷, U+20BB7) and beyond, which the browser shows from Noto CJK. For those, every text goes through
``pdf_markup``: a character the primary font lacks is set in the first fallback font that has it —
fonts-hanazono's HanaMinA (BMP, Extension A) and HanaMinB (Extensions B–F, the supplementary planes), TrueType,
installed by ``.ci/run`` next to fonts-wqy-zenhei. With no TrueType CJK font at all the PDF falls back to the CID
font STSong-Light (referenced, not embedded) and ``embedded`` is False.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

CID_FALLBACK = "STSong-Light"
PRIMARY_NAME = "TzsiCJK"
PRIMARY_CANDIDATES = [
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansSC-Regular.ttf",
]
# (registered name, file): tried in order for each character the primary font lacks.
FALLBACK_CANDIDATES = [
    ("TzsiHanaA", "/usr/share/fonts/truetype/hanazono/HanaMinA.ttf"),
    ("TzsiHanaB", "/usr/share/fonts/truetype/hanazono/HanaMinB.ttf"),
]


@dataclass(frozen=True)
class PdfFonts:
    """The registered fonts: ``name`` for styles, ``embedded`` whether it is an embedded TrueType font."""

    name: str
    embedded: bool
    covered: frozenset[int] | None = None  # code points of the primary font; None: unknown (the CID font)
    fallbacks: tuple[tuple[str, frozenset[int]], ...] = field(default=())

    def font_for(self, char: str) -> str:
        """The registered font to set ``char`` in (the primary one unless it lacks the character)."""
        code = ord(char)
        if self.covered is not None and code in self.covered:
            return self.name
        if self.covered is None and code < 0x10000:
            return self.name
        for name, codes in self.fallbacks:
            if code in codes:
                return name
        return self.name


def _to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """ReportLab's ToUnicode CMap with each destination written as UTF-16BE, as the PDF reference requires.

    ReportLab (5.1) writes ``<%04X>`` of the code point, so 𠮷 becomes ``<20BB7>``: the glyph prints, but copying
    or searching the PDF's text loses the character. A supplementary character needs its surrogate pair."""
    entries = []
    for index, code in enumerate(subset):
        target = chr(code).encode("utf-16-be").hex().upper() if code <= 0x10FFFF else f"{code:04X}"
        entries.append(f"<{index:02X}> <{target}>")
    return "\n".join(
        [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo",
            f"<< /Registry ({fontname})",
            f"/Ordering ({fontname})",
            "/Supplement 0",
            ">> def",
            f"/CMapName /{fontname} def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            f"<00> <{len(subset) - 1:02X}>",
            "endcodespacerange",
            f"{len(subset)} beginbfchar",
            *entries,
            "endbfchar",
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
    )


def _load_ttf(name: str, path: str):
    ttfonts.makeToUnicodeCMap = _to_unicode_cmap  # see _to_unicode_cmap: ReportLab's loses supplementary planes

    if not path or not Path(path).is_file():
        return None
    try:
        font = TTFont(name, path, subfontIndex=0)
    except (TTFError, OSError, ValueError):
        return None
    pdfmetrics.registerFont(font)
    return font


def _configured() -> list[str]:
    names = ("PDF_FONT", "CASES_PDF_FONT", "CONTRIBUTIONS_PDF_FONT")
    return [value for value in (getattr(settings, n, "") or "" for n in names) if value]


@lru_cache(maxsize=1)
def pdf_fonts() -> PdfFonts:
    """Register the primary font and the fallbacks once per process and return them."""
    fallbacks = []
    for name, path in FALLBACK_CANDIDATES:
        font = _load_ttf(name, path)
        if font is not None:
            fallbacks.append((name, frozenset(font.face.charToGlyph)))
    for candidate in [*_configured(), *PRIMARY_CANDIDATES]:
        font = _load_ttf(PRIMARY_NAME, candidate)
        if font is not None:
            return PdfFonts(PRIMARY_NAME, True, frozenset(font.face.charToGlyph), tuple(fallbacks))

    pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK))
    return PdfFonts(CID_FALLBACK, False, None, tuple(fallbacks))


def pdf_font() -> str:
    """The name of the primary font, for paragraph and table styles."""
    return pdf_fonts().name


def pdf_markup(text: object) -> str:
    """``text`` as Paragraph markup: escaped (names may hold ``<`` or ``&``), and every run of characters the
    primary font lacks wrapped in ``<font name=…>`` of the fallback font that has them."""
    fonts = pdf_fonts()
    out: list[str] = []
    run: list[str] = []
    current = fonts.name
    for char in str(text):
        name = fonts.font_for(char)
        if name != current and run:
            out.append(_wrap(fonts, current, "".join(run)))
            run = []
        current = name
        run.append(char)
    if run:
        out.append(_wrap(fonts, current, "".join(run)))
    return "".join(out)


def _wrap(fonts: PdfFonts, name: str, text: str) -> str:
    if name == fonts.name:
        return escape(text)
    return f'<font name="{name}">{escape(text)}</font>'
