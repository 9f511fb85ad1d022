"""Validation of 公民身份号码 (GB 11643-1999) and 统一社会信用代码 (GB 32100-2015).

python-stdnum supplies the check-character arithmetic. Its ``validate()`` functions are
not used: they reject numbers real residents hold (area codes older or newer than the
birth date, 81/82/83 residence permits, credit codes starting with a letter), see
../shared/reference/domain-facts.md. An unknown area code is a warning, never a refusal.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import numdb
from stdnum.cn import ric, uscc

_ID18 = re.compile(r"^\d{17}[\dX]$")
_ID15 = re.compile(r"^\d{15}$")
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC = re.compile(rf"^[{_USCC_ALPHABET}]{{18}}$")
# Earliest birth year that can appear on a living resident's card.
_MIN_BIRTH_YEAR = 1890
_PERMIT_AREAS = {"810000", "820000", "830000"}


@dataclass(frozen=True)
class IdNumberInfo:
    number: str
    birth_date: datetime.date
    sex: str  # "M" or "F"
    area_code: str
    area_known: bool
    is_permit: bool


def _id_birth_date(digits: str) -> datetime.date:
    try:
        born = datetime.date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise ValidationError(
            _("公民身份号码中的出生日期 %(date)s 不存在。"),
            code="id_birth_date",
            params={"date": digits[0:8]},
        ) from None
    today = datetime.date.today()
    if born > today or born.year < _MIN_BIRTH_YEAR:
        raise ValidationError(
            _("公民身份号码中的出生日期 %(date)s 不可能（早于 %(min)s 年或晚于今天）。"),
            code="id_birth_date",
            params={"date": born.isoformat(), "min": _MIN_BIRTH_YEAR},
        )
    return born


# Separators a clerk (or a card reader's keyboard layout) types inside a number: spaces of every width, hyphens and
# dashes. NFKC turns full-width digits and letters (ＩＤ typed with a Chinese IME still in full-width mode) into ASCII.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff0d_]+")


def identifier_compact(value: str) -> str:
    """The number as the clerk meant it: full-width characters made ASCII (NFKC), separators dropped, upper case."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", value or "")).upper()


def id_number_normalize(value: str) -> str:
    """Return the 18-character form of a resident ID number or raise ValidationError.

    Accepts lower-case x, full-width digits and letters, spaces and dashes, and 15-digit legacy numbers
    (converted by inserting "19" before the year and appending the check character).
    """
    number = identifier_compact(value)
    if not number:
        raise ValidationError(_("请填写公民身份号码。"), code="id_required")
    if _ID15.match(number):
        _id_birth_date("19" + number[6:12])
        body = number[:6] + "19" + number[6:]
        return body + ric.calc_check_digit(body + "0")
    if len(number) != 18:
        raise ValidationError(
            _("公民身份号码应为 18 位（或 15 位旧号码），现为 %(length)s 位。"),
            code="id_length",
            params={"length": len(number)},
        )
    if not _ID18.match(number):
        raise ValidationError(_("公民身份号码只能由数字组成，最后一位可以是 X。"), code="id_characters")
    _id_birth_date(number[6:14])
    expected = ric.calc_check_digit(number)
    if number[-1] != expected:
        raise ValidationError(
            _("公民身份号码校验位错误：最后一位应为 %(expected)s，而不是 %(given)s。"),
            code="id_check_digit",
            params={"expected": expected, "given": number[-1]},
        )
    return number


_ID_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")


def contains_id_number(text: str) -> bool:
    """Whether ``text`` holds a 公民身份号码 (18 characters with a right check character and a possible birth date,
    or a 15-digit legacy number with a possible birth date) standing on its own."""
    for match in _ID_CANDIDATE.finditer(text or ""):
        try:
            id_number_normalize(match.group(1))
        except ValidationError:
            continue
        return True
    return False


def id_number_info(value: str) -> IdNumberInfo:
    number = id_number_normalize(value)
    area = number[:6]
    return IdNumberInfo(
        number=number,
        birth_date=_id_birth_date(number[6:14]),
        sex="M" if int(number[16]) % 2 == 1 else "F",
        area_code=area,
        area_known=_area_known(area),
        is_permit=area in _PERMIT_AREAS,
    )


def _area_known(area: str) -> bool:
    """Whether the area code appears in stdnum's division table at any time (no date check)."""
    if area in _PERMIT_AREAS:
        return True

    return any(props for _part, props in numdb.get("cn/loc").info(area))


def id_number_mask(number: str) -> str:
    """331002********123X: the first 6 and last 4 characters stay visible."""
    if not number:
        return ""
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def id_number_validator(value: str) -> None:
    id_number_normalize(value)


def credit_code_normalize(value: str) -> str:
    code = identifier_compact(value)
    if not code:
        raise ValidationError(_("请填写统一社会信用代码。"), code="uscc_required")
    if len(code) != 18:
        raise ValidationError(
            _("统一社会信用代码应为 18 位，现为 %(length)s 位。"),
            code="uscc_length",
            params={"length": len(code)},
        )
    if not _USCC.match(code):
        raise ValidationError(
            _("统一社会信用代码只能包含数字和除 I、O、Z、S、V 以外的大写字母。"),
            code="uscc_characters",
        )
    expected = uscc.calc_check_digit(code[:17])
    if code[-1] != expected:
        raise ValidationError(
            _("统一社会信用代码校验位错误：最后一位应为 %(expected)s，而不是 %(given)s。"),
            code="uscc_check_digit",
            params={"expected": expected, "given": code[-1]},
        )
    return code


# 登记管理部门码 + 机构类别码 (GB 32100-2015 附录 A) that fit each employer type: 9x 工商 (91 企业, 92 个体工商户,
# 93 农民专业合作社), 1x 机构编制 (11 机关, 12 事业单位, 13 中央编办直接管理, 19 其他). "other" takes any code.
CREDIT_CODE_PREFIXES = {
    "enterprise": ("91", "93"),
    "individual": ("92",),
    "public": ("11", "12", "13", "19"),
}


def credit_code_type_check(code: str, employer_type: str) -> None:
    """Refuse a credit code whose registration-authority and category codes belong to another type of unit."""
    prefixes = CREDIT_CODE_PREFIXES.get(employer_type)
    if prefixes and not code.startswith(prefixes):
        raise ValidationError(
            _("统一社会信用代码 %(prefix)s 开头的是其他类型的单位，与所选单位类型不符（应以 %(expected)s 开头）。"),
            code="uscc_type",
            params={"prefix": code[:2], "expected": "、".join(prefixes)},
        )


def credit_code_validator(value: str) -> None:
    credit_code_normalize(value)
