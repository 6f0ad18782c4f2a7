"""Open a rendered report in Debian's chromium, check what a reader sees, save a screenshot
(in the test's folder and /tmp/veil-screenshots/) for people to look at."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from veil.govern.report import Report, render

SCREENSHOTS = Path("/tmp/veil-screenshots")
CHROMIUM = Path("/usr/bin/chromium")


@contextmanager
def page(file: Path, shot: Path) -> Iterator[Any]:
    """``file`` open in chromium (skips without one) for the caller's checks; then nothing may
    be wider than the page, and the screenshot goes to ``shot`` and /tmp/veil-screenshots/."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            view = browser.new_page(viewport={"width": 1100, "height": 900})
            view.goto(file.as_uri())
            yield view
            overflow = view.evaluate(  # nothing is wider than the page
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0
            for target in (shot, SCREENSHOTS / shot.name):
                view.screenshot(path=str(target), full_page=True)
        finally:
            browser.close()
    assert shot.read_bytes().startswith(b"\x89PNG")


def look(report: Report, folder: Path, name: str) -> Path:
    """Render ``report`` into ``folder``, check it in the browser; returns the PNG."""
    file = render.write(report, folder, pdf=False)["html"]
    shot = folder / f"{name}.png"
    with page(file, shot) as view:
        if report.matrix:
            assert view.locator("table.matrix").is_visible()
            assert view.locator("table.matrix tbody tr").count() == len(report.stages)
            assert view.locator("figure#chart-matrix svg").is_visible()
        for section in report.sections:
            assert view.locator(f'[id="sec-{section.id}"]').is_visible()
        assert view.locator("#evidence").is_visible()
    return shot
