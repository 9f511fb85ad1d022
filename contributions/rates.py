"""The parameters one bill run needs, resolved once per district and period (never per person).

Rates are carried into SQL as integer parts-per-million and money as integer fen, so the
same exact integer arithmetic runs on PostgreSQL and SQLite and the rounding rule is explicit.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from policies import codes
from policies.selectors import parameter_values, rounding_rule
from registry.models import InsuranceType

EMPLOYEE_RATE_INSURANCES = (
    InsuranceType.EMPLOYEE_PENSION,
    InsuranceType.EMPLOYEE_MEDICAL,
    InsuranceType.UNEMPLOYMENT,
    InsuranceType.MATERNITY,
)
FLEX_RATE_CODES = {
    InsuranceType.EMPLOYEE_PENSION: codes.RATE_FLEX_EMP_PENSION,
    InsuranceType.EMPLOYEE_MEDICAL: codes.RATE_FLEX_EMP_MEDICAL,
}
SUPPORTED_ROUNDING = {ROUND_HALF_UP: "half_up", ROUND_DOWN: "down"}


def ppm(rate: Decimal) -> int:
    value = Decimal(rate) * 1_000_000
    if value != value.to_integral_value():
        raise ValidationError(_("费率 %(rate)s 超过 6 位小数，无法精确核定。") % {"rate": rate})
    return int(value)


def fen(amount: Decimal) -> int:
    return int((Decimal(amount) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class DistrictRates:
    district_code: str
    employer_ppm: dict[str, int]
    individual_ppm: dict[str, int]
    injury_ppm_by_class: dict[int, int]
    flex_ppm: dict[str, int]
    floor_fen: int
    ceiling_fen: int
    value_ids: dict[str, int] = field(default_factory=dict)
    average_fen: int = 0  # the average wage, base of a flexible worker's chosen percentage

    def clamp(self, base: Decimal) -> tuple[Decimal, str]:
        amount = fen(base)
        if amount < self.floor_fen:
            return Decimal(self.floor_fen) / 100, "floor"
        if amount > self.ceiling_fen:
            return Decimal(self.ceiling_fen) / 100, "ceiling"
        return Decimal(amount) / 100, ""


@dataclass(frozen=True)
class Rounding:
    places: int
    mode: str  # "half_up" or "down"
    value_id: int | None

    @property
    def unit_fen(self) -> int:
        return 10 ** (2 - self.places)


RUN_CODES = [
    *(codes.rate_code(i, payer) for i in EMPLOYEE_RATE_INSURANCES for payer in ("employer", "individual")),
    codes.RATE_WORK_INJURY_BENCHMARK,
    codes.RATE_FLEX_EMP_PENSION,
    codes.RATE_FLEX_EMP_MEDICAL,
    codes.BASE_FLOOR_RATIO,
    codes.BASE_CEILING_RATIO,
    codes.WAGE_AVERAGE_MONTHLY,
]


def district_rates(*, on: datetime.date, district_code: str) -> DistrictRates:
    values = parameter_values(RUN_CODES, on=on, district_code=district_code)
    rule = rounding_rule(on=on)
    average = values[codes.WAGE_AVERAGE_MONTHLY].value
    # The base limits are money: rounded by the money rule like every other amount.
    floor = rule.apply(average * values[codes.BASE_FLOOR_RATIO].value)
    ceiling = rule.apply(average * values[codes.BASE_CEILING_RATIO].value)
    benchmark = values[codes.RATE_WORK_INJURY_BENCHMARK].value
    return DistrictRates(
        district_code=district_code,
        employer_ppm={i.value: ppm(values[codes.rate_code(i, "employer")].value) for i in EMPLOYEE_RATE_INSURANCES},
        individual_ppm={i.value: ppm(values[codes.rate_code(i, "individual")].value) for i in EMPLOYEE_RATE_INSURANCES},
        injury_ppm_by_class={int(k): ppm(Decimal(v)) for k, v in benchmark.items()},
        flex_ppm={i.value: ppm(values[code].value) for i, code in FLEX_RATE_CODES.items()},
        floor_fen=fen(floor),
        ceiling_fen=fen(ceiling),
        value_ids={code: resolved.value_id for code, resolved in values.items()},
        average_fen=fen(average),
    )


def run_rounding(*, on: datetime.date) -> Rounding:
    rule = rounding_rule(on=on)
    if rule.mode not in SUPPORTED_ROUNDING or not 0 <= rule.places <= 2:
        raise ValidationError(
            _("舍入规则 %(mode)s/%(places)s 位暂不支持批量核定（支持 ROUND_HALF_UP、ROUND_DOWN，0–2 位小数）。")
            % {"mode": rule.mode, "places": rule.places}
        )
    return Rounding(places=rule.places, mode=SUPPORTED_ROUNDING[rule.mode], value_id=rule.value_id)


def line_amount(base: Decimal, rate_ppm: int, rounding: Rounding, ratio_centi: int = 100) -> Decimal:
    """The same integer arithmetic as the bill-run SQL, for single bills and tests."""
    numerator = fen(base) * rate_ppm * ratio_centi
    divisor = 1_000_000 * 100 * rounding.unit_fen
    units = (numerator + divisor // 2) // divisor if rounding.mode == "half_up" else numerator // divisor
    return Decimal(units * rounding.unit_fen) / 100
