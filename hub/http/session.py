"""``/v1/session``: signing in to the workbench 工作台 (issue 19) with a party's token once.

``POST /v1/session {"token": …}`` checks the token as any request's would and answers
201 with who signed in, until when, and the session's CSRF token, setting the session
cookie (`hub.http.cookies`: HttpOnly, SameSite=Strict, signed, expiring);
``GET /v1/session`` answers the same for the cookie a browser holds (401 without a live
one: sign in again); ``DELETE /v1/session`` signs out (the cookie is cleared). After
sign-in every request of the workbench goes through the same routes and policy as any
party system's, authenticated by the cookie, so the audit trail names the party.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, Field

from hub.http.cookies import COOKIE, CSRF_HEADER, Session, Sessions
from hub.http.platform import Platform
from hub.http.problems import Problem
from hub.http.routes import Answer, Route, install_routes, respond

PATH = "/v1/session"


class SignIn(BaseModel):
    """登录 the party's bearer token, given once."""

    token: str = Field(min_length=1, max_length=200,
                       description="the party's token (hub tokens issue PARTY)")


class SessionInfo(BaseModel):
    """会话 who is signed in, until when, and what changes must carry."""

    party: str = Field(description="the signed-in party's id")
    name: str = Field(description="its name, in Chinese")
    kind: str = Field(description="street, department, police, …")
    expires_at: datetime = Field(description="when the session ends (sign in again then)")
    csrf_token: str = Field(
        description=f"send it as {CSRF_HEADER} with every request that changes something"
    )


_NO_SESSION = "no live session: sign in again (POST /v1/session)"
ROUTES = (
    Route(
        "POST", PATH, "sign_in", "signIn", "Sign in with the party's token (sets the cookie)",
        "session",
        (Answer(201, f"signed in; the {COOKIE} cookie is set", SessionInfo),
         Answer(400, "body is not JSON"), Answer(401, "the token is not live"),
         Answer(415, "not application/json"), Answer(422, "the body is not a SignIn")),
        body=SignIn, public=True,
        description=f"The answer sets {COOKIE} (HttpOnly, SameSite=Strict, Secure over "
        "HTTPS, Path=/) for the session's life. Every request of the browser is then "
        f"authenticated by it; a request that changes something must also carry "
        f"{CSRF_HEADER} and come from the hub's own pages.",
    ),
    Route(
        "GET", PATH, "current", "session", "The session of the browser's cookie", "session",
        (Answer(200, "the session", SessionInfo), Answer(401, _NO_SESSION)),
        public=True,
    ),
    Route(
        "DELETE", PATH, "sign_out", "signOut", "Sign out (the cookie is cleared)", "session",
        (Answer(204, "signed out"),), public=True,
    ),
)


class SessionResource:
    """Sign-in, the current session, sign-out."""

    def __init__(self, platform: Platform, sessions: Sessions) -> None:
        self.platform = platform
        self.sessions = sessions

    def install(self, app: web.Application) -> None:
        install_routes(app, ROUTES, self)

    async def sign_in(self, request: web.Request) -> web.Response:
        body = await self.platform.read_model(request, SignIn)
        entry = self.platform.tokens.authenticate(body["token"])
        if entry is None or not self.platform.identify(request, entry):
            raise Problem(
                "unauthenticated",
                "the token is not live: ask the hub's operators for your party's token",
                detail_zh="令牌无效或已吊销，请向枢纽运维人员索取本单位令牌",
            )
        session = self.sessions.start(entry)
        response = respond(self._info(session), 201)
        self.sessions.set_cookie(request, response, session)
        return response

    async def current(self, request: web.Request) -> web.Response:
        session = self.sessions.check(request.cookies.get(COOKIE, ""))
        if session is None:
            raise Problem("unauthenticated", _NO_SESSION, detail_zh="会话已失效，请重新登录")
        entry = self.platform.tokens.live(session.token_id)
        if entry is None or not self.platform.identify(request, entry):
            raise Problem("unauthenticated", _NO_SESSION, detail_zh="会话已失效，请重新登录")
        return respond(self._info(session))

    async def sign_out(self, request: web.Request) -> web.Response:
        session = self.sessions.check(request.cookies.get(COOKIE, ""))
        if session is not None:
            entry = self.platform.tokens.live(session.token_id)
            if entry is not None:
                self.platform.identify(request, entry)  # the audit names who signed out
        response = web.Response(status=204)
        self.sessions.clear_cookie(request, response)
        return response

    def _info(self, session: Session) -> SessionInfo:
        party = self.platform.reference().parties.get(session.party)
        return SessionInfo(
            party=party.id, name=party.name, kind=str(party.kind),
            expires_at=datetime.fromtimestamp(session.expires, UTC), csrf_token=session.csrf,
        )
