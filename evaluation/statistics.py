"""The statistics pages' definitions and reads: per topic its measures, its groupings and the one grouped query over
the pre-aggregated ``StatCell`` rows, cut to an office's subtree (the reader's jurisdiction)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Sum, Value
from django.db.models.functions import Substr
from django.utils.translation import gettext_lazy as _

from registry.models import EmployerType, InsuranceType, Office, Sex

from .models import StatCell, StatTopic


@dataclass(frozen=True)
class Topic:
    key: str
    label: str
    measures: tuple[str, ...]  # labels of m1, m2, m3 (as many as the topic has)
    groups: tuple[str, ...]  # allowed groupings, the first the default
    money: bool = False
    chart: str = "line"


TOPICS = {
    StatTopic.INSURED: Topic(
        "insured",
        _("参保人员"),
        (_("月末参保人次"), _("当月新增参保"), _("当月停保")),
        ("insurance", "district", "township", "age_band", "sex", "total"),
    ),
    StatTopic.EMPLOYERS: Topic(
        "employers",
        _("参保单位"),
        (_("单位数"), _("职工养老参保人数")),
        ("employer_type", "size_band", "district", "township", "total"),
        chart="bar",
    ),
    StatTopic.CONTRIBUTIONS: Topic(
        "contributions",
        _("缴费征收"),
        (_("应缴（元）"), _("实缴（元）"), _("欠费（元）")),
        ("district", "insurance", "total"),
        money=True,
        chart="bar",
    ),
    StatTopic.BENEFITS: Topic(
        "benefits", _("待遇支出"), (_("发放金额（元）"), _("发放笔数")), ("insurance", "district", "total"), money=True
    ),
    StatTopic.FUNDS: Topic(
        "funds", _("基金收支"), (_("收入（元）"), _("支出（元）")), ("insurance", "district", "total"), money=True
    ),
}

GROUP_LABELS = {
    "insurance": _("险种"),
    "district": _("区"),
    "township": _("街道（乡镇）"),
    "age_band": _("年龄段"),
    "sex": _("性别"),
    "employer_type": _("单位类型"),
    "size_band": _("单位规模（职工人数）"),
    "total": _("合计"),
}

_GROUP_EXPR = {
    "insurance": F("insurance_type"),
    "district": Substr("office__path", 9, 6),  # /331000/331003/… → 331003
    "township": Substr("office__path", 16, 9),  # …/331003001/… ('' for rows of a district or the city office)
    "age_band": F("dim_b"),
    "sex": F("dim_a"),
    "employer_type": F("dim_a"),
    "size_band": F("dim_b"),
    "total": Value(""),
}


@dataclass
class Series:
    topic: Topic
    group: str
    months: list[datetime.date]
    keys: list[str]
    labels: dict[str, str]
    values: dict[tuple[datetime.date, str], list[Decimal]]

    def rows(self) -> list[tuple[datetime.date, str, list[Decimal]]]:
        return [
            (m, self.labels.get(k, k), self.values[(m, k)])
            for m in self.months
            for k in self.keys
            if (m, k) in self.values
        ]

    def display_rows(self) -> list[tuple[str, str, list[str]]]:
        """The table's rows with the numbers formatted once here (template filters per cell cost more than the query)."""
        fmt = "{:,.2f}" if self.topic.money else "{:,.0f}"
        return [(f"{m:%Y-%m}", label, [fmt.format(v or 0) for v in values]) for m, label, values in self.rows()]

    def chart(self) -> dict:
        """First measure per group over the months, for the chart."""
        return {
            "type": self.topic.chart,
            "labels": [f"{m:%Y-%m}" for m in self.months],
            "measure": str(self.topic.measures[0]),
            "series": [
                {
                    "label": self.labels.get(k, k) or str(_("合计")),
                    "data": [float(self.values.get((m, k), [0])[0]) for m in self.months],
                }
                for k in self.keys
            ],
        }


def _labels(group: str, keys: list[str]) -> dict[str, str]:
    if group == "insurance":
        return {k: str(dict(InsuranceType.choices).get(k, k)) for k in keys}
    if group == "sex":
        return {k: str(dict(Sex.choices).get(k, k)) for k in keys}
    if group == "employer_type":
        return {k: str(dict(EmployerType.choices).get(k, k)) for k in keys}
    if group in ("district", "township"):
        names = dict(Office.objects.filter(code__in=keys).values_list("code", "name"))
        blank = _("区级机构") if group == "township" else _("市级机构")
        return {k: names.get(k, k) if k else str(blank) for k in keys}
    return {k: (k or str(_("合计"))) for k in keys}


def statistics_series(
    *, topic: str, scope: Office, first: datetime.date, last: datetime.date, group: str, insurance: str = ""
) -> Series:
    """The topic's measures per month and group within ``scope``'s subtree (one grouped query)."""
    spec = TOPICS[topic]
    qs = StatCell.objects.filter(topic=topic, month__gte=first, month__lte=last, office__path__startswith=scope.path)
    if topic == StatTopic.INSURED:  # the '*' rows are the totals over sex and age band (services.statistics)
        qs = qs.exclude(dim_a="*") if group in ("sex", "age_band") else qs.filter(dim_a="*")
    if insurance:
        qs = qs.filter(insurance_type=insurance)
    rows = (
        qs.annotate(key=_GROUP_EXPR[group])
        .values("month", "key")
        .annotate(m1=Sum("m1"), m2=Sum("m2"), m3=Sum("m3"))
        .order_by("month", "key")
    )
    values: dict[tuple[datetime.date, str], list[Decimal]] = {}
    keys: list[str] = []
    for r in rows:
        values[(r["month"], r["key"])] = [r["m1"], r["m2"], r["m3"]][: len(spec.measures)]
        if r["key"] not in keys:
            keys.append(r["key"])
    keys.sort()
    months = sorted({m for m, _k in values})
    return Series(spec, group, months, keys, _labels(group, keys), values)
