"""SQL knowledge in one place: the district of an office path, table names, advisory-lock namespaces."""

import pathlib
import re

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection

from registry.db_functions import office_district_code_sql
from registry.locks import ALL_BATCHES, ALL_FILES, AdvisoryLock, advisory_try_lock, advisory_unlock, advisory_xact_lock
from registry.models import Office
from registry.tests.helpers import project_apps

pytestmark = pytest.mark.django_db

ROOT = pathlib.Path(settings.BASE_DIR)
APPS = project_apps()  # every app of the project, a new one too


def _production_sources():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "tests" not in path.parts and "migrations" not in path.parts:
                yield path, path.read_text()


def test_district_code_in_sql_is_the_one_of_the_model():
    township = Office.objects.filter(level=3).order_by("code").first()
    Office.objects.create(
        code=f"{township.code}001",
        name="演示社区",
        level=4,
        parent=township,
        path=f"{township.path}{township.code}001/",
    )
    with connection.cursor() as cur:
        cur.execute(f"SELECT o.id, {office_district_code_sql('o.path')} FROM {Office._meta.db_table} o")
        in_sql = dict(cur.fetchall())
    offices = list(Office.objects.all())
    assert len(offices) > 10 and {o.level for o in offices} == {1, 2, 3, 4}
    for office in offices:
        assert in_sql[office.id] == (office.district_code or ""), office.path


def test_no_one_else_cuts_the_district_out_of_a_path_or_takes_an_advisory_lock():
    cuts = re.compile(r"substr\(\s*\w+\.path")
    locks = re.compile(r"pg_(try_)?advisory")
    offenders = [
        str(path.relative_to(ROOT))
        for path, text in _production_sources()
        if path.name not in ("db_functions.py", "locks.py") and (cuts.search(text) or locks.search(text))
    ]
    assert offenders == []


def test_raw_sql_takes_table_names_from_the_models():
    tables = sorted((m._meta.db_table for m in apps.get_models() if m._meta.app_label in APPS), key=len, reverse=True)
    # A table name as the SQL would hold it: after FROM/JOIN/INTO/UPDATE/TABLE, or quoted alone.
    written = re.compile(
        r"(?:\b(?:FROM|JOIN|INTO|UPDATE|TABLE|ANALYZE)\s+|[\"'])(" + "|".join(map(re.escape, tables)) + r")\b"
    )
    # A model naming its own table (db_table, the history's table_name) is where the name is defined.
    defines = re.compile(r"^.*\b(db_table|table_name)\b.*$", re.M)
    offenders = {
        str(path.relative_to(ROOT)): sorted(set(written.findall(defines.sub("", text))))
        for path, text in _production_sources()
        if written.search(defines.sub("", text))
    }
    assert offenders == {}


def test_lock_namespaces_are_never_renumbered():
    # Changing a number here is changing a lock running workers and the database trigger share: don't.
    assert {m.name: m.value for m in AdvisoryLock} == {
        "ENROLLMENT_OVERLAP": 20261129,
        "BILL_RUN": 7110,
        "PAYMENT_FILE": 7120,
        "BILL_EXPORT": 7130,
        "INCOME_POSTING": 0x46554E44,
        "CONSOLIDATION_BATCH": 20261219,
        "PAYROLL_RUN": 20261207,
        "PAYROLL_BANK_FILE": 20261208,
    }
    assert all(0 < m.value < 2**31 for m in AdvisoryLock)
    assert ALL_FILES == 0
    assert ALL_BATCHES == 0


@pytest.mark.postgres
def test_the_enrollment_trigger_locks_in_its_namespace():
    with connection.cursor() as cur:
        cur.execute("SELECT prosrc FROM pg_proc WHERE proname = 'registry_enrollment_no_overlap'")
        (source,) = cur.fetchone()
    assert f"pg_advisory_xact_lock({int(AdvisoryLock.ENROLLMENT_OVERLAP)}, b.bucket)" in source


@pytest.mark.postgres
def test_a_lock_excludes_the_same_key_only(django_db_blocker):
    other = connection.copy()
    try:
        with connection.cursor() as mine, other.cursor() as theirs:
            assert advisory_try_lock(mine, AdvisoryLock.BILL_RUN, 202501)
            assert not advisory_try_lock(theirs, AdvisoryLock.BILL_RUN, 202501)
            assert advisory_try_lock(theirs, AdvisoryLock.BILL_RUN, 202502)  # another period
            assert advisory_try_lock(theirs, AdvisoryLock.PAYMENT_FILE, 202501)  # another namespace
            advisory_unlock(mine, AdvisoryLock.BILL_RUN, 202501)
            assert advisory_try_lock(theirs, AdvisoryLock.BILL_RUN, 202501)
            for key in (202501, 202502):
                advisory_unlock(theirs, AdvisoryLock.BILL_RUN, key)
            advisory_unlock(theirs, AdvisoryLock.PAYMENT_FILE, 202501)
            # A transaction lock of a payment file (today: ALL_FILES) shows in pg_locks under its namespace.
            advisory_xact_lock(mine, AdvisoryLock.PAYMENT_FILE, ALL_FILES)
            theirs.execute(
                "SELECT classid, objid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND pid <> "
                "pg_backend_pid()"
            )
            assert (int(AdvisoryLock.PAYMENT_FILE), ALL_FILES) in theirs.fetchall()
    finally:
        other.close()


def test_a_key_outside_int4_is_refused_not_wrapped():
    class Cursor:
        def execute(self, *args):
            raise AssertionError("not reached")

    with pytest.raises(ValueError, match="outside int4"):
        advisory_xact_lock(Cursor(), AdvisoryLock.PAYMENT_FILE, 2**31)
