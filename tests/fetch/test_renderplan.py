"""What --render auto learns per host (the plan alone: pure logic, no browser)."""

from __future__ import annotations

from crawler.fetch.renderplan import LEARN, RECHECK, RenderPlan


def test_a_host_with_a_few_script_pages_renders_those_only() -> None:
    plan = RenderPlan()
    rendered = 0
    for n in range(200):
        why = plan.decide("shop", "app_root" if n % 10 == 0 else None)
        if why is not None:
            rendered += 1
            plan.learn("shop", why, True)  # each rendering found its links
    assert rendered == 20 and plan.figures()["shop"]["plan"] == "detect"


def test_a_site_built_by_script_throughout_gets_every_page_rendered() -> None:
    plan = RenderPlan()
    for _ in range(LEARN):
        assert plan.decide("spa", "app_root") == "app_root"
        plan.learn("spa", "app_root", True)
    assert plan.figures()["spa"]["plan"] == "render"
    assert plan.decide("spa", None) == "host"  # no longer asked how the page looks
    for _ in range(LEARN):  # ... until renderings stop changing pages
        plan.learn("spa", "host", False)
    assert plan.figures()["spa"]["plan"] == "detect" and plan.decide("spa", None) is None


def test_renderings_that_change_nothing_stop_and_are_checked_again_now_and_then() -> None:
    plan = RenderPlan()
    for _ in range(LEARN):
        plan.learn("blog", plan.decide("blog", "little_text") or "", False)
    assert plan.figures()["blog"]["plan"] == "plain"
    decided = [plan.decide("blog", "little_text") for _ in range(RECHECK)]
    assert decided == [None] * (RECHECK - 1) + ["recheck"]
    plan.learn("blog", "recheck", True)  # it changed after all
    assert plan.figures()["blog"]["plan"] == "detect"
    assert plan.decide("blog", "little_text") == "little_text"


def test_renderings_decided_under_a_plan_the_host_has_left_teach_nothing() -> None:
    plan = RenderPlan()
    for _ in range(LEARN):
        plan.learn("spa", plan.decide("spa", "app_root") or "", True)
    late = [plan.decide("spa", None) for _ in range(6)]  # six "host" renderings under way
    for _ in range(LEARN):
        plan.learn("spa", "host", False)
    assert plan.figures()["spa"]["plan"] == "detect"
    for why in late[LEARN:]:  # the rest end after the host went back to detecting
        plan.learn("spa", why or "", False)
    assert plan.figures()["spa"]["plan"] == "detect"  # not learned "plain" from them
