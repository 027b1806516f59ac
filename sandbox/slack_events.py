"""Events API requests exactly as Slack sends them (developer tool / tests' fake Slack).

Builders for ``event_callback`` envelopes (Slack Connect aware, following the samples under
``shared/specs/slack/samples``), request signing and delivery to an app's request URL.
Interactivity bodies (block_actions, view_submission) live in ``sandbox.slack_interactivity``
and are re-exported here.

All envelope builders take the keyword arguments of ``envelope()`` (the installing org, the bot,
the channel and the actor's org); ``SlackEmulator.event_context`` returns them for a channel and
an author.
Top-level ``team_id``/``enterprise_id`` are the actor's org when the actor is external, else the
installing org; ``context_team_id``/``context_enterprise_id`` and ``authorizations`` are always
the installing org, like Slack does for Slack Connect channels.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import secrets
import time
import urllib.error
import urllib.request
from typing import Any

from sandbox.slack_interactivity import (
    block_actions_body,
    block_actions_payload,
    form_body,
    view_submission_body,
    view_submission_payload,
)

__all__ = [
    "block_actions_body",
    "block_actions_payload",
    "bot_message_envelope",
    "channel_join_envelope",
    "deliver",
    "envelope",
    "form_body",
    "member_joined_envelope",
    "message_changed_envelope",
    "message_deleted_envelope",
    "message_envelope",
    "new_event_id",
    "reaction_envelope",
    "sign",
    "view_submission_body",
    "view_submission_payload",
]

#: Fields conversations.history adds to messages that an event never carries.
_HISTORY_ONLY_FIELDS = (
    "reactions",
    "reply_count",
    "reply_users_count",
    "latest_reply",
    "reply_users",
    "is_locked",
    "subscribed",
    "last_read",
    "permalink",
)
_event_counter = itertools.count(1)


def sign(body: bytes, signing_secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Return Slack's signature headers for ``body`` (v0 HMAC-SHA256 of ``v0:{ts}:{body}``)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    base = b"v0:" + str(ts).encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def new_event_id() -> str:
    """Return a fresh, unique Slack-looking event id (``Ev...``)."""
    return f"Ev{next(_event_counter):06d}{secrets.token_hex(3).upper()}"


def envelope(
    event: dict[str, Any],
    *,
    channel: str,
    installed_team_id: str,
    installed_enterprise_id: str | None = None,
    bot_user_id: str,
    api_app_id: str = "A0APP",
    is_ext_shared_channel: bool = False,
    author_team_id: str | None = None,
    author_enterprise_id: str | None = None,
    event_id: str | None = None,
    event_time: int | None = None,
    token: str = "verification-token",
    channel_type: str = "channel",
    user_profile: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Wrap an ``event`` in the ``event_callback`` envelope Slack posts to the request URL.

    ``channel_type`` and ``user_profile`` are accepted (and ignored) so every builder can take
    the same context keywords.
    """
    del channel_type, user_profile  # used by the message builders only
    actor_team = author_team_id or installed_team_id
    external = actor_team != installed_team_id
    team_id = actor_team if external else installed_team_id
    enterprise_id = author_enterprise_id if external else installed_enterprise_id
    body: dict[str, Any] = {"token": token, "team_id": team_id}
    if enterprise_id:
        body["enterprise_id"] = enterprise_id
    context = json.dumps({"id": event.get("type"), "team": installed_team_id, "channel": channel})
    body.update(
        context_team_id=installed_team_id,
        context_enterprise_id=installed_enterprise_id,
        api_app_id=api_app_id,
        event=event,
        type="event_callback",
        event_id=event_id or new_event_id(),
        event_time=int(time.time()) if event_time is None else event_time,
        authorizations=[
            {
                "enterprise_id": installed_enterprise_id,
                "team_id": installed_team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        is_ext_shared_channel=is_ext_shared_channel,
        event_context="4-" + base64.urlsafe_b64encode(context.encode()).decode().rstrip("="),
    )
    return body


def _event_message(message: dict[str, Any]) -> dict[str, Any]:
    shown = copy.deepcopy(message)
    for name in _HISTORY_ONLY_FIELDS:
        shown.pop(name, None)
    shown.pop("channel", None)
    return shown


def message_envelope(
    message: dict[str, Any],
    *,
    channel: str,
    installed_team_id: str,
    author_team_id: str | None = None,
    channel_type: str = "channel",
    user_profile: dict[str, Any] | None = None,
    **context: Any,
) -> dict[str, Any]:
    """Envelope of a ``message`` event for a message a person posted (Slack Connect aware).

    ``message`` is a stored message (e.g. from ``SlackEmulator.post_as_user``); its fields pass
    through (subtype, files, blocks, thread_ts, parent_user_id...). Adds ``team``,
    ``user_team``, ``source_team`` = the author's team (``author_team_id``, else the message's
    ``user_team``/``team``), ``user_profile`` (default ``{"team": author team}``), ``channel``,
    ``event_ts`` and ``channel_type``. ``context`` = the other keyword arguments of
    ``envelope()``.
    """
    author_team = (
        author_team_id or message.get("user_team") or message.get("team") or installed_team_id
    )
    event: dict[str, Any] = {"type": "message", **_event_message(message)}
    if event.get("files") and "subtype" not in event:
        event["subtype"] = "file_share"
    event.update(team=author_team, user_team=author_team, source_team=author_team)
    event["user_profile"] = dict(user_profile) if user_profile else {"team": author_team}
    event.update(channel=channel, event_ts=message["ts"], channel_type=channel_type)
    return envelope(
        event,
        channel=channel,
        installed_team_id=installed_team_id,
        author_team_id=author_team,
        **context,
    )


def bot_message_envelope(
    message: dict[str, Any], *, channel: str, **context: Any
) -> dict[str, Any]:
    """Envelope of the ``message`` event Slack echoes for a bot's own message.

    ``context`` = the keyword arguments of ``envelope()``.

    A message with a ``user`` (posted with a bot token) keeps ``user``/``bot_id``/``app_id``/
    ``bot_profile``; one without becomes subtype ``bot_message`` (webhooks, custom username).
    """
    event: dict[str, Any] = {"type": "message", **_event_message(message)}
    if not event.get("user"):
        event["subtype"] = "bot_message"
    event.update(
        channel=channel, event_ts=message["ts"], channel_type=context.get("channel_type", "channel")
    )
    context.setdefault("author_team_id", message.get("team"))
    return envelope(event, channel=channel, **context)


def message_changed_envelope(
    message: dict[str, Any], previous_message: dict[str, Any], *, channel: str, **context: Any
) -> dict[str, Any]:
    """Envelope of a ``message_changed`` event (``message`` = new version, with ``edited``).

    ``context`` = the keyword arguments of ``envelope()``.
    """
    event_ts = (message.get("edited") or {}).get("ts") or f"{time.time():.6f}"
    event = {
        "type": "message",
        "subtype": "message_changed",
        "message": {"type": "message", **_event_message(message)},
        "previous_message": {"type": "message", **_event_message(previous_message)},
        "channel": channel,
        "hidden": True,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": context.get("channel_type", "channel"),
    }
    context.setdefault("author_team_id", message.get("user_team") or message.get("team"))
    return envelope(event, channel=channel, **context)


def message_deleted_envelope(
    previous_message: dict[str, Any],
    *,
    channel: str,
    event_ts: str | None = None,
    **context: Any,
) -> dict[str, Any]:
    """Envelope of a ``message_deleted`` event (``context`` = ``envelope()`` keywords)."""
    event_ts = event_ts or f"{time.time():.6f}"
    event = {
        "type": "message",
        "subtype": "message_deleted",
        "previous_message": {"type": "message", **_event_message(previous_message)},
        "channel": channel,
        "hidden": True,
        "deleted_ts": previous_message["ts"],
        "event_ts": event_ts,
        "ts": event_ts,
        "channel_type": context.get("channel_type", "channel"),
    }
    return envelope(event, channel=channel, **context)


def member_joined_envelope(
    user: str,
    *,
    channel: str,
    inviter: str | None = None,
    event_ts: str | None = None,
    **context: Any,
) -> dict[str, Any]:
    """Envelope of a ``member_joined_channel`` event (``team`` = the joining user's team).

    ``context`` = the keyword arguments of ``envelope()``.
    """
    team = context.get("author_team_id") or context["installed_team_id"]
    event: dict[str, Any] = {
        "type": "member_joined_channel",
        "user": user,
        "channel": channel,
        "channel_type": "G" if context.get("channel_type") == "group" else "C",
        "team": team,
        "event_ts": event_ts or f"{time.time():.6f}",
    }
    if inviter:
        event["inviter"] = inviter
    return envelope(event, channel=channel, **context)


def channel_join_envelope(
    user: str, *, channel: str, ts: str | None = None, **context: Any
) -> dict[str, Any]:
    """Envelope of the ``channel_join`` subtype message posted when someone joins a channel.

    ``context`` = the keyword arguments of ``message_envelope()``.
    """
    message = {
        "subtype": "channel_join",
        "user": user,
        "text": f"<@{user}> has joined the channel",
        "ts": ts or f"{time.time():.6f}",
    }
    return message_envelope(message, channel=channel, **context)


def reaction_envelope(
    user: str,
    reaction: str,
    *,
    channel: str,
    ts: str,
    added: bool = True,
    item_user: str | None = None,
    **context: Any,
) -> dict[str, Any]:
    """Envelope of a ``reaction_added`` (``added=False``: ``reaction_removed``) event on the
    message ``ts``; ``item_user``: its author, when given.

    ``context`` = the keyword arguments of ``envelope()``. Slack names no team for whoever
    reacted: without ``author_team_id`` the top-level ``team_id`` is the installing org's.
    """
    event: dict[str, Any] = {
        "type": "reaction_added" if added else "reaction_removed",
        "user": user,
        "reaction": reaction,
    }
    if item_user:
        event["item_user"] = item_user
    event["item"] = {"type": "message", "channel": channel, "ts": ts}
    event["event_ts"] = f"{time.time():.6f}"
    return envelope(event, channel=channel, **context)


def deliver(
    url: str,
    body: bytes | dict[str, Any] | str,
    signing_secret: str,
    *,
    content_type: str | None = None,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
    timestamp: int | None = None,
    timeout: float = 10,
) -> tuple[int, bytes]:
    """POST a signed request to an app like Slack does; returns ``(status, response body)``.

    A dict is sent as JSON (events); bytes/str are sent as they are, as JSON when they look
    like a JSON object and as a form body otherwise (interactivity ``payload=...``).
    ``retry_num`` adds ``X-Slack-Retry-Num`` / ``X-Slack-Retry-Reason`` like Slack's retries.
    Connection errors (refused, timeout) propagate as ``OSError``.
    """
    if isinstance(body, dict):
        raw = json.dumps(body).encode()
    elif isinstance(body, str):
        raw = body.encode()
    else:
        raw = body
    if content_type is None:
        looks_json = raw.lstrip()[:1] == b"{"
        content_type = "application/json" if looks_json else "application/x-www-form-urlencoded"
    headers = {
        "Content-Type": content_type,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        **sign(raw, signing_secret, timestamp),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
