"""Signing in through the organisation's identity provider (OpenID Connect, code flow + PKCE).

Configuration only: set RIEC_OIDC_ISSUER, RIEC_OIDC_CLIENT_ID, RIEC_OIDC_CLIENT_SECRET and
RIEC_OIDC_REDIRECT_URL, and map the provider's group or role claim to workspace roles with
RIEC_OIDC_ROLE_MAP (see docs/workspace.md). The provider says who someone is and which roles
they hold, on every sign-in; screenings are still recorded in the workspace by a coordinator.

The ID token is checked with joserfc (signature against the provider's published keys,
issuer, audience, expiry, nonce); the PKCE challenge comes from Authlib.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select

from core.errors import ConfigurationError, RefusedError
from core.settings import RiecSettings
from storage import Database
from storage.models import User
from workspace.roles import Role, roles_text

PENDING_COOKIE = "riec_oidc"
PENDING_SECONDS = 600


def parse_role_map(text: str) -> dict[str, Role]:
    """``'RIEC-Analisten=analyst,RIEC-Coordinatoren=coordinator'`` -> claim value -> role."""
    mapping: dict[str, Role] = {}
    for pair in (p.strip() for p in text.split(",")):
        if not pair:
            continue
        value, sep, role = pair.rpartition("=")
        if not sep or not value.strip():
            raise ConfigurationError(f"RIEC_OIDC_ROLE_MAP: {pair!r} is not claim-value=role")
        try:
            mapping[value.strip()] = Role(role.strip())
        except ValueError:
            raise ConfigurationError(f"RIEC_OIDC_ROLE_MAP: unknown role {role.strip()!r}") from None
    return mapping


def roles_from_claims(
    claims: dict[str, Any], claim: str, role_map: dict[str, Role]
) -> frozenset[Role]:
    """The workspace roles the ID token's ``claim`` grants; values not in the map give none."""
    raw = claims.get(claim)
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return frozenset(role_map[v] for v in values if isinstance(v, str) and v in role_map)


@dataclass
class OidcClient:
    issuer: str
    client_id: str
    client_secret: str
    redirect_url: str
    roles_claim: str
    role_map: dict[str, Role]
    _metadata: dict[str, Any] | None = None
    _signing_key: bytes = b""

    def __post_init__(self) -> None:
        # Signs the pending-login cookie; a restart only voids sign-ins under way.
        self._signing_key = secrets.token_bytes(32)

    async def _discover(self) -> dict[str, Any]:
        if self._metadata is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.get(url)
                response.raise_for_status()
                self._metadata = response.json()
        return self._metadata

    def _sign(self, value: str) -> str:
        mac = hmac.new(self._signing_key, value.encode(), hashlib.sha256).hexdigest()
        return f"{value}.{mac}"

    def _unsign(self, signed: str | None) -> list[str] | None:
        if not signed or "." not in signed:
            return None
        value, _, mac = signed.rpartition(".")
        expected = hmac.new(self._signing_key, value.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, expected):
            return None
        parts = value.split("~")
        if len(parts) != 4 or time.time() - float(parts[3]) > PENDING_SECONDS:
            return None
        return parts

    async def begin(self, request: Request) -> Response:
        try:
            metadata = await self._discover()
        except (httpx.HTTPError, ValueError):
            raise RefusedError("the identity provider could not be reached") from None
        state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_url,
                "scope": "openid profile",
                "state": state,
                "nonce": nonce,
                "code_challenge": create_s256_code_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        response = RedirectResponse(f"{metadata['authorization_endpoint']}?{query}", 303)
        response.set_cookie(
            PENDING_COOKIE,
            self._sign(f"{state}~{nonce}~{verifier}~{time.time():.0f}"),
            max_age=PENDING_SECONDS,
            path="/oidc/",
            httponly=True,
            samesite="lax",  # the provider redirects back with a top-level GET
            secure=request.url.scheme == "https",
        )
        return response

    def clear(self, response: Response) -> None:
        response.delete_cookie(PENDING_COOKIE, path="/oidc/")

    async def complete(self, request: Request, db: Database) -> tuple[int, str]:
        """The workspace user for this callback: (user id, user name)."""
        pending = self._unsign(request.cookies.get(PENDING_COOKIE))
        state, code = request.query_params.get("state"), request.query_params.get("code")
        if pending is None or not state or not hmac.compare_digest(pending[0], state):
            raise RefusedError("the sign-in expired or did not start here; try again")
        if not code:
            raise RefusedError("the identity provider refused the sign-in")
        _, nonce, verifier, _ = pending
        try:
            metadata = await self._discover()
            async with httpx.AsyncClient(timeout=10) as client:
                token_response = await client.post(
                    metadata["token_endpoint"],
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": self.redirect_url,
                        "code_verifier": verifier,
                    },
                    auth=(self.client_id, self.client_secret),
                )
                token_response.raise_for_status()
                keys = (await client.get(metadata["jwks_uri"])).json()
            id_token = token_response.json()["id_token"]
            decoded = jwt.decode(id_token, KeySet.import_key_set(keys))
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": metadata.get("issuer", self.issuer)},
                aud={"essential": True, "value": self.client_id},
                nonce={"essential": True, "value": nonce},
                sub={"essential": True},
                exp={"essential": True},
            ).validate(decoded.claims)
        except (httpx.HTTPError, KeyError, ValueError, JoseError):
            raise RefusedError("the identity provider's answer could not be verified") from None
        claims = decoded.claims
        roles = roles_from_claims(claims, self.roles_claim, self.role_map)
        if not roles:
            raise RefusedError("your organisation account holds no workspace role")
        return _provisioned(db, claims, roles)


def _provisioned(db: Database, claims: dict[str, Any], roles: frozenset[Role]) -> tuple[int, str]:
    """Find or create the user of ``claims['sub']``; the provider's roles replace earlier ones."""
    subject = str(claims["sub"])[:255]
    wanted = str(claims.get("preferred_username") or subject).lower()[:128]
    with db.session() as session:
        user = session.scalar(select(User).where(User.oidc_subject == subject))
        if user is None:
            name = wanted
            if session.scalar(select(User.id).where(User.username == name)) is not None:
                name = f"{wanted[:100]}-{hashlib.sha256(subject.encode()).hexdigest()[:8]}"
            user = User(
                username=name,
                display_name=str(claims.get("name") or name)[:200],
                roles=roles_text(set(roles)),
                password_hash=None,
                oidc_subject=subject,
                active=True,
                failed_logins=0,
                created_at=datetime.now(UTC),
                created_by="identity provider",
            )
            session.add(user)
            session.flush()
            created = True
        else:
            if not user.active:
                raise RefusedError("this account is disabled in the workspace")
            created = False
            before = user.roles
            user.roles = roles_text(set(roles))
        user_id, username, after = user.id, user.username, user.roles
    if created:
        db.audit(username, "user.created", username, roles=after.split(","), source="oidc")
    elif before != after:
        db.audit(
            username, "user.roles_changed", username, before=before, after=after, source="oidc"
        )
    return user_id, username


def oidc_client(settings: RiecSettings) -> OidcClient | None:
    """The client when OpenID Connect is configured; None for local accounts only."""
    wanted = {
        "RIEC_OIDC_ISSUER": settings.oidc_issuer,
        "RIEC_OIDC_CLIENT_ID": settings.oidc_client_id,
        "RIEC_OIDC_CLIENT_SECRET": settings.oidc_client_secret,
        "RIEC_OIDC_REDIRECT_URL": settings.oidc_redirect_url,
    }
    if not any(wanted.values()):
        return None
    missing = [name for name, value in wanted.items() if not value]
    if missing:
        raise ConfigurationError(f"OpenID Connect needs {', '.join(missing)} as well")
    assert settings.oidc_client_secret is not None
    return OidcClient(
        issuer=str(settings.oidc_issuer),
        client_id=str(settings.oidc_client_id),
        client_secret=settings.oidc_client_secret.get_secret_value(),
        redirect_url=str(settings.oidc_redirect_url),
        roles_claim=settings.oidc_roles_claim,
        role_map=parse_role_map(settings.oidc_role_map),
    )
