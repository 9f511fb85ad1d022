"""`make run` on a fresh machine uses SQLite and in-process Celery (README): the migrations and the demo data must
load there too. The CI's database is PostgreSQL, so without this test a PostgreSQL-only statement in a demo hook
goes unnoticed (the payroll's demo did, 2026-12-07): here a child process migrates and fills a SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


PAGES_PROBE = """
from django.test import Client
from django.urls import reverse
from registry.models import Person, User
from registry.security.twofactor import SESSION_DEVICE
client = Client()
client.force_login(User.objects.get(username="city_admin"))
session = client.session
session[SESSION_DEVICE] = "test_make_run_sqlite"
session.save()
person = Person.objects.filter(merged_into__isnull=True).first()
names = ["payroll_run_list", "payroll_certification_due", "payroll_suspensions", "payroll_account"]
urls = [reverse(n) for n in names] + [reverse("payroll_person_history", kwargs={"uid": person.uid})]
statuses = [client.get(url, HTTP_HOST="localhost").status_code for url in urls]
run = client.post(urls[0], {"period": "2026-11", "pay_date": "2026-11-15"}, HTTP_HOST="localhost")
print("statuses", *statuses, "run", run.status_code, "PostgreSQL" in run.content.decode())
# A person's yearly certification in the hall (payroll SQL as well): refused with its message, not a 500.
from hall.models import HallAccount
from hall.tests.factories import hall_client
hall = hall_client(HallAccount.objects.filter(kind="person", status="active").first())
hall.raise_request_exception = False
certify = hall.post(reverse("hall:certification"), {"confirm": "on"}, HTTP_HOST="localhost")
print("certify", certify.status_code, "PostgreSQL" in certify.content.decode())
"""


@pytest.mark.setup  # a minute and more: in `make test-slow` (which .ci/run calls), keeping `make test` under 10 minutes
def test_make_run_migrates_and_loads_the_demo_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_OWNER_URL")}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "MEDIA_ROOT": str(tmp_path / "media")}
    for command in (["migrate", "--no-input", "-v0"], ["load_demo"]):
        done = subprocess.run(  # noqa: S603 — this interpreter, fixed arguments
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    assert "seed_demo:" in done.stdout
    # The payroll's pages answer there too (its SQL is PostgreSQL's): no 500, the run refused with a message.
    probe = subprocess.run(  # noqa: S603 — this interpreter, fixed arguments
        [sys.executable, "manage.py", "shell", "-c", PAGES_PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert probe.returncode == 0, probe.stderr[-6000:]
    assert "statuses 200 200 200 200 200 run 400 True" in probe.stdout, probe.stdout[-3000:] + probe.stderr[-3000:]
    assert "certify 400 True" in probe.stdout, probe.stdout[-3000:] + probe.stderr[-3000:]
    # What needs PostgreSQL says so and the demo goes on (the payroll's hook is the last one).
    assert "payroll_demo: the benefit payroll needs PostgreSQL" in done.stdout
    assert "consolidation_demo: the data consolidation needs PostgreSQL" in done.stdout
