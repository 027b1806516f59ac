"""OAuth in the Slack emulator: the consent screen and `oauth.v2.access` (developer tool / tests).

``GET /oauth/v2/authorize`` stands for Slack's consent screen: it approves at once and sends the
browser back to ``redirect_uri`` with a one-time ``code`` and the app's ``state``. Which
workspace installs is the ``team`` query parameter (Slack's own, for a workspace) or
``enterprise`` (an org-wide Enterprise Grid install); ``user`` names the installer. Without
either, a person in a browser gets a page to pick the workspace (`triage sandbox --oauth`).

``oauth.v2.access`` authenticates the app with HTTP Basic (as slack_sdk sends it) or
``client_id``/``client_secret`` arguments and answers two grants:

- ``code``: mints the workspace's bot token (the bot user is created on first install);
- ``grant_type=refresh_token`` (token rotation): a new access token and a new refresh token;
  the spent refresh token stops working, so a client that refreshes twice finds out.

With ``token_lifetime`` set, access tokens expire and calls with them answer ``token_expired``.
"""

from __future__ import annotations

import base64
import html
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from sandbox.slack_state import SlackError, World


@dataclass(frozen=True)
class _Grant:
    team_id: str | None  # None: an org-wide install
    enterprise_id: str | None
    user_id: str
    scope: str
    redirect_uri: str | None


class OAuthServer:
    """The emulated app's OAuth: one client id and secret, codes and refresh tokens."""

    def __init__(
        self, world: World, client_id: str, client_secret: str, token_lifetime: int | None
    ) -> None:
        self.world = world
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.codes: dict[str, _Grant] = {}
        self.refresh_tokens: dict[str, _Grant] = {}
        self.expiry: dict[str, float] = {}  # access token -> when it stops working
        self.redirect_uri: str | None = None  # used when the request names none

    # -- the consent screen ----------------------------------------------------------------

    def authorize(self, request: Request) -> Response:
        """Approve the install at once and redirect back with a code."""
        args = request.args
        if args.get("client_id") != self.client_id:
            return Response("invalid client_id", status=400, content_type="text/plain")
        redirect = args.get("redirect_uri") or self.redirect_uri
        if not redirect:
            return Response("no redirect_uri", status=400, content_type="text/plain")
        team, enterprise = args.get("team"), args.get("enterprise")
        if not team and not enterprise:
            return self._chooser(request)
        with self.world.lock:
            if enterprise:
                if not any(t.get("enterprise_id") == enterprise for t in self.world.teams.values()):
                    return Response("unknown enterprise", status=400, content_type="text/plain")
                team = None
            elif team not in self.world.teams:
                return Response("unknown team", status=400, content_type="text/plain")
            else:
                enterprise = self.world.teams[team].get("enterprise_id")
            code = f"code-{secrets.token_hex(8)}"
            self.codes[code] = _Grant(
                team,
                enterprise,
                args.get("user") or "U0INSTALLER",
                args.get("scope", ""),
                args.get("redirect_uri"),
            )
        query = urlencode({"code": code, "state": args.get("state", "")})
        return Response(status=302, headers={"Location": f"{redirect}?{query}"})

    def _chooser(self, request: Request) -> Response:
        """The consent screen for a person: pick the workspace (or organisation) to install in."""
        with self.world.lock:
            teams = sorted((t["name"], t["id"]) for t in self.world.teams.values())
            orgs = sorted(
                {t["enterprise_id"] for t in self.world.teams.values() if t.get("enterprise_id")}
            )
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in request.args.items()
        )
        options = "".join(f'<option value="{i}">{html.escape(n)} ({i})</option>' for n, i in teams)
        grid = "".join(
            f'<p><a href="?{html.escape(urlencode({**request.args, "enterprise": o}))}">'
            f"Install in the whole {html.escape(o)} organisation</a></p>"
            for o in orgs
        )
        body = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Sandbox: install</title>"
            "</head><body><h1>Install the app (Slack sandbox)</h1>"
            f"<p>Scopes asked for: {html.escape(request.args.get('scope', ''))}</p>"
            f'<form method="get">{hidden}<label>Workspace <select name="team">{options}'
            '</select></label> <button type="submit">Allow</button></form>'
            f"{grid}</body></html>"
        )
        return Response(body, content_type="text/html; charset=utf-8")

    # -- oauth.v2.access -------------------------------------------------------------------

    def access(self, request: Request, args: dict[str, Any]) -> dict[str, Any]:
        """The answer to oauth.v2.access (raises SlackError as Slack's errors)."""
        client_id, secret = _client_credentials(request, args)
        if client_id != self.client_id:
            raise SlackError("invalid_client_id")
        if secret != self.client_secret:
            raise SlackError("bad_client_secret")
        with self.world.lock:
            if args.get("grant_type") == "refresh_token":
                grant = self.refresh_tokens.pop(str(args.get("refresh_token")), None)
                if grant is None:
                    raise SlackError("invalid_refresh_token")
            else:
                grant = self.codes.pop(str(args.get("code")), None)
                if grant is None:
                    raise SlackError("invalid_code")
                if grant.redirect_uri and args.get("redirect_uri") != grant.redirect_uri:
                    raise SlackError("bad_redirect_uri")
            return self._mint(grant)

    def _mint(self, grant: _Grant) -> dict[str, Any]:
        world = self.world
        home = grant.team_id or next(
            t for t, team in world.teams.items() if team.get("enterprise_id") == grant.enterprise_id
        )
        bot_user, bot_id = self._bot_of(home)
        token = f"xoxb-{home.lower()}-{secrets.token_hex(6)}"
        world.add_token(token, home, bot_user, bot_id)
        answer: dict[str, Any] = {
            "access_token": token,
            "token_type": "bot",
            "scope": grant.scope,
            "bot_user_id": bot_user,
            "app_id": world.app_id,
            "team": _named(world.teams.get(grant.team_id or "")),
            "enterprise": _enterprise(world, grant.enterprise_id),
            "authed_user": {"id": grant.user_id},
            "is_enterprise_install": grant.team_id is None,
        }
        if self.token_lifetime is not None:
            refresh = f"xoxe-1-{secrets.token_hex(8)}"
            self.refresh_tokens[refresh] = grant
            self.expiry[token] = time.time() + self.token_lifetime
            answer.update(refresh_token=refresh, expires_in=self.token_lifetime)
        return answer

    def _bot_of(self, team_id: str) -> tuple[str, str]:
        """This workspace's bot user for the app, created on the first install."""
        world = self.world
        for bot_id, bot in world.bots.items():
            if world.users.get(bot["user_id"], {}).get("team_id") == team_id:
                return bot["user_id"], bot_id
        user_id, bot_id = f"U0BOT{team_id[1:]}", f"B0BOT{team_id[1:]}"
        world.add_user(user_id, team_id=team_id, name="triage", is_bot=True, bot_id=bot_id)
        world.add_bot(bot_id, user_id=user_id, name="triage")
        return user_id, bot_id

    def expired(self, token: str) -> bool:
        at = self.expiry.get(token)
        return at is not None and time.time() >= at


def _client_credentials(request: Request, args: dict[str, Any]) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise SlackError("invalid_client_id") from None
        return user, password
    return args.get("client_id"), args.get("client_secret")


def _named(team: dict[str, Any] | None) -> dict[str, str] | None:
    return {"id": team["id"], "name": team["name"]} if team else None


def _enterprise(world: World, enterprise_id: str | None) -> dict[str, str] | None:
    if not enterprise_id:
        return None
    for team in world.teams.values():
        if team.get("enterprise_id") == enterprise_id:
            return {"id": enterprise_id, "name": team.get("enterprise_name", enterprise_id)}
    return {"id": enterprise_id, "name": enterprise_id}
