"""Inspection, fault injection and event helpers of ``SlackEmulator``.

Developer tool / the tests' fake Slack: split out of ``sandbox.slack_emulator`` to keep files
small. ``SlackEmulator`` inherits these methods; use them through it.
"""

from __future__ import annotations

import copy
import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any

from sandbox.slack_commands import slash_command_body
from sandbox.slack_events import bot_message_envelope, deliver, message_envelope
from sandbox.slack_files import Download
from sandbox.slack_state import Caller, World
from sandbox.slack_wsgi import Call, Fault, SlackApi

logger = logging.getLogger(__name__)


class InspectionMixin:
    """What the app did to Slack, and how Slack should misbehave."""

    _world: World
    _api: SlackApi
    bot_token: str

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (empty before ``start()``)."""
        return self._world.base_url

    # -- inspection --------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded Web API calls, oldest first (only those of ``method`` when given)."""
        return self._api.recorded_calls(method)

    def clear_calls(self) -> None:
        """Forget the recorded calls."""
        self._api.clear_calls()

    def messages(
        self, channel: str, *, thread_ts: str | None = None, include_thread_replies: bool = False
    ) -> list[dict]:
        """Messages of a channel, oldest first, as conversations.history shows them.

        With ``thread_ts``: that thread, parent first. With ``include_thread_replies``: every
        message of the channel, replies included, in ts order.
        """
        world = self._world
        with world.lock:
            world.channel(channel)
            if thread_ts:
                parent = world.messages[channel].get(thread_ts)
                thread = ([parent] if parent else []) + world.replies(channel, thread_ts)
                return [world.render(channel, m) for m in thread]
            if include_thread_replies:
                return [world.render(channel, m) for m in world.messages[channel].values()]
            return [world.render(channel, m) for m in world.top_level(channel)]

    def find_message(self, channel: str, ts: str) -> dict | None:
        """The message at ``ts`` in ``channel`` (thread replies included), or ``None``."""
        with self._world.lock:
            stored = self._world.messages.get(channel, {}).get(ts)
            return self._world.render(channel, stored) if stored else None

    def reactions(self, channel: str, ts: str) -> dict[str, list[str]]:
        """``{reaction name: [user ids]}`` of a message."""
        with self._world.lock:
            stored = self._world.message(channel, ts)
            return {r["name"]: list(r["users"]) for r in stored.get("reactions", [])}

    def ephemerals(self, channel: str | None = None) -> list[dict]:
        """Ephemeral messages (``user`` = recipient, ``bot_id`` = sender), oldest first."""
        with self._world.lock:
            return [
                copy.deepcopy(m)
                for m in self._world.ephemerals
                if channel is None or m["channel"] == channel
            ]

    def response_url(
        self,
        name: str = "default",
        *,
        channel: str | None = None,
        message_ts: str | None = None,
        user: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """A response_url on the emulator that records POSTed JSON.

        Bound to a ``channel`` (and ``message_ts``) it also acts like Slack's: ``replace_original``
        / ``delete_original`` change that message, ``response_type: in_channel`` posts as the
        bot, anything else becomes an ephemeral message for ``user``.
        """
        with self._world.lock:
            self._world.response_targets[name] = {
                "channel": channel,
                "message_ts": message_ts,
                "user": user,
                "thread_ts": thread_ts,
                "token": self.bot_token,
            }
        return f"{self.base_url}/response_url/{name}"

    def response_url_posts(self) -> list[dict]:
        """POSTs received on response URLs: ``[{"name", "body", "at"}]``, oldest first."""
        with self._world.lock:
            return copy.deepcopy(self._world.response_posts)

    def responses(self, name: str) -> list[dict]:
        """What the app POSTed to the response_url ``name``, oldest first."""
        return [post["body"] for post in self.response_url_posts() if post["name"] == name]

    def views(self) -> list[dict]:
        """views.open/update/publish calls: ``[{"method", "trigger_id", "user_id", "view"}]``."""
        with self._world.lock:
            return copy.deepcopy(self._world.view_log)

    def downloads(self) -> list[Download]:
        """Requests for hosted files' bytes (``url_private``), oldest first, with their token."""
        return self._api.files.recorded()

    @property
    def spec_violations(self) -> list[str]:
        """Spec violations seen so far (refused in strict mode, only recorded otherwise)."""
        return self._api.violations()

    # -- fault injection ---------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        error: str | None = "internal_error",
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (after sleeping ``delay`` seconds).

        ``status=429`` answers ``ratelimited`` (unless another ``error`` is given) with a
        ``Retry-After`` header (``retry_after``, default 1). ``error=None`` only delays.
        """
        if status == 429 and error == "internal_error":
            error = "ratelimited"
        self._api.add_fault(method, Fault(error, status, retry_after, times, delay))

    def fail_download(self, status: int = 500, *, times: int = 1, delay: float = 0.0) -> None:
        """Make the next ``times`` file downloads answer ``status`` after ``delay`` seconds
        (``status=200`` with a delay: a slow download that then succeeds)."""
        self._api.files.fail(status, times, delay)

    def set_latency(self, method: str, seconds: float) -> None:
        """Make every call of ``method`` sleep first (0 to clear); it still takes effect."""
        self._api.set_latency(method, seconds)


class EventsMixin:
    """Events API envelopes built from the emulator's state, and their delivery."""

    _world: World
    team_id: str
    enterprise_id: str | None
    bot_user_id: str
    app_id: str
    event_url: str | None
    signing_secret: str | None
    response_url: Callable[..., str]

    # -- events ------------------------------------------------------------------------------

    def slash_command(
        self, command: str, text: str, *, user: str, channel: str, team: str | None = None
    ) -> tuple[str, str]:
        """The form body Slack POSTs when ``user`` (of ``team``, default the installing org)
        runs ``command text`` in ``channel``, and the name of its response_url (``responses``
        reads what the app answers there)."""
        name = f"cmd-{secrets.token_hex(6)}"
        body = slash_command_body(
            command=command,
            text=text,
            user_id=user,
            team_id=team or self.team_id,
            channel_id=channel,
            response_url=self.response_url(name),
        )
        return body, name

    def event_context(self, channel: str, author: str | None = None) -> dict[str, Any]:
        """Keyword arguments of the ``sandbox.slack_events`` builders for a channel and author."""
        world = self._world
        with world.lock:
            record = world.channel(channel)
            author_team = world.team_of(author) if author else self.team_id
            channel_type = "im" if record.get("is_im") else "channel"
            if record["is_private"]:
                channel_type = "group"
            return {
                "channel": channel,
                "installed_team_id": self.team_id,
                "installed_enterprise_id": self.enterprise_id,
                "bot_user_id": self.bot_user_id,
                "api_app_id": self.app_id,
                "is_ext_shared_channel": record["is_ext_shared"],
                "author_team_id": author_team,
                "author_enterprise_id": world.teams.get(author_team, {}).get("enterprise_id"),
                "channel_type": channel_type,
            }

    def message_event(self, channel: str, ts: str) -> dict[str, Any]:
        """The ``message`` event envelope Slack would send for a stored human message."""
        with self._world.lock:
            message = self._world.message(channel, ts)
            context = self.event_context(channel, message.get("user"))
            user = self._world.users.get(message.get("user", ""), {})
            profile = user.get("profile", {})
            context["user_profile"] = {
                "avatar_hash": profile.get("avatar_hash", ""),
                "image_72": profile.get("image_72", ""),
                "first_name": profile.get("first_name", ""),
                "real_name": profile.get("real_name", ""),
                "display_name": profile.get("display_name", ""),
                "team": context["author_team_id"],
                "name": user.get("name", ""),
                "is_restricted": user.get("is_restricted", False),
                "is_ultra_restricted": user.get("is_ultra_restricted", False),
            }
            return message_envelope(copy.deepcopy(message), **context)

    def deliver_event(self, body: dict[str, Any], **kwargs: Any) -> tuple[int, bytes]:
        """Sign and POST an envelope to ``event_url`` (see ``slack_events.deliver``)."""
        if not self.event_url or not self.signing_secret:
            raise RuntimeError("SlackEmulator needs event_url and signing_secret to deliver")
        return deliver(self.event_url, body, self.signing_secret, **kwargs)

    def _after_call(
        self, method: str, caller: Caller, args: dict[str, Any], answer: dict[str, Any]
    ) -> None:
        """Echo the bot's own messages back as events, as Slack does (when event_url is set)."""
        if method != "chat.postMessage" or not (self.event_url and self.signing_secret):
            return
        context = self.event_context(answer["channel"])
        context["author_team_id"] = caller.team_id
        body = bot_message_envelope(answer["message"], **context)
        threading.Thread(
            target=self._deliver_quietly, args=(body,), name="slack-emulator-echo", daemon=True
        ).start()

    def _deliver_quietly(self, body: dict[str, Any]) -> None:
        try:
            self.deliver_event(body)
        except OSError:
            logger.warning("could not deliver bot message event to %s", self.event_url)
