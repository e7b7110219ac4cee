"""Signing in through OpenID Connect against a local issuer that really serves discovery,
keys, an authorization endpoint and a token endpoint over HTTP, signing ID tokens with its
own RSA key. The workspace's side runs unchanged: discovery, PKCE, code exchange, signature,
issuer, audience, nonce and the mapping of claims to roles."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from core.errors import ConfigurationError
from core.settings import RiecSettings
from riec.broker import free_port
from storage import connect
from workspace.app import create_app
from workspace.oidc import oidc_client, parse_role_map, roles_from_claims
from workspace.roles import Role

pytestmark = pytest.mark.integration

ROLE_MAP = "RIEC-Analisten=analyst,RIEC-Audit=auditor"


class Issuer:
    """A minimal identity provider: it signs in whoever `claims` describes."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-1"})
        self.claims: dict[str, Any] = {}
        self.codes: dict[str, dict[str, str]] = {}
        self.nonce_override: str | None = None
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, str]:
            return {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks",
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return {"keys": [self.key.as_dict(private=False)]}

        @app.get("/authorize")
        def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            code = f"code-{len(self.codes)}"
            self.codes[code] = {
                "nonce": q["nonce"],
                "challenge": q["code_challenge"],
                "client_id": q["client_id"],
            }
            back = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
            return RedirectResponse(back, status_code=302)

        @app.post("/token")
        def token(request: Request, code: str = Form(), code_verifier: str = Form()) -> Any:
            grant = self.codes.pop(code, None)
            digest = hashlib.sha256(code_verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if grant is None or challenge != grant["challenge"]:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            claims = {
                "iss": self.url,
                "aud": grant["client_id"],
                "exp": int(time.time()) + 300,
                "iat": int(time.time()),
                "nonce": self.nonce_override or grant["nonce"],
                **self.claims,
            }
            id_token = jwt.encode({"alg": "RS256", "kid": "test-1"}, claims, self.key)
            return {"access_token": "x", "token_type": "Bearer", "id_token": id_token}

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Issuer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "issuer did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with Issuer() as running:
        yield running


def _workspace(issuer: Issuer, tmp_path: Path) -> tuple[TestClient, Any]:
    settings = RiecSettings(
        data_dir=tmp_path,
        web_sync_seconds=0,
        oidc_issuer=issuer.url,
        oidc_client_id="riec-workspace",
        oidc_client_secret="s3cret",
        oidc_redirect_url="http://testserver/oidc/callback",
        oidc_role_map=ROLE_MAP,
    )
    db = connect(f"sqlite:///{tmp_path / 'riec.db'}")
    return TestClient(create_app(db, settings, oidc=oidc_client(settings))), db


def _sign_in(client: TestClient) -> Any:
    start = client.get("/oidc/login", follow_redirects=False)
    assert start.status_code == 303
    at_issuer = httpx.get(start.headers["location"], follow_redirects=False)
    back = urlparse(at_issuer.headers["location"])
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_claims_map_to_roles() -> None:
    mapping = parse_role_map(ROLE_MAP)
    claims = {"roles": ["RIEC-Analisten", "Other"], "groups": "RIEC-Audit"}
    assert roles_from_claims(claims, "roles", mapping) == {Role.ANALYST}
    assert roles_from_claims(claims, "groups", mapping) == {Role.AUDITOR}
    assert roles_from_claims({}, "roles", mapping) == frozenset()
    with pytest.raises(ConfigurationError, match="unknown role"):
        parse_role_map("RIEC-Analisten=analist")


def test_partial_configuration_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="RIEC_OIDC_CLIENT_SECRET"):
        oidc_client(
            RiecSettings(
                data_dir=tmp_path,
                oidc_issuer="https://x",
                oidc_client_id="c",
                oidc_redirect_url="https://w/oidc/callback",
            )
        )


def test_sign_in_through_the_issuer_creates_the_user_with_mapped_roles(
    issuer: Issuer, tmp_path: Path
) -> None:
    client, db = _workspace(issuer, tmp_path)
    issuer.claims = {
        "sub": "abc-123",
        "preferred_username": "a.jansen",
        "name": "A. Jansen",
        "roles": ["RIEC-Analisten", "Unrelated"],
    }
    callback = _sign_in(client)
    assert callback.status_code == 303 and callback.headers["location"] == "/"
    home = client.get("/")
    assert "A. Jansen" in home.text and "analyst" in home.text
    # The roles follow the provider on each sign-in.
    issuer.claims["roles"] = ["RIEC-Audit"]
    client.cookies.clear()
    _sign_in(client)
    assert "(auditor)" in client.get("/").text
    db.dispose()


@pytest.mark.parametrize("problem", ["no-role", "nonce", "state"])
def test_sign_in_is_refused(issuer: Issuer, tmp_path: Path, problem: str) -> None:
    client, db = _workspace(issuer, tmp_path)
    issuer.claims = {"sub": f"s-{problem}", "roles": ["RIEC-Analisten"]}
    if problem == "no-role":
        issuer.claims["roles"] = ["Unrelated"]
    if problem == "nonce":
        issuer.nonce_override = "replayed"
    try:
        if problem == "state":
            start = client.get("/oidc/login", follow_redirects=False)
            at_issuer = httpx.get(start.headers["location"], follow_redirects=False)
            query = parse_qs(urlparse(at_issuer.headers["location"]).query)
            response = client.get(f"/oidc/callback?code={query['code'][0]}&state=forged")
        else:
            response = _sign_in(client)
    finally:
        issuer.nonce_override = None
    assert response.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 303
    db.dispose()
