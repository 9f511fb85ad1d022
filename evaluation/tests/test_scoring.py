"""Scores, ranks and funding shares from office figures (docs/evaluation.md), worked out by hand."""

from decimal import Decimal

from evaluation.scoring import OfficeFigures, components_of, score_offices, weighted_score

W = {"volume": Decimal("0.3"), "on_time": Decimal("0.3"), "rating": Decimal("0.2"), "collection": Decimal("0.2")}


def _f(code, level, **kw):
    return OfficeFigures(office_id=int(code[-3:]), code=code, name=code, level=level, path=f"/{code}/", **kw)


def test_components_by_hand():
    district = _f(
        "331003",
        2,
        completed=40,
        on_time=36,
        escalations=4,
        rating_count=10,
        rating_sum=42,
        billed=Decimal("1000"),
        collected=Decimal("900"),
    )
    parts = components_of(district, level_max_completed=50)
    # volume 40/50; on time 36/(40+4): the escalated cases count as late; rating (4.2−1)/4; collection 0.9.
    assert parts == {
        "volume": Decimal("80.00"),
        "on_time": Decimal("81.82"),
        "rating": Decimal("80.00"),
        "collection": Decimal("90.00"),
    }
    assert weighted_score(parts, W) == Decimal("82.55")  # 0.3×80 + 0.3×81.82 + 0.2×80 + 0.2×90


def test_a_component_that_does_not_apply_is_left_out_and_the_rest_rescaled():
    township = _f("331003001", 3, completed=10, on_time=5)
    parts = components_of(township, level_max_completed=10)
    assert parts["rating"] is None and parts["collection"] is None
    # (0.3×100 + 0.3×50) ÷ 0.6
    assert weighted_score(parts, W) == Decimal("75.00")
    assert weighted_score({"volume": None}, W) == Decimal("0.00")


def test_ranks_per_level_share_ties_and_the_pool_follows_the_scores():
    figures = [
        _f("331002", 2, completed=10, on_time=10),
        _f("331003", 2, completed=10, on_time=10),
        _f("331004", 2, completed=5, on_time=5),
        _f("331003001", 3, completed=4, on_time=2),
    ]
    scored = score_offices(figures, W, Decimal("1000.00"))
    ranks = {s.figures.code: (s.rank, s.score) for s in scored}
    assert ranks["331002"] == ranks["331003"] == (1, Decimal("100.00"))
    assert ranks["331004"] == (3, Decimal("75.00"))  # volume 50, on time 100
    assert ranks["331003001"] == (1, Decimal("75.00"))  # alone in its level: volume 100, on time 50
    total = Decimal("350.00")
    assert {s.figures.code: s.amount for s in scored} == {
        "331002": (Decimal(1000) * 100 / total).quantize(Decimal("0.01")),
        "331003": Decimal("285.71"),
        "331004": Decimal("214.29"),
        "331003001": Decimal("214.29"),
    }
