"""通城通办: a window of any district takes in a person's application when his record is held by another district.

The person presents his ID card; the window learns only that he is registered elsewhere (and the district). The case
belongs to the office that holds his record (its intake office: the nearest office there that may take the item
in), waits there to be accepted (受理) and handled; the window that took it is recorded (``window_office``) and sees
that case and its receipt only, not the person's other records.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from registry.counter_selectors import person_by_number_citywide
from registry.exceptions import PermissionDeniedError
from registry.jurisdiction import office_in_jurisdiction, user_office

from ..models import Case, CaseAction, CaseState, Channel, ServiceItem, Subject
from ..rules import check_step_authority, intake_step, office_at_level
from ._common import event_record
from .effects import handler_for
from .workflow import _check_item, _new_case


@transaction.atomic
def case_window_intake(*, acting_user: Any, item: ServiceItem, id_number: str, note: str = "") -> Case:
    """Take in ``item`` for the person with ``id_number`` registered in another district (通城通办)."""
    _check_item(item)
    if item.subject != Subject.PERSON:
        raise ValidationError({"item": [_("通城通办只受理个人事项。")]})
    window = user_office(acting_user)
    if window is None:
        raise PermissionDeniedError(_("您没有所属经办机构，不能受理业务。"))
    step = intake_step(item)
    check_step_authority(step, acting_user)
    person = person_by_number_citywide(id_number)
    if person is None or person.is_tombstone:
        raise ValidationError({"id_number": [_("本市没有该公民身份号码的登记，请先办理人员登记。")]})
    if office_in_jurisdiction(acting_user, person.residence_office):
        raise ValidationError({"id_number": [_("该人员在您的辖区内登记，请按一般流程受理。")]})
    holder = office_at_level(person.residence_office, step.lowest_level)
    handler = handler_for(item)
    cleaned = handler.clean(item=item, person=person, employer=None, data={}, acting_user=acting_user)
    case = _new_case(
        item=item,
        person=person,
        employer=None,
        channel=Channel.COUNTER,
        intake_office=holder,
        form_data=cleaned,
        note=note,
        acting_user=acting_user,
        provided_codes=[],
        subject_key=handler.subject_key(item=item, data=cleaned),
        window_office=window,
    )
    event_record(
        case,
        action=CaseAction.SUBMIT,
        acting_user=acting_user,
        to_state=CaseState.SUBMITTED,
        note=_("通城通办：由%(window)s收件，转%(holder)s受理办理。") % {"window": window.name, "holder": holder.name},
        data={"window_office": window.code},
    )
    return case
