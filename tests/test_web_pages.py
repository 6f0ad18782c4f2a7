"""The dashboard in-process: every page renders for a role that may see it and is the 403 page
(recorded in the ledger) for one the guard refuses; forms need the CSRF token; signing in,
choosing a purpose, a DP query, an erasure with its receipt and a ledger verification work
through the pages; and no page but the raw-data one shows a personal value."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from service import EVERYTHING, PASSWORD, World, build_world, client
from veil import Workspace
from veil.access.guard import Identity
from veil.access.session import Session
from veil.api.auth import CSRF_COOKIE, SESSION_COOKIE
from veil.web.render import PURPOSE_COOKIE

CSRF = "csrf-token-of-this-test"
SUBJECT_ID = "patient_id"
# pages any signed-in principal may see (descriptions only), and those the guard decides
OPEN_PAGES = ("/ui/", "/ui/datasets/patients", "/ui/datasets/patients.anonymized",
              "/ui/releases", "/ui/models", "/ui/query", "/ui/consent", "/ui/requests")
GUARDED_PAGES = {  # page -> the shipped roles that may open it (for the purpose 'everything')
    "/ui/audit": {"owner", "steward", "auditor", "dpo"},
    "/ui/audit/1/proof": {"owner", "steward", "auditor", "dpo"},
    "/ui/datasets/patients/rows": {"owner", "steward"},
    "/ui/datasets/patients.pseudonymized/rows": {"owner", "steward", "analyst"},
}
ROLES = ("owner", "steward", "analyst", "ml_engineer", "auditor", "dpo", "nobody")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("web"), anonymized=True)


@pytest.fixture(scope="module")
def clients(world: World) -> dict[str, TestClient]:
    """One bearer client per role, acting for the purpose ``everything``."""
    return {role: client(world, role) for role in ROLES}


def cookie_client(world: World, token: str, *, purpose: str = EVERYTHING) -> TestClient:
    """A browser-like client: the session and CSRF cookies (no bearer token); ``purpose``
    until the purpose picker sets its cookie."""
    made = client(world, None, purpose=purpose)
    made.cookies.set(SESSION_COOKIE, token)
    made.cookies.set(CSRF_COOKIE, CSRF)
    return made


def denials(world: World, principal: str) -> list[dict]:
    with Workspace.open(world.path, master_key=world.master) as ws:
        return [e.parameters for e in ws.ledger.tail(200, action="access.denied")
                if e.actor == principal]


def personal_values(world: World) -> list[str]:
    return [str(v) for column in (SUBJECT_ID, "email", "ssn", "name")
            for v in world.frame[column].to_list()]


def leaked(world: World, text: str) -> list[str]:
    return [v for v in personal_values(world) if v in text]


def wait_for_job(http: TestClient, url: str) -> str:
    """The job page once the job is over (the page marks a running job with data-poll)."""
    while True:
        page = http.get(url)
        assert page.status_code == 200
        if "data-poll" not in page.text:
            return page.text
        time.sleep(0.1)


# -- what each role sees -----------------------------------------------------------------------
@pytest.mark.parametrize("path", OPEN_PAGES)
def test_descriptive_pages_render_for_every_role(clients: dict[str, TestClient],
                                                 path: str) -> None:
    for role in ROLES:
        page = clients[role].get(path)
        assert page.status_code == 200, (role, path, page.text[:500])
        assert page.headers["content-type"].startswith("text/html")
        assert f"Signed in as <strong>u-{role}</strong>" in page.text
        assert "content-security-policy" in page.headers


@pytest.mark.parametrize("path", sorted(GUARDED_PAGES))
def test_guarded_pages_follow_the_guard(world: World, clients: dict[str, TestClient],
                                        path: str) -> None:
    for role in ROLES:
        before = len(denials(world, f"u-{role}"))
        page = clients[role].get(path)
        if role in GUARDED_PAGES[path]:
            assert page.status_code == 200, (role, path, page.text[:500])
        else:
            assert page.status_code == 403, (role, path)
            assert "Access denied" in page.text and "text/html" in page.headers["content-type"]
            assert len(denials(world, f"u-{role}")) == before + 1


def test_the_analyst_gets_the_403_page_on_raw_rows(world: World,
                                                   clients: dict[str, TestClient]) -> None:
    page = clients["analyst"].get("/ui/datasets/patients/rows")
    assert page.status_code == 403
    assert "Access denied" in page.text and "raw_read" in page.text  # names what was missing
    assert not leaked(world, page.text)
    assert denials(world, "u-analyst")[-1]["operation"] == "raw_read"


def test_the_rows_page_shows_what_the_guard_let_through(world: World,
                                                        clients: dict[str, TestClient]) -> None:
    page = clients["steward"].get("/ui/datasets/patients/rows?offset=50")
    assert page.status_code == 200
    emails = world.frame["email"].to_list()
    assert emails[50] in page.text and emails[49] not in page.text  # a window of 50 rows
    assert "Rows 51–100 of" in page.text
    with Workspace.open(world.path, master_key=world.master) as ws:
        read = ws.ledger.tail(1, action="dataset.read")[0]
    assert read.actor == "u-steward"


def test_no_personal_value_on_other_pages(world: World, clients: dict[str, TestClient]) -> None:
    """The owner sees every page; only the raw-data page shows a person's values, even after
    a look-up and an erasure naming a subject."""
    owner = clients["owner"]
    subject = world.frame[SUBJECT_ID][7]
    pages = [owner.get(path) for path in (*OPEN_PAGES, "/ui/audit", "/ui/audit?page=2")]
    pages.append(owner.post("/ui/consent", data={"subject": subject}))
    pages.append(owner.post("/ui/query", data={
        "sql": "SELECT sex, COUNT(*) FROM patients GROUP BY sex", "epsilon": "1"}))
    erased = owner.post("/ui/requests", data={"subject": subject, "confirm": "true"})
    assert erased.status_code == 200  # followed to the job page
    pages.append(erased)
    wait_for_job(owner, str(erased.url))
    pages += [owner.get(str(erased.url)), owner.get("/ui/requests"), owner.post("/ui/audit")]
    for page in pages:
        assert page.status_code == 200, (page.url, page.text[:500])
        assert not leaked(world, page.text), page.url
    assert leaked(world, owner.get("/ui/datasets/patients/rows").text)  # the check can see


def test_pages_use_no_inline_script_or_style(clients: dict[str, TestClient]) -> None:
    """The content policy allows only the dashboard's own files."""
    for path in (*OPEN_PAGES, "/ui/audit", "/ui/login"):
        text = clients["owner"].get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert not re.search(r"\sstyle=|<style", text), path
        assert not re.search(r"\son[a-z]+=", text), path  # no inline handlers
    assert clients["owner"].get("/ui/static/veil.css").status_code == 200
    assert clients["owner"].get("/ui/static/veil.js").status_code == 200


def test_errors_are_pages(clients: dict[str, TestClient]) -> None:
    owner = clients["owner"]
    unknown = owner.get("/ui/datasets/no-such-dataset")
    assert unknown.status_code == 404 and "Not found" in unknown.text
    assert "text/html" in unknown.headers["content-type"]
    malformed = owner.get("/ui/jobs/not-a-job")
    assert malformed.status_code == 422 and "job_id" in malformed.text
    assert owner.get("/ui/jobs/job-0123456789abcdef").status_code == 404
    assert owner.get("/ui/requests/dsar-" + "0" * 32 + "/receipt").status_code == 404


# -- sessions, CSRF and the purpose ------------------------------------------------------------
def test_without_a_session_pages_lead_to_sign_in(world: World) -> None:
    anonymous = client(world, None)
    page = anonymous.get("/ui/audit", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/ui/login?next=/ui/audit"
    refused = anonymous.post("/ui/requests", data={"subject": "P0000001", "confirm": "true"},
                             follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == "/ui/login"


def test_sign_in_with_password_and_totp(world: World) -> None:
    browser = client(world, None)
    form = browser.get("/ui/login?next=/ui/models")
    assert form.status_code == 200 and 'name="totp"' in form.text
    csrf = browser.cookies[CSRF_COOKIE]
    fields = {"user": "u-ml_engineer", "password": PASSWORD, "csrf_token": csrf,
              "next": "/ui/models"}
    wrong = browser.post("/ui/login", data=fields | {"totp": "000000"})
    assert wrong.status_code == 401 and "authentication failed" in wrong.text
    assert SESSION_COOKIE not in browser.cookies
    forged = browser.post("/ui/login", data=fields | {"totp": world.code("ml_engineer"),
                                                      "csrf_token": "another"})
    assert forged.status_code == 403 and SESSION_COOKIE not in browser.cookies
    signed = browser.post("/ui/login", data=fields | {"totp": world.code("ml_engineer")},
                          follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/ui/models"
    cookie = next(c for c in signed.headers.get_list("set-cookie")
                  if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
    assert "Signed in as <strong>u-ml_engineer</strong>" in browser.get("/ui/models").text
    out = browser.post("/ui/logout", data={"csrf_token": browser.cookies[CSRF_COOKIE]},
                       follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert browser.get("/ui/", follow_redirects=False).status_code == 303  # token revoked


def test_sign_in_goes_only_to_dashboard_pages(world: World) -> None:
    browser = client(world, None)
    browser.get("/ui/login")
    signed = browser.post("/ui/login", data={
        "user": "u-auditor", "password": PASSWORD, "totp": world.code("auditor"),
        "csrf_token": browser.cookies[CSRF_COOKIE], "next": "https://elsewhere.example/"},
        follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/ui/"


def test_forms_without_the_csrf_token_are_refused(world: World) -> None:
    dpo = cookie_client(world, world.token("dpo"))
    subject = world.frame[SUBJECT_ID][3]
    for path, fields in (("/ui/requests", {"subject": subject, "confirm": "true"}),
                         ("/ui/purpose", {"purpose": "administration"}),
                         ("/ui/logout", {}), ("/ui/audit", {}),
                         ("/ui/consent", {"subject": subject})):
        refused = dpo.post(path, data=fields, follow_redirects=False)
        assert refused.status_code == 403, path
        assert "CSRF" in refused.text and "text/html" in refused.headers["content-type"]
        wrong = dpo.post(path, data=fields | {"csrf_token": "not it"}, follow_redirects=False)
        assert wrong.status_code == 403, path
    assert dpo.get("/ui/requests").status_code == 200  # still signed in
    assert "/ui/jobs/" not in dpo.get("/ui/requests").text  # nothing was erased
    with Workspace.open(world.path, master_key=world.master) as ws:
        frame = ws.for_purpose(EVERYTHING).read("patients")
    assert subject in frame[SUBJECT_ID].to_list()


def test_the_purpose_picker_sets_the_purpose(world: World) -> None:
    analyst = cookie_client(world, world.token("analyst"), purpose="administration")
    query = {"sql": "SELECT COUNT(*) FROM patients", "epsilon": "0.5", "csrf_token": CSRF}
    refused = analyst.post("/ui/query", data=query)
    assert refused.status_code == 403 and "registered purpose" in refused.text
    unknown = analyst.post("/ui/purpose", data={"purpose": "nope", "csrf_token": CSRF})
    assert unknown.status_code == 422
    picked = analyst.post("/ui/purpose", data={"purpose": EVERYTHING, "csrf_token": CSRF,
                                               "next": "/ui/query"}, follow_redirects=False)
    assert picked.status_code == 303 and picked.headers["location"] == "/ui/query"
    assert analyst.cookies[PURPOSE_COOKIE] == EVERYTHING
    assert f'<option value="{EVERYTHING}" selected>' in analyst.get("/ui/query").text
    assert analyst.post("/ui/query", data=query).status_code == 200


def test_a_stale_second_factor_is_stepped_up_on_the_page(world: World) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with Workspace.open(world.path, master_key=world.master) as ws:  # signed in an hour ago
        token = ws.keep_login(Session(ws._store, ws._guard,
                                      Identity("u-steward", mfa_at=an_hour_ago), EVERYTHING))
    steward = cookie_client(world, token)
    page = steward.get("/ui/datasets/patients/rows")
    assert page.status_code == 403 and 'action="/ui/step-up"' in page.text
    stepped = steward.post("/ui/step-up", data={
        "totp": world.code("steward"), "csrf_token": CSRF,
        "next": "/ui/datasets/patients/rows"}, follow_redirects=False)
    assert stepped.status_code == 303
    assert stepped.headers["location"] == "/ui/datasets/patients/rows"
    assert steward.get("/ui/datasets/patients/rows").status_code == 200


# -- work done through the pages ---------------------------------------------------------------
def _left(page: str) -> list[float]:
    """The epsilon left in each budget bar of a page, from the bars' titles."""
    return [float(x) for x in re.findall(r"<title>([\d.e+-]+) of [\d.e+-]+ ε left", page)]


def test_a_dp_query_spends_and_shows_the_budget_before_and_after(
        world: World, clients: dict[str, TestClient]) -> None:
    analyst = clients["analyst"]
    page = analyst.post("/ui/query", data={
        "sql": "SELECT sex, AVG(glucose_mg_dl) FROM patients GROUP BY sex", "epsilon": "4"})
    assert page.status_code == 200
    before, after = _left(page.text)
    assert before - after == pytest.approx(4.0)
    assert page.text.count('class="plot interval"') == 2  # a value with its interval per sex
    with Workspace.open(world.path, master_key=world.master) as ws:
        assert ws.budget("patients").left.epsilon == pytest.approx(after)
    bad = analyst.post("/ui/query", data={"sql": "SELECT email FROM patients", "epsilon": "1"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text  # the form, with the reason
    with Workspace.open(world.path, master_key=world.master) as ws:
        assert ws.budget("patients").left.epsilon == pytest.approx(after)  # nothing spent


def test_an_erasure_through_the_pages_with_its_receipt(world: World,
                                                       clients: dict[str, TestClient]) -> None:
    subject = world.frame[SUBJECT_ID][11]
    refused = clients["analyst"].post("/ui/requests", data={"subject": subject,
                                                            "confirm": "true"})
    assert refused.status_code == 403 and "dsar" in refused.text
    dpo = clients["dpo"]
    unconfirmed = dpo.post("/ui/requests", data={"subject": subject})
    assert unconfirmed.status_code == 422
    queued = dpo.post("/ui/requests", data={"subject": subject, "confirm": "true"},
                      follow_redirects=False)
    assert queued.status_code == 303 and queued.headers["location"].startswith("/ui/jobs/job-")
    done = wait_for_job(dpo, queued.headers["location"])
    assert "State: <span class=\"state done\">done</span>" in done
    receipt_url = re.search(r'href="(/ui/requests/dsar-[0-9a-f]+/receipt)"', done).group(1)
    download = dpo.get(receipt_url)
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    receipt = download.json()
    assert receipt["held"] is True and receipt["proof"]["kind"] == "inclusion"
    assert subject not in json.dumps(receipt)
    assert receipt_url in dpo.get("/ui/requests").text
    with Workspace.open(world.path, master_key=world.master) as ws:
        assert subject not in ws.for_purpose(EVERYTHING).read("patients")[SUBJECT_ID].to_list()
    assert clients["auditor"].get(queued.headers["location"]).status_code == 404  # not theirs


def test_the_auditor_verifies_the_ledger_and_downloads_a_proof(
        world: World, clients: dict[str, TestClient]) -> None:
    auditor = clients["auditor"]
    page = auditor.post("/ui/audit")
    assert page.status_code == 200 and 'id="verified" class="alert ok"' in page.text
    proof = auditor.get("/ui/audit/2/proof")
    assert proof.status_code == 200 and proof.json()["entry"]["seq"] == 2
    assert auditor.get("/ui/audit/99999/proof").status_code == 404
    assert auditor.get("/ui/audit?page=2").status_code == 200
    assert clients["analyst"].post("/ui/audit").status_code == 403


def test_the_consent_history_is_looked_up_by_post(clients: dict[str, TestClient],
                                                  world: World) -> None:
    subject = world.frame[SUBJECT_ID][20]
    page = clients["dpo"].post("/ui/consent", data={"subject": subject})
    assert page.status_code == 200 and "No consent event is recorded" in page.text
    assert subject not in page.text
    assert clients["analyst"].post("/ui/consent", data={"subject": subject}).status_code == 403
