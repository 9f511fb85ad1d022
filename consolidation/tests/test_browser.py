"""In a real browser (Debian's chromium through playwright): a 黄岩 counter clerk resolves a conflict of his
district — compares the two records side by side, takes the newer phone number and address from the incoming
line, proposes the merge — and a 黄岩 reviewer, a second person, approves it; the person then has the line's
contribution months."""

from __future__ import annotations

import pytest

from cases.tests.test_browser import _login
from cases.tests.test_browser import browser as browser  # the fixture (Debian's chromium through playwright)
from consolidation.models import ConflictStatus
from consolidation.tests.factories import city_admin, huangyan_held_conflict
from contributions.selectors import contribution_months
from registry import roles
from registry.models import Office
from registry.tests.factories import UserFactory


@pytest.mark.browser
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_district_clerk_resolves_a_conflict_and_a_second_person_approves(
    live_server,
    _restore_migration_data,
    browser,
):
    from playwright.sync_api import expect

    conflict = huangyan_held_conflict(city_admin())
    district = Office.objects.get(code="331003")
    clerk = UserFactory(username="hy_desk", first_name="柜员甲", office=district, roles=[roles.COUNTER_CLERK])
    checker = UserFactory(username="hy_check", first_name="审核乙", office=district, roles=[roles.REVIEWER])
    survivor = conflict.candidates.get().person
    assert contribution_months(survivor, "emp_pension") == 0

    page = browser.new_page(locale="zh-CN")
    page.set_default_timeout(15_000)
    base = live_server.url
    _login(page, base, clerk.username)
    page.get_by_role("link", name="数据大集中", exact=True).click()
    expect(page.locator("h1")).to_have_text("数据大集中 · 冲突队列")
    page.get_by_test_id("queue").get_by_role("link", name="陈晶").click()
    side = page.get_by_test_id("side-by-side")
    expect(side).to_contain_text("陈晶")
    expect(side).to_contain_text("陈静")
    expect(side).to_contain_text("身份证号码仅一位数字不同")
    expect(page.get_by_test_id("held-history")).to_contain_text("1 条")
    # Take the newer phone number and address from the incoming line (the static script sets both radios the
    # same way the clerk would click them), merge, and say why.
    side.locator('tr[data-field="phone"] input[value="incoming"]').check()
    side.locator('tr[data-field="address"] input[value="incoming"]').check()
    page.get_by_label("合并为同一人").check()
    page.get_by_label("说明").fill("号码录错一位，姓名同音，同一人")
    page.get_by_role("button", name="提交处理意见").click()
    expect(page.get_by_test_id("conflict-status")).to_have_text("待复核")
    expect(page.get_by_test_id("own-proposal")).to_be_visible()
    expect(page.get_by_role("button", name="复核通过")).to_have_count(0)

    # The second person.
    page.context.clear_cookies()
    _login(page, base, checker.username)
    page.goto(f"{base}/consolidation/conflicts/")
    page.get_by_test_id("queue").get_by_role("link", name="陈晶").click()
    expect(page.get_by_test_id("proposal")).to_contain_text("号码录错一位")
    page.get_by_role("button", name="复核通过").click()
    expect(page.get_by_test_id("conflict-status")).to_have_text("已合并")
    expect(page.get_by_test_id("merges")).to_contain_text("陈静")

    conflict.refresh_from_db()
    survivor.refresh_from_db()
    assert conflict.status == ConflictStatus.MERGED
    assert (conflict.proposed_by, conflict.decided_by) == (clerk, checker)
    assert survivor.phone == "13800000010" and survivor.address == "黄岩区劳动路 2 号"
    assert contribution_months(survivor, "emp_pension") == 1
    page.close()
