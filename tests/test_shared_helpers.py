"""Shared helpers stay shared: the copies issue 15 removed do not come back (each has one home in registry)."""

from __future__ import annotations

import pathlib
import re

from django.conf import settings

from registry.tests.helpers import project_apps

ROOT = pathlib.Path(settings.BASE_DIR)
APPS = (*project_apps(), "tests")  # every app of the project (a new one too) and the project-wide tests

# What is defined once, and where.
ONE_HOME = {
    r"^def _?query_string\w*\(": "registry/pages.py",
    r"\.pop\([\"']page[\"']": "registry/pages.py",  # the pager's query, also written out in a view
    r"^def (_?page_number|_page)\((request|data|query)": "registry/pages.py",  # reading the page number (six copies once)
    r"^class \w*Page(Query)?Form\(": "registry/forms.py",
    r"^class ReadOnlyAdminMixin\b": "registry/admin_mixins.py",
    # …also written out in an admin class: no add and no change.
    r"def has_add_permission\(self, request(, obj=None)?\):\n\s+return False\n\n"
    r"\s+def has_change_permission\(self, request, obj=None\):\n\s+return False": "registry/admin_mixins.py",
    r"\.registerFont\(": "registry/pdf_fonts.py",
    r"\berror_dict\.items\(\)": "registry/exceptions.py",  # flattening a ValidationError (and the admin's labels)
    r"^def assert_error\(": "registry/tests/helpers.py",
    r"^ERROR_KEYS\s*=": "registry/tests/helpers.py",
    r"^def (page_)?client_for\(": "registry/tests/helpers.py",
    # …also under another name: a function that only signs a client in.
    r"^\s*client = (API)?Client\(\)\n\s*client\.force_(login|authenticate)\([^\n]*\)\n\s*return client$": (
        "registry/tests/helpers.py"
    ),
}
# The admin form maps a ValidationError to its own fields' labels (not a flattening): it may read error_dict.
ALSO_ALLOWED = {r"\berror_dict\.items\(\)": {"registry/admin_mixins.py"}}


def _sources():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")


def test_each_shared_helper_is_defined_in_its_one_home():
    found = {pattern: set() for pattern in ONE_HOME}
    for name, text in _sources():
        if name == "tests/test_shared_helpers.py":
            continue
        for pattern in ONE_HOME:
            if re.search(pattern, text, re.M):
                found[pattern].add(name)
    assert {p: names - ALSO_ALLOWED.get(p, set()) for p, names in found.items()} == {
        p: {home} for p, home in ONE_HOME.items()
    }


def test_the_checks_over_the_whole_code_see_every_app():
    """project_apps() (used here and by the import-circle, function-length and SQL tests) misses no app folder."""
    on_disk = {path.parent.name for path in ROOT.glob("*/apps.py")}
    assert on_disk >= {"registry", "policies", "contributions", "funds", "cases", "consolidation", "hall", "evaluation"}
    assert on_disk <= set(project_apps())
