"""The leaderboard page in a real headless browser (Debian's chromium through playwright): one row
per model, header clicks sort, figures decode, no console error, no request leaves the page."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from robaudit.compare import write_leaderboard
from tests.compare_cards import ZOO, zoo_sweep

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                                reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium); "
                                       "required under CI=true")


def test_leaderboard_page_in_headless_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import Route, sync_playwright

    folder = zoo_sweep(tmp_path / "sweep")
    board = write_leaderboard([folder], tmp_path / "lb")
    page_path = tmp_path / "lb" / "leaderboard.html"
    errors: list[str] = []
    requests: list[str] = []

    def refuse_network(route: Route) -> None:
        url = route.request.url
        if url.startswith("data:") or url == page_path.as_uri():
            route.continue_()
        else:
            requests.append(url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("**/*", refuse_network)
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        names = page.eval_on_selector_all("#leaderboard tbody tr", "rows => rows.map(r => r.dataset.name)")
        assert sorted(names) == sorted(row["name"] for row in board["rows"]) and len(names) == len(ZOO) + 1

        def column(key: str) -> list[str]:
            index = page.eval_on_selector_all("#leaderboard thead th",
                                              f"hs => hs.findIndex(h => h.dataset.key == '{key}')")
            return page.eval_on_selector_all(
                "#leaderboard tbody tr", f"rows => rows.map(r => r.cells[{index}].dataset.value)")

        page.click("th[data-key='f_rev_cpp']")  # no direction: ascending, models without a value last
        order = page.eval_on_selector_all("#leaderboard tbody tr", "rs => rs.map(r => r.dataset.name)")
        by_f_rev = [name for name, *_ in sorted(ZOO, key=lambda z: z[1])]
        assert order == [*by_f_rev, "broken"]
        assert [float(v) for v in column("f_rev_cpp")[:-1]] == sorted(z[1] for z in ZOO)
        page.click("th[data-key='f_rev_cpp']")  # again: reversed
        order = page.eval_on_selector_all("#leaderboard tbody tr", "rs => rs.map(r => r.dataset.name)")
        assert order == [*reversed(by_f_rev), "broken"]
        page.click("th[data-key='clean_acc']")  # higher is better: best first
        values = [float(v) for v in column("clean_acc") if v]
        assert values == sorted(values, reverse=True)
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        assert len(widths) == len(board["figures"]) and all(w > 0 for w in widths)
        page.click("th[data-key='robust_acc_linf_8_255']")
        # The screenshot is the test's artifact: under $ROBAUDIT_TEST_ARTIFACTS when set (CI), else tmp_path.
        artifacts = Path(os.environ.get("ROBAUDIT_TEST_ARTIFACTS", tmp_path))
        artifacts.mkdir(parents=True, exist_ok=True)
        shot = artifacts / "leaderboard.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    print(f"screenshot: {shot}")
    shutil.copy(page_path, artifacts / "leaderboard.html")
    assert errors == [], errors
    assert requests == [], f"the page requested {requests}"
