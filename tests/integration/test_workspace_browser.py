"""The workspace in a real browser (Debian's Chromium through Playwright) against `riec web`
running as its own process, with the partner answering through the real broker.

Screenshots of the main pages go to the test's directory; with RIEC_UPDATE_SCREENSHOTS=1
they replace the ones in docs/images/ that docs/workspace.md shows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from ws_data import land_synthetic

from riec.broker import LocalBroker, free_port
from storage import connect
from storage.models import Screening, User
from workspace import accounts

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/lib/chromium/chromium")
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
PASSWORD = "correct horse battery"
TODAY = date.today()

sync_api = pytest.importorskip("playwright.sync_api")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def workspace_env(
    tmp_path_factory: pytest.TempPathFactory, broker: LocalBroker
) -> Iterator[dict[str, object]]:
    work = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{work / 'riec.db'}"
    db = connect(url)
    landed = land_synthetic(db, work)
    for name, roles, display in (
        ("ann", "analyst", "Ann Analyst"),
        ("cor", "coordinator", "Cor Coördinator"),
        ("aud", "auditor", "Aud Auditor"),
        ("nos", "analyst", "No Screening"),
    ):
        accounts.add_user(
            db, name, display_name=display, roles=roles, password=PASSWORD, by="setup"
        )
    for name, by in (("ann", "cor"), ("cor", "setup"), ("aud", "cor")):
        accounts.record_screening(
            db,
            name,
            kind="veiligheidsonderzoek",
            level="B",
            screened_on=TODAY - timedelta(days=100),
            expires_on=TODAY + timedelta(days=1000),
            by=by,
        )
    run = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "RIEC_DATA_DIR": str(work),
        "RIEC_DATABASE_URL": url,
        "RIEC_BOOTSTRAP_SERVERS": broker.bootstrap,
        "RIEC_REQUEST_TOPIC_PREFIX": f"t{run}.requests.",
        "RIEC_RESPONSE_TOPIC_PREFIX": f"t{run}.responses.",
        "RIEC_CONSUMER_GROUP": f"t{run}",
        "RIEC_SESSION_TIMEOUT_MS": "6000",
        "RIEC_HEARTBEAT_INTERVAL_MS": "1000",
        "RIEC_WEB_SYNC_SECONDS": "1",
    }
    port = free_port()
    # A file, not a pipe: a pipe nobody reads fills up and stalls the server.
    server_log = (work / "web.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "riec.cli", "web", "--port", str(port)],
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                output = (work / "web.log").read_text(errors="replace")
                pytest.fail(f"riec web did not start: {output[-2000:]}")
            time.sleep(0.3)
    try:
        yield {"base": base, "env": env, "db": db, "landed": landed, "work": work}
    finally:
        server.terminate()
        server.wait(timeout=20)
        server_log.close()
        db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _shot(page: object, name: str, work: Path) -> None:
    path = work / f"workspace-{name}.png"
    page.screenshot(path=str(path), full_page=False)  # type: ignore[attr-defined]
    if os.environ.get("RIEC_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_IMAGES / path.name)


def _sign_in(browser: object, base: str, username: str) -> object:
    context = browser.new_context(viewport={"width": 1280, "height": 860})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{base}/hitlists")
    assert "/login" in page.url
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def _partner_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    partner_env = {k: v for k, v in env.items() if k != "RIEC_DATABASE_URL"}
    partner_env["COLUMNS"] = "300"  # one table row per request, for the assertions
    return subprocess.run(
        [sys.executable, "-m", "riec.cli", "partner", "requests", *args],
        env=partner_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_review_decide_request_approve_and_the_partner_answers(
    workspace_env: dict[str, object], browser: object
) -> None:
    base, work = str(workspace_env["base"]), Path(str(workspace_env["work"]))
    env: dict[str, str] = workspace_env["env"]  # type: ignore[assignment]
    landed = workspace_env["landed"]
    login = browser.new_page()  # type: ignore[attr-defined]
    login.goto(f"{base}/login")
    _shot(login, "login", work)
    login.close()

    # The analyst reviews the list and opens the top entity.
    page = _sign_in(browser, base, "ann")
    page.goto(f"{base}/hitlists/{landed.hit_list_id}")  # type: ignore[attr-defined]
    _shot(page, "hitlist", work)
    entity = landed.entity_ids[0]  # type: ignore[attr-defined]
    page.get_by_role("link", name=entity).click()
    assert page.get_by_role("heading", name="Why linked").is_visible()
    _shot(page, "entity", work)

    # A decision needs its reason, necessity and proportionality.
    page.get_by_label("New status").select_option("under-review")
    page.get_by_label("Reason", exact=True).fill("Signals from several partners on one subject")
    page.get_by_label("Necessity: why this subject, this data, now").fill("Possible drug lab")
    page.get_by_label("Proportionality: why this step is in proportion to its aim").fill(
        "One record of one partner is asked for"
    )
    page.get_by_role("button", name="Record decision").click()
    assert page.locator("#review ~ table").first.get_by_text("Under review").count() >= 1

    # Draft a request to the partner about its record.
    record_option = page.locator("#record option").first
    partner, record_id = record_option.get_attribute("value").split("/", 1)
    page.get_by_label("Purpose").fill("Verify the signal for the drugs case")
    page.get_by_label("Legal basis for the provision").fill("art. 20 Wpg")
    page.get_by_label("Case reference").fill("CASE-2026-042")
    page.get_by_role("button", name="Draft request").click()
    request_id = page.url.rsplit("/", 1)[-1]
    assert page.get_by_text("You drafted this request").is_visible()

    # Four eyes: the coordinator approves; the workspace publishes it on the partner's topic.
    approver = _sign_in(browser, base, "cor")
    approver.goto(f"{base}/requests/{request_id}")
    approver.get_by_role("button", name=f"Approve and send to {partner}").click()
    deadline = time.monotonic() + 120
    while "published" not in approver.locator("#request-status").inner_text():
        assert time.monotonic() < deadline, "the request was not published"
        time.sleep(1)
        approver.reload()

    # The partner lists and answers it with the partner toolkit, through the real broker.
    listed = _partner_cli(env, "list", "--partner", partner)
    assert listed.returncode == 0, listed.stderr
    assert request_id in listed.stdout and record_id in listed.stdout
    leak = _partner_cli(
        env,
        "answer",
        request_id,
        "--partner",
        partner,
        "--status",
        "provided",
        "--note",
        "sent to J. de Vries at 5611 AB",
    )
    assert leak.returncode == 2 and "personal data" in leak.stderr
    answered = _partner_cli(
        env,
        "answer",
        request_id,
        "--partner",
        partner,
        "--status",
        "provided",
        "--note",
        "Sent through the secure channel",
        "--by",
        "liaison-tilburg",
    )
    assert answered.returncode == 0, answered.stderr
    again = _partner_cli(
        env,
        "answer",
        request_id,
        "--partner",
        partner,
        "--status",
        "declined",
        "--by",
        "liaison-tilburg",
    )
    assert again.returncode == 2 and "already answered" in again.stderr

    # The answer shows in the workspace with its times.
    deadline = time.monotonic() + 120
    page.goto(f"{base}/requests/{request_id}")
    while "provided by liaison-tilburg" not in page.locator("#request-answer").inner_text():
        assert time.monotonic() < deadline, "the answer did not arrive"
        time.sleep(1)
        page.reload()
    assert "received" in page.locator("#request-answer").inner_text()
    _shot(page, "request", work)

    # The auditor sees every step, with the people who took it.
    auditor = _sign_in(browser, base, "aud")
    auditor.goto(f"{base}/audit?subject={request_id}")
    trail = auditor.locator("table.audit").inner_text()
    for action, actor in (
        ("request.drafted", "ann"),
        ("request.approved", "cor"),
        ("request.published", "cor"),
        ("request.answered", f"{partner}:liaison-tilburg"),
    ):
        assert action in trail and actor in trail, action
    _shot(auditor, "audit", work)


def test_refused_without_screening_and_after_expiry(
    workspace_env: dict[str, object], browser: object
) -> None:
    base, work = str(workspace_env["base"]), Path(str(workspace_env["work"]))
    db = workspace_env["db"]
    landed = workspace_env["landed"]
    page = _sign_in(browser, base, "nos")
    page.goto(f"{base}/hitlists/{landed.hit_list_id}")  # type: ignore[attr-defined]
    assert page.get_by_role("heading", name="Access refused").is_visible()
    assert page.get_by_text("No screening is recorded for you").is_visible()
    _shot(page, "refused", work)

    analyst = _sign_in(browser, base, "ann")
    analyst.goto(f"{base}/hitlists/{landed.hit_list_id}")
    assert analyst.get_by_role("heading", name=f"Hit list {landed.hit_list_id}").is_visible()
    # The screening expires while the analyst is signed in: the next page is refused.
    with db.session() as session:  # type: ignore[attr-defined]
        user_id = session.query(User.id).filter(User.username == "ann").scalar()
        session.execute(
            update(Screening)
            .where(Screening.user_id == user_id)
            .values(expires_on=TODAY - timedelta(days=1))
        )
    analyst.reload()
    assert analyst.get_by_text("Your screening has expired").is_visible()
