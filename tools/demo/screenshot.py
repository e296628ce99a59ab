"""
`python -m tools.demo screenshot URL PNG`: the Headroom dashboard as the demo user sees it.

Logs in as demo in a headless Chromium (Debian's, driven by Playwright), lands on the
default dashboard (the demo's "Headroom" one), waits for its five graphs to draw and saves
the whole page. The README's picture is taken this way from a `scripts/develop --reset
--onboard` that ran for a while, so that the graphs have some history to show.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from playwright.sync_api import Page, sync_playwright

from tools.demo.harness import DEMO_PASSWORD, DEMO_USER
from tools.demo.home import DASHBOARD_URL

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""What works here as root: no sandbox, no GPU, no calls home."""
GRAPHS: Final = 5
"""The dashboard's history graphs: the grid, each of the demo's three chargers, why."""
TIMEOUT_MS: Final = 90_000


def main_screenshot(argv: list[str]) -> int:
    """Log in at URL as demo, open the default dashboard, save it as PNG."""
    base_url, png = argv
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{base_url.rstrip('/')}/")
            page.get_by_role("textbox", name=re.compile(r"^Username")).fill(DEMO_USER)
            page.get_by_role("textbox", name=re.compile(r"^Password")).fill(DEMO_PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(re.compile(rf"/{DASHBOARD_URL}/"))
            wait_for_graphs(page)
            page.screenshot(path=png, full_page=True)
        finally:
            browser.close()
    return 0


def wait_for_graphs(page: Page) -> None:
    """Wait until the dashboard's history graphs have drawn (an ECharts canvas each)."""
    graphs = page.locator("hui-history-graph-card")
    for index in range(GRAPHS):
        graphs.nth(index).locator("canvas").first.wait_for()
    page.wait_for_timeout(1500)  # the lines animate in
