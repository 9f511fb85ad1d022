"""Reads of the evaluation: the scheme in force, office figures from the metrics, the evaluation of a month or a
year (published version or live draft), the supervision lists. Jurisdiction: lines are cut to the reader's offices."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Sum
from django.utils.translation import gettext as _

from cases.models import ACTIVE_STATES, Case, CaseEscalation
from policies.selectors import ParameterNotFound, parameter_value
from policies.workdays import WorkCalendar
from registry.exceptions import ApplicationError
from registry.jurisdiction import office_in_jurisdiction, user_sees_everything
from registry.models import Office, OfficeLevel

from .codes import COMPONENTS, EVALUATION_FUNDING_POOL, EVALUATION_WEIGHTS
from .models import EvaluationMonth, EvaluationReport, OfficeMonthMetric
from .periods import add_months
from .scoring import CENT, OfficeFigures, ScoredOffice, score_offices

_SUMMED = ("taken_in", "completed", "on_time", "escalations", "rating_count", "rating_sum", "poor_count")


@dataclass(frozen=True)
class Scheme:
    weights: dict[str, Decimal]
    pool: Decimal
    record: dict


def scheme_for(*, months: list[datetime.date]) -> Scheme:
    """The weights in force on the period's last month and the pool: a twelfth of the yearly pool per month.
    Refused with a clear message when a value is missing or the weights do not sum to 1."""
    try:
        weights_value = parameter_value(EVALUATION_WEIGHTS, on=months[-1])
        pools = [parameter_value(EVALUATION_FUNDING_POOL, on=m) for m in months]
    except ParameterNotFound as exc:
        raise ApplicationError(_("考核方案参数缺失：%(m)s") % {"m": exc.messages[0]}) from None
    raw = weights_value.value or {}
    weights = {k: Decimal(str(raw.get(k, "0"))) for k in COMPONENTS}
    total = sum(weights.values(), Decimal(0))
    if sorted(raw) != sorted(COMPONENTS) or total != 1:
        raise ApplicationError(
            _(
                "考核权重须包含办件量、按时办结、群众评价、征缴四项且合计为 1，现为 %(total)s；请先更正政策参数 %(code)s。"
            )
            % {"total": total, "code": EVALUATION_WEIGHTS}
        )
    pool = sum((Decimal(str(p.value)) / 12 for p in pools), Decimal(0)).quantize(CENT, ROUND_HALF_UP)
    record = {
        "weights": {k: str(v) for k, v in weights.items()},
        "weights_value_id": weights_value.value_id,
        "pool_value_ids": sorted({p.value_id for p in pools}),
        "pool": str(pool),
    }
    return Scheme(weights, pool, record)


def office_figures(*, months: list[datetime.date]) -> list[OfficeFigures]:
    """Each office's own figures summed over ``months`` (one query)."""
    rows = (
        OfficeMonthMetric.objects.filter(month__in=months, rollup=False)
        .values("office_id", "office__code", "office__name", "office__level", "office__path")
        .annotate(**{k: Sum(k) for k in _SUMMED}, billed_sum=Sum("billed"), collected_sum=Sum("collected"))
        .order_by("office__path")
    )
    return [
        OfficeFigures(
            office_id=r["office_id"],
            code=r["office__code"],
            name=r["office__name"],
            level=r["office__level"],
            path=r["office__path"],
            billed=r["billed_sum"],
            collected=r["collected_sum"],
            **{k: r[k] or 0 for k in _SUMMED},
        )
        for r in rows
    ]


def evaluation_score(*, months: list[datetime.date]) -> tuple[Scheme, list[ScoredOffice]]:
    scheme = scheme_for(months=months)
    return scheme, score_offices(office_figures(months=months), scheme.weights, scheme.pool)


@dataclass
class Line:
    office_id: int
    code: str
    name: str
    level: int
    path: str
    rank: int
    score: Decimal
    components: dict[str, Any]
    figures: dict[str, Any]
    amount: Decimal

    @property
    def parts(self) -> list:
        return [self.components.get(k) for k in COMPONENTS]

    @property
    def on_time_rate(self):
        return _rate(self.figures.get("on_time"), self.figures.get("completed"))

    @property
    def rating_avg(self):
        n = self.figures.get("rating_count") or 0
        return (Decimal(self.figures.get("rating_sum") or 0) / n).quantize(CENT) if n else None

    @property
    def collection_rate(self):
        billed = self.figures.get("billed")
        return _rate(Decimal(self.figures.get("collected") or 0), Decimal(billed)) if billed else None


def _rate(num, den):
    return (Decimal(num) / Decimal(den)).quantize(Decimal("0.0001")) if den else None


def _line_from_scored(s: ScoredOffice) -> Line:
    f = s.figures
    comps = {k: (None if v is None else str(v)) for k, v in s.components.items()}
    return Line(f.office_id, f.code, f.name, f.level, f.path, s.rank, s.score, comps, f.as_record(), s.amount)


@dataclass
class Evaluation:
    label: str
    months: list[datetime.date]
    scheme: dict
    pool: Decimal
    lines: list[Line]
    report: EvaluationReport | None = None
    versions: list[EvaluationReport] = field(default_factory=list)
    published_months: int = 0

    def by_level(self) -> list[tuple[str, list[Line]]]:
        labels = dict(OfficeLevel.choices)
        levels: dict[int, list[Line]] = {}
        for line in self.lines:
            levels.setdefault(line.level, []).append(line)
        return [(labels.get(k, k), v) for k, v in sorted(levels.items())]

    @property
    def weights(self) -> list[tuple[str, str]]:
        labels = {"volume": _("办件量"), "on_time": _("按时办结"), "rating": _("群众评价"), "collection": _("征缴")}
        return [(labels[k], self.scheme.get("weights", {}).get(k, "")) for k in COMPONENTS]

    @property
    def total_amount(self) -> Decimal:
        return sum((Decimal(x.amount) for x in self.lines), Decimal(0))


def _scoped(lines: list[Line], user: Any, office: Office | None) -> list[Line]:
    if office is not None:
        lines = [x for x in lines if x.path.startswith(office.path)]
    if user_sees_everything(user):
        return lines
    own = getattr(user, "office", None)
    return [x for x in lines if own is not None and x.path.startswith(own.path)]


def month_evaluation(*, month: datetime.date, user: Any, office: Office | None = None) -> Evaluation:
    """The latest published version of ``month``, else the live draft from the current metrics."""
    versions = list(EvaluationReport.objects.filter(month=month).select_related("published_by").order_by("-version"))
    label = f"{month:%Y-%m}"
    if versions:
        report = versions[0]
        lines = [
            Line(
                x.office_id,
                x.office.code,
                x.office.name,
                x.level,
                x.office.path,
                x.rank,
                x.score,
                x.components,
                x.figures,
                x.amount,
            )
            for x in report.lines.select_related("office").order_by("level", "rank", "office__code")
        ]
        return Evaluation(label, [month], report.scheme, report.pool, _scoped(lines, user, office), report, versions, 1)
    scheme, scored = evaluation_score(months=[month])
    lines = [_line_from_scored(s) for s in scored]
    return Evaluation(label, [month], scheme.record, scheme.pool, _scoped(lines, user, office))


def year_evaluation(*, year: int, today: datetime.date, user: Any, office: Office | None = None) -> Evaluation:
    """The year so far (months before the current one), from the metrics (published months are frozen there)."""
    first = datetime.date(year, 1, 1)
    months = [m for m in (add_months(first, i) for i in range(12)) if m < today.replace(day=1)]
    if not months:
        raise ApplicationError(_("%(y)s 年尚无已结束的月份。") % {"y": year}, {"year": [_("年度不能晚于本年。")]})
    scheme, scored = evaluation_score(months=months)
    lines = [_line_from_scored(s) for s in scored]
    published = EvaluationMonth.objects.filter(month__in=months, published_at__isnull=False).count()
    return Evaluation(str(year), months, scheme.record, scheme.pool, _scoped(lines, user, office), None, [], published)


def office_for_user(*, user: Any, code: str) -> Office | None:
    """The office ``code`` when it lies in the user's jurisdiction; None otherwise (the page answers 404)."""
    office = Office.objects.filter(code=code).first()
    return office if office is not None and office_in_jurisdiction(user, office) else None


# ---------------------------------------------------------------------------------------------
# Supervision (时限监察).

DUE_SOON_WORKING_DAYS = 2


@dataclass
class Supervision:
    due_soon: list[Case]
    overdue: list[Case]
    escalated_to_us: list[CaseEscalation]
    due_limit: datetime.date


def supervision_cases(*, office: Office, today: datetime.date) -> Supervision:
    """Running cases sitting at ``office`` or below it (their current office) due within two working days, those
    past their due date, and the escalations made to ``office``. Paused (补正) cases are not running."""
    limit = WorkCalendar().add_working_days(today, DUE_SOON_WORKING_DAYS)
    base = (
        Case.objects.filter(state__in=ACTIVE_STATES, current_office__path__startswith=office.path)
        .select_related("item", "current_office")
        .order_by("due_date", "number")
    )
    escalated = (
        CaseEscalation.objects.filter(to_office=office, case__state__in=ACTIVE_STATES)
        .select_related("case", "case__item", "from_office")
        .order_by("-escalated_at")
    )
    return Supervision(
        due_soon=list(base.filter(due_date__gte=today, due_date__lte=limit)[:200]),
        overdue=list(base.filter(due_date__lt=today).prefetch_related("escalations")[:200]),
        escalated_to_us=list(escalated[:200]),
        due_limit=limit,
    )


def districts_for_user(*, user: Any) -> list[Office]:
    """The districts (and their townships) a statistics reader may pick: those inside his jurisdiction."""
    qs = Office.objects.filter(level__in=[OfficeLevel.DISTRICT, OfficeLevel.TOWNSHIP], is_active=True)
    if not user_sees_everything(user):
        own = getattr(user, "office", None)
        qs = qs.filter(path__startswith=own.path) if own is not None else qs.none()
    return list(qs.order_by("path"))
