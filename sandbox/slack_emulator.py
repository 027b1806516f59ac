"""A local Slack Web API emulator: a developer tool and the tests' fake Slack.

``SlackEmulator`` serves Slack's Web API wire format on ``127.0.0.1`` so the real
``slack_sdk.WebClient(base_url=emu.api_url)`` (and slack_bolt through it) can run against it::

    with SlackEmulator() as emu:
        emu.add_user("U1", team_id="T0ACME", name="alice")
        emu.add_channel("C1", "support")
        client = WebClient(token=emu.bot_token, base_url=emu.api_url)
        client.chat_postMessage(channel="C1", text="hi")
        assert emu.messages("C1")[0]["text"] == "hi"

Calls are checked against Slack's spec (see ``sandbox.slack_spec``), recorded, and can be made
to fail or to be slow. ``SlackEmulator(limits=F)`` enforces Slack's rate limits at F times
Slack's rates (``sandbox.slack_limits``). Run ``python -m sandbox`` for a standalone server.
"""

from __future__ import annotations

import copy
import threading
import uuid
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from sandbox.slack_emulator_mixins import EventsMixin, InspectionMixin
from sandbox.slack_limits import RateLimiter
from sandbox.slack_methods_chat import react, unreact
from sandbox.slack_methods_read import channel_object
from sandbox.slack_oauth import OAuthServer
from sandbox.slack_state import Caller, World
from sandbox.slack_wsgi import Call, QuietRequestHandler, SlackApi

__all__ = ["Call", "SlackEmulator"]


class SlackEmulator(InspectionMixin, EventsMixin):
    """Slack Web API emulator on a free local port; see the module docstring.

    Inspection, fault injection and event helpers come from ``sandbox.slack_emulator_mixins``.
    """

    def __init__(
        self,
        *,
        team_id: str = "T0ACME",
        team_name: str = "Acme",
        enterprise_id: str | None = None,
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0APP",
        bot_token: str = "xoxb-test-token",
        strict: bool = True,
        bot_name: str = "triage",
        event_url: str | None = None,
        signing_secret: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: float | None = None,
    ):
        """``limits``: answer 429 like Slack over its published rates times this factor
        (``None``, the default: no limiter at all)."""
        self.team_id = team_id
        self.enterprise_id = enterprise_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_token = bot_token
        self.event_url = event_url
        self.signing_secret = signing_secret
        self._host, self._port = host, port
        self._world = World(app_id=app_id, host_team_id=team_id)
        self._api = SlackApi(self._world, strict=strict, after_call=self._after_call, limits=limits)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._world.add_team(team_id, team_name, enterprise_id)
        self._world.add_user(
            bot_user_id, team_id=team_id, name=bot_name, is_bot=True, bot_id=bot_id
        )
        self._world.add_bot(bot_id, user_id=bot_user_id, name=bot_name)
        self._world.add_token(bot_token, team_id, bot_user_id, bot_id)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SlackEmulator:
        """Start serving in a daemon thread; returns ``self``."""
        if self._server is not None:
            return self
        self._server = make_server(
            self._host, self._port, self._api, threaded=True, request_handler=QuietRequestHandler
        )
        self._world.base_url = f"http://{self._host}:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (in-flight slow calls finish in their own daemon threads)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/api/``: what ``WebClient(base_url=...)`` / SLACK_API_URL get."""
        return f"{self._world.base_url}/api/"

    @property
    def strict(self) -> bool:
        """Whether spec violations are refused (``invalid_arguments``) or only recorded."""
        return self._api.strict

    @strict.setter
    def strict(self, value: bool) -> None:
        self._api.strict = value

    # -- rate limits (``limits=F``; all zero without) ----------------------------------------

    @property
    def limits(self) -> float | None:
        """The factor F Slack's rates are multiplied by, or ``None`` when nothing is limited."""
        return self._api.limiter.factor if self._api.limiter is not None else None

    @limits.setter
    def limits(self, factor: float | None) -> None:
        """Start (or stop, with None) enforcing Slack's rates times `factor`, from full buckets."""
        self._api.limiter = RateLimiter(factor) if factor is not None else None

    def ratelimited_count(self, method: str | None = None) -> int:
        """How many calls the rate limiter answered with 429 (all methods, or ``method``'s);
        injected faults (``fail(status=429)``) are not counted."""
        limiter = self._api.limiter
        return limiter.ratelimited_count(method) if limiter is not None else 0

    def ratelimited_by_method(self) -> dict[str, int]:
        """The rate limiter's 429s so far, per method."""
        limiter = self._api.limiter
        return limiter.ratelimited_by_method() if limiter is not None else {}

    def early_calls(self, method: str | None = None) -> int:
        """Calls that came for a (workspace, method[, channel]) before the end of the last
        Retry-After given for it: what Slack punishes; a client honouring Retry-After makes
        none. Each such recorded ``Call`` has ``early=True``."""
        limiter = self._api.limiter
        return limiter.early_count(method) if limiter is not None else 0

    def reset_limits(self) -> None:
        """Full buckets, no Retry-After pending and zero counts (e.g. between bench rounds)."""
        if self._api.limiter is not None:
            self._api.limiter.reset()

    # -- world building ----------------------------------------------------------------------

    def add_team(self, team_id: str, name: str, enterprise_id: str | None = None) -> dict:
        """Add a workspace (e.g. a customer's, for Slack Connect); returns its team.info."""
        return self._world.add_team(team_id, name, enterprise_id)

    def add_user(self, user_id: str, *, team_id: str, name: str, **details: Any) -> dict:
        """Add a user of any team (externals allowed); returns its users.info object.

        ``details``: the keywords of ``World.add_user`` (real_name, email, is_bot, deleted,
        tz, is_admin, bot_id)."""
        return self._world.add_user(user_id, team_id=team_id, name=name, **details)

    def add_channel(self, channel_id: str, name: str, **options: Any) -> dict:
        """Add a channel; returns its conversations.info object as the bot sees it.

        ``options``: the keywords of ``SlackState.add_channel`` (is_ext_shared,
        connected_team_ids, is_private, members). ``members=None`` means everybody is a member
        (the bot included); with a list, the bot must be in it to post or read (else
        ``not_in_channel``).
        """
        with self._world.lock:
            self._world.add_channel(channel_id, name, **options)
            return channel_object(self._world, self._bot, channel_id, num_members=True)

    def add_member(self, channel: str, user: str) -> None:
        """Add ``user`` to a channel that has a members list."""
        with self._world.lock:
            members = self._world.channel(channel)["members"]
            if members is not None and user not in members:
                members.append(user)

    def add_token(self, token: str, team_id: str, user_id: str, bot_id: str | None = None) -> None:
        """Accept another token (e.g. a second workspace's bot, or a user token)."""
        self._world.add_token(token, team_id, user_id, bot_id)

    def enable_oauth(
        self, client_id: str, client_secret: str, *, token_lifetime: int | None = None
    ) -> OAuthServer:
        """Act as Slack's OAuth for one app: `/oauth/v2/authorize` and `oauth.v2.access`.

        `token_lifetime` (seconds) turns token rotation on: tokens expire, refresh tokens come."""
        oauth = OAuthServer(self._world, client_id, client_secret, token_lifetime)
        self._api.oauth = oauth
        self._api.extra_routes["/oauth/v2/authorize"] = oauth.authorize
        return oauth

    def add_usergroup(self, group_id: str, handle: str, users: list[str]) -> dict:
        """Add a user group (``usergroups.users.list``); returns ``{id, handle, users}``."""
        group = {"id": group_id, "handle": handle, "users": list(users)}
        with self._world.lock:
            self._world.usergroups[group_id] = group
        return copy.deepcopy(group)

    def set_presence(self, user: str, presence: str) -> None:
        """Set what ``users.getPresence`` answers for ``user`` (``"active"`` / ``"away"``)."""
        with self._world.lock:
            self._world.presence[user] = presence

    def expire_trigger(self, trigger_id: str) -> None:
        """Make ``views.open`` with this trigger id fail with ``expired_trigger_id``."""
        with self._world.lock:
            self._world.expired_triggers.add(trigger_id)

    # -- humans acting -----------------------------------------------------------------------

    def post_as_user(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
        ts: str | None = None,
    ) -> dict:
        """Store a message as if ``user`` typed it in Slack; returns the stored message.

        ``ts`` posts it in the past (history for ``triage backfill``); post a channel's past
        messages oldest first, before any live ones, so history keeps Slack's order. A file
        with ``content`` (bytes) and ``mimetype`` is hosted: its ``url_private`` serves it to
        a bot token of the channel (``sandbox.slack_files``)."""
        world = self._world
        with world.lock:
            world.channel(channel)
            team = world.team_of(user)
            message: dict[str, Any] = {
                "user": user,
                "type": "message",
                "ts": ts or world.next_ts(),
                "client_msg_id": str(uuid.uuid4()),
                "text": text,
                "team": team,
                "user_team": team,
                "source_team": team,
            }
            if text:
                message["blocks"] = [_rich_text_block(text)]
            if files:  # a file with "content" is hosted and downloadable (sandbox.slack_files)
                message["files"] = [
                    self._api.files.host(channel, user, file)
                    if "content" in file
                    else {"id": world.next_id("F"), **file, "user": user}
                    for file in files
                ]
                message["upload"] = "content" in files[0]
            if thread_ts:
                message["thread_ts"] = world.thread_root(channel, thread_ts)
            world.store(channel, message)
            return copy.deepcopy(message)

    def edit_message(self, channel: str, ts: str, text: str) -> dict:
        """Edit a stored message as its author would; returns the new version."""
        world = self._world
        with world.lock:
            stored = world.message(channel, ts)
            stored["text"] = text
            if any(b.get("type") == "rich_text" for b in stored.get("blocks", [])):
                stored["blocks"] = [_rich_text_block(text)]
            stored["edited"] = {"user": stored.get("user", ""), "ts": world.next_ts()}
            return world.render(channel, stored)

    def delete_message(self, channel: str, ts: str) -> dict:
        """Delete a stored message (a parent with replies becomes a tombstone); returns it."""
        with self._world.lock:
            return copy.deepcopy(self._world.remove(channel, ts))

    def add_reaction(self, channel: str, ts: str, name: str, user: str) -> None:
        """Add ``user``'s reaction to a message."""
        with self._world.lock:
            react(self._world, self._world.message(channel, ts), name, user)

    def remove_reaction(self, channel: str, ts: str, name: str, user: str) -> None:
        """Remove ``user``'s reaction from a message."""
        with self._world.lock:
            unreact(self._world.message(channel, ts), name, user)

    @property
    def _bot(self) -> Caller:
        return self._world.tokens[self.bot_token]


def _rich_text_block(text: str) -> dict[str, Any]:
    """The rich_text block Slack attaches to a typed message."""
    return {
        "type": "rich_text",
        "block_id": uuid.uuid4().hex[:5],
        "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
    }
