"""In-memory Slack workspace state behind the Slack emulator (developer tool / tests' fake Slack).

Everything is plain dicts shaped like Slack's own objects so that what the emulator answers is
close to the wire format of the real Web API. One re-entrant lock guards the whole world; the
HTTP handlers and the test-facing ``SlackEmulator`` methods take it for every read and write.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Message = dict[str, Any]


class SlackError(Exception):
    """An ``{"ok": false, "error": ...}`` answer raised by a method handler."""

    def __init__(self, error: str, *, status: int = 200, extra: dict[str, Any] | None = None):
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra or {}


@dataclass(frozen=True)
class Caller:
    """Who a token belongs to."""

    token: str
    team_id: str
    user_id: str
    bot_id: str | None = None
    enterprise_id: str | None = None


def domain_of(name: str) -> str:
    """Return a Slack-like workspace domain for a team name ("Acme Corp" -> "acme-corp")."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "team"


def tz_details(tz: str) -> tuple[str, int]:
    """Return ``(tz_label, tz_offset_seconds)`` for an IANA zone name (UTC when unknown)."""
    try:
        now = datetime.now(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return "Coordinated Universal Time", 0
    offset = now.utcoffset()
    return now.tzname() or tz, int(offset.total_seconds()) if offset else 0


class World:
    """All emulated Slack state: teams, users, channels, messages, views and recordings."""

    def __init__(self, *, app_id: str, host_team_id: str):
        self.lock = threading.RLock()
        self.app_id = app_id
        self.host_team_id = host_team_id
        self.base_url = ""
        self.teams: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.bots: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, Caller] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Message]] = {}
        self.usergroups: dict[str, dict[str, Any]] = {}
        self.presence: dict[str, str] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, str] = {}
        self.view_log: list[dict[str, Any]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.response_posts: list[dict[str, Any]] = []
        self.response_targets: dict[str, dict[str, Any]] = {}
        self.expired_triggers: set[str] = set()
        self._last_us = 0
        self._counter = 0

    # -- identifiers -------------------------------------------------------------------------

    def next_ts(self) -> str:
        """Return a fresh message timestamp, unique and strictly increasing across the world."""
        with self.lock:
            now_us = int(time.time() * 1_000_000)
            self._last_us = max(now_us, self._last_us + 1)
            return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def next_id(self, prefix: str) -> str:
        """Return a fresh Slack-looking id such as ``V0000000007``."""
        with self.lock:
            self._counter += 1
            return f"{prefix}{self._counter:010d}"

    # -- world building ----------------------------------------------------------------------

    def add_team(self, team_id: str, name: str, enterprise_id: str | None = None) -> dict:
        """Register a workspace; returns its ``team.info`` object."""
        domain = domain_of(name)
        team: dict[str, Any] = {
            "id": team_id,
            "name": name,
            "url": f"https://{domain}.slack.com/",
            "domain": domain,
            "email_domain": "",
            "icon": {"image_default": True},
            "is_verified": False,
        }
        if enterprise_id:
            team.update(
                enterprise_id=enterprise_id,
                enterprise_name=f"{name} Org",
                enterprise_domain=f"{domain}-org",
            )
        with self.lock:
            self.teams[team_id] = team
            return copy.deepcopy(team)

    def add_user(
        self,
        user_id: str,
        *,
        team_id: str,
        name: str,
        real_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        tz: str = "America/New_York",
        is_admin: bool = False,
        bot_id: str | None = None,
    ) -> dict:
        """Register a user (of any team, Slack Connect externals included); returns users.info."""
        real = real_name if real_name is not None else name
        tz_label, tz_offset = tz_details(tz)
        first, _, last = real.partition(" ")
        profile: dict[str, Any] = {
            "title": "",
            "phone": "",
            "skype": "",
            "real_name": real,
            "real_name_normalized": real,
            "display_name": name,
            "display_name_normalized": name,
            "status_text": "",
            "status_emoji": "",
            "status_expiration": 0,
            "avatar_hash": "g0000000000",
            "first_name": first,
            "last_name": last,
            "image_72": f"https://secure.gravatar.com/avatar/{user_id}.png",
            "team": team_id,
        }
        if email:
            profile["email"] = email
        if bot_id:
            profile.update(bot_id=bot_id, api_app_id=self.app_id, always_active=True)
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": team_id,
            "name": name,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real,
            "tz": tz,
            "tz_label": tz_label,
            "tz_offset": tz_offset,
            "profile": profile,
            "is_admin": is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            "is_email_confirmed": bool(email),
            "who_can_share_contact_card": "EVERYONE",
        }
        with self.lock:
            team = self.teams.get(team_id, {})
            if team.get("enterprise_id"):
                user["enterprise_user"] = {
                    "id": user_id,
                    "enterprise_id": team["enterprise_id"],
                    "enterprise_name": team.get("enterprise_name", ""),
                    "is_admin": is_admin,
                    "is_owner": False,
                    "teams": [team_id],
                }
            self.users[user_id] = user
            self.presence.setdefault(user_id, "active")
            return copy.deepcopy(user)

    def add_bot(self, bot_id: str, *, user_id: str, name: str) -> dict:
        """Register an app's bot; returns its ``bots.info`` object."""
        bot = {
            "id": bot_id,
            "deleted": False,
            "name": name,
            "updated": int(time.time()),
            "app_id": self.app_id,
            "user_id": user_id,
            "icons": {
                "image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png",
                "image_48": "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png",
                "image_72": "https://a.slack-edge.com/80588/img/plugins/app/service_72.png",
            },
        }
        with self.lock:
            self.bots[bot_id] = bot
            return copy.deepcopy(bot)

    def add_token(
        self, token: str, team_id: str, user_id: str, bot_id: str | None = None
    ) -> Caller:
        """Accept ``token`` as belonging to ``user_id`` (a bot user when ``bot_id`` is set)."""
        with self.lock:
            enterprise_id = self.teams.get(team_id, {}).get("enterprise_id")
            caller = Caller(token, team_id, user_id, bot_id, enterprise_id)
            self.tokens[token] = caller
            return caller

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_ext_shared: bool = False,
        connected_team_ids: list[str] | None = None,
        is_private: bool = False,
        members: list[str] | None = None,
    ) -> dict:
        """Register a channel. ``members=None`` means everybody (the bot included) is in it."""
        record = {
            "id": channel_id,
            "name": name,
            "is_private": is_private,
            "is_ext_shared": is_ext_shared,
            "connected_team_ids": list(connected_team_ids or []),
            "members": list(members) if members is not None else None,
            "created": int(time.time()),
        }
        with self.lock:
            self.channels[channel_id] = record
            self.messages.setdefault(channel_id, {})
            return copy.deepcopy(record)

    # -- lookups (raise SlackError like the API would) ----------------------------------------

    def channel(self, channel_id: str | None) -> dict[str, Any]:
        """Return the channel record or raise ``channel_not_found``."""
        if not channel_id or channel_id not in self.channels:
            raise SlackError("channel_not_found")
        return self.channels[channel_id]

    def user(self, user_id: str | None) -> dict[str, Any]:
        """Return the user object or raise ``user_not_found``."""
        if not user_id or user_id not in self.users:
            raise SlackError("user_not_found")
        return self.users[user_id]

    def is_member(self, channel_id: str, user_id: str) -> bool:
        """Return whether ``user_id`` is in the channel (``members=None`` means everyone)."""
        members = self.channel(channel_id)["members"]
        return members is None or user_id in members

    def channel_members(self, channel_id: str) -> list[str]:
        """Return the member ids of a channel (all active users when it has no members list)."""
        members = self.channel(channel_id)["members"]
        if members is not None:
            return list(members)
        return [uid for uid, user in self.users.items() if not user["deleted"]]

    def require_member(self, channel_id: str, user_id: str) -> dict[str, Any]:
        """Return the channel record, raising ``not_in_channel`` when ``user_id`` is not in it."""
        record = self.channel(channel_id)
        if not self.is_member(channel_id, user_id):
            raise SlackError("not_in_channel")
        return record

    def message(self, channel_id: str, ts: str | None) -> Message:
        """Return the stored message or raise ``message_not_found``."""
        stored = self.messages.get(channel_id, {}).get(ts or "")
        if stored is None:
            raise SlackError("message_not_found")
        return stored

    def team_of(self, user_id: str) -> str:
        """Return the team id of a user (the host team for unknown users)."""
        return self.users.get(user_id, {}).get("team_id", self.host_team_id)

    # -- messages ----------------------------------------------------------------------------

    def thread_root(self, channel_id: str, thread_ts: str) -> str:
        """Normalise a ``thread_ts`` that points at a reply to the thread's parent ts."""
        parent = self.messages.get(channel_id, {}).get(thread_ts)
        if parent and parent.get("thread_ts") and parent["thread_ts"] != thread_ts:
            return parent["thread_ts"]
        return thread_ts

    def store(self, channel_id: str, message: Message) -> Message:
        """Store a message (``ts`` must be fresh); fills ``parent_user_id`` for replies."""
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            parent = self.messages.get(channel_id, {}).get(thread_ts)
            if parent is not None:
                message["parent_user_id"] = parent.get("user")
        self.messages.setdefault(channel_id, {})[message["ts"]] = message
        return message

    def replies(self, channel_id: str, parent_ts: str) -> list[Message]:
        """Return the replies of a thread in ascending ts order (parent excluded)."""
        return [
            msg
            for ts, msg in self.messages.get(channel_id, {}).items()
            if msg.get("thread_ts") == parent_ts and ts != parent_ts
        ]

    def top_level(self, channel_id: str) -> list[Message]:
        """Return channel-level messages (parents, plain messages, broadcasts), oldest first."""
        return [
            msg
            for ts, msg in self.messages.get(channel_id, {}).items()
            if msg.get("thread_ts") in (None, ts) or msg.get("subtype") == "thread_broadcast"
        ]

    def remove(self, channel_id: str, ts: str) -> Message:
        """Delete a message like Slack: a parent with replies becomes a tombstone."""
        stored = self.message(channel_id, ts)
        channel_messages = self.messages[channel_id]
        is_parent = stored.get("thread_ts") in (None, ts)
        if is_parent and self.replies(channel_id, ts):
            channel_messages[ts] = {
                "type": "message",
                "subtype": "tombstone",
                "text": "This message was deleted.",
                "user": "USLACKBOT",
                "hidden": True,
                "ts": ts,
                "thread_ts": ts,
            }
            return stored
        del channel_messages[ts]
        parent_ts = stored.get("thread_ts")
        if parent_ts and parent_ts != ts:
            parent = channel_messages.get(parent_ts)
            if (
                parent
                and parent.get("subtype") == "tombstone"
                and not self.replies(channel_id, parent_ts)
            ):
                del channel_messages[parent_ts]
        return stored

    def render(
        self, channel_id: str, message: Message, *, include_metadata: bool = True
    ) -> Message:
        """Return a copy of a stored message as the API shows it (thread fields, metadata)."""
        shown = copy.deepcopy(message)
        if not include_metadata:
            shown.pop("metadata", None)
        ts = shown["ts"]
        if shown.get("thread_ts") in (None, ts):
            replies = self.replies(channel_id, ts)
            if replies:
                users = list(dict.fromkeys(r.get("user") or r.get("bot_id") for r in replies))
                shown.update(
                    thread_ts=ts,
                    reply_count=len(replies),
                    reply_users_count=len(users),
                    latest_reply=replies[-1]["ts"],
                    reply_users=users,
                    is_locked=False,
                    subscribed=False,
                )
        return shown
