"""No page of the project reads ``request.POST`` / ``request.GET`` / ``request.FILES`` by key outside a form class:
page input goes through Django forms (every error shown next to its field, nothing hand-parsed). The API reads
``request.data`` through serializers and is not concerned.

The test reads every Python file of the project (not the virtualenv, migrations or tests) and fails on a read by
key: ``request.POST["x"]``, ``request.GET.get("x")``, ``request.FILES.getlist("x")``, ``"x" in request.POST``.
Passing the whole QueryDict to a form (``Form(request.POST)``) or iterating it (the NUL middleware) is fine.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SKIPPED_DIRS = {".venv", "node_modules", "migrations", "tests", "static", "media", "bench", ".git"}
READ = re.compile(
    r"request\.(?:POST|GET|FILES|REQUEST)\s*(?:\[|\.get\s*\(|\.getlist\s*\(|\.pop\s*\()"
    r"|[\"']\w+[\"']\s+(?:not\s+)?in\s+request\.(?:POST|GET|FILES)\b"
)
# Views allowed to read by key: none (the last ones, contributions, funds and policies, were converted in issue 16).
ALLOWLIST: set[str] = set()


def _project_files():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if set(rel.parts[:-1]) & SKIPPED_DIRS or rel.name.startswith("test_"):
            continue
        yield rel, path


def _reads() -> list[str]:
    found = []
    for rel, path in _project_files():
        if str(rel) in ALLOWLIST:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if READ.search(line) and not line.lstrip().startswith("#"):
                found.append(f"{rel}:{number}: {line.strip()}")
    return found


def test_no_page_reads_request_data_by_key():
    found = _reads()
    assert not found, "read page input through a form class instead:\n" + "\n".join(found)


def test_the_pattern_catches_each_kind_of_read():
    for line in [
        'q = request.GET.get("q", "")',
        'files = request.FILES.getlist("files")',
        'x = request.POST["x"]',
        'if "pdf" in request.FILES:',
        'if "op" not in request.POST:',
    ]:
        assert READ.search(line), line
    for line in ["form = Form(request.POST, request.FILES)", "for key, values in request.GET.lists():"]:
        assert not READ.search(line), line
