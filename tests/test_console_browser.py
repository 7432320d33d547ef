"""The console in a real browser (Playwright for Python driving Debian's /usr/bin/chromium,
headless; no browser is downloaded), on a real worker and ``petition-hub console serve``.

Office → unit → office: a mini-program appeal no rule places waits in triage; the office (联席会议
办公室) decides its lead unit on the triage page; the unit's clerk signs for it, asks for
material and replies (解释说明); the office sees it among 已办. Another unit's clerk gets 403 on
the petition's page; a form whose CSRF token was removed is refused. Screenshots of each page are
kept (``HUB_TEST_ARTIFACTS``, else the test's tmp dir) as the test's artifacts.

Skipped when /usr/bin/chromium is missing (``apt-get install chromium``), unless
``HUB_REQUIRE_TOOLS=1`` (CI), where that fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hubtest import TEST_API_TOKEN, WorkerProcess, produce, wait_until
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.data import load_samples
from webconsole import PASSWORD, serve_console

pytestmark = [pytest.mark.broker, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BEARER = {"Authorization": f"Bearer {TEST_API_TOKEN}"}
LEAD = "dept.TRANSPORT"


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("HUB_REQUIRE_TOOLS") == "1":
            pytest.fail("HUB_REQUIRE_TOOLS=1 but /usr/bin/chromium is missing")
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("HUB_TEST_ARTIFACTS") or tmp_path) / "console-screenshots"
    where.mkdir(parents=True, exist_ok=True)
    return where


def _state(url: str, pid: str) -> str | None:
    answer = httpx.get(f"{url}/api/petitions/{pid}", headers=BEARER, timeout=5)
    return answer.json()["state"] if answer.status_code == 200 else None


def _wait_state(url: str, pid: str, *states: str) -> str:
    found: str = wait_until(
        lambda: (s := _state(url, pid)) in states and s, 120, what=f"{pid} in {states}"
    )
    return found


def _sign_in(browser: Any, url: str, username: str) -> Any:
    page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:500]
    return page


def test_office_unit_office_in_a_real_browser(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
    browser: Any,
    shots: Path,
) -> None:
    start_worker(hub_topics, HUB_LIFECYCLE_PARK_SECONDS="2")
    sample = load_samples()["miniprogram-v1-individual.json"]  # no theme matches: triage
    pid = PETITION_DECODERS[sample.topic](sample.key, sample.value, sample.headers).petition_id
    accounts = [("office1", "office", None), ("clerk1", "unit", LEAD), ("hud1", "unit", "dept.HUD")]
    with serve_console(hub_topics, tmp_path, accounts) as url:
        produce(hub_topics.bootstrap, sample.topic, [(sample.key, sample.value, sample.headers)])
        _wait_state(url, pid, "triage")

        # the office decides the lead unit on the triage page
        office = _sign_in(browser, url, "office1")
        office.goto(f"{url}/office/triage")
        office.screenshot(path=str(shots / "1-office-triage.png"), full_page=True)
        box = office.locator(f'div[data-petition="{pid}"]')
        box.locator("select[name=lead]").select_option(LEAD)
        box.locator("button", has_text="分办").click()
        office.wait_for_load_state()
        assert office.locator("#sent").is_visible(), office.content()[:1000]
        _wait_state(url, pid, "routed")

        # the unit's clerk: signs for, asks for material, replies
        clerk = _sign_in(browser, url, "clerk1")
        clerk.goto(f"{url}/unit")
        assert pid in clerk.content()
        clerk.screenshot(path=str(shots / "2-unit-list.png"), full_page=True)
        clerk.click(f'a[href="/petitions/{pid}"]')
        clerk.locator("button", has_text="签收").first.click()
        clerk.wait_for_load_state()
        _wait_state(url, pid, "signed_for")
        clerk.goto(f"{url}/petitions/{pid}")
        clerk.fill('form:has(input[value="MATERIAL_REQUESTED"]) input[name=note]', "营业执照副本")
        clerk.locator("button", has_text="要求补充材料").click()
        clerk.wait_for_load_state()
        _wait_state(url, pid, "waiting_material")
        clerk.goto(f"{url}/petitions/{pid}")
        assert "待补充材料" in clerk.locator("#state").inner_text()

        # a form whose CSRF token is removed is refused
        clerk.evaluate("document.querySelector('#reply input[name=csrf_token]').remove()")
        clerk.fill("#reply textarea[name=reply_text]", "已说明")
        clerk.locator("#reply button").click()
        clerk.wait_for_load_state()
        assert "CSRF" in clerk.content() and "无权访问" in clerk.content()
        assert _state(url, pid) == "waiting_material"

        clerk.goto(f"{url}/petitions/{pid}")
        clerk.check('#reply input[value="EXPLAINED"]')
        clerk.fill(
            "#reply textarea[name=reply_text]", "经核实，该事项依现行政策无法办理，已向企业说明。"
        )
        clerk.locator("#reply button").click()
        clerk.wait_for_load_state()
        _wait_state(url, pid, "replied")
        clerk.goto(f"{url}/petitions/{pid}")
        assert "clerk1" in clerk.locator("#history").inner_text()  # the author of each step
        clerk.screenshot(path=str(shots / "3-unit-petition.png"), full_page=True)

        # the office sees it done
        office.goto(f"{url}/office?view=done")
        assert pid in office.content()
        office.screenshot(path=str(shots / "4-office-done.png"), full_page=True)
        office.goto(f"{url}/petitions/{pid}")
        assert "已答复" in office.locator("#state").inner_text()
        office.screenshot(path=str(shots / "5-office-petition.png"), full_page=True)

        # another unit may not see it
        other = _sign_in(browser, url, "hud1")
        answer = other.goto(f"{url}/petitions/{pid}")
        assert answer is not None and answer.status == 403
        assert "无权访问" in other.content()
        other.screenshot(path=str(shots / "6-other-unit-403.png"))
    assert len(list(shots.glob("*.png"))) == 6
