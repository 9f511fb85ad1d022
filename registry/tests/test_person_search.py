"""person_list's pinyin / initials prefix search: the same rows, in the same order, as one OR query gave.

The search is a UNION ALL of ordered parts (registry.selectors._pinyin_prefix_search); these tests hold it to
the plain definition: persons in the user's jurisdiction whose full pinyin or whose initials start with the
prefix, ordered by full pinyin and id, whatever page is asked for.
"""

from __future__ import annotations

import re

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.models import Person
from registry.selectors import PrefixSearchQuerySet, person_list, person_matching
from registry.tests.factories import PersonFactory, UserFactory, office, township_of

pytestmark = pytest.mark.django_db

# Chosen so that the parts overlap in every way: pinyin and initials both matching (张华: zhanghua / zh),
# initials only (曾华: zenghua / zh), pinyin only (周杰: zhoujie / zj for "zh"), names whose initials are
# longer than the prefix (张伟杰 for "zw"), 4-character names, one-character given names.
NAMES = [
    "张华", "曾华", "周杰", "郑红", "张伟", "张伟杰", "周文君", "赵文娟", "张卫军", "朱伟", "庄文", "詹伟健",
    "欧阳文君", "司马伟", "王建", "王杰", "王建军", "吴佳", "汪俊杰", "王佳佳", "翁建", "魏静", "张三丰", "章华",
    "曾文杰", "郑伟", "周伟", "邹文君", "张伟", "张伟",
]  # fmt: skip
PREFIXES = ["z", "zh", "zw", "zwj", "zhang", "zhangw", "zhangwei", "wj", "wjj", "w", "wang", "ou", "oy", "oywj", "q"]


@pytest.fixture
def clerk(db):
    return UserFactory(office=office("331003"))


@pytest.fixture
def people(db):
    home = township_of("331003")
    elsewhere = township_of("331004")  # outside the clerk's jurisdiction
    persons = [PersonFactory(name=name, residence_office=home) for name in NAMES]
    persons += [PersonFactory(name=name, residence_office=elsewhere) for name in NAMES[::3]]
    return persons


def expected(clerk, prefix: str) -> list[int]:
    """The definition, computed in Python over every visible person."""
    rows = [
        p
        for p in Person.objects.filter(residence_office__path__startswith=clerk.office.path)
        if p.name_pinyin.startswith(prefix) or p.name_initials.startswith(prefix)
    ]
    return [p.pk for p in sorted(rows, key=lambda p: (p.name_pinyin, p.pk))]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_prefix_search_gives_every_match_in_pinyin_order(clerk, people, prefix):
    want = expected(clerk, prefix)
    assert [p.pk for p in person_list(user=clerk, query=prefix)] == want
    assert person_list(user=clerk, query=prefix).count() == len(want)
    # Upper case and spaces as a clerk may type them.
    typed = " ".join(prefix.upper())
    assert [p.pk for p in person_list(user=clerk, query=typed)] == want
    # The unordered variant for the admin and the API holds the same persons.
    assert sorted(person_matching(user=clerk, query=prefix).values_list("pk", flat=True)) == sorted(want)


@pytest.mark.parametrize("prefix", ["z", "zh", "zw", "zwj", "w", "wj"])
@pytest.mark.parametrize(("start", "stop"), [(0, 1), (0, 3), (0, 20), (2, 5), (4, 9), (7, 8), (10, 30), (25, 40)])
def test_every_slice_is_the_same_slice_of_the_whole_result(clerk, people, prefix, start, stop):
    want = expected(clerk, prefix)
    assert [p.pk for p in person_list(user=clerk, query=prefix)[start:stop]] == want[start:stop]


def test_pages_of_a_paginator_cover_the_result_once(clerk, people):
    for prefix in ("zh", "zw", "zwj"):
        want = expected(clerk, prefix)
        paginator = Paginator(person_list(user=clerk, query=prefix), 3)
        assert paginator.count == len(want)
        got = [p.pk for number in paginator.page_range for p in paginator.page(number).object_list]
        assert got == want


def test_single_rows_and_first(clerk, people):
    want = expected(clerk, "zw")
    search = person_list(user=clerk, query="zw")
    assert search[0].pk == want[0]
    assert search[3].pk == want[3]
    assert search.first().pk == want[0]
    with pytest.raises(IndexError):
        person_list(user=clerk, query="zw")[len(want)]


def test_results_come_with_their_office_in_one_query(clerk, people):
    search = person_list(user=clerk, query="zw")
    with CaptureQueriesContext(connection) as ctx:
        names = [p.residence_office.name for p in search[:20]]
    assert names and len(ctx.captured_queries) == 1


def test_other_queries_are_unchanged(clerk, people):
    zhang = people[0]
    assert list(person_list(user=clerk, query=zhang.id_number)) == [zhang]
    assert [p.name for p in person_list(user=clerk, query="张伟")] == ["张伟", "张伟", "张伟", "张伟杰"]
    assert list(person_list(user=clerk, query="")) == sorted(
        (p for p in people if p.residence_office.path.startswith(clerk.office.path)), key=lambda p: -p.pk
    )


@pytest.mark.postgres
def test_each_part_is_limited_to_the_page_on_postgresql(clerk, people):
    """Every part carries the page's ORDER BY and LIMIT, so each is an index scan that stops early."""
    search = person_list(user=clerk, query="zwj")
    assert isinstance(search, PrefixSearchQuerySet)
    sql = str(search[5:25].query)
    assert sql.count("UNION ALL") == 2
    assert sql.count("LIMIT 25") == 3  # each of the three parts: everything up to the end of the page
    assert sql.endswith("LIMIT 20 OFFSET 5")
    assert str(search.query).count("LIMIT") == 0  # unsliced (count, iteration): parts run whole


# --- look-up by ID number ---------------------------------------------------------------------------------


def _clone_persons(template: Person, count: int) -> None:
    """``count`` copies of ``template`` with fresh numbers, in one statement, so the planner sees a real table."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO registry_person (uid, id_number, name, name_pinyin, name_initials, sex, birth_date,
                household_type, phone, address, card_status, created_at, updated_at, residence_office_id)
            SELECT gen_random_uuid(), '8' || lpad(n::text, 16, '0') || 'X', name, name_pinyin, name_initials, sex,
                birth_date, household_type, phone, address, 'none', created_at, updated_at, residence_office_id
            FROM registry_person, generate_series(1, %s) AS n WHERE id = %s
            """,
            [count, template.pk],
        )
        cursor.execute("ANALYZE registry_person")


def test_an_id_number_finds_its_holder_or_the_survivor_of_a_tombstone(clerk, people):
    holder, tombstone, survivor = people[0], people[1], people[2]
    Person.objects.filter(pk=tombstone.pk).update(merged_into=survivor, merged_at=survivor.created_at)
    assert [p.pk for p in person_list(user=clerk, query=holder.id_number)] == [holder.pk]
    # The old number of a merged person finds its survivor, never the tombstone itself.
    assert [p.pk for p in person_list(user=clerk, query=tombstone.id_number)] == [survivor.pk]
    assert [p.pk for p in person_matching(user=clerk, query=tombstone.id_number)] == [survivor.pk]
    assert list(person_list(user=clerk, query="330102" + "0" * 12)) == []


@pytest.mark.postgres  # reads PostgreSQL's plan
def test_an_id_number_look_up_uses_the_indexes_not_a_scan_of_every_person(clerk, people):
    _clone_persons(people[0], 20_000)
    query = person_list(user=clerk, query=people[1].id_number).query
    sql, params = query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Cond: ((id_number)" in plan, plan
    assert "Seq Scan on registry_person" not in plan, plan
    # Every step on the person table expects a row or two: no walk through an office's persons with a filter.
    person_steps = [line for line in plan.splitlines() if " on registry_person " in line]
    assert person_steps and all(int(re.search(r" rows=(\d+)", line)[1]) <= 2 for line in person_steps), plan
