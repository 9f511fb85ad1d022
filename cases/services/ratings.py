"""Ratings of closed cases (好差评), from the online hall and the counter tablet."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from registry.exceptions import ApplicationError, ConflictError

from ..models import Case, CaseRating, CaseState, RatingChannel

RATEABLE_STATES = (CaseState.COMPLETED, CaseState.REJECTED)


@transaction.atomic
def case_rating_create(
    *, case: Case, score: int, comment: str = "", channel: str, acting_user: Any = None
) -> CaseRating:
    """Record the applicant's one rating of a closed case (国办发〔2019〕51号: rated once, after the service).

    ``acting_user`` is the clerk on duty for a tablet rating, None for the hall (the applicant rates himself;
    the hall checks that the case is his before calling this).
    """
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.state not in RATEABLE_STATES:
        raise ConflictError(_("办件办结后才能评价。"), code="case_not_closed")
    if CaseRating.objects.filter(case=case).exists():
        raise ConflictError(_("该办件已评价，每件只能评价一次。"), code="already_rated")
    if channel not in RatingChannel.values:
        raise ApplicationError(_("评价渠道无效。"), {"channel": [_("评价渠道无效。")]})
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise ApplicationError(_("评分须为 1 至 5。"), {"score": [_("评分须为 1 至 5。")]})
    rating = CaseRating(
        case=case,
        office=case.current_office,
        score=score,
        comment=(comment or "").strip(),
        channel=channel,
        recorded_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
    )
    rating.full_clean()
    rating.save()
    return rating
