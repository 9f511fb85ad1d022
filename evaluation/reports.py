"""The evaluation as a table for xlsx and PDF (funds' writers: openpyxl, ReportLab with the embedded CJK font).
Every text cell is neutralised first (registry.spreadsheets): an office name never runs as a formula."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _

from funds.reports import Report
from registry.models import OfficeLevel
from registry.spreadsheets import row_neutralise

from .codes import COMPONENTS
from .selectors import Evaluation
from .statistics import GROUP_LABELS

LEVELS = dict(OfficeLevel.choices)
COMPONENT_LABELS = {"volume": "办件量", "on_time": "按时办结", "rating": "群众评价", "collection": "征缴"}


def _pct(value) -> str:
    return "" if value is None else f"{Decimal(value) * 100:.2f}%"


def _num(value) -> Decimal | str:
    return "" if value is None else Decimal(str(value))


def evaluation_report(evaluation: Evaluation) -> Report:
    header = [_("层级"), _("排名"), _("机构"), _("代码"), _("综合得分")]
    header += [f"{COMPONENT_LABELS[k]}得分" for k in COMPONENTS]
    header += [
        _("受理"),
        _("办结"),
        _("按时办结率"),
        _("督办"),
        _("评价数"),
        _("平均评分"),
        _("征缴率"),
        _("考核资金（元）"),
    ]
    rows = []
    for line in evaluation.lines:
        f = line.figures
        row = [str(LEVELS.get(line.level, line.level)), line.rank, line.name, line.code, Decimal(line.score)]
        row += [_num(line.components.get(k)) for k in COMPONENTS]
        row += [f.get("taken_in"), f.get("completed"), _pct(line.on_time_rate), f.get("escalations")]
        row += [f.get("rating_count"), _num(line.rating_avg), _pct(line.collection_rate), Decimal(line.amount)]
        rows.append(row_neutralise(row))
    weights = "，".join(f"{COMPONENT_LABELS[k]} {evaluation.scheme['weights'][k]}" for k in COMPONENTS)
    status = _("已发布第 %(v)s 版") % {"v": evaluation.report.version} if evaluation.report else _("未发布（草稿）")
    notes = [_("权重：%(w)s；考核资金 %(p)s 元。") % {"w": weights, "p": evaluation.pool}, status]
    if evaluation.report and evaluation.report.reason:
        notes.append(_("更正理由：%(r)s") % {"r": evaluation.report.reason})
    notes.append(_("指标定义见 docs/evaluation.md；分项不适用时按其余权重折算。"))
    return Report(
        title=_("经办机构评价考核 %(p)s") % {"p": evaluation.label},
        subtitle=_("台州市区社会保险经办机构（市、区、街道、社区）"),
        header=[str(h) for h in header],
        rows=rows,
        notes=[str(n) for n in row_neutralise(notes)],
        filename=f"evaluation-{evaluation.label}",
    )


def statistics_report(series, scope) -> Report:
    header = [_("月份"), str(GROUP_LABELS[series.group]), *[str(m) for m in series.topic.measures]]
    rows = [row_neutralise([f"{month:%Y-%m}", label, *values]) for month, label, values in series.rows()]
    return Report(
        title=f"{series.topic.label} · {scope.name}",
        subtitle=_("台州市区社会保险统计（每晚汇总）"),
        header=header,
        rows=rows,
        notes=[_("数据来源：市区社会保险一体化系统（市级集中数据库），每晚汇总。")],
        filename=f"statistics-{series.topic.key}-{scope.code}",
    )
