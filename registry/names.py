"""Pinyin for search: full syllables run together (zhangsan) and initials (zs)."""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin


def name_pinyin(name: str) -> tuple[str, str]:
    syllables = [s for s in lazy_pinyin(name or "", style=Style.NORMAL, errors="ignore") if s.isalnum()]
    full = "".join(syllables).lower()
    initials = "".join(s[0] for s in syllables).lower()
    return full[:120], initials[:20]
