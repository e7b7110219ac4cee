"""The workspace web application: server-rendered pages over the RIEC database.

Every request passes one guard (:func:`_guard`): it reads the session, the user's roles and
screening afresh, applies the route's rule from :mod:`workspace.access`, checks the CSRF
token of every form, and audits each refusal. Pages show pseudonymous ids, partners,
signals, legal bases, dates, person categories and explanations: nothing the RIEC side does
not hold.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import RefusedError, UsageError
from core.settings import RiecSettings
from storage import Database
from storage.models import (
    AuditEvent,
    CriteriaApproval,
    DisclosureRequest,
    HitList,
    ModelVersion,
    Record,
    ValidationRun,
)
from workspace import accounts, hitlists
from workspace import requests as disclosure
from workspace.access import RULES, Outcome, decide
from workspace.exports import export_hit_list
from workspace.reviews import STATUSES, Decision, record_decision
from workspace.roles import ALL_ROLES, Role
from workspace.web_sessions import Viewer, end_session, same_token, start_session, viewer_for

log = logging.getLogger("riec.workspace")

HERE = Path(__file__).parent
SESSION_COOKIE = "riec_session"
LOGIN_CSRF_COOKIE = "riec_login_csrf"
AUDIT_PAGE_SIZE = 100
# Spreadsheet programs run cells that start with these characters as formulas.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Clock = Callable[[], datetime]


class Refusal(Exception):
    def __init__(self, outcome: Outcome | str, status: int = 403) -> None:
        self.outcome = outcome
        self.status = status


def create_app(
    db: Database,
    settings: RiecSettings,
    *,
    clock: Clock | None = None,
    oidc: Any = None,
) -> FastAPI:
    """The application on ``db``; ``oidc`` is an :class:`workspace.oidc.OidcClient` or None."""
    now: Clock = clock or (lambda: datetime.now(UTC))
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["statuses"] = STATUSES
    templates.env.filters["moment"] = _moment
    idle = timedelta(minutes=settings.web_session_idle_minutes)
    longest = timedelta(hours=settings.web_session_max_hours)

    def cookie_name(request: Request) -> str:
        # The __Host- prefix binds the cookie to this host and path, over https only.
        return f"__Host-{SESSION_COOKIE}" if _secure(request, settings) else SESSION_COOKIE

    async def _guard(request: Request) -> None:
        route = request.scope.get("route")
        name = getattr(route, "name", None)
        rule = RULES.get(name or "")
        if rule is None:  # fail closed; the start-up check makes this unreachable
            raise Refusal(Outcome.WRONG_ROLE)
        viewer = viewer_for(
            db, request.cookies.get(cookie_name(request)), now=now(), idle=idle, longest=longest
        )
        request.state.viewer = viewer
        outcome = decide(
            rule, viewer.roles if viewer else None, viewer.screening if viewer else None
        )
        if outcome is not Outcome.ALLOW:
            if viewer is not None:
                db.audit(
                    viewer.username,
                    "access.refused",
                    request.url.path[:128],
                    reason=outcome.value,
                    screening=viewer.screening.value,
                    method=request.method,
                )
            raise Refusal(outcome)
        if request.method not in ("GET", "HEAD") and viewer is not None:
            form = await request.form()
            token = form.get("csrf_token")
            if not same_token(viewer.csrf_token, token if isinstance(token, str) else None):
                db.audit(
                    viewer.username,
                    "access.refused",
                    request.url.path[:128],
                    reason="csrf",
                    method=request.method,
                )
                raise Refusal("csrf")

    app = FastAPI(
        title="RIEC workspace",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(_guard)],
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not request.url.path.startswith("/static/"):
            # Pages hold subject data: no copies in caches or the browser's history.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        viewer: Viewer | None = getattr(request.state, "viewer", None)
        return templates.TemplateResponse(
            request,
            name,
            {"viewer": viewer, "Role": Role, "today": now().date(), **context},
            status_code=status_code,
        )

    @app.exception_handler(Refusal)
    async def _refused(request: Request, exc: Refusal) -> Response:
        if exc.outcome == Outcome.SIGN_IN:
            target = request.url.path if request.method == "GET" else "/"
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return page(request, "refused.html", status_code=exc.status, outcome=str(exc.outcome))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not hasattr(request.state, "viewer"):
            request.state.viewer = None
        return page(
            request,
            "error.html",
            status_code=exc.status_code,
            message="Page not found." if exc.status_code == 404 else "Request refused.",
        )

    @app.exception_handler(UsageError)
    async def _usage(request: Request, exc: UsageError) -> Response:
        return page(request, "error.html", status_code=400, message=str(exc))

    @app.exception_handler(RefusedError)
    async def _refused_action(request: Request, exc: RefusedError) -> Response:
        return page(request, "error.html", status_code=409, message=str(exc))

    def viewer_of(request: Request) -> Viewer:
        viewer: Viewer | None = request.state.viewer
        assert viewer is not None  # the guard let only signed-in users through
        return viewer

    async def form_of(request: Request) -> dict[str, str]:
        form = await request.form()
        return {k: v.strip() if isinstance(v, str) else "" for k, v in form.items()}

    # --- public --------------------------------------------------------------------------

    @app.get("/healthz", name="healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    @app.get("/login", name="login_form")
    def login_form(request: Request, next: str = "/") -> Response:
        token = _login_csrf(request)
        response = page(
            request,
            "login.html",
            next=_local(next),
            csrf_token=token,
            oidc=oidc is not None,
            error=None,
        )
        _set_cookie(response, request, LOGIN_CSRF_COOKIE, token, settings, max_age=3600)
        return response

    @app.post("/login", name="login")
    async def login(request: Request) -> Response:
        form = await form_of(request)
        token = request.cookies.get(LOGIN_CSRF_COOKIE)
        target = _local(form.get("next", "/"))
        if not token or not same_token(token, form.get("csrf_token")):
            return page(request, "refused.html", status_code=403, outcome="csrf")
        username = form.get("username", "")[:128]
        try:
            user = accounts.authenticate(db, username, form.get("password", ""), now=now())
        except accounts.LoginRefused as exc:
            db.audit(
                username or "(no user name)", "login.failed", username or None, reason=exc.reason
            )
            response = page(
                request,
                "login.html",
                status_code=401,
                next=target,
                csrf_token=token,
                oidc=oidc is not None,
                error=str(exc),
            )
            return response
        db.audit(user.username, "login.succeeded", user.username, method="password")
        return _signed_in(request, user.id, target)

    def _signed_in(request: Request, user_id: int, target: str) -> Response:
        session_token = start_session(db, user_id, now=now())
        response = RedirectResponse(target, status_code=303)
        _set_cookie(response, request, cookie_name(request), session_token, settings)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    @app.get("/oidc/login", name="oidc_login")
    async def oidc_login(request: Request) -> Response:
        if oidc is None:
            raise StarletteHTTPException(404)
        return await oidc.begin(request)

    @app.get("/oidc/callback", name="oidc_callback")
    async def oidc_callback(request: Request) -> Response:
        if oidc is None:
            raise StarletteHTTPException(404)
        try:
            user_id, username = await oidc.complete(request, db)
        except RefusedError as exc:
            db.audit(
                "(identity provider)", "login.failed", None, reason=str(exc)[:200], method="oidc"
            )
            return page(request, "error.html", status_code=403, message=str(exc))
        db.audit(username, "login.succeeded", username, method="oidc")
        response = _signed_in(request, user_id, "/")
        oidc.clear(response)
        return response

    # --- signed in -----------------------------------------------------------------------

    @app.post("/logout", name="logout")
    def logout(request: Request) -> Response:
        viewer = viewer_of(request)
        token = request.cookies.get(cookie_name(request))
        if token:
            end_session(db, token)
        db.audit(viewer.username, "logout", viewer.username)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(cookie_name(request), path="/")
        return response

    @app.get("/", name="home")
    def home(request: Request) -> Response:
        viewer = viewer_of(request)
        user = accounts.get_user(db, viewer.user_id, today=now().date())
        awaiting: list[DisclosureRequest] = []
        latest = None
        if viewer.has(Role.ANALYST, Role.COORDINATOR) and viewer.screening.value == "valid":
            awaiting = [
                r
                for r in disclosure.requests_of(db)
                if r.status == disclosure.DRAFT and r.drafted_by != viewer.username
            ]
            with db.session() as session:
                summaries = hitlists.list_hit_lists(session)
            latest = summaries[0] if summaries else None
        return page(request, "home.html", user=user, awaiting=awaiting, latest=latest)

    # --- hit lists and entities ------------------------------------------------------------

    @app.get("/hitlists", name="hit_lists")
    def hit_lists(request: Request) -> Response:
        with db.session() as session:
            summaries = hitlists.list_hit_lists(session)
        return page(request, "hitlists.html", hit_lists=summaries)

    @app.get("/hitlists/{hit_list_id}", name="hit_list")
    def hit_list(
        request: Request,
        hit_list_id: int,
        page_number: int = 1,
        entity_type: str = "",
        theme: str = "",
        partner: str = "",
        signal_from: str = "",
        signal_to: str = "",
        status: str = "",
    ) -> Response:
        viewer = viewer_of(request)
        if not hitlists.ensure_indexed(db, hit_list_id):
            raise StarletteHTTPException(404)
        filters = hitlists.Filters(
            entity_type=entity_type[:16],
            theme=theme[:32],
            partner=partner[:64],
            signal_from=_date_or_none(signal_from),
            signal_to=_date_or_none(signal_to),
            status=status if status in STATUSES else "",
        )
        with db.session() as session:
            summary = hitlists.hit_list_summary(session, hit_list_id)
            result = hitlists.page_entries(session, hit_list_id, filters, page_number)
        db.audit(
            viewer.username,
            "hitlist.viewed",
            str(hit_list_id),
            page=result.page,
            filters=filters.query(),
            entities=[e.entity_id for e in result.entries],
        )
        query = filters.query()
        return page(
            request,
            "hitlist.html",
            summary=summary,
            result=result,
            filters=filters,
            filter_query=urlencode(query),
        )

    @app.get("/hitlists/{hit_list_id}/export.{fmt}", name="hit_list_export")
    def hit_list_export(request: Request, hit_list_id: int, fmt: str) -> Response:
        viewer = viewer_of(request)
        if fmt not in ("csv", "html"):
            raise StarletteHTTPException(404)
        exported = export_hit_list(db, hit_list_id, fmt, actor=viewer.username, now=now())
        if exported is None:
            raise StarletteHTTPException(404)
        filename, content = exported
        media = "text/csv" if fmt == "csv" else "text/html"
        return Response(
            content,
            media_type=f"{media}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @app.get("/hitlists/{hit_list_id}/entities/{entity_id}", name="entity")
    def entity(request: Request, hit_list_id: int, entity_id: str) -> Response:
        viewer = viewer_of(request)
        if not hitlists.ensure_indexed(db, hit_list_id):
            raise StarletteHTTPException(404)
        with db.session() as session:
            view = hitlists.entity_view(session, hit_list_id, entity_id[:40])
            if view is None:
                raise StarletteHTTPException(404)
            reviews = hitlists.reviews_of(session, view.entity_id)
        entity_requests = disclosure.requests_of(db, entity_id=view.entity_id)
        db.audit(viewer.username, "entity.viewed", view.entity_id, hit_list_id=hit_list_id)
        return page(
            request,
            "entity.html",
            view=view,
            reviews=reviews,
            status=reviews[0].status if reviews else "new",
            requests=entity_requests,
            overdue={
                r.request_id for r in entity_requests if disclosure.is_overdue(r, now().date())
            },
        )

    @app.post("/hitlists/{hit_list_id}/entities/{entity_id}/reviews", name="record_review")
    async def record_review(request: Request, hit_list_id: int, entity_id: str) -> Response:
        viewer = viewer_of(request)
        form = await form_of(request)
        _entity_on_list(hit_list_id, entity_id)
        record_decision(
            db,
            entity_id,
            hit_list_id,
            Decision(
                status=form.get("status", ""),
                reason=form.get("reason", ""),
                necessity=form.get("necessity", ""),
                proportionality=form.get("proportionality", ""),
            ),
            by=viewer.username,
        )
        return RedirectResponse(
            f"/hitlists/{hit_list_id}/entities/{quote(entity_id)}#review", status_code=303
        )

    @app.post("/hitlists/{hit_list_id}/entities/{entity_id}/requests", name="draft_request")
    async def draft_request(request: Request, hit_list_id: int, entity_id: str) -> Response:
        viewer = viewer_of(request)
        form = await form_of(request)
        _entity_on_list(hit_list_id, entity_id)
        partner, _, record_id = form.get("record", "").partition("/")
        request_id = disclosure.draft_request(
            db,
            hit_list_id,
            entity_id,
            disclosure.Draft(
                partner=partner,
                partner_record_id=record_id,
                purpose=form.get("purpose", ""),
                legal_basis=form.get("legal_basis", ""),
                case_reference=form.get("case_reference", ""),
            ),
            by=viewer.username,
            due_days=settings.request_due_days,
            today=now().date(),
        )
        return RedirectResponse(f"/requests/{request_id}", status_code=303)

    def _entity_on_list(hit_list_id: int, entity_id: str) -> None:
        hitlists.ensure_indexed(db, hit_list_id)
        with db.session() as session:
            if hitlists.entity_view(session, hit_list_id, entity_id[:40]) is None:
                raise StarletteHTTPException(404)

    # --- requests to partners ----------------------------------------------------------------

    @app.get("/requests", name="requests")
    def requests_page(request: Request) -> Response:
        viewer = viewer_of(request)
        rows = disclosure.requests_of(db)
        db.audit(viewer.username, "requests.viewed", None, count=len(rows))
        today = now().date()
        return page(
            request,
            "requests.html",
            requests=rows,
            overdue={r.request_id for r in rows if disclosure.is_overdue(r, today)},
        )

    @app.get("/requests/{request_id}", name="request_detail")
    def request_detail(request: Request, request_id: str) -> Response:
        viewer = viewer_of(request)
        with db.session() as session:
            row = session.get(DisclosureRequest, request_id[:40])
        if row is None:
            raise StarletteHTTPException(404)
        db.audit(viewer.username, "request.viewed", row.request_id, entity_id=row.entity_id)
        return page(
            request, "request.html", r=row, overdue=disclosure.is_overdue(row, now().date())
        )

    @app.post("/requests/{request_id}/approve", name="approve_request")
    def approve_request(request: Request, request_id: str) -> Response:
        viewer = viewer_of(request)
        disclosure.approve_request(db, request_id[:40], by=viewer.username)
        _publish_soon()
        return RedirectResponse(f"/requests/{quote(request_id)}", status_code=303)

    @app.post("/requests/{request_id}/withdraw", name="withdraw_request")
    def withdraw_request(request: Request, request_id: str) -> Response:
        viewer = viewer_of(request)
        disclosure.withdraw_request(db, request_id[:40], by=viewer.username)
        return RedirectResponse(f"/requests/{quote(request_id)}", status_code=303)

    def _publish_soon() -> None:
        publisher = getattr(app.state, "publisher", None)
        if publisher is not None:
            publisher()

    # --- coordination ------------------------------------------------------------------------

    @app.get("/users", name="users")
    def users(request: Request) -> Response:
        return page(
            request,
            "users.html",
            users=accounts.list_users(db, today=now().date()),
            roles=ALL_ROLES,
            error=None,
        )

    @app.post("/users", name="create_user")
    async def create_user(request: Request) -> Response:
        viewer = viewer_of(request)
        form = await request.form()
        roles = [str(v) for v in form.getlist("roles")]
        user = accounts.add_user(
            db,
            str(form.get("username", "")),
            display_name=str(form.get("display_name", "")),
            roles=roles,
            password=str(form.get("password", "")),
            by=viewer.username,
        )
        return RedirectResponse(f"/users/{user.id}", status_code=303)

    @app.get("/users/{user_id}", name="user_detail")
    def user_detail(request: Request, user_id: int) -> Response:
        try:
            user = accounts.get_user(db, user_id, today=now().date())
        except UsageError:
            raise StarletteHTTPException(404) from None
        return page(
            request, "user.html", user=user, roles=ALL_ROLES, kinds=accounts.SCREENING_KINDS
        )

    @app.post("/users/{user_id}/screenings", name="add_screening")
    async def add_screening(request: Request, user_id: int) -> Response:
        viewer = viewer_of(request)
        form = await form_of(request)
        user = accounts.get_user(db, user_id)
        accounts.record_screening(
            db,
            user.username,
            kind=form.get("kind", ""),
            level=form.get("level", ""),
            screened_on=_date_field(form.get("screened_on", ""), "screening date"),
            expires_on=_date_field(form.get("expires_on", ""), "expiry date"),
            by=viewer.username,
            today=now().date(),
        )
        return RedirectResponse(f"/users/{user_id}", status_code=303)

    @app.post("/users/{user_id}/disable", name="disable_user")
    def disable_user(request: Request, user_id: int) -> Response:
        viewer = viewer_of(request)
        user = accounts.get_user(db, user_id)
        if user.username == viewer.username:
            raise RefusedError("you cannot disable your own account")
        accounts.disable_user(db, user.username, by=viewer.username)
        return RedirectResponse(f"/users/{user_id}", status_code=303)

    @app.post("/users/{user_id}/roles", name="set_roles")
    async def set_roles(request: Request, user_id: int) -> Response:
        viewer = viewer_of(request)
        form = await request.form()
        user = accounts.get_user(db, user_id)
        if user.username == viewer.username:
            raise RefusedError("a coordinator does not change their own roles")
        accounts.set_roles(
            db, user.username, [str(v) for v in form.getlist("roles")], by=viewer.username
        )
        return RedirectResponse(f"/users/{user_id}", status_code=303)

    @app.get("/criteria", name="criteria")
    def criteria(request: Request) -> Response:
        with db.session() as session:
            versions = session.execute(
                select(HitList.criteria_version, func.count(), func.max(HitList.created_at))
                .group_by(HitList.criteria_version)
                .order_by(func.max(HitList.created_at).desc())
            ).all()
            approvals = session.scalars(
                select(CriteriaApproval).order_by(CriteriaApproval.id.desc())
            ).all()
            latest = session.scalar(select(HitList.criteria).order_by(HitList.id.desc()).limit(1))
            latest_criteria = dict(latest) if latest is not None else None
        return page(
            request,
            "criteria.html",
            versions=versions,
            approvals=approvals,
            latest_criteria=latest_criteria,
        )

    @app.post("/criteria/approve", name="approve_criteria")
    async def approve_criteria(request: Request) -> Response:
        viewer = viewer_of(request)
        form = await form_of(request)
        version, reason = form.get("version", "")[:64], form.get("reason", "")
        with db.session() as session:
            known = session.scalar(select(func.count()).where(HitList.criteria_version == version))
            if not version or not known:
                raise UsageError("choose a criteria version that hit lists were built with")
            if not reason:
                raise UsageError("give the reason for the approval")
            session.add(
                CriteriaApproval(
                    criteria_version=version,
                    approved_by=viewer.username,
                    approved_at=now(),
                    reason=reason[:4000],
                )
            )
        db.audit(viewer.username, "criteria.approved", version, reason=reason[:4000])
        return RedirectResponse("/criteria", status_code=303)

    # --- operations --------------------------------------------------------------------------

    @app.get("/operations", name="operations")
    def operations(request: Request) -> Response:
        viewer = viewer_of(request)
        with db.session() as session:
            partners = session.execute(
                select(Record.partner, Record.status, func.count())
                .group_by(Record.partner, Record.status)
                .order_by(Record.partner)
            ).all()
            runs = session.execute(
                select(
                    ValidationRun.run_at,
                    ValidationRun.partner,
                    ValidationRun.batch_id,
                    ValidationRun.success,
                    ValidationRun.evaluated,
                    ValidationRun.failed,
                    ValidationRun.record_count,
                )
                .order_by(ValidationRun.id.desc())
                .limit(50)
            ).all()
            builds = session.execute(
                select(
                    HitList.id,
                    HitList.created_at,
                    HitList.criteria_version,
                    HitList.row_count,
                    HitList.dag_run_id,
                )
                .order_by(HitList.id.desc())
                .limit(20)
            ).all()
            models = session.execute(
                select(
                    ModelVersion.entity_type,
                    ModelVersion.version,
                    ModelVersion.active,
                    ModelVersion.approved_by,
                    ModelVersion.created_at,
                ).order_by(ModelVersion.entity_type, ModelVersion.id.desc())
            ).all()
            outbox = session.execute(
                select(DisclosureRequest.status, func.count()).group_by(DisclosureRequest.status)
            ).all()
        db.audit(viewer.username, "operations.viewed", None)
        return page(
            request,
            "operations.html",
            partners=partners,
            runs=runs,
            builds=builds,
            models=models,
            outbox=outbox,
        )

    # --- audit trail ---------------------------------------------------------------------------

    def _audit_query(params: dict[str, str]) -> Any:
        query = select(AuditEvent)
        if params.get("actor"):
            query = query.where(AuditEvent.actor == params["actor"][:128])
        if params.get("action"):
            query = query.where(
                AuditEvent.action.startswith(params["action"][:64], autoescape=True)
            )
        if params.get("subject"):
            query = query.where(AuditEvent.subject == params["subject"][:128])
        start, end = _date_or_none(params.get("from", "")), _date_or_none(params.get("to", ""))
        if start:
            query = query.where(AuditEvent.at >= datetime.combine(start, datetime.min.time(), UTC))
        if end:
            query = query.where(
                AuditEvent.at < datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
            )
        return query.order_by(AuditEvent.id.desc())

    def _audit_params(request: Request) -> dict[str, str]:
        keys = ("actor", "action", "subject", "from", "to")
        return {
            k: request.query_params.get(k, "").strip()
            for k in keys
            if request.query_params.get(k, "").strip()
        }

    @app.get("/audit", name="audit")
    def audit(request: Request, page_number: int = 1) -> Response:
        viewer = viewer_of(request)
        params = _audit_params(request)
        query = _audit_query(params)
        with db.session() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            pages = max(1, -(-total // AUDIT_PAGE_SIZE))
            page_number = min(max(page_number, 1), pages)
            events = session.scalars(
                query.limit(AUDIT_PAGE_SIZE).offset((page_number - 1) * AUDIT_PAGE_SIZE)
            ).all()
        db.audit(viewer.username, "audit.viewed", None, filters=params, page=page_number)
        return page(
            request,
            "audit.html",
            events=events,
            params=params,
            total=total,
            page_number=page_number,
            pages=pages,
            filter_query=urlencode(params),
        )

    @app.get("/audit/export.csv", name="audit_export")
    def audit_export(request: Request) -> Response:
        viewer = viewer_of(request)
        params = _audit_params(request)
        with db.session() as session:
            events = session.scalars(_audit_query(params)).all()
        moment = now()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["id", "at", "actor", "action", "subject", "details", "exported_by", "exported_at"]
        )
        for event in events:
            writer.writerow(
                _safe_cell(value)
                for value in (
                    event.id,
                    _moment(event.at),
                    event.actor,
                    event.action,
                    event.subject or "",
                    _json(event.details),
                    viewer.username,
                    moment.isoformat(),
                )
            )
        db.audit(viewer.username, "audit.exported", None, filters=params, rows=len(events))
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="audit-{moment:%Y%m%dT%H%M%SZ}.csv"'
            },
        )

    unruled = [
        getattr(route, "name", None)
        for route in app.routes
        if getattr(route, "name", None) not in RULES
    ]
    if unruled:
        raise RuntimeError(f"routes without an access rule in workspace.access: {unruled}")
    return app


def _secure(request: Request, settings: RiecSettings) -> bool:
    return settings.web_secure_cookies or request.url.scheme == "https"


def _set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    settings: RiecSettings,
    *,
    max_age: int | None = None,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict" if name != LOGIN_CSRF_COOKIE else "lax",
        secure=_secure(request, settings),
    )


def _login_csrf(request: Request) -> str:
    import secrets

    existing = request.cookies.get(LOGIN_CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return existing
    return secrets.token_urlsafe(32)


def _local(target: str) -> str:
    """Only paths on this site: no open redirect to another host."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target[:500]


def _date_or_none(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _date_field(text: str, label: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"the {label} is not a date (YYYY-MM-DD)") from None


def _moment(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def _safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
