"""Who wrote a message, and does it matter to us? (SPEC §5.1). Pure: no I/O.

A message is a *customer* message when the channel is externally shared and the author's team
is not one of the installing organisation's (its team or its Enterprise Grid org). The
organisation's own people replying in a thread are *responses*; bots, joins, topic changes and
other subtypes are *ignored*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from integrations.store.models import EventKind

# Subtypes that carry a person's words; the rest (joins, topic, bot_message...) is noise.
_WORD_SUBTYPES = {None, "file_share", "thread_broadcast", "me_message"}


class Change(StrEnum):
    NEW = "new"
    EDIT = "edit"
    DELETE = "delete"


@dataclass(frozen=True)
class Installation:
    """The organisation that installed the app: whoever is in it is one of us.

    `also`: with OAuth installs, the organisation's other workspaces and Grid organisations
    (every installation of this deployment): their people are ours too, not customers."""

    team_id: str | None
    enterprise_id: str | None = None
    bot_user_id: str | None = None
    also: frozenset[str] = frozenset()

    def includes(self, team: str | None, enterprise: str | None = None) -> bool:
        ours = {t for t in (self.team_id, self.enterprise_id) if t} | self.also
        return bool(team and team in ours) or bool(
            enterprise and (enterprise == self.enterprise_id or enterprise in self.also)
        )


@dataclass(frozen=True)
class Classified:
    kind: EventKind
    reason: str
    change: Change = Change.NEW
    channel: str = ""
    ts: str = ""
    thread_ts: str | None = None
    user: str = ""
    user_team: str | None = None
    text: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        return bool(self.thread_ts and self.thread_ts != self.ts)

    @property
    def sent_at(self) -> datetime:
        """When the message was sent (its ts); now, when the ts is not a number."""
        try:
            return datetime.fromtimestamp(float(self.ts), UTC)
        except ValueError:
            return datetime.now(UTC)


def installation_from_body(body: dict[str, Any]) -> Installation:
    """The installing org as the envelope states it (`authorizations`, `context_*`)."""
    auths = body.get("authorizations") or [{}]
    return Installation(
        team_id=body.get("context_team_id") or auths[0].get("team_id") or body.get("team_id"),
        enterprise_id=body.get("context_enterprise_id") or auths[0].get("enterprise_id"),
        bot_user_id=auths[0].get("user_id"),
    )


def classify_message(body: dict[str, Any], installation: Installation) -> Classified:
    """Classify one `message` event envelope."""
    event = body.get("event") or {}
    channel = event.get("channel", "")
    subtype = event.get("subtype")
    shared = bool(body.get("is_ext_shared_channel"))

    if subtype == "message_deleted":
        # Whoever deleted it, a request built on this ts must be withdrawn; ingest looks it up.
        kind = EventKind.CUSTOMER if shared else EventKind.IGNORED
        return Classified(kind, "deleted", Change.DELETE, channel, event.get("deleted_ts", ""))
    if subtype == "message_changed":
        inner = dict(event.get("message") or {})
        change = Change.EDIT
    else:
        inner = event
        change = Change.NEW
        if subtype not in _WORD_SUBTYPES:
            return Classified(EventKind.IGNORED, f"subtype:{subtype}", change, channel)

    if inner.get("bot_id") or inner.get("subtype") == "bot_message":
        return Classified(EventKind.IGNORED, "bot", change, channel)
    user = inner.get("user") or ""
    if not user or user == installation.bot_user_id:
        return Classified(EventKind.IGNORED, "no person", change, channel)
    if not shared:
        return Classified(EventKind.IGNORED, "channel not shared", change, channel)

    author_team = (
        inner.get("user_team") or (inner.get("user_profile") or {}).get("team") or inner.get("team")
    )
    # In a Slack Connect envelope the top-level ids are the actor's org (context_* is ours).
    author_enterprise = body.get("enterprise_id") if body.get("context_team_id") else None
    ts = inner.get("ts") or event.get("ts", "")
    common = dict(
        change=change,
        channel=channel,
        ts=ts,
        thread_ts=inner.get("thread_ts"),
        user=user,
        user_team=author_team,
        text=inner.get("text") or "",
        files=[file_summary(f) for f in inner.get("files") or []],
    )
    if installation.includes(author_team, author_enterprise):
        if common["thread_ts"] and common["thread_ts"] != ts:
            return Classified(EventKind.RESPONSE, "colleague in thread", **common)  # type: ignore[arg-type]
        return Classified(EventKind.IGNORED, "internal author", **common)  # type: ignore[arg-type]
    return Classified(EventKind.CUSTOMER, "external author", **common)  # type: ignore[arg-type]


def file_summary(f: dict[str, Any]) -> dict[str, Any]:
    """What is kept of a Slack file object: enough to name it, show it and download it."""
    keep = ("id", "name", "title", "mimetype", "filetype", "permalink", "url_private", "size")
    return {k: f[k] for k in keep if k in f}
