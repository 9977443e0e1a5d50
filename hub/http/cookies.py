"""Session cookies of the workbench (工作台): made at sign-in (`hub.http.session`), checked
by the platform's authentication on every request that carries one (docs/design.md §9).

A session is the party, the id of the token it signed in with, its expiry and a nonce,
signed with HMAC-SHA256 under the workers' session key (``HUB_SESSION_KEY_FILE``, the
same file on every worker; made at first use when missing), so any worker checks it
without a shared store, and revoking the token ends every session made with it. The
cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends
it), Secure behind HTTPS, and expires with the session.

A request that changes something (any method but GET, HEAD and OPTIONS) with the cookie
must carry the session's CSRF token in ``X-CSRF-Token`` (given at sign-in and by
``GET /v1/session``: an HMAC of the cookie, which another site's page can neither read
nor compute) and must not say that it comes from another site (``Origin`` other than the
hub's own, ``Sec-Fetch-Site: cross-site``): a cross-site POST is refused whatever it
carries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from yarl import URL

from hub.http.problems import Problem
from hub.http.tokens import TokenEntry, TokenStore
from hub.settings import HubSettings

COOKIE = "hub_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
VERSION = "s1"


@dataclass(frozen=True)
class Session:
    """A signed-in party."""

    party: str
    token_id: str
    expires: int  # unix seconds
    cookie: str  # the signed value
    csrf: str  # what X-CSRF-Token must say


def _key(path: Path) -> bytes:
    """The session key at path, made (32 random bytes, mode 600) when missing."""
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = secrets.token_hex(32).encode()
        try:  # O_EXCL: of two workers making it at once, one wins and both read its key
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _key(path)
        with os.fdopen(descriptor, "wb") as out:
            out.write(fresh + b"\n")
        return fresh
    if len(key) < 32:
        raise ValueError(f"{path}: a session key needs at least 32 characters")
    return key


class Sessions:
    """Signs session cookies and checks them (module docstring)."""

    def __init__(self, settings: HubSettings, tokens: TokenStore) -> None:
        self.settings = settings
        self.tokens = tokens
        self._secret: bytes | None = None

    @property
    def secret(self) -> bytes:
        if self._secret is None:  # read on first use: tests and tools need no key file
            self._secret = _key(self.settings.session_key_path)
        return self._secret

    def _sign(self, text: str, purpose: str) -> str:
        mac = hmac.new(self.secret, f"{purpose}.{text}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def start(self, entry: TokenEntry) -> Session:
        """A new session of the party entry belongs to."""
        expires = int(time.time()) + self.settings.session_seconds
        body = f"{VERSION}.{entry.party}.{entry.token_id}.{expires}.{secrets.token_urlsafe(12)}"
        cookie = f"{body}.{self._sign(body, 'cookie')}"
        return Session(entry.party, entry.token_id, expires, cookie, self._sign(cookie, "csrf"))

    def check(self, cookie: str) -> Session | None:
        """The live session of a cookie value; None when forged, expired or its token is
        revoked."""
        body, _, mac = cookie.rpartition(".")
        parts = body.split(".")
        if len(parts) != 5 or parts[0] != VERSION or not parts[3].isdigit():
            return None
        if not hmac.compare_digest(mac, self._sign(body, "cookie")):
            return None
        _, party, token_id, expires, _ = parts
        if int(expires) <= time.time():
            return None
        entry = self.tokens.live(token_id)
        if entry is None or entry.party != party:
            return None
        return Session(party, token_id, int(expires), cookie, self._sign(cookie, "csrf"))

    def check_change(self, request: web.Request, session: Session) -> None:
        """`Problem` 403 for a change made with the session cookie without the session's
        CSRF token or from another site's page (module docstring)."""
        if request.method not in SAFE_METHODS:
            if _cross_site(request):
                raise Problem(
                    "forbidden",
                    "a change from another site's page is refused (Origin or Sec-Fetch-Site)",
                    detail_zh="拒绝来自其他网站页面的修改请求",
                )
            if not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), session.csrf):
                raise Problem(
                    "forbidden",
                    f"send the session's CSRF token in {CSRF_HEADER} (from sign-in or "
                    "GET /v1/session) with every change made with the session cookie",
                    detail_zh=f"使用会话修改数据时须在{CSRF_HEADER}头中携带会话的CSRF令牌",
                )

    def set_cookie(self, request: web.Request, response: web.StreamResponse,
                   session: Session) -> None:
        response.set_cookie(
            COOKIE, session.cookie, max_age=max(0, session.expires - int(time.time())),
            path="/", httponly=True, samesite="Strict", secure=self._secure(request),
        )

    def clear_cookie(self, request: web.Request, response: web.StreamResponse) -> None:
        response.set_cookie(COOKIE, "", max_age=0, path="/", httponly=True,
                            samesite="Strict", secure=self._secure(request))

    def _secure(self, request: web.Request) -> bool:
        return request.secure or self.settings.http_tls_certfile is not None


def _cross_site(request: web.Request) -> bool:
    """Whether the browser says the request comes from another site's page."""
    if request.headers.get("Sec-Fetch-Site", "") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    if origin == "null":
        return True
    # host and port only: a proxy that ends TLS changes the scheme the worker sees
    return URL(origin).raw_authority.lower() != request.host.lower()
