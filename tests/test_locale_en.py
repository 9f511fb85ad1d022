"""English is selectable and the exchange API's error body carries English: every message has a translation.

The catalogue is checked twice: every entry of the .po has an English msgstr (and none is left ``fuzzy``, which
msgfmt skips), and every translatable literal in the code and the templates has an entry, so a message added
without running ``makemessages -l en`` and translating it fails here rather than showing Chinese to an English user.
"""

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

from registry.tests.helpers import project_apps

BASE = Path(settings.BASE_DIR).resolve()
PO = BASE / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
_FIELD = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) "(.*)"$')


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def _catalogue(text: str) -> dict[tuple[str | None, str], tuple[list[str], bool]]:
    """{(msgctxt, msgid): (msgstrs, fuzzy)} of a .po file: continuation lines joined, every plural form kept,
    obsolete (``#~``) entries left out."""
    catalogue = {}
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        current = None
        for line in block.splitlines():
            match = _FIELD.match(line)
            if match:
                current = match.group(1)
                fields[current] = _unescape(match.group(2))
            elif line.startswith('"') and current:
                fields[current] += _unescape(line[1:-1])
        if fields.get("msgid"):
            fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in block.splitlines())
            msgstrs = [value for key, value in fields.items() if key.startswith("msgstr")]
            catalogue[(fields.get("msgctxt"), fields["msgid"])] = (msgstrs, fuzzy)
    return catalogue


def _entries(text: str) -> list[tuple[str, str]]:
    """(msgid, first msgstr) of each entry of a .po file."""
    return [(msgid, msgstrs[0]) for (_ctx, msgid), (msgstrs, _fuzzy) in _catalogue(text).items()]


# gettext function -> (index of the context argument or None, index of the message argument): makemessages' keywords.
_GETTEXT_CALLS = {
    **dict.fromkeys(["_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy"], (None, 0)),
    **dict.fromkeys(["pgettext", "pgettext_lazy", "npgettext", "npgettext_lazy"], (0, 1)),
}
_TAG = re.compile(r"\{%(.*?)%\}|\{\{(.*?)\}\}", re.DOTALL)
_TRANSLATE = re.compile(
    r"""^\s*trans(?:late)?\s+("[^"]*?"|'[^']*?')(?:\s*\|\s*[^\s:]+(?::(?:[^\s'":]+|"[^"]*?"|'[^']*?'))?)*"""
    r"""(?:\s+.*context\s+("[^"]*?"|'[^']*?'))?"""
)
_CONSTANT = re.compile(r"""_\((".*?"|'.*?')\)""")


def _source_dirs() -> list[Path]:
    dirs = {apps.get_app_config(name.rpartition(".")[2]).path for name in project_apps() if name != "taizhou_si"}
    return sorted({Path(d).resolve() for d in dirs} | {BASE / "taizhou_si", BASE / "tests", BASE / "templates"})


def _project_files(suffix: str):
    for directory in _source_dirs():
        for path in sorted(directory.rglob(f"*{suffix}")):
            if "migrations" not in path.parts and ".venv" not in path.parts:
                yield path


def _python_messages(path: Path):
    """(line, msgctxt, msgid) of every gettext call whose message (and context) is a string literal."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in _GETTEXT_CALLS:
            continue
        context_at, message_at = _GETTEXT_CALLS[name]
        wanted = [message_at] if context_at is None else [context_at, message_at]
        args = [node.args[i] if i < len(node.args) else None for i in wanted]
        if all(isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in args):
            values = [arg.value for arg in args]
            yield node.lineno, (values[0] if context_at is not None else None), values[-1]


def _template_messages(path: Path):
    """(line, msgctxt, msgid) of every ``{% translate "…" %}`` and ``_("…")`` in a template (blocktranslate is
    left to makemessages). As makemessages does, a literal ``%`` of a translate tag is ``%%`` in the msgid."""
    text = path.read_text(encoding="utf-8")
    for tag in _TAG.finditer(text):
        line = text.count("\n", 0, tag.start()) + 1
        contents = tag.group(1) if tag.group(1) is not None else tag.group(2)
        translate = _TRANSLATE.match(contents) if tag.group(1) is not None else None
        if translate:
            context = translate.group(2)[1:-1] if translate.group(2) else None
            yield line, context, translate.group(1)[1:-1].replace("%", "%%")
        for constant in _CONSTANT.findall(contents):
            yield line, None, constant[1:-1]


def _code_messages():
    for path in _project_files(".py"):
        for line, context, msgid in _python_messages(path):
            yield f"{path.relative_to(BASE)}:{line}", context, msgid
    for path in _project_files(".html"):
        for line, context, msgid in _template_messages(path):
            yield f"{path.relative_to(BASE)}:{line}", context, msgid


def test_every_message_has_an_english_translation():
    catalogue = _catalogue(PO.read_text(encoding="utf-8"))
    missing = [key[1] for key, (msgstrs, fuzzy) in catalogue.items() if fuzzy or not all(msgstrs)]
    assert not missing, f"{len(missing)} messages without (or with a fuzzy) English, e.g. {missing[:5]}"


def test_every_translatable_literal_in_the_code_has_an_english_translation():
    """A message in the code or a template that is not in the .po, or is there without a checked English text,
    fails: run ``manage.py makemessages -l en --no-obsolete``, translate every empty msgstr, then msgfmt."""
    catalogue = _catalogue(PO.read_text(encoding="utf-8"))
    found, missing = 0, []
    for where, context, msgid in _code_messages():
        found += 1
        msgstrs, fuzzy = catalogue.get((context, msgid), ([], False))
        if fuzzy or not msgstrs or not all(msgstrs):
            missing.append(f"{where}: {msgid!r}")
    assert found > 1000, f"only {found} translatable literals found: the scan has lost its way"
    assert not missing, f"{len(missing)} messages without English in {PO.relative_to(BASE)}: " + "; ".join(missing[:8])


@pytest.mark.parametrize("msgid", ["第 %(row)s 行", "参保人员"])
def test_the_compiled_catalogue_is_the_one_in_the_repository(msgid):
    """The .mo is compiled from the .po (msgfmt --check-format): a changed .po without a new .mo shows here."""
    import gettext

    with MO.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    translations = dict(_entries(PO.read_text(encoding="utf-8")))
    assert catalogue.gettext(msgid) == translations[msgid] != msgid
