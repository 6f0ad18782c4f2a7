"""The dashboard in a real browser (Debian's chromium driven by Playwright) against the real
``veil serve`` over TLS: signing in with password and TOTP (a wrong code refused), a DP query
that lowers the budget bar, a raw-data page the analyst may not open (the 403 page, and the
ledger's access.denied entry), an erasure with its receipt downloaded, and a ledger
verification. Every page is saved as a screenshot in the test's folder and in
``/tmp/veil-screenshots/`` for people to look at.

The browser waits on page events (navigation, elements), never on a clock; its time limits
are generous so a busy machine only makes the tests slower."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from service import PASSWORD, Served, World, build_world, serve
from veil import Workspace

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path("/tmp/veil-screenshots")
WAIT_MS = 300_000  # the limit of any one wait: generous, a slow machine is not a failure

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"the browser tests drive {CHROMIUM}, which is not installed "
    "(apt-get install chromium)")]

expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("browser"), anonymized=True)


@pytest.fixture(scope="module")
def served(world: World) -> Iterator[Served]:
    with serve(world) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    """A fresh browser profile at the size of a common laptop screen."""
    context = browser.new_context(ignore_https_errors=True, base_url=served.url,
                                  viewport={"width": 1366, "height": 768}, accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: problems.append(str(e)))
    yield opened
    context.close()
    # a content-policy violation or a script error shows up here; refused pages (403) too
    assert [p for p in problems if "status of 40" not in p] == []


def shot(page: Page, folder: Path, name: str) -> None:
    """A full-page screenshot into the test's folder and the shared one."""
    path = folder / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


def sign_in(page: Page, user: str, code: str) -> None:
    page.goto("/ui/login")
    page.get_by_label("User").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authenticator code").fill(code)
    page.get_by_role("button", name="Sign in").click()


def signed_in(page: Page, world: World, role: str) -> None:
    sign_in(page, f"u-{role}", world.code(role))
    page.wait_for_url("**/ui/")
    expect(page.locator(".principal")).to_contain_text(f"u-{role}")


def use_purpose(page: Page, purpose: str) -> None:
    page.get_by_label("Purpose", exact=True).select_option(purpose)
    page.get_by_role("button", name="Use").click()
    expect(page.get_by_label("Purpose", exact=True)).to_have_value(purpose)


def bar_width(page: Page, nth: int) -> float:
    return float(page.locator("svg.budget rect.left").nth(nth).get_attribute("width"))


def test_sign_in_with_password_and_totp(page: Page, world: World,
                                        tmp_path: Path) -> None:
    sign_in(page, "u-steward", "000000")
    expect(page.get_by_role("alert")).to_have_text("authentication failed")
    assert page.url.endswith("/ui/login")
    shot(page, tmp_path, "01-login-refused")
    sign_in(page, "u-steward", world.code("steward"))
    page.wait_for_url("**/ui/")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator(".principal")).to_contain_text("u-steward")
    shot(page, tmp_path, "02-overview")
    page.get_by_role("link", name="patients", exact=True).click()
    page.wait_for_url("**/ui/datasets/patients")
    expect(page.get_by_role("heading", name="Lineage")).to_be_visible()
    shot(page, tmp_path, "03-dataset")
    use_purpose(page, "everything")
    page.get_by_role("link", name="Open the rows").click()
    page.wait_for_url("**/ui/datasets/patients/rows")
    expect(page.get_by_role("region", name="Rows of patients")).to_contain_text(
        world.frame["email"][0])
    shot(page, tmp_path, "04-rows")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/login")


def test_the_analyst_queries_and_is_refused_raw_rows(page: Page, world: World,
                                                     tmp_path: Path) -> None:
    signed_in(page, world, "analyst")
    page.get_by_role("link", name="Query").click()
    use_purpose(page, "everything")
    before = bar_width(page, 0)
    page.get_by_label("SQL").fill("SELECT sex, COUNT(*), AVG(bmi) FROM patients GROUP BY sex")
    page.get_by_label("Epsilon to spend").fill("150")
    page.get_by_role("button", name="Run the query").click()
    expect(page.locator("#answers")).to_contain_text("mean_bmi")
    expect(page.locator("#answers svg.interval")).to_have_count(4)
    assert bar_width(page, 0) == before  # the "before" column
    assert bar_width(page, 1) < before  # the bar dropped
    shot(page, tmp_path, "05-query")
    for name in ("Releases", "Models"):
        page.get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
        shot(page, tmp_path, f"06-{name.lower()}")
    expect(page.locator("svg.scatter")).to_be_visible()

    response = page.goto("/ui/datasets/patients/rows")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("raw_read")
    assert world.frame["email"][0] not in page.content()
    shot(page, tmp_path, "07-rows-refused")
    with Workspace.open(world.path, master_key=world.master) as ws:
        denied = ws.ledger.tail(1, action="access.denied")[0]
    assert denied.actor == "u-analyst" and denied.parameters["operation"] == "raw_read"


def test_the_dpo_erases_a_subject_and_downloads_the_receipt(
        page: Page, world: World, tmp_path: Path) -> None:
    subject = world.frame["patient_id"][4]
    signed_in(page, world, "dpo")
    page.get_by_role("link", name="Consent").click()
    page.get_by_label("Subject id").fill(subject)
    page.get_by_role("button", name="Show the history").click()
    expect(page.get_by_role("heading", name="History of the subject you entered")).to_be_visible()
    assert subject not in page.url and subject not in page.locator("main").inner_text()
    shot(page, tmp_path, "08-consent")

    page.get_by_role("link", name="Requests").click()
    page.get_by_label("Subject id").fill(subject)
    page.get_by_label("I understand the erasure cannot be undone").check()
    page.get_by_role("button", name="Erase").click()
    page.wait_for_url("**/ui/jobs/job-*")
    receipt_link = page.get_by_role("link", name="Download the receipt (JSON)")
    expect(receipt_link).to_be_visible()  # the page follows the job until it is done
    expect(page.locator("#job")).to_contain_text("done")
    shot(page, tmp_path, "09-erasure")
    with page.expect_download() as download:
        receipt_link.click()
    receipt = json.loads(Path(download.value.path()).read_text())
    assert receipt["held"] is True and receipt["request_id"].startswith("dsar-")
    assert receipt["proof"]["kind"] == "inclusion"
    assert subject not in json.dumps(receipt)
    page.get_by_role("link", name="Back to the requests").click()
    expect(page.get_by_role("link", name="receipt (JSON)")).to_be_visible()
    shot(page, tmp_path, "10-requests")
    with Workspace.open(world.path, master_key=world.master) as ws:
        held = ws.for_purpose("everything").read("patients")["patient_id"].to_list()
    assert subject not in held


def test_the_auditor_verifies_the_ledger(page: Page, world: World,
                                         tmp_path: Path) -> None:
    signed_in(page, world, "auditor")
    # the keyboard reaches the navigation, and whatever has focus is outlined
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    audit = page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit")
    for _ in range(12):  # the links before it in the header
        page.keyboard.press("Tab")
        if audit.evaluate("link => link === document.activeElement"):
            break
    expect(audit).to_be_focused()
    assert audit.evaluate("link => getComputedStyle(link).outlineStyle") == "solid"
    shot(page, tmp_path, "11-keyboard")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/audit")
    expect(page.get_by_role("heading", name="Audit ledger")).to_be_visible()
    page.get_by_role("button", name="Verify now").click()
    expect(page.locator("#verified")).to_contain_text("Verified")
    shot(page, tmp_path, "12-audit")
    newest = page.locator("#ledger tbody tr").first
    seq = int(newest.locator("td").first.inner_text())
    with page.expect_download() as download:
        newest.get_by_role("link", name=f"Inclusion proof of entry {seq}").click()
    proof = json.loads(Path(download.value.path()).read_text())
    assert proof["kind"] == "inclusion" and proof["entry"]["seq"] == seq
    page.get_by_role("link", name="Older").first.click()
    page.wait_for_url("**/ui/audit?page=2")
    # the sequence cell, not the row: a timestamp's digits may contain the number
    expect(page.locator("#ledger tbody tr").first.locator("td").first).not_to_have_text(
        str(seq))
