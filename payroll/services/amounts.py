"""The dated parameters the payroll applies to awards: yearly pension adjustments (调待).

Rule (人力资源社会保障部、财政部每年的《关于调整退休人员基本养老金的通知》, e.g. 人社部发〔2024〕62号: the
adjustment covers those who retired before the adjustment's date and applies from that date): each dated value of
``benefit.emp_pension.adjustment_monthly`` / ``benefit.res_pension.adjustment_monthly`` is one adjustment, a
monthly amount added from its ``valid_from`` month to every pension of that kind whose start month is earlier —
and kept from then on (the adjustments of later years add up). An adjustment entered after its month is paid for
the months already paid as arrears (payroll.services.run). District values over the city's, as the resolver
decides on each adjustment's date.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from cases.models import Effect
from policies import codes
from policies.models import ParameterValue
from policies.selectors import ParameterNotFound, parameter_value
from registry.models import Office, OfficeLevel

ADJUSTMENT_CODES = {
    Effect.BENEFIT_EMP_PENSION: codes.BENEFIT_EMP_PENSION_ADJUSTMENT_MONTHLY,
    Effect.BENEFIT_RES_PENSION: codes.BENEFIT_RES_PENSION_ADJUSTMENT_MONTHLY,
}


@dataclass(frozen=True)
class Adjustment:
    district_id: int
    effect: str
    from_month: datetime.date
    amount: Decimal
    value_id: int

    @property
    def key(self) -> str:
        return f"{self.district_id}/{self.effect}"

    def as_record(self) -> list[object]:
        return [self.district_id, self.effect, self.from_month.isoformat(), str(self.amount), self.value_id]


def adjustments_up_to(month: datetime.date) -> list[Adjustment]:
    """Every adjustment in force from a month up to ``month``, per district and pension kind."""
    districts = list(Office.objects.filter(level=OfficeLevel.DISTRICT).only("pk", "code"))
    found: dict[tuple[int, str, int], Adjustment] = {}
    for effect, code in ADJUSTMENT_CODES.items():
        dates = sorted(
            set(
                ParameterValue.objects.filter(parameter__code=code, valid_from__lte=month).values_list(
                    "valid_from", flat=True
                )
            )
        )
        for district in districts:
            for day in dates:
                try:
                    resolved = parameter_value(code, on=day, district_code=district.code)
                except ParameterNotFound:
                    continue
                start = resolved.valid_from.replace(day=1)
                found[(district.pk, effect, resolved.value_id)] = Adjustment(
                    district_id=district.pk,
                    effect=str(effect),
                    from_month=start,
                    amount=Decimal(resolved.value),
                    value_id=resolved.value_id,
                )
    return sorted(found.values(), key=lambda a: (a.district_id, a.effect, a.from_month))


def adjustments_cte(adjustments: list[Adjustment]) -> tuple[str, list[object]]:
    """``adj(k, from_month, amount)`` as a VALUES list (an empty, typed relation when there is none)."""
    if not adjustments:
        return "adj(k, from_month, amount) AS (SELECT NULL::text, NULL::date, NULL::numeric WHERE false)", []
    rows = ", ".join(["(%s::text, %s::date, %s::numeric)"] * len(adjustments))
    params: list[object] = []
    for a in adjustments:
        params += [a.key, a.from_month, a.amount]
    return f"adj(k, from_month, amount) AS (VALUES {rows})", params
