"""`triage doctor`'s checks of the APIs we call: Slack (the token, both internal channels)
and OpenAI. Each really calls the service and says, in one line, what to fix."""

from __future__ import annotations

from typing import Any

from app.doctor import CheckResult
from app.settings import Settings

_TOKEN_FIX = "copy the Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page"
_SLACK_FIXES = {
    "invalid_auth": "the token is wrong or revoked: " + _TOKEN_FIX,
    "not_authed": _TOKEN_FIX,
    "account_inactive": "the app was uninstalled or the workspace deactivated: reinstall the app",
    "token_revoked": "the token was revoked: reinstall the app and " + _TOKEN_FIX,
}


def check_slack(settings: Settings) -> CheckResult:
    """The bot token works (auth.test) and the signing secret is set."""
    from slack_sdk.errors import SlackApiError

    from integrations.slack import slack_error

    if settings.slack_bot_token is None:
        return CheckResult("Slack", False, "SLACK_BOT_TOKEN is not set", _TOKEN_FIX)
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
    if settings.slack_signing_secret is None:
        return CheckResult(
            "Slack",
            False,
            "SLACK_SIGNING_SECRET is not set",
            "copy the Signing Secret from your Slack app's Basic Information page",
        )
    return CheckResult("Slack", True, f"connected to {auth.get('team')} as @{auth.get('user')}")


def check_triage_channel(settings: Settings) -> CheckResult:
    return _check_channel(settings, "TRIAGE_CHANNEL", settings.triage_channel, required=True)


def check_escalation_channel(settings: Settings) -> CheckResult:
    return _check_channel(
        settings, "ESCALATION_CHANNEL", settings.escalation_channel, required=False
    )


def _check_channel(
    settings: Settings, name: str, channel: str | None, *, required: bool
) -> CheckResult:
    """Exists, is internal (never shared with another organisation), and has the bot in it."""
    from slack_sdk.errors import SlackApiError

    from integrations.slack import slack_error

    if not channel:
        return CheckResult(
            name,
            False if required else None,
            "not set",
            "create an internal channel, invite the bot, and put its id (C…) here",
        )
    if settings.slack_bot_token is None:
        return CheckResult(name, False, f"{channel} cannot be checked without SLACK_BOT_TOKEN")
    try:
        info: dict[str, Any] = _client(settings).conversations_info(channel=channel)["channel"]
    except SlackApiError as exc:
        return CheckResult(
            name,
            False,
            f"{channel}: {slack_error(exc)}",
            "check the id (channel details → About), and invite the bot if private",
        )
    except OSError as exc:
        return CheckResult(name, False, f"{channel} unchecked ({type(exc).__name__})")
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
    import openai

    if settings.openai_api_key is None:
        return CheckResult(
            "OpenAI",
            None,
            "OPENAI_API_KEY is not set: drafts are offline and triage uses the rules",
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
    from slack_sdk import WebClient

    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(token=token, base_url=settings.slack_api_url, timeout=10)  # no retries


def _bot_name(settings: Settings) -> str:
    try:
        return str(_client(settings).auth_test().get("user") or "the-bot")
    except Exception:
        return "the-bot"
