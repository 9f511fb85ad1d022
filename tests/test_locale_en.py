"""English is selectable and the exchange API's error body carries English: every message has a translation."""

import re
from pathlib import Path

import pytest
from django.conf import settings

PO = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def _entries(text: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) of each entry of a .po file (continuation lines joined; plural forms use msgstr[0])."""
    entries = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#")]
        fields: dict[str, str] = {}
        current = None
        for line in lines:
            match = re.match(r'^(msgid|msgid_plural|msgstr|msgstr\[0\]|msgctxt)(?:\[\d+\])? "(.*)"$', line)
            if match:
                current = match.group(1).replace("[0]", "")
                fields[current] = fields.get(current, "") + match.group(2)
            elif line.startswith('"') and current:
                fields[current] += line[1:-1]
        if fields.get("msgid"):
            entries.append((fields["msgid"], fields.get("msgstr", "")))
    return entries


def test_every_message_has_an_english_translation():
    missing = [msgid for msgid, msgstr in _entries(PO.read_text(encoding="utf-8")) if not msgstr]
    assert not missing, f"{len(missing)} messages without English, e.g. {missing[:5]}"


@pytest.mark.parametrize("msgid", ["第 %(row)s 行", "参保人员"])
def test_the_compiled_catalogue_is_the_one_in_the_repository(msgid):
    """The .mo is compiled from the .po (msgfmt --check-format): a changed .po without a new .mo shows here."""
    import gettext

    with MO.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    translations = dict(_entries(PO.read_text(encoding="utf-8")))
    assert catalogue.gettext(msgid) == translations[msgid] != msgid
