"""`triage doctor`'s checks of the APIs we call: Slack (the token, the internal channels:
TRIAGE_CHANNEL, each TRIAGE_ROUTES channel, ESCALATION_CHANNEL) and OpenAI. Each really calls
the service and says, in one line, what to fix."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from app.doctor_services import CheckResult, doctor_engine
from integrations.deps import slack_clients
from integrations.settings import ConfigError, Settings
from integrations.slack import SLACK_FAILED, slack_error
from integrations.slack_installs import NotInstalled
from workers.routes import route_channels

_TOKEN_FIX = "copy the Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page"
_SLACK_FIXES = {
    "invalid_auth": "the token is wrong or revoked: " + _TOKEN_FIX,
    "not_authed": _TOKEN_FIX,
    "account_inactive": "the app was uninstalled or the workspace deactivated: reinstall the app",
    "token_revoked": "the token was revoked: reinstall the app and " + _TOKEN_FIX,
}
_TOKEN_KINDS = {
    "xoxp-": "a user token (xoxp-…)",
    "xapp-": "an app-level token (xapp-…), which belongs in SLACK_APP_TOKEN",
    "xoxe-": "a refresh token (xoxe-…)",
}
_NOT_BOT_TOKEN = "SLACK_BOT_TOKEN does not look like a bot token (xoxb-…)"
_SLACK_SECONDS = 8  # each call's timeout, well inside doctor's deadline


def check_slack(settings: Settings) -> CheckResult:
    """The bot token works (auth.test) and the signing secret is set."""

    if settings.slack_signing_secret is None:
        return CheckResult(
            "Slack",
            False,
            "SLACK_SIGNING_SECRET is not set",
            "copy the Signing Secret from your Slack app's Basic Information page",
        )
    if settings.uses_oauth:
        return _check_installs(settings)
    if settings.slack_bot_token is None:
        return CheckResult("Slack", False, "SLACK_BOT_TOKEN is not set", _TOKEN_FIX)
    if not _is_bot_token(settings):
        token = settings.slack_bot_token.get_secret_value()
        kind = next((k for prefix, k in _TOKEN_KINDS.items() if token.startswith(prefix)), None)
        detail = f"{_NOT_BOT_TOKEN}: it is {kind}" if kind else _NOT_BOT_TOKEN
        return CheckResult("Slack", False, detail, _TOKEN_FIX)  # and Slack is not sent it
    try:
        auth = _client(settings).auth_test()
    except SlackApiError as exc:
        error = slack_error(exc)
        fix = _SLACK_FIXES.get(error, "check SLACK_API_URL and the network")
        return CheckResult("Slack", False, f"auth.test failed: {error}", fix)
    except OSError as exc:
        return CheckResult(
            "Slack",
            False,
            f"cannot reach {settings.slack_api_url} ({type(exc).__name__})",
            "check SLACK_API_URL and the network",
        )
    return CheckResult("Slack", True, f"connected to {auth.get('team')} as @{auth.get('user')}")


def _check_installs(settings: Settings) -> CheckResult:
    """OAuth: every installation's token answers auth.test, and the home one exists."""

    try:
        settings.require_bot_tokens()
        with _installed_tokens(settings) as tokens:
            installed = tokens.installed()
            if not installed:
                return CheckResult(
                    "Slack",
                    False,
                    "OAuth is configured but no workspace has installed the app",
                    "start `triage serve` and open https://<your host>/slack/install",
                )
            names = []
            for team, enterprise in installed:
                where = team or enterprise
                try:
                    auth = tokens.for_team(team, enterprise).auth_test()
                except SlackApiError as exc:
                    return CheckResult(
                        "Slack",
                        False,
                        f"the installation in {where} fails auth.test: {slack_error(exc)}",
                        "reinstall the app there from /slack/install",
                    )
                names.append(f"{auth.get('team') or where} ({where})")
            home = tokens.home_bot()
    except ConfigError as exc:
        return CheckResult("Slack", False, str(exc))
    except NotInstalled as exc:
        return CheckResult("Slack", False, str(exc), "check SLACK_HOME_TEAM")
    except SQLAlchemyError as exc:
        return CheckResult(
            "Slack",
            False,
            f"cannot read the installations ({type(exc).__name__})",
            "run `triage db upgrade`, and check DATABASE_URL",
        )
    except OSError as exc:
        return CheckResult("Slack", False, f"cannot reach {settings.slack_api_url} ({exc})")
    home_id = home.team_id or home.enterprise_id
    return CheckResult(
        "Slack", True, f"OAuth, installed in {', '.join(names)}; cards go through {home_id}"
    )


def check_triage_channel(settings: Settings) -> CheckResult:
    return _check_channel(settings, "TRIAGE_CHANNEL", settings.triage_channel, required=True)


def check_triage_routes(settings: Settings) -> CheckResult:
    """Every channel TRIAGE_ROUTES sends cards to, checked as TRIAGE_CHANNEL is: one line,
    naming the routes that fail (✗) or deserve a look (!), else all of them (✓)."""
    results = [
        (rules, _check_channel(settings, "TRIAGE_ROUTES", channel, required=True))
        for rules, channel in route_channels(settings)
    ]
    for ok in (False, None):
        bad = [(rules, result) for rules, result in results if result.ok is ok]
        if bad:
            detail = "; ".join(f"{rules}: {result.detail}" for rules, result in bad)
            return CheckResult("TRIAGE_ROUTES", ok, detail, bad[0][1].fix)
    return CheckResult(
        "TRIAGE_ROUTES", True, "; ".join(f"{rules}: {r.detail}" for rules, r in results)
    )


def check_escalation_channel(settings: Settings) -> CheckResult:
    return _check_channel(
        settings, "ESCALATION_CHANNEL", settings.escalation_channel, required=False
    )


def check_incident_channel(settings: Settings) -> CheckResult:
    """Where incident cards go (empty: ESCALATION_CHANNEL, checked above)."""
    if not settings.incident_channel and settings.escalation_channel:
        return CheckResult(
            "INCIDENT_CHANNEL", True, "not set: incident cards go to ESCALATION_CHANNEL"
        )
    if not settings.incident_channel:
        return CheckResult(
            "INCIDENT_CHANNEL",
            None,
            "not set, nor ESCALATION_CHANNEL: reports are not grouped into incidents",
            "put an internal channel's id (C…) in INCIDENT_CHANNEL or ESCALATION_CHANNEL",
        )
    return _check_channel(settings, "INCIDENT_CHANNEL", settings.incident_channel, required=False)


def _check_channel(
    settings: Settings, name: str, channel: str | None, *, required: bool
) -> CheckResult:
    """Exists, is internal (never shared with another organisation), and has the bot in it."""

    if not channel:
        return CheckResult(
            name,
            False if required else None,
            "not set",
            "create an internal channel, invite the bot, and put its id (C…) here",
        )
    if settings.slack_bot_token is None and not settings.uses_oauth:
        return CheckResult(name, False, f"{channel} cannot be checked without SLACK_BOT_TOKEN")
    if not settings.uses_oauth and not _is_bot_token(settings):
        return CheckResult(
            name,
            False,
            f"{channel} could not be checked: {_NOT_BOT_TOKEN}",
            "fix SLACK_BOT_TOKEN first (see the Slack line)",
        )

    try:
        info: dict[str, Any] = _client(settings).conversations_info(channel=channel)["channel"]
    except NotInstalled:
        return CheckResult(name, False, f"{channel} cannot be checked before the app is installed")
    except SlackApiError as exc:
        error = slack_error(exc)
        if error in _SLACK_FIXES:  # the token, not the channel: the id may well be right
            return CheckResult(
                name,
                False,
                f"{channel} could not be checked: Slack refused the token ({error})",
                "fix the token first (see the Slack line)",
            )
        return CheckResult(
            name,
            False,
            f"{channel}: {error}",
            "check the id (channel details → About), and invite the bot if private",
        )
    except OSError as exc:
        return CheckResult(
            name,
            False,
            f"{channel} unchecked: Slack did not answer ({type(exc).__name__})",
            "check SLACK_API_URL and the network (see the Slack line)",
        )
    label = f"#{info.get('name', channel)} ({channel})"
    if info.get("is_ext_shared") or info.get("is_pending_ext_shared"):
        return CheckResult(
            name,
            False,
            f"{label} is shared with another organisation: internal notes would reach customers",
            "use a channel only your people are in",
        )
    if not info.get("is_member"):
        return CheckResult(
            name,
            None,
            f"{label}: the bot is not a member",
            f"type /invite @{_bot_name(settings)} in {label.split()[0]}",
        )
    return CheckResult(name, True, f"{label} is internal and the bot is in it")


def check_openai(settings: Settings) -> CheckResult:
    """The key is accepted and the model is available (a listing, not a paid completion)."""

    if settings.openai_api_key is None:
        return CheckResult(
            "OpenAI",
            None,
            "OPENAI_API_KEY is not set: drafts are offline and triage uses the offline classifier",
            "set OPENAI_API_KEY to draft with a model",
        )
    client = openai.OpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=10,
        max_retries=0,
    )
    try:
        available = {model.id for model in client.models.list()}
    except openai.AuthenticationError:
        return CheckResult("OpenAI", False, "the key was refused (401)", "check OPENAI_API_KEY")
    except openai.APIError as exc:
        return CheckResult(
            "OpenAI",
            False,
            f"no usable answer ({type(exc).__name__})",
            "check OPENAI_BASE_URL and the network",
        )
    if settings.openai_model not in available:
        return CheckResult(
            "OpenAI",
            None,
            f"answers, but does not list {settings.openai_model}",
            "set OPENAI_MODEL to a model this key can use",
        )
    return CheckResult("OpenAI", True, f"answers; {settings.openai_model} is available")


def _client(settings: Settings) -> Any:
    """The home installation's client: the bot token, or (OAuth) the home workspace's."""

    if settings.uses_oauth:
        with _installed_tokens(settings) as tokens:
            return tokens.home()
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token, base_url=settings.slack_api_url, timeout=_SLACK_SECONDS, retry_handlers=[]
    )


def _is_bot_token(settings: Settings) -> bool:
    """xoxb-…, or xoxe.xoxb-… (a bot token of an app with token rotation)."""
    token = settings.slack_bot_token
    return token is not None and token.get_secret_value().startswith(("xoxb-", "xoxe.xoxb-"))


@contextmanager
def _installed_tokens(settings: Settings) -> Iterator[Any]:
    """The OAuth installations, read from the database for as long as the check needs."""

    engine = doctor_engine(settings.database_url)  # a connect timeout, and never a new file
    try:
        yield slack_clients(settings, engine, None)
    finally:
        engine.dispose()


def _bot_name(settings: Settings) -> str:
    """The bot's name for a hint (`/invite @name`); a default when Slack or the
    installation cannot say (the other checks report why)."""
    try:
        return str(_client(settings).auth_test().get("user") or "the-bot")
    except (*SLACK_FAILED, NotInstalled, ConfigError, SQLAlchemyError):
        return "the-bot"


def check_auto_send(settings: Settings) -> CheckResult:
    """Where drafts may go without a person (AUTO_SEND, only when set)."""
    where = ", ".join(settings.auto_send)
    drafts = (
        "the model's drafts"
        if settings.openai_api_key
        else "no OPENAI_API_KEY, so only offline drafts that reuse an answer a person approved "
        "for the same account, to the same question"
    )
    return CheckResult(
        "AUTO_SEND",
        True,
        f"drafts may go without approval in {where}: {drafts} "
        f"({', '.join(settings.auto_send_categories)}; grounding ≥ "
        f"{settings.auto_send_min_score:.2f}, confidence ≥ "
        f"{settings.auto_send_min_confidence:.2f}); support leads stop it with "
        "`/triage auto-send off`",
    )
