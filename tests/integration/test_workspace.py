"""The workspace on a real, linked database: accounts and screenings, the screening gate, the
authorization matrix over every route, reviews, four-eyes requests, exports and the audit
page. Pages are requested in-process over ASGI; tests/integration/test_workspace_browser.py
drives the same pages in Chromium."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from starlette.routing import Mount
from typer.testing import CliRunner
from ws_data import Landed, land_synthetic

from core.errors import RefusedError, UsageError
from core.settings import RiecSettings
from riec.cli import app as cli
from storage import Database, connect
from storage.models import AuditEvent, DisclosureRequest, Screening, User
from workspace import accounts
from workspace.access import RULES, Outcome, decide
from workspace.accounts import ScreeningState
from workspace.app import create_app
from workspace.roles import ALL_ROLES, Role
from workspace.web_sessions import start_session

pytestmark = pytest.mark.integration

TODAY = date.today()
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, Landed, Path]]:
    work = tmp_path_factory.mktemp("workspace")
    db = connect(f"sqlite:///{work / 'riec.db'}")
    yield db, land_synthetic(db, work), work
    db.dispose()


def _user(db: Database, name: str, roles: str, screening: str | None = "valid") -> int:
    user = accounts.add_user(
        db, name, display_name=name.title(), roles=roles, password=PASSWORD, by="setup"
    )
    if screening == "valid":
        start, end = TODAY - timedelta(days=30), TODAY + timedelta(days=365)
    elif screening == "expired":
        start, end = TODAY - timedelta(days=800), TODAY - timedelta(days=1)
    else:
        return user.id
    accounts.record_screening(
        db, name, kind="VOG", level="45", screened_on=start, expires_on=end, by="coordinator-x"
    )
    return user.id


def _client(db: Database, work: Path, user_id: int | None = None) -> TestClient:
    client = TestClient(create_app(db, RiecSettings(data_dir=work, web_sync_seconds=0)))
    if user_id is not None:
        client.cookies.set("riec_session", start_session(db, user_id, now=datetime.now(UTC)))
    return client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no form with a CSRF token"
    return found.group(1)


def _login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    token = _csrf(client.get("/login").text)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def _events(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            ).all()
        )


# --- accounts, sign-in and the CLI ---------------------------------------------------------


def test_riec_users_add_screen_list_disable_name_the_acting_person(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIEC_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    added = runner.invoke(
        cli,
        ["users", "add", "Coord", "--roles", "coordinator", "--password-stdin", "--by", "jan"],
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    typo = runner.invoke(
        cli, ["users", "add", "x", "--roles", "analist", "--password-stdin"], input=PASSWORD
    )
    assert typo.exit_code == 2 and "unknown role 'analist'" in typo.output
    short = runner.invoke(
        cli, ["users", "add", "y", "--roles", "analyst", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    own = runner.invoke(
        cli,
        [
            "users",
            "screen",
            "coord",
            "--kind",
            "VOG",
            "--level",
            "45",
            "--screened-on",
            "2026-01-01",
            "--expires-on",
            "2029-01-01",
            "--by",
            "coord",
        ],
    )
    assert own.exit_code == 2 and "nobody records their own screening" in own.output
    screened = runner.invoke(
        cli,
        [
            "users",
            "screen",
            "coord",
            "--kind",
            "veiligheidsonderzoek",
            "--level",
            "B",
            "--screened-on",
            "2026-01-01",
            "--expires-on",
            "2031-01-01",
            "--by",
            "jan",
        ],
    )
    assert screened.exit_code == 0, screened.output
    listed = runner.invoke(cli, ["users", "list", "--by", "jan"])
    assert "coord" in listed.output and "valid" in listed.output
    disabled = runner.invoke(cli, ["users", "disable", "coord", "--by", "jan"])
    assert disabled.exit_code == 0
    db = connect(f"sqlite:///{(tmp_path / 'riec.db').resolve()}")
    try:
        actions = [(e.actor, e.action, e.subject) for e in _events(db, "user.created")]
        actions += [(e.actor, e.action, e.subject) for e in _events(db, "screening.recorded")]
        actions += [(e.actor, e.action, e.subject) for e in _events(db, "user.disabled")]
        assert actions == [
            ("jan", "user.created", "coord"),
            ("jan", "screening.recorded", "coord"),
            ("jan", "user.disabled", "coord"),
        ]
        with db.session() as session:
            stored = session.scalar(select(User.password_hash).where(User.username == "coord"))
        assert stored.startswith("$argon2") and PASSWORD not in stored
    finally:
        db.dispose()


def test_lockout_after_repeated_failures_and_every_attempt_is_audited(landed) -> None:
    db, _, work = landed
    _user(db, "lockme", "analyst")
    client = _client(db, work)
    for _ in range(accounts.MAX_FAILED_LOGINS):
        assert _login(client, "lockme", "wrong password!!").status_code == 401
    # Locked: the right password is refused too, with the same message.
    refused = _login(client, "lockme")
    assert refused.status_code == 401 and "locked or disabled" in refused.text
    reasons = [e.details["reason"] for e in _events(db, "login.failed") if e.subject == "lockme"]
    assert reasons[-2:] == ["wrong password; account locked", "account locked"]
    with db.session() as session:
        session.execute(update(User).where(User.username == "lockme").values(locked_until=None))
    assert _login(client, "lockme").url.path == "/"


def test_session_cookie_is_httponly_samesite_and_secure_over_https(landed) -> None:
    db, _, work = landed
    _user(db, "cookie", "analyst")
    client = _client(db, work)
    response = _login(client, "cookie")
    set_cookie = response.history[0].headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie
    assert "Secure" not in set_cookie  # plain http on the loopback, as `riec web` runs
    secure = TestClient(
        create_app(db, RiecSettings(data_dir=work, web_sync_seconds=0)),
        base_url="https://workspace.example",
    )
    response = _login(secure, "cookie")
    set_cookie = response.history[0].headers["set-cookie"]
    assert set_cookie.startswith("__Host-riec_session=") and "Secure" in set_cookie


def test_logout_ends_the_session_on_the_server(landed) -> None:
    db, _, work = landed
    _user(db, "leaver", "analyst")
    client = _client(db, work)
    _login(client, "leaver")
    cookie = client.cookies.get("riec_session")
    client.post("/logout", data={"csrf_token": _csrf(client.get("/").text)})
    replay = _client(db, work)
    replay.cookies.set("riec_session", cookie)
    assert replay.get("/hitlists", follow_redirects=False).status_code == 303


# --- the screening gate ---------------------------------------------------------------------


def test_expiry_takes_effect_on_the_next_request(landed) -> None:
    db, result, work = landed
    user_id = _user(db, "expiring", "analyst")
    client = _client(db, work, user_id)
    assert client.get(f"/hitlists/{result.hit_list_id}").status_code == 200
    with db.session() as session:
        session.execute(
            update(Screening)
            .where(Screening.user_id == user_id)
            .values(expires_on=TODAY - timedelta(days=1))
        )
    refused = client.get(f"/hitlists/{result.hit_list_id}")
    assert refused.status_code == 403 and "Your screening has expired" in refused.text
    refusal = _events(db, "access.refused")[-1]
    assert refusal.actor == "expiring"
    assert refusal.details["reason"] == "not-screened" and refusal.details["screening"] == "expired"


def test_without_a_screening_no_hit_list_entity_request_or_export(landed) -> None:
    db, result, work = landed
    client = _client(db, work, _user(db, "unscreened", "analyst", screening=None))
    entity = result.entity_ids[0]
    for path in (
        "/hitlists",
        f"/hitlists/{result.hit_list_id}",
        f"/hitlists/{result.hit_list_id}/entities/{entity}",
        f"/hitlists/{result.hit_list_id}/export.csv",
        "/requests",
    ):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "No screening is recorded for you" in response.text
        assert entity not in response.text


# --- the authorization matrix ----------------------------------------------------------------

VIEWERS = [None] + [(role, state) for role in ALL_ROLES for state in ("valid", "expired", "absent")]


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m.group(1)], path)


def test_every_route_has_a_rule_and_subject_pages_need_a_screening(landed) -> None:
    db, _, work = landed
    app = create_app(db, RiecSettings(data_dir=work, web_sync_seconds=0))
    names = {route.name for route in app.routes}
    assert names == set(RULES), "a route without a rule, or a rule without a route"
    for route in app.routes:
        path = getattr(route, "path", "")
        if path.startswith(("/hitlists", "/requests", "/audit")):
            rule = RULES[route.name]
            assert rule.login and rule.screening, route.name
            assert rule.roles is not None and Role.DATA_ENGINEER not in rule.roles, route.name
            if not path.startswith("/audit"):
                assert Role.AUDITOR not in rule.roles, route.name


def test_authorization_matrix_over_every_route_role_and_screening(landed) -> None:
    """Every route x every role x screening valid/expired/absent x signed in or not."""
    db, result, work = landed
    target = accounts.add_user(
        db, "matrix-target", display_name="T", roles="analyst", password=PASSWORD, by="setup"
    )
    with db.session() as session:
        session.add(
            DisclosureRequest(
                request_id="RQ-00000000AA01",
                entity_id=result.entity_ids[0],
                hit_list_id=result.hit_list_id,
                partner="x",
                partner_record_id="y",
                purpose="p",
                legal_basis="b",
                case_reference="c",
                status="published",
                drafted_by="someone",
                drafted_at=datetime.now(UTC),
                due_on=TODAY,
            )
        )
    values = {
        "hit_list_id": str(result.hit_list_id),
        "entity_id": result.entity_ids[0],
        "request_id": "RQ-00000000AA01",
        "user_id": str(target.id),
        "fmt": "csv",
        "path": "workspace.css",
    }
    app = create_app(db, RiecSettings(data_dir=work, web_sync_seconds=0))
    checked = 0
    for number, viewer in enumerate(VIEWERS):
        client = TestClient(app)
        roles: frozenset[Role] | None = None
        screening: ScreeningState | None = None
        if viewer is not None:
            role, state = viewer
            user_id = _user(
                db, f"m{number}-{role.value}", role.value, None if state == "absent" else state
            )
            client.cookies.set("riec_session", start_session(db, user_id, now=datetime.now(UTC)))
            roles, screening = frozenset({role}), ScreeningState(state)
        csrf = _csrf(client.get("/").text) if viewer else ""
        # Signing out ends the session the other requests use: last.
        for route in sorted(app.routes, key=lambda r: r.name == "logout"):
            rule = RULES[route.name]
            if isinstance(route, Mount):
                methods, path = {"GET"}, "/static/workspace.css"
            else:
                methods, path = set(route.methods) - {"HEAD"}, _fill(route.path, values)
            for method in sorted(methods):
                if method == "GET":
                    response = client.get(path, follow_redirects=False)
                else:
                    response = client.post(path, data={"csrf_token": csrf}, follow_redirects=False)
                expected = decide(rule, roles, screening)
                where = f"{method} {path} as {viewer}"
                if expected is Outcome.SIGN_IN:
                    assert response.status_code == 303, where
                    assert response.headers["location"].startswith("/login?next="), where
                elif expected is Outcome.WRONG_ROLE:
                    assert response.status_code == 403, where
                    assert "not part of your role" in response.text, where
                elif expected is Outcome.NOT_SCREENED:
                    assert response.status_code == 403, where
                    assert "screening" in response.text, where
                    assert result.entity_ids[0] not in response.text, where
                elif route.name == "login" and method == "POST":
                    # Allowed to anyone, and refused without the login form's CSRF cookie.
                    assert response.status_code == 403 and "did not come from" in response.text
                else:
                    assert response.status_code != 403, where
                    location = response.headers.get("location", "")
                    assert not location.startswith("/login?next="), where
                checked += 1
    assert checked >= len(VIEWERS) * len(RULES)


def test_the_rules_mean_what_the_roles_say() -> None:
    subject = RULES["entity"]
    valid = ScreeningState.VALID
    assert decide(subject, frozenset({Role.ANALYST}), valid) is Outcome.ALLOW
    assert decide(subject, frozenset({Role.AUDITOR}), valid) is Outcome.WRONG_ROLE
    assert decide(subject, frozenset({Role.AUDITOR, Role.ANALYST}), valid) is Outcome.ALLOW
    assert decide(subject, frozenset({Role.DATA_ENGINEER}), valid) is Outcome.WRONG_ROLE
    assert decide(RULES["operations"], frozenset({Role.DATA_ENGINEER}), None) is Outcome.ALLOW
    assert decide(RULES["users"], frozenset({Role.ANALYST}), valid) is Outcome.WRONG_ROLE


# --- review, decisions, requests, exports, audit ------------------------------------------------


def test_entity_page_shows_records_explanations_and_history(landed) -> None:
    db, result, work = landed
    client = _client(db, work, _user(db, "reader", "analyst"))
    entity = result.entity_ids[0]
    page = client.get(f"/hitlists/{result.hit_list_id}/entities/{entity}")
    assert page.status_code == 200
    with db.session() as session:
        from storage.models import Link, Record

        records = session.execute(
            select(Record.id, Record.partner, Record.partner_record_id, Record.legal_basis).where(
                Record.entity_id == entity
            )
        ).all()
        links = session.scalars(
            select(Link).where(Link.record_a.in_([r.id for r in records]))
        ).all()
    for record in records:
        assert record.partner_record_id in page.text and record.legal_basis in page.text
    # Field contributions as the linker stores them: {"level": ..., "weight": ...}.
    field, part = next(iter(links[0].contributions.items()))
    assert f"{field} {part['level']} ({part['weight']:+.1f})" in page.text
    assert "created" in page.text  # the entity's history
    viewed = _events(db, "entity.viewed")[-1]
    assert (viewed.actor, viewed.subject) == ("reader", entity)


def test_a_decision_needs_reason_necessity_and_proportionality(landed) -> None:
    db, result, work = landed
    client = _client(db, work, _user(db, "decider", "analyst"))
    entity = result.entity_ids[1]
    url = f"/hitlists/{result.hit_list_id}/entities/{entity}"
    csrf = _csrf(client.get(url).text)
    missing = client.post(
        f"{url}/reviews",
        data={
            "csrf_token": csrf,
            "status": "case-opened",
            "reason": "r",
            "necessity": "",
            "proportionality": "p",
        },
    )
    assert missing.status_code == 400 and "necessity" in missing.text
    done = client.post(
        f"{url}/reviews",
        data={
            "csrf_token": csrf,
            "status": "information-requested",
            "reason": "Three partners",
            "necessity": "Needed for case",
            "proportionality": "One record only",
        },
    )
    assert done.status_code == 200 and "Information requested" in done.text
    assert "Three partners" in done.text and "decider" in done.text
    filtered = client.get(f"/hitlists/{result.hit_list_id}?status=information-requested")
    assert entity in filtered.text and "1 subject(s) match" in filtered.text
    assert _events(db, "review.decided")[-1].actor == "decider"


def test_four_eyes_the_drafter_cannot_approve_and_no_personal_data(landed) -> None:
    db, result, work = landed
    drafter = _client(db, work, _user(db, "drafter", "analyst"))
    entity = result.entity_ids[2]
    url = f"/hitlists/{result.hit_list_id}/entities/{entity}"
    page = drafter.get(url).text
    record = re.search(r'<option value="([^"]+/[^"]+)">', page).group(1)
    form = {
        "csrf_token": _csrf(page),
        "record": record,
        "legal_basis": "art. 20 Wpg",
        "case_reference": "CASE-2026-7",
    }
    leak = drafter.post(f"{url}/requests", data={**form, "purpose": "Check BSN 111222333"})
    assert leak.status_code == 400 and "bsn" in leak.text
    drafted = drafter.post(f"{url}/requests", data={**form, "purpose": "Drugs case"})
    request_id = drafted.url.path.rsplit("/", 1)[-1]
    assert "You drafted this request" in drafted.text
    refused = drafter.post(
        f"/requests/{request_id}/approve", data={"csrf_token": _csrf(drafted.text)}
    )
    assert refused.status_code == 409 and "four eyes" in refused.text
    with pytest.raises(RefusedError):
        from workspace.requests import approve_request

        approve_request(db, request_id, by="drafter")
    second = _client(db, work, _user(db, "approver", "coordinator"))
    approved = second.post(
        f"/requests/{request_id}/approve", data={"csrf_token": _csrf(second.get("/").text)}
    )
    assert approved.status_code == 200 and "approver" in approved.text
    with db.session() as session:
        stored = session.get(DisclosureRequest, request_id)
    assert (stored.status, stored.drafted_by, stored.approved_by) == (
        "approved",
        "drafter",
        "approver",
    )


def test_export_names_the_exporter_neutralises_formulas_and_is_audited(landed) -> None:
    db, result, work = landed
    client = _client(db, work, _user(db, "exporter", "analyst"))
    response = client.get(f"/hitlists/{result.hit_list_id}/export.csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    assert "exporter" in response.text.splitlines()[0]
    event = _events(db, "hitlist.exported")[-1]
    assert (event.actor, event.details["format"]) == ("exporter", "csv")
    html = client.get(f"/hitlists/{result.hit_list_id}/export.html")
    assert html.status_code == 200 and "Exported from the RIEC workspace by exporter" in html.text


def test_audit_page_filters_and_exports_csv_for_screened_auditors(landed) -> None:
    db, _, work = landed
    db.audit("=cmd|' /C calc'!A0", "login.failed", None, reason="test")
    client = _client(db, work, _user(db, "auditor1", "auditor"))
    page = client.get("/audit?action=login.")
    assert page.status_code == 200 and "login.failed" in page.text
    assert "entity.viewed" not in page.text
    exported = client.get("/audit/export.csv?action=login.failed")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows and all(r["action"] == "login.failed" for r in rows)
    assert {r["exported_by"] for r in rows} == {"auditor1"}
    assert any(r["actor"].startswith("'=") for r in rows)  # neutralised for spreadsheets
    assert _events(db, "audit.exported")[-1].actor == "auditor1"


def test_disabled_user_loses_the_session_at_once(landed) -> None:
    db, _, work = landed
    client = _client(db, work, _user(db, "gone", "analyst"))
    assert client.get("/hitlists").status_code == 200
    accounts.disable_user(db, "gone", by="coordinator-x")
    assert client.get("/hitlists", follow_redirects=False).status_code == 303


def test_a_coordinator_manages_users_and_screenings_in_the_browser_forms(landed) -> None:
    db, _, work = landed
    client = _client(db, work, _user(db, "coord2", "coordinator"))
    csrf = _csrf(client.get("/users").text)
    created = client.post(
        "/users",
        data={
            "csrf_token": csrf,
            "username": "newbie",
            "display_name": "New Analyst",
            "roles": "analyst",
            "password": PASSWORD,
        },
    )
    assert created.status_code == 200 and "None recorded" in created.text
    user_path = created.url.path
    screened = client.post(
        f"{user_path}/screenings",
        data={
            "csrf_token": csrf,
            "kind": "veiligheidsonderzoek",
            "level": "B",
            "screened_on": TODAY.isoformat(),
            "expires_on": (TODAY + timedelta(days=5 * 365)).isoformat(),
        },
    )
    assert screened.status_code == 200 and "coord2" in screened.text
    assert accounts.find_user(db, "newbie").screening is ScreeningState.VALID
    bad = client.post(
        f"{user_path}/screenings",
        data={
            "csrf_token": csrf,
            "kind": "veiligheidsonderzoek",
            "level": "Z",
            "screened_on": TODAY.isoformat(),
            "expires_on": "2099-01-01",
        },
    )
    assert bad.status_code == 400 and "level A, B, C" in bad.text


@pytest.mark.parametrize("bad", ["analist", ""])
def test_roles_are_checked(bad: str) -> None:
    with pytest.raises(UsageError):
        from workspace.roles import parse_roles

        parse_roles(bad)


def test_accounts_and_requests_on_both_backends(database_url: str, tmp_path: Path) -> None:
    db = connect(database_url)
    try:
        result = land_synthetic(db, tmp_path, subjects=25, seed=9)
        _user(db, "pg-analyst", "analyst")
        _user(db, "pg-coord", "coordinator")
        assert accounts.find_user(db, "pg-analyst").screening is ScreeningState.VALID
        from workspace.hitlists import ensure_indexed, entity_view
        from workspace.requests import Draft, approve_request, draft_request

        assert ensure_indexed(db, result.hit_list_id)
        with db.session() as session:
            view = entity_view(session, result.hit_list_id, result.entity_ids[0])
        record = view.records[0]
        request_id = draft_request(
            db,
            result.hit_list_id,
            result.entity_ids[0],
            Draft(
                record["partner"],
                record["partner_record_id"],
                "Case check",
                "art. 20 Wpg",
                "CASE-1",
            ),
            by="pg-analyst",
        )
        approve_request(db, request_id, by="pg-coord")
        with pytest.raises(RefusedError):
            approve_request(db, request_id, by="pg-coord")
    finally:
        db.dispose()


def test_the_demo_accounts_are_screened_and_sign_in_with_their_printed_passwords(
    tmp_path: Path,
) -> None:
    from riec.demo import create_demo_accounts

    db = connect(f"sqlite:///{tmp_path / 'riec.db'}")
    try:
        path = create_demo_accounts(db, tmp_path, by="newcomer")
        assert path.stat().st_mode & 0o777 == 0o600
        rows = [line.split("\t") for line in path.read_text().splitlines()[1:]]
        for name, password, _roles in rows:
            user = accounts.authenticate(db, name, password, now=datetime.now(UTC))
            assert user.screening is ScreeningState.VALID
        assert {r[0] for r in rows} == {"demo-coordinator", "demo-analyst"}
        assert _events(db, "user.created")[0].actor == "newcomer"
    finally:
        db.dispose()
