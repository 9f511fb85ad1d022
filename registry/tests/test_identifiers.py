import datetime

import pytest
from django.core.exceptions import ValidationError
from stdnum.cn import ric

from registry.identifiers import (
    credit_code_normalize,
    id_number_info,
    id_number_mask,
    id_number_normalize,
)


def with_check(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


@pytest.mark.parametrize(
    "body, birth, sex",
    [
        ("33100319620315123", datetime.date(1962, 3, 15), "M"),  # 黄岩 code, born before the code existed
        ("33100219350101002", datetime.date(1935, 1, 1), "F"),
        ("33260219700707051", datetime.date(1970, 7, 7), "M"),  # older 3326xx code of the same places
        ("33100420080229004", datetime.date(2008, 2, 29), "F"),  # leap day
        ("81000019900101001", datetime.date(1990, 1, 1), "M"),  # Hong Kong residence permit
        ("82000019851231002", datetime.date(1985, 12, 31), "F"),  # Macau
        ("83000019770505003", datetime.date(1977, 5, 5), "M"),  # Taiwan
    ],
)
def test_real_residents_numbers_are_accepted(body, birth, sex):
    number = with_check(body)
    info = id_number_info(number)
    assert info.number == number
    assert info.birth_date == birth
    assert info.sex == sex


def test_stdnum_validate_would_reject_what_we_accept():
    # The reason we do not call stdnum's validate(): a 1962 黄岩 number is real.
    number = with_check("33100319620315123")
    with pytest.raises(ric.ValidationError):
        ric.validate(number)
    assert id_number_normalize(number) == number


def test_lower_case_x_and_spaces_are_normalised():
    assert id_number_normalize(" 11010519491231002x ") == "11010519491231002X"


def test_fifteen_digit_legacy_number_is_converted():
    # 15 digits: area(6) + yymmdd(6) + seq(3); "19" is inserted and the check character added.
    assert id_number_normalize("331003620315123") == with_check("33100319620315123")


def test_unknown_area_code_is_a_warning_not_a_refusal():
    info = id_number_info(with_check("99999919800101001"))
    assert info.area_known is False
    assert id_number_info(with_check("33100319800101001")).area_known is True


@pytest.mark.parametrize(
    "value, code, fragment",
    [
        ("11010519491231002Y", "id_characters", "只能由数字组成"),
        ("110105194912310021", "id_check_digit", "校验位错误：最后一位应为 X"),
        (with_check("33100319990231001"), "id_birth_date", "19990231 不存在"),
        (with_check("33100321990101001"), "id_birth_date", "不可能"),
        ("3310031980", "id_length", "应为 18 位"),
        ("", "id_required", "请填写"),
        ("331003990231123", "id_birth_date", "不存在"),
    ],
)
def test_bad_numbers_are_refused_with_the_reason(value, code, fragment):
    with pytest.raises(ValidationError) as caught:
        id_number_normalize(value)
    assert caught.value.code == code
    assert fragment in caught.value.messages[0]


def test_mask_keeps_first_six_and_last_four():
    assert id_number_mask("33100219620315123X") == "331002********123X"


def _uscc(body17: str) -> str:
    from stdnum.cn import uscc

    return body17 + uscc.calc_check_digit(body17)


@pytest.mark.parametrize(
    "body",
    ["91331003MA2AB1234", "92331004MA2XY9876", "12331000470000001", "Y1331002000000001", "93331003MA2C00002"],
)
def test_valid_credit_codes_are_accepted(body):
    code = _uscc(body)
    assert credit_code_normalize(code.lower()) == code


@pytest.mark.parametrize(
    "value, code",
    [
        ("91331003MA2AB123", "uscc_length"),
        ("91331003MA2AB1234I", "uscc_characters"),  # I is not in the alphabet
        ("91331003MA2AB12340", "uscc_check_digit"),
        ("", "uscc_required"),
    ],
)
def test_bad_credit_codes_are_refused(value, code):
    if code == "uscc_check_digit":
        good = _uscc("91331003MA2AB1234")
        value = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(ValidationError) as caught:
        credit_code_normalize(value)
    assert caught.value.code == code
