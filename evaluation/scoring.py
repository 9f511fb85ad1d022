"""Scores and funding shares of offices from their figures (no database): the rules of docs/evaluation.md.

Reform plan 台政办发〔2016〕127号 二(六)2: each office's funding follows its service count (volume), quality
(on time, citizens' ratings) and effect (collection). Each component is a score 0–100; the office's score is the
weighted mean of the components that apply to it (the weights of the others are left out and the rest re-scaled);
the funding pool of the period is shared in proportion to the scores.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from .codes import COMPONENTS

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


@dataclass
class OfficeFigures:
    office_id: int
    code: str
    name: str
    level: int
    path: str
    taken_in: int = 0
    completed: int = 0
    on_time: int = 0
    escalations: int = 0
    rating_count: int = 0
    rating_sum: int = 0
    poor_count: int = 0
    billed: Decimal | None = None
    collected: Decimal | None = None

    @property
    def on_time_rate(self) -> Decimal | None:
        return _ratio(self.on_time, self.completed)

    @property
    def rating_avg(self) -> Decimal | None:
        return _ratio(self.rating_sum, self.rating_count, CENT)

    @property
    def collection_rate(self) -> Decimal | None:
        return _ratio(self.collected, self.billed) if self.billed else None

    def as_record(self) -> dict:
        keys = ("taken_in", "completed", "on_time", "escalations", "rating_count", "rating_sum", "poor_count")
        record: dict = {k: getattr(self, k) for k in keys}
        record["billed"] = None if self.billed is None else str(self.billed)
        record["collected"] = None if self.collected is None else str(self.collected)
        return record


@dataclass
class ScoredOffice:
    figures: OfficeFigures
    components: dict[str, Decimal | None] = field(default_factory=dict)
    score: Decimal = Decimal(0)
    rank: int = 0
    amount: Decimal = Decimal(0)


def _ratio(num, den, places: Decimal = Decimal("0.0001")) -> Decimal | None:
    if not den:
        return None
    return (Decimal(num) / Decimal(den)).quantize(places, ROUND_HALF_UP)


def components_of(f: OfficeFigures, level_max_completed: int) -> dict[str, Decimal | None]:
    """volume: completed ÷ the most completed by an office of the same level; on time: on-time completions ÷
    (completions + escalations) — an escalated case counts as late; rating: (average − 1) ÷ 4; collection (district
    offices): collected ÷ billed. Each × 100; None where it does not apply (nothing to measure)."""
    late_base = f.completed + f.escalations
    return {
        "volume": _pct(f.completed, level_max_completed),
        "on_time": _pct(f.on_time, late_base),
        "rating": _pct(Decimal(f.rating_sum) - f.rating_count, 4 * f.rating_count),
        "collection": _pct(f.collected, f.billed) if f.level == 2 and f.billed else None,
    }


def _pct(num, den) -> Decimal | None:
    if not den:
        return None
    return (HUNDRED * Decimal(num) / Decimal(den)).quantize(CENT, ROUND_HALF_UP)


def weighted_score(components: dict[str, Decimal | None], weights: dict[str, Decimal]) -> Decimal:
    applicable = [k for k in COMPONENTS if components.get(k) is not None and weights.get(k)]
    total_weight = sum((weights[k] for k in applicable), Decimal(0))
    if not total_weight:
        return Decimal("0.00")
    total = sum((weights[k] * components[k] for k in applicable), Decimal(0))
    return (total / total_weight).quantize(CENT, ROUND_HALF_UP)


def score_offices(figures: list[OfficeFigures], weights: dict[str, Decimal], pool: Decimal) -> list[ScoredOffice]:
    """Score, rank within each level (equal scores share a rank: 1, 1, 3) and share ``pool`` by score."""
    max_completed: dict[int, int] = defaultdict(int)
    for f in figures:
        max_completed[f.level] = max(max_completed[f.level], f.completed)
    scored = []
    for f in figures:
        parts = components_of(f, max_completed[f.level])
        scored.append(ScoredOffice(f, parts, weighted_score(parts, weights)))
    by_level: dict[int, list[ScoredOffice]] = defaultdict(list)
    for s in scored:
        by_level[s.figures.level].append(s)
    for group in by_level.values():
        group.sort(key=lambda s: (-s.score, s.figures.code))
        for i, s in enumerate(group):
            s.rank = group[i - 1].rank if i and group[i - 1].score == s.score else i + 1
    total = sum((s.score for s in scored), Decimal(0))
    for s in scored:
        s.amount = (pool * s.score / total).quantize(CENT, ROUND_HALF_UP) if total else Decimal("0.00")
    return sorted(scored, key=lambda s: (s.figures.level, s.rank, s.figures.code))
