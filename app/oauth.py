"""OAuth installs: `/slack/install`, `/slack/oauth_redirect`, and who may install.

Bolt runs the OAuth flow and slack_sdk's SQLAlchemy stores keep installations and states in
our database (migration 0007). We add three things:

- **who may install**: the workspaces and Grid organisations in `SLACK_INSTALL_TEAMS`; when it
  is empty, the first installation and later ones of the same Grid organisation. Anyone else
  gets a page that says so, and nothing is stored;
- **authorize** through `InstalledTokens`, so listeners and workers share one token cache and
  one rotation path (a refresh token is spent once, under a Redis lock);
- pages that tell the installer what happens next, in words.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urljoin

import structlog
from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.error import BoltError
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine

from integrations.settings import Settings
from integrations.slack_installs import InstalledTokens, NotInstalled

log = structlog.get_logger(__name__)

# The bot scopes the app asks for: the same list as manifest.yml (a test keeps them equal).
BOT_SCOPES = [
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
    "chat:write",
    "reactions:write",
    "reactions:read",
    "users:read",
    "users:read.email",
    "commands",
    "usergroups:read",
    "files:read",
]
ORGANISATION = "triage_organisation"  # AuthorizeResult key: every installed team/enterprise
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600


class InstallRefused(BoltError):
    """This workspace or organisation may not install this deployment."""


def oauth_flow(settings: Settings, engine: Engine, tokens: InstalledTokens) -> OAuthFlow:
    """Bolt's OAuth flow with our stores, allowlist and pages."""
    assert settings.slack_client_id and settings.slack_client_secret
    oauth = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=BOT_SCOPES,
        redirect_uri=settings.slack_redirect_uri,
        install_path=INSTALL_PATH,
        install_page_rendering_enabled=False,  # straight to Slack's consent screen
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=authorization_url(settings.slack_api_url),
        installation_store=tokens.store,
        installation_store_bot_only=True,
        state_store=SQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine),
        state_expiration_seconds=STATE_SECONDS,
        token_rotation_expiration_minutes=settings.slack_token_rotation_minutes,
        callback_options=CallbackOptions(success=_installed_page, failure=_failed_page),
    )
    client = WebClient(base_url=settings.slack_api_url, timeout=10)
    return GuardedOAuthFlow(client=client, settings=oauth, tokens=tokens, allowed=settings)


def authorization_url(api_url: str) -> str:
    """Slack's consent screen beside the Web API: slack.com, GovSlack, or the emulator."""
    return urljoin(api_url, "../oauth/v2/authorize")


class GuardedOAuthFlow(OAuthFlow):
    """Bolt's flow, refusing installs from outside the organisation before anything is stored."""

    def __init__(self, *, tokens: InstalledTokens, allowed: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokens = tokens
        self.allowed = set(allowed.slack_install_teams)

    def store_installation(self, request: BoltRequest, installation: Installation) -> None:
        why = self.refusal(installation.team_id, installation.enterprise_id)
        if why:
            log.warning(
                "slack.install_refused",
                team_id=installation.team_id,
                enterprise_id=installation.enterprise_id,
            )
            raise InstallRefused(why)
        super().store_installation(request, installation)
        self.tokens.forget()  # the next call reads the new token
        log.info(
            "slack.installed",
            team_id=installation.team_id,
            enterprise_id=installation.enterprise_id,
            org_wide=installation.is_enterprise_install,
        )

    def refusal(self, team_id: str | None, enterprise_id: str | None) -> str | None:
        """None when this workspace (or organisation) may install, else why not."""
        ids = {team_id, enterprise_id} - {None}
        if self.allowed:
            if ids & self.allowed:
                return None
            return (
                f"{' / '.join(sorted(i for i in ids if i))} is not in SLACK_INSTALL_TEAMS: "
                "an admin of this deployment can add it there"
            )
        installed = self.tokens.installed()
        if not installed or team_id in {t for t, _ in installed}:
            return None  # the first install, or a reinstall of one we have
        if enterprise_id and enterprise_id in {e for _, e in installed}:
            return None  # another workspace of the same Grid organisation
        return (
            "this deployment already serves another organisation; to add this workspace, "
            "put its id in SLACK_INSTALL_TEAMS"
        )


class InstalledAuthorize(Authorize):
    """Bolt's authorize step, answered by `InstalledTokens` (cached; rotates when needed)."""

    def __init__(self, tokens: InstalledTokens) -> None:
        super().__init__()
        self.tokens = tokens

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **_actor: Any,
    ) -> AuthorizeResult | None:
        team_lookup = None if context.is_enterprise_install else team_id
        try:
            bot = self.tokens.bot(team_lookup, enterprise_id)
        except NotInstalled:
            log.warning("slack.not_installed", team_id=team_id, enterprise_id=enterprise_id)
            return None  # Bolt answers "not authorized" and nothing runs
        result = AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_user_id=bot.bot_user_id,
            bot_id=bot.bot_id,
            bot_token=bot.bot_token,
            bot_scopes=bot.bot_scopes,
            user_id=user_id,
        )
        # The other workspaces of this deployment are the same organisation: their people
        # posting in a shared channel are colleagues, not customers (app/listeners/people.py).
        result[ORGANISATION] = self.tokens.organisation()
        return result


def _installed_page(args: SuccessArgs) -> BoltResponse:
    where = args.installation.team_name or args.installation.enterprise_name or "your workspace"
    body = (
        f"<h1>Support Triage is installed in {html.escape(where)}</h1>"
        "<p>Next: invite the bot to your triage channel and to each Slack Connect channel with "
        "a customer (<code>/invite @Support Triage</code>), then run <code>triage doctor</code>."
        "</p>"
    )
    return _page(200, body)


# Bolt's failure reasons, in words for the admin looking at the page.
_REASONS = {
    "access_denied": "the install was cancelled on Slack's screen",
    "invalid_browser": "this browser did not start the install here, or took too long: "
    "start again from the install link",
    "invalid_state": "the install link was used already or expired: start again",
    "missing_code": "Slack sent no authorization code back: start again",
    "invalid_code": "Slack did not accept the authorization code (check SLACK_CLIENT_ID, "
    "SLACK_CLIENT_SECRET and SLACK_REDIRECT_URI)",
    "storage_error": "the installation could not be saved (is the database migrated?)",
}


def _failed_page(args: FailureArgs) -> BoltResponse:
    if isinstance(args.error, InstallRefused):
        reason = str(args.error)
    else:
        reason = _REASONS.get(args.reason, args.reason)
    status = 403 if isinstance(args.error, InstallRefused) else args.suggested_status_code
    body = (
        "<h1>Support Triage was not installed</h1>"
        f"<p>{html.escape(reason)}</p>"
        f'<p><a href="{INSTALL_PATH}">Try again</a></p>'
    )
    return _page(status, body)


def _page(status: int, body: str) -> BoltResponse:
    document = f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"
    return BoltResponse(
        status=status, body=document, headers={"Content-Type": "text/html; charset=utf-8"}
    )
