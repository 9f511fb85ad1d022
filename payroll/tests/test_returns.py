"""Return files recorded by a Celery task: whole and once, a refusal the job's recorded error with nothing
written, a re-delivered task harmless, a job whose task was lost sent again by the sweeper."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from funds.models import LedgerTransaction
from payroll import services
from payroll.models import BankFile, BankReturnJob, LineStatus, PayrollLine, PayrollPosting

from .factories import award, city_officer, return_file, run_month

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _upload(bank_file, data, user, capture):
    with capture(execute=True):
        return services.bank_return_upload(bank_file=bank_file, name="r.csv", data=data, acting_user=user)


def _nothing_written(bank_file):
    assert not PayrollLine.objects.filter(bank_file=bank_file).exclude(status=LineStatus.ISSUED).exists()
    assert not PayrollPosting.objects.filter(bank_file=bank_file).exists()
    bank_file.refresh_from_db()
    assert bank_file.status == "issued"


def test_return_recorded_by_the_task_whole_and_once(django_capture_on_commit_callbacks):
    user = city_officer()
    award()
    award()
    bank_file = BankFile.objects.get(run=run_month(202603, user))
    job = _upload(bank_file, return_file(bank_file), user, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert (job.status, job.errors, job.size) == ("done", [], len(return_file(bank_file)))
    bank_file.refresh_from_db()
    assert (bank_file.status, bank_file.paid_count, bank_file.paid_amount) == ("returned", 2, Decimal("6000.00"))
    # a re-delivered task of the finished job changes nothing
    assert services.bank_return_process(job_id=job.pk).status == "done"
    assert PayrollPosting.objects.filter(bank_file=bank_file).count() == 1
    assert LedgerTransaction.objects.filter(source_type="payroll.payrollposting").count() == 1
    # the same file uploaded again: a second import, refused as the second job's error
    again = _upload(bank_file, return_file(bank_file), user, django_capture_on_commit_callbacks)
    again.refresh_from_db()
    assert again.status == "rejected" and "不能重复导入" in again.errors[0]
    assert PayrollPosting.objects.filter(bank_file=bank_file).count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("other_run", "另一发放批次"),
        ("unknown_line", "不是本文件的发放记录"),
        ("amount", "不一致"),
        ("missing", "须包含全部明细"),
    ],
)
def test_bad_return_file_is_the_jobs_error_and_nothing_written(change, message, django_capture_on_commit_callbacks):
    user = city_officer()
    award()
    award()
    first = run_month(202603, user)
    bank_file = BankFile.objects.get(run=run_month(202604, user))
    data = {
        "other_run": lambda: return_file(bank_file, number=BankFile.objects.get(run=first).number),
        "unknown_line": lambda: return_file(bank_file).replace(
            f"D,{PayrollLine.objects.filter(bank_file=bank_file).first().pk},".encode(), b"D,999999,"
        ),
        "amount": lambda: return_file(bank_file, amount_of=lambda line: line.amount + Decimal("0.01")),
        "missing": lambda: b"\n".join(return_file(bank_file).splitlines()[:-1]) + b"\n",
    }[change]()
    job = _upload(bank_file, data, user, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == "rejected" and job.finished_at is not None
    assert message in " ".join(job.errors)
    _nothing_written(bank_file)


def test_sweeper_sends_a_return_job_whose_task_is_gone_again():
    user = city_officer()
    award()
    bank_file = BankFile.objects.get(run=run_month(202603, user))
    job = services.bank_return_upload(bank_file=bank_file, name="r.csv", data=return_file(bank_file), acting_user=user)
    # the task was lost (its on-commit never ran) and the job is stale
    BankReturnJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    assert services.payroll_runs_sweep(stale_seconds=60) == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.requeue_count) == ("done", 1)
    assert services.payroll_runs_sweep(stale_seconds=60) == []
