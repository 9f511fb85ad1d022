"""Test helpers of the data consolidation: files in the documented layout (CSV in UTF-8 or GBK, xlsx), delivery
through the services as the API does it (chunks, SHA-256), load and apply; ``OUT_OF_JURISDICTION`` makers for
the route-walking jurisdiction test (records of 路桥)."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools

from django.utils import timezone

from consolidation.layout import COLUMNS
from consolidation.models import (
    BatchFile,
    BatchStatus,
    Conflict,
    ConflictCandidate,
    ConflictKind,
    EmployerConflict,
    IdKind,
    ImportBatch,
    Merge,
    StagedPerson,
)
from consolidation.services.apply import batch_apply
from consolidation.services.batches import (
    batch_chunk_store,
    batch_file_complete,
    batch_file_declare,
    import_batch_apply_start,
    import_batch_create,
    import_batch_submit,
)
from consolidation.services.load import batch_load
from registry import roles
from registry.models import Office
from registry.tests.factories import EmployerFactory, PersonFactory, UserFactory, make_id_number

_seq = itertools.count(1)


def history_line(
    person: str,
    employer: str,
    period: object,
    base: str,
    employer_amount: str,
    individual_amount: str,
    total: str = "",
    insurance: str = "emp_pension",
    also: dict[str, tuple[str, str, str]] | None = None,
) -> list[object]:
    """A line of the monthly history file (one person, one month) with ``insurance`` filled, and the insurances of
    ``also`` (insurance → base, employer's and person's amount)."""
    row: list[object] = [""] * len(COLUMNS["history"])
    keys = [c.key for c in COLUMNS["history"]]
    values = {"id_number": person, "employer_code": employer, "period": period, "total": total,
              f"{insurance}_base": base, f"{insurance}_employer": employer_amount,
              f"{insurance}_individual": individual_amount}  # fmt: skip
    for other, (b, e, i) in (also or {}).items():
        values |= {f"{other}_base": b, f"{other}_employer": e, f"{other}_individual": i}
    for key, value in values.items():
        row[keys.index(key)] = value
    return row


def csv_bytes(
    kind: str, rows: list[list[object]], *, encoding: str = "utf-8", header: list[str] | None = None
) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header or [c.header for c in COLUMNS[kind]])
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8-sig" if encoding == "utf-8" else encoding)


def xlsx_bytes(kind: str, rows: list[list[object]], *, header: list[str] | None = None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header or [c.header for c in COLUMNS[kind]])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def city_admin() -> object:
    return UserFactory(
        username=f"cons_admin{next(_seq)}", office=Office.objects.get(level=1), roles=[roles.CITY_ADMIN], is_staff=True
    )


def deliver(*, user, district: str, files: dict[str, tuple[str, bytes]], label: str = "", chunk: int = 700):
    """A batch delivered as a district system does it: created, each file declared, sent in chunks (with their
    SHA-256) and completed, then submitted. Returns (batch, queued) of the submission."""
    batch = import_batch_create(district_code=district, source_system="测试系统", label=label, acting_user=user)
    for kind, (name, data) in files.items():
        batch_file = batch_file_declare(
            batch=batch, kind=kind, name=name, size=len(data), sha256=hashlib.sha256(data).hexdigest()
        )
        for index, start in enumerate(range(0, len(data), chunk)):
            piece = data[start : start + chunk]
            batch_chunk_store(
                batch_file=batch_file,
                index=index,
                stream=io.BytesIO(piece),
                length=len(piece),
                sha256=hashlib.sha256(piece).hexdigest(),
            )
        batch_file_complete(batch_file=batch_file)
    return import_batch_submit(batch=batch, acting_user=user)


def load_and_apply(batch: ImportBatch, *, user) -> ImportBatch:
    """What the workers do after the submission, and the confirmation between (the tests run tasks inline)."""
    batch = batch_load(batch_id=batch.pk)
    if batch.status != BatchStatus.CHECKED:
        return batch
    import_batch_apply_start(batch=batch, acting_user=user)
    return batch_apply(batch_id=batch.pk)


def huangyan_held_conflict(user) -> Conflict:
    """One 黄岩 batch with a person twice: once right, once with a typing error in the number (and a homophone in
    the name): a conflict for 黄岩's own clerks, with one history line held."""
    number = make_id_number("331003", "19850707", 36)
    typo = number[:15] + str((int(number[15]) + 4) % 10) + number[16:]
    persons = csv_bytes(
        "persons",
        [
            [number, "陈静", "女", "1985-07-07", "城镇", "13800000009", "黄岩区劳动路 1 号", "", "", "2019-01-01"],
            [typo, "陈晶", "女", "1985-07-07", "城镇", "13800000010", "黄岩区劳动路 2 号", "", "", "2021-01-01"],
        ],
    )
    history = csv_bytes("history", [history_line(typo, "", 202001, "3000.00", "420.00", "240.00", "660.00")])
    batch, _queued = deliver(
        user=user, district="331003", files={"persons": ("p.csv", persons), "history": ("h.csv", history)}
    )
    batch = load_and_apply(batch, user=user)
    assert batch.status == BatchStatus.APPLIED, batch.error
    return Conflict.objects.get(batch=batch)


# ---------------------------------------------------------------------------------------------
# Records of another district, for the jurisdiction walk.


def _out_batch(township: Office) -> ImportBatch:
    return ImportBatch.objects.create(district=township.parent, source_system="路桥区系统", label="路桥")


def _out_file(township: Office) -> BatchFile:
    return BatchFile.objects.create(
        batch=_out_batch(township), kind="persons", name="persons.csv", size=10, sha256="0" * 64
    )


def _out_conflict(township: Office) -> Conflict:
    batch = _out_batch(township)
    person = PersonFactory(residence_office=township)
    staged = StagedPerson.objects.create(batch=batch, line_no=2, raw_id="x", id_kind=IdKind.INVALID, name=person.name)
    conflict = Conflict.objects.create(
        batch=batch, kind=ConflictKind.HELD, office=township.parent, staged_person=staged, score=80
    )
    ConflictCandidate.objects.create(conflict=conflict, person=person, score=80, reasons=["birth_sex"], rank=1)
    return conflict


def _out_merge(township: Office) -> Merge:
    conflict = _out_conflict(township)
    user = UserFactory(office=township.parent, roles=[])
    return Merge.objects.create(
        conflict=conflict,
        survivor=conflict.candidates.get().person,
        before={},
        after={},
        survivor_updated_at=timezone.now(),
        proposed_by=user,
        approved_by=UserFactory(office=township.parent, roles=[]),
        merged_at=timezone.now(),
    )


def _out_employer_conflict(township: Office) -> EmployerConflict:
    return EmployerConflict.objects.create(
        batch=_out_batch(township),
        office=township.parent,
        incoming=EmployerFactory(office=township),
        candidate=EmployerFactory(office=township),
        score=60,
        reasons=["name_same", "district_same"],
    )


OUT_OF_JURISDICTION = {
    EmployerConflict: _out_employer_conflict,
    ImportBatch: _out_batch,
    BatchFile: _out_file,
    Conflict: _out_conflict,
    Merge: _out_merge,
}
