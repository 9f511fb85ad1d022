"""The chunked delivery API: a district system delivers its batch in chunks with SHA-256s; a chunk sent again
changes nothing, a wrong or missing chunk is refused with a reason, the same files again are the batch already
delivered; a district system cannot deliver for another district, nor see its batches."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from consolidation.models import BatchStatus, FileStatus, ImportBatch
from consolidation.tests.factories import csv_bytes
from registry.models import Office
from registry.services import api_key_issue, system_account_create
from registry.tests.factories import UserFactory, make_id_number

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _system(code: str, district: str) -> Client:
    admin = UserFactory(office=Office.objects.get(level=1), roles=[])
    account = system_account_create(
        acting_user=admin,
        code=code,
        name=code,
        office=Office.objects.get(code=district),
        operations=[
            "consolidation-batch:read",
            "consolidation-batch:write",
            "consolidation-file:read",
            "consolidation-file:write",
        ],
    )
    _key, raw = api_key_issue(account=account, acting_user=admin)
    return Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")


def _persons() -> bytes:
    return csv_bytes("persons", [[make_id_number("331003", "19800101", 21), "王小明", "", "", "", "", "", "", "", ""]])


def _deliver(client: Client, data: bytes, district: str = "331003") -> tuple[dict, dict]:
    batch = client.post(
        "/api/v1/consolidation-batches/",
        {"district": district, "source_system": "黄岩社保", "label": "首批"},
        content_type="application/json",
    ).json()
    declared = client.post(
        f"/api/v1/consolidation-batches/{batch['uid']}/files/",
        {"kind": "persons", "name": "persons.csv", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        content_type="application/json",
    )
    assert declared.status_code == 201, declared.json()
    return batch, declared.json()


def _put(client: Client, file_uid: str, index: int, piece: bytes, sha: str | None = None):
    return client.put(
        f"/api/v1/consolidation-files/{file_uid}/chunk/?index={index}",
        piece,
        content_type="application/octet-stream",
        HTTP_X_CHUNK_SHA256=sha or hashlib.sha256(piece).hexdigest(),
    )


def test_a_batch_is_delivered_in_chunks_and_submitted_once():
    client = _system("hy", "331003")
    data = _persons()
    batch, file = _deliver(client, data)
    half = len(data) // 2
    assert _put(client, file["uid"], 0, data[:half]).status_code == 201
    assert _put(client, file["uid"], 0, data[:half]).status_code == 200  # the same chunk again: nothing changes
    wrong = _put(client, file["uid"], 1, data[half:], sha="0" * 64)
    assert wrong.status_code == 400 and "SHA-256" in wrong.json()["errors"]["sha256"][0]
    early = client.post(f"/api/v1/consolidation-files/{file['uid']}/complete/")
    assert early.status_code == 400  # the size does not add up yet
    assert _put(client, file["uid"], 1, data[half:]).status_code == 201
    other = _put(client, file["uid"], 1, data[half:] + b"x")
    assert other.status_code == 400
    complete = client.post(f"/api/v1/consolidation-files/{file['uid']}/complete/")
    assert complete.status_code == 200 and complete.json()["status"] == FileStatus.COMPLETE
    submitted = client.post(f"/api/v1/consolidation-batches/{batch['uid']}/submit/")
    assert submitted.status_code == 202 and submitted.json()["status"] == BatchStatus.QUEUED
    # The same file again in a new batch: the batch already delivered, nothing loaded.
    batch2, file2 = _deliver(client, data)
    _put(client, file2["uid"], 0, data)
    client.post(f"/api/v1/consolidation-files/{file2['uid']}/complete/")
    again = client.post(f"/api/v1/consolidation-batches/{batch2['uid']}/submit/")
    assert again.status_code == 200
    assert again.json()["uid"] == batch["uid"] and again.json()["already_delivered"] is True
    assert ImportBatch.objects.get(uid=batch2["uid"]).status == BatchStatus.DUPLICATE


def test_a_district_system_delivers_only_for_its_district_and_sees_only_its_batches():
    huangyan, luqiao = _system("hy", "331003"), _system("lq", "331004")
    refused = huangyan.post(
        "/api/v1/consolidation-batches/", {"district": "331004", "source_system": "x"}, content_type="application/json"
    )
    assert refused.status_code == 400 and "辖区" in refused.json()["errors"]["district"][0]
    batch, file = _deliver(huangyan, _persons())
    assert luqiao.get(f"/api/v1/consolidation-batches/{batch['uid']}/").status_code == 404
    assert _put(luqiao, file["uid"], 0, b"abc").status_code == 404
    assert batch["uid"] not in luqiao.get("/api/v1/consolidation-batches/").content.decode()


def test_a_chunk_needs_its_index_and_the_octet_stream_type():
    client = _system("hy", "331003")
    _batch, file = _deliver(client, _persons())
    no_index = client.put(
        f"/api/v1/consolidation-files/{file['uid']}/chunk/", b"abc", content_type="application/octet-stream"
    )
    assert no_index.status_code == 400
    as_json = client.put(
        f"/api/v1/consolidation-files/{file['uid']}/chunk/?index=0", {"a": 1}, content_type="application/json"
    )
    assert as_json.status_code == 415
