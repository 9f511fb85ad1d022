"""Nightly early warning (基金预警).

For ``on`` (the nightly job takes yesterday) and every active fund:

* **months covered** (累计结余可支付月数) = balance at the end of ``on`` ÷ (expenditure of the 12 months
  (on − 12 months, on] ÷ 12), to 4 places (half up); compared with ``fund.warning.months.<insurance>``:
  below ``alarm_below`` → alarm, below ``warn_below`` → warning, above ``excess_above`` → excess, else normal.
  Exactly 3.0 with alarm_below 3 is therefore a warning, exactly 6.0 with warn_below 6 is normal.
* **current balance** (当期收支结余) = income − expenditure from 1 January to ``on``; a deficit (收不抵支)
  is a warning.
* **balance trend** = this year's balance to date − last year's balance to the same day (informational).
* **budget execution deviation**, income and expenditure: actual to date ÷ (approved annual budget × share
  of the year elapsed) − 1; beyond ± ``fund.warning.budget_deviation`` is a warning.
* **collection rate** per district: paid ÷ billed for this year's bills issued by ``on``; below
  ``fund.warning.collection_rate`` is a warning.

A missing threshold (or budget, or expenditure) leaves that indicator "not assessed" with the reason; the
run never fails for it. Each value is stored as a ``FundIndicator`` of that date (re-running a night stores
the same rows). A level that is new or escalated against the previous night's creates one ``FundWarning``
(unique per fund, office, indicator and night), an in-app ``Notice`` for every fund officer and an e-mail.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from policies.selectors import ParameterNotFound, parameter_value
from registry.audit import audited_save, recorded_user
from registry.models import Office, OfficeLevel

from .. import codes
from ..models import (
    ABNORMAL_LEVELS,
    BudgetDirection,
    Fund,
    FundIndicator,
    FundWarning,
    IndicatorCode,
    Level,
    Notice,
    WarningStatus,
)
from ..selectors import FundFigures, budget_approved, collection_figures, fund_figures, fund_list, fund_officers
from .common import money_rule, require_perm

log = logging.getLogger(__name__)
_PLACES = Decimal("0.0001")
_CODE_LABELS = dict(IndicatorCode.choices)
_LEVEL_LABELS = dict(Level.choices)


def _q(value: Decimal) -> Decimal:
    return value.quantize(_PLACES, rounding=ROUND_HALF_UP)


@dataclass
class IndicatorValue:
    """One computed indicator before it is stored."""

    code: str
    office: Office
    value: Decimal | None
    level: str
    threshold: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    explanation: str = ""


@dataclass
class WarningRunResult:
    on: datetime.date
    indicators: int = 0
    warnings_created: int = 0
    assessed: list[str] = field(default_factory=list)
    # Funds whose months covered could not be assessed (no threshold in force, no expenditure), with why.
    not_assessed: dict[str, str] = field(default_factory=dict)
    # Other indicators left unassessed (no approved budget, no threshold parameter …), per fund.
    indicators_not_assessed: dict[str, list[str]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# The indicators (pure: figures and thresholds in, value and level out).


def months_covered_level(months: Decimal, thresholds: dict[str, Decimal]) -> str:
    """The band of the unrounded ``months`` (a balance of 2,999.99 against 1,000.00 a month is below 3, though it
    shows as 3.0000): below ``alarm_below`` alarm, below ``warn_below`` warning, above ``excess_above`` excess,
    above ``high_above`` (when the fund has that band) high, else reasonable. Bands per fund are parameters
    (``fund.warning.months.<insurance>``); the medical fund's five bands follow 人社部发〔2009〕67号 (6–9 months
    reasonable, over 9 to 15 high, over 15 excess, under 3 alarm)."""
    if months < thresholds["alarm_below"]:
        return Level.ALARM
    if months < thresholds["warn_below"]:
        return Level.WARN
    if months > thresholds["excess_above"]:
        return Level.EXCESS
    if "high_above" in thresholds and months > thresholds["high_above"]:
        return Level.HIGH
    return Level.NORMAL


def months_covered(fund: Fund, figures: FundFigures | None, *, on: datetime.date, city: Office) -> IndicatorValue:
    code = IndicatorCode.MONTHS_COVERED
    balance = figures.balance if figures else Decimal(0)
    spent = figures.expenditure_12m if figures else Decimal(0)
    window_start = figures.window_start if figures else None
    details = {
        "balance": str(balance),
        "expenditure_12m": str(spent),
        "window": [str(window_start or ""), str(on)],
        "average_monthly_expenditure": str((spent / 12).quantize(Decimal("0.01"))) if spent else "0",
    }
    param = codes.fund_warning_code(fund.insurance_type)
    try:
        resolved = parameter_value(param, on=on)
    except ParameterNotFound as exc:
        return IndicatorValue(
            code, city, None, Level.NOT_ASSESSED, {}, details, _("未评估：%(msg)s") % {"msg": exc.messages[0]}
        )
    thresholds = {k: Decimal(v) for k, v in resolved.value.items()}
    threshold = {k: str(v) for k, v in thresholds.items()} | {"parameter": param, "value_id": resolved.value_id}
    if spent <= 0:
        return IndicatorValue(
            code,
            city,
            None,
            Level.NOT_ASSESSED,
            threshold,
            details,
            _("未评估：%(start)s 至 %(end)s 没有基金支出，无法计算可支付月数。")
            % {"start": window_start or "", "end": on},
        )
    exact = balance * 12 / spent
    months = _q(exact)  # stored and shown to 4 places; the level is of the exact quotient
    level = months_covered_level(exact, thresholds)
    average = (spent / 12).quantize(Decimal("0.01"))
    head = _("累计结余 %(balance)s 元 ÷ 近 12 个月月均支出 %(avg)s 元 = %(m)s 个月") % {
        "balance": balance,
        "avg": average,
        "m": format(months.normalize(), "f"),
    }
    if level == Level.ALARM:
        tail = _("，低于 %(t)s 个月的警报线，基金支付能力不足。") % {"t": thresholds["alarm_below"]}
    elif level == Level.WARN:
        tail = _("，低于 %(t)s 个月的预警线（不低于 %(a)s 个月）。") % {
            "t": thresholds["warn_below"],
            "a": thresholds["alarm_below"],
        }
    elif level == Level.EXCESS:
        tail = _("，高于 %(t)s 个月，结余过多。") % {"t": thresholds["excess_above"]}
    elif level == Level.HIGH:
        tail = _("，高于 %(h)s 个月（不超过 %(e)s 个月），结余偏高。") % {
            "h": thresholds["high_above"],
            "e": thresholds["excess_above"],
        }
    else:
        tail = _("，在 %(w)s—%(e)s 个月的合理区间内。") % {
            "w": thresholds["warn_below"],
            "e": thresholds.get("high_above", thresholds["excess_above"]),
        }
    return IndicatorValue(code, city, months, level, threshold, details, head + tail)


def current_balance(figures: FundFigures | None, *, on: datetime.date, city: Office) -> list[IndicatorValue]:
    income = figures.income_ytd if figures else Decimal(0)
    expenditure = figures.expenditure_ytd if figures else Decimal(0)
    balance = income - expenditure
    details = {"income": str(income), "expenditure": str(expenditure), "from": f"{on.year}-01-01", "to": str(on)}
    if balance < 0:
        level = Level.WARN
        text = _("%(y)s 年 1 月 1 日至 %(on)s 收入 %(i)s 元、支出 %(e)s 元，当期收不抵支 %(d)s 元。") % {
            "y": on.year,
            "on": on,
            "i": income,
            "e": expenditure,
            "d": -balance,
        }
    else:
        level = Level.NORMAL
        text = _("%(y)s 年 1 月 1 日至 %(on)s 收入 %(i)s 元、支出 %(e)s 元，当期结余 %(b)s 元。") % {
            "y": on.year,
            "on": on,
            "i": income,
            "e": expenditure,
            "b": balance,
        }
    out = [IndicatorValue(IndicatorCode.CURRENT_BALANCE, city, balance, level, {"deficit_below": "0"}, details, text)]
    previous = figures.balance_prev_ytd if figures else Decimal(0)
    trend_details = {"current": str(balance), "previous_same_period": str(previous)}
    if figures is None or figures.entries_prev_ytd == 0:
        out.append(
            IndicatorValue(
                IndicatorCode.BALANCE_TREND,
                city,
                None,
                Level.NOT_ASSESSED,
                {},
                trend_details,
                _("未评估：上年同期没有记账数据。"),
            )
        )
    else:
        change = balance - previous
        word = _("增加") if change >= 0 else _("减少")
        out.append(
            IndicatorValue(
                IndicatorCode.BALANCE_TREND,
                city,
                change,
                Level.NORMAL,
                {},
                trend_details,
                _("当期结余 %(c)s 元，上年同期 %(p)s 元，同比%(w)s %(d)s 元（趋势指标，不设预警阈值）。")
                % {"c": balance, "p": previous, "w": word, "d": abs(change)},
            )
        )
    return out


def budget_deviation(
    fund: Fund, figures: FundFigures | None, *, on: datetime.date, city: Office
) -> list[IndicatorValue]:
    specs = (
        (
            IndicatorCode.BUDGET_INCOME_DEVIATION,
            BudgetDirection.INCOME,
            figures.income_ytd if figures else Decimal(0),
            _("收入"),
        ),
        (
            IndicatorCode.BUDGET_EXPENDITURE_DEVIATION,
            BudgetDirection.EXPENDITURE,
            figures.expenditure_ytd if figures else Decimal(0),
            _("支出"),
        ),
    )
    budget = budget_approved(fund=fund, year=on.year)
    limit = _budget_deviation_limit(on)
    rule = money_rule(on, "on")
    out = []
    for code, direction, actual, word in specs:
        if budget is None:
            out.append(
                IndicatorValue(
                    code,
                    city,
                    None,
                    Level.NOT_ASSESSED,
                    limit.threshold,
                    {},
                    _("未评估：%(y)s 年度预算尚未批准。") % {"y": on.year},
                )
            )
            continue
        annual = sum((line.amount for line in budget.lines.all() if line.direction == direction), Decimal(0))
        out.append(_budget_deviation_value(code, annual, actual, word, on=on, city=city, limit=limit, rule=rule))
    return out


@dataclass(frozen=True)
class _DeviationLimit:
    limit: Decimal | None  # None: the parameter is missing (``missing`` says why)
    threshold: dict[str, Any]
    missing: str


def _budget_deviation_limit(on: datetime.date) -> _DeviationLimit:
    try:
        resolved = parameter_value(codes.FUND_WARNING_BUDGET_DEVIATION, on=on)
    except ParameterNotFound as exc:
        return _DeviationLimit(None, {}, exc.messages[0])
    limit = Decimal(resolved.value)
    threshold = {
        "max_abs_deviation": str(limit),
        "parameter": codes.FUND_WARNING_BUDGET_DEVIATION,
        "value_id": resolved.value_id,
    }
    return _DeviationLimit(limit, threshold, "")


def _budget_deviation_value(
    code: str,
    annual: Decimal,
    actual: Decimal,
    word: str,
    *,
    on: datetime.date,
    city: Office,
    limit: _DeviationLimit,
    rule: Any,
) -> IndicatorValue:
    """Actual to date against the budget's share of the days elapsed."""
    year_days = (datetime.date(on.year, 12, 31) - datetime.date(on.year, 1, 1)).days + 1
    elapsed = (on - datetime.date(on.year, 1, 1)).days + 1
    planned = rule.apply(annual * elapsed / year_days)
    details = {
        "annual": str(annual),
        "budget_to_date": str(planned),
        "actual_to_date": str(actual),
        "days": [elapsed, year_days],
    }
    threshold = limit.threshold
    if planned == 0:
        text = _("未评估：预算%(w)s为 0。") % {"w": word}
        return IndicatorValue(code, city, None, Level.NOT_ASSESSED, threshold, details, text)
    deviation = _q(actual / planned - 1)
    if limit.limit is None:
        text = _("未评估：%(msg)s") % {"msg": limit.missing}
        return IndicatorValue(code, city, deviation, Level.NOT_ASSESSED, threshold, details, text)
    level = Level.WARN if abs(deviation) > limit.limit else Level.NORMAL
    text = _("预算%(w)s进度数 %(p)s 元（全年 %(a)s 元 × %(d)s/%(n)s 天），实际 %(x)s 元，偏差 %(dev)s%%") % {
        "w": word,
        "p": planned,
        "a": annual,
        "d": elapsed,
        "n": year_days,
        "x": actual,
        "dev": (deviation * 100).quantize(Decimal("0.01")),
    }
    text += (_("，超过 ±%(l)s%% 的预警线。") if level == Level.WARN else _("，在 ±%(l)s%% 以内。")) % {
        "l": (limit.limit * 100).normalize()
    }
    return IndicatorValue(code, city, deviation, level, threshold, details, text)


def collection_rates(
    fund: Fund,
    figures: dict[tuple[str, str], tuple[Decimal, Decimal]],
    *,
    on: datetime.date,
    offices: dict[str, Office],
) -> list[IndicatorValue]:
    try:
        resolved = parameter_value(codes.FUND_WARNING_COLLECTION_RATE, on=on)
        minimum: Decimal | None = Decimal(resolved.value)
        threshold = {
            "min_rate": str(minimum),
            "parameter": codes.FUND_WARNING_COLLECTION_RATE,
            "value_id": resolved.value_id,
        }
        missing = ""
    except ParameterNotFound as exc:
        minimum, threshold, missing = None, {}, exc.messages[0]
    out = []
    for (insurance, district), (billed, paid) in sorted(figures.items()):
        office = offices.get(district)
        if insurance != fund.insurance_type or office is None or billed <= 0:
            continue
        rate = _q(paid / billed)
        details = {"billed": str(billed), "paid": str(paid), "year": on.year}
        if minimum is None:
            out.append(
                IndicatorValue(
                    IndicatorCode.COLLECTION_RATE,
                    office,
                    rate,
                    Level.NOT_ASSESSED,
                    threshold,
                    details,
                    _("未评估：%(msg)s") % {"msg": missing},
                )
            )
            continue
        level = Level.WARN if rate < minimum else Level.NORMAL
        text = _("%(office)s %(y)s 年账单应缴 %(b)s 元，实缴 %(p)s 元，征缴率 %(r)s%%") % {
            "office": office.name,
            "y": on.year,
            "b": billed,
            "p": paid,
            "r": (rate * 100).quantize(Decimal("0.01")),
        }
        text += (_("，低于 %(m)s%% 的预警线。") if level == Level.WARN else _("，不低于 %(m)s%%。")) % {
            "m": (minimum * 100).normalize()
        }
        out.append(IndicatorValue(IndicatorCode.COLLECTION_RATE, office, rate, level, threshold, details, text))
    return out


# ---------------------------------------------------------------------------------------------
# Storing, comparing with the previous night, warning.


def is_new_or_escalated(level: str, previous: str | None) -> bool:
    """A warning is due when the level is abnormal and was not, rose from warning to alarm, or changed side
    (shortage ↔ excess)."""
    if level not in ABNORMAL_LEVELS:
        return False
    if previous not in ABNORMAL_LEVELS:
        return True
    if (level == Level.EXCESS) != (previous == Level.EXCESS):
        return True
    return level == Level.ALARM and previous == Level.WARN


def _store(fund: Fund, on: datetime.date, item: IndicatorValue) -> tuple[FundIndicator, str | None]:
    previous = (
        FundIndicator.objects.filter(fund=fund, office=item.office, code=item.code, on__lt=on)
        .order_by("-on")
        .values_list("level", flat=True)
        .first()
    )
    values = {
        "value": item.value,
        "level": item.level,
        "threshold": item.threshold,
        "details": item.details,
        "explanation": item.explanation,
    }
    indicator = FundIndicator.objects.filter(fund=fund, office=item.office, code=item.code, on=on).first()
    if indicator is None:
        indicator = FundIndicator(fund=fund, office=item.office, code=item.code, on=on, **values)
        indicator.full_clean()
        indicator.save()
    elif any(getattr(indicator, k) != (Decimal(v) if k == "value" and v is not None else v) for k, v in values.items()):
        for k, v in values.items():
            setattr(indicator, k, v)
        indicator.computed_at = timezone.now()
        indicator.full_clean()
        indicator.save()
    return indicator, previous


def _notify(warning: FundWarning) -> None:
    link = reverse("funds_warning_detail", kwargs={"uid": warning.uid})
    text = _("【基金预警·%(level)s】%(fund)s %(code)s：%(explanation)s") % {
        "level": warning.get_level_display(),
        "fund": warning.fund.name,
        "code": warning.get_code_display(),
        "explanation": warning.explanation,
    }
    recipients = list(fund_officers())
    Notice.objects.bulk_create(
        [Notice(user=u, text=text[:500], link=link, warning=warning) for u in recipients], ignore_conflicts=True
    )
    emails = [u.email for u in recipients if u.email]
    if not emails:
        return
    subject = _("基金预警：%(fund)s %(code)s %(level)s") % {
        "fund": warning.fund.name,
        "code": warning.get_code_display(),
        "level": warning.get_level_display(),
    }
    body = text + "\n\n" + _("请登录系统查看并填写处理意见：%(link)s") % {"link": link}

    def send() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, emails)
        except Exception:  # the warning and the in-app notices stand; mail trouble is logged, not fatal
            log.exception("fund warning e-mail failed for warning %s", warning.pk)

    transaction.on_commit(send)


def _warn(fund: Fund, on: datetime.date, indicator: FundIndicator, previous: str | None) -> bool:
    if not is_new_or_escalated(indicator.level, previous):
        return False
    warning, created = FundWarning.objects.get_or_create(
        fund=fund,
        office=indicator.office,
        code=indicator.code,
        opened_on=on,
        defaults={
            "level": indicator.level,
            "previous_level": previous or "",
            "indicator": indicator,
            "value": indicator.value,
            "threshold": indicator.threshold,
            "explanation": indicator.explanation,
        },
    )
    if created:
        _notify(warning)
    return created


@transaction.atomic
def fund_warning_run(*, on: datetime.date, acting_user: Any = None) -> WarningRunResult:
    """Compute and store every indicator of every active fund for ``on``; warn on new or escalated levels."""
    result = WarningRunResult(on=on)
    city = Office.objects.get(level=OfficeLevel.CITY)
    offices = {o.code: o for o in Office.objects.filter(level=OfficeLevel.DISTRICT)} | {"": city}
    figures = fund_figures(on=on)  # one aggregate query over the whole ledger
    collection = collection_figures(on=on)  # two aggregate queries over bills and allocations
    for fund in fund_list():
        fig = figures.get(fund.pk)
        items = [months_covered(fund, fig, on=on, city=city)]
        items += current_balance(fig, on=on, city=city)
        items += budget_deviation(fund, fig, on=on, city=city)
        items += collection_rates(fund, collection, on=on, offices=offices)
        if items[0].level == Level.NOT_ASSESSED:
            result.not_assessed[fund.name] = items[0].explanation
        else:
            result.assessed.append(fund.name)
        skipped = [f"{_CODE_LABELS[i.code]}：{i.explanation}" for i in items[1:] if i.level == Level.NOT_ASSESSED]
        if skipped:
            result.indicators_not_assessed[fund.name] = skipped
        for item in items:
            indicator, previous = _store(fund, on, item)
            result.indicators += 1
            if _warn(fund, on, indicator, previous):
                result.warnings_created += 1
    log.info(
        "fund warning run %s: %s indicators, %s new warnings, not assessed: %s",
        on,
        result.indicators,
        result.warnings_created,
        ", ".join(result.not_assessed) or "-",
    )
    return result


@transaction.atomic
def warning_acknowledge(*, warning: FundWarning, comment: str, acting_user: Any) -> FundWarning:
    """A fund officer acknowledges an open warning with a comment on what is being done."""
    require_perm(acting_user, "funds.change_fundwarning", _("您的角色无权处理基金预警。"))
    warning = FundWarning.objects.select_for_update().get(pk=warning.pk)
    if warning.status != WarningStatus.OPEN:
        raise ValidationError(
            {
                "status": _("该预警已于 %(at)s 处理。")
                % {"at": timezone.localtime(warning.acknowledged_at).strftime("%Y-%m-%d %H:%M")}
            }
        )
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": _("请填写处理意见。")})
    warning.status = WarningStatus.ACKNOWLEDGED
    warning.comment = comment
    warning.acknowledged_by = recorded_user(acting_user)
    warning.acknowledged_at = timezone.now()
    audited_save(warning, acting_user=acting_user, reason=_("处理预警"))
    return warning


@transaction.atomic
def notice_mark_read(*, notice: Notice, acting_user: Any) -> Notice:
    if notice.user_id != getattr(acting_user, "pk", None):
        raise Notice.DoesNotExist
    if notice.read_at is None:
        notice.read_at = timezone.now()
        notice.save(update_fields=["read_at"])
    return notice
