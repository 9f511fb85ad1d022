"""A by-hand payment made while a run's chunk is writing the same award's month waits for the chunk and is then
refused (the guard of payroll migration 0003 takes the award FOR UPDATE; the chunk holds it FOR KEY SHARE)."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from cases import services as case_services
from cases.models import BenefitPayment
from payroll.models import PayrollLine, PayrollRun
from payroll.services.amounts import adjustments_cte
from payroll.services.run import _bank_files_prepare, _run_chunk
from registry.models import Office

from .factories import D, award, city_officer

pytestmark = [pytest.mark.postgres]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_by_hand_payment_waits_for_a_chunk_writing_the_month_and_is_refused():
    user = city_officer()
    a = award(start=D(2026, 3, 1))
    run = PayrollRun.objects.create(
        period=202603, pay_date=D(2026, 3, 15), office=Office.objects.get(code="331000"), status="running"
    )
    outcome: dict[str, str] = {}

    def by_hand() -> None:
        try:
            case_services.benefit_payment_record(award=a, period=202603, paid_on=D(2026, 3, 20), acting_user=user)
            outcome["result"] = "recorded"
        except ValidationError as exc:
            outcome["result"] = exc.message_dict["period"][0]
        finally:
            connection.close()

    with transaction.atomic():
        _bank_files_prepare(run)
        _run_chunk(run, a.pk, a.pk, adjustments_cte([]), D(2026, 3, 1))
        clerk = threading.Thread(target=by_hand)
        clerk.start()
        clerk.join(timeout=3)
        assert clerk.is_alive(), outcome  # waiting for the chunk's lock on the award
    clerk.join(timeout=60)
    assert "已由待遇发放批次发放" in outcome["result"]
    assert PayrollLine.objects.filter(award=a, period=202603).count() == 1
    assert not BenefitPayment.objects.exists()
