"""`triage backfill` (SPEC §6.4): learn who answers what from shared channels' history.

For each shared channel (or `--channel`), `conversations.history` is read page by page over
the last N days, and each thread a customer started is read with `conversations.replies`.
The people of the organisation who replied are its answerers, each credited with their share
of the reply text, with the 👍/👎 on their replies and whether the customer came back after
the last answer (reopened). Evidence is keyed by thread and person, so a second run learns
nothing twice; each page's evidence and the next page's cursor are committed together, so an
interrupted run resumes at the page it stopped on.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from integrations.deps import Deps
from integrations.slack import RATE_LIMIT_RETRIES, patient_client, slack_error
from integrations.store.backfill_models import BackfillCursor
from integrations.store.db import transaction
from integrations.store.models import Evidence
from workers.expertise import evidence_rows
from workers.triage_model import classify_offline

log = structlog.get_logger(__name__)

PAGE = 200  # history messages per call
# A backfill reads thousands of pages at Tier 3 limits: it waits out this many 429s in a
# row (each as long as Slack's `Retry-After` says) where a job would give up after a couple.
RATE_LIMIT_WAITS = RATE_LIMIT_RETRIES + 8
UP = {"+1", "thumbsup"}
DOWN = {"-1", "thumbsdown"}
UNREADABLE = {"not_in_channel", "channel_not_found", "missing_scope", "is_archived"}


class Progress(Protocol):
    """Where a backfill reports what it did (a rich bar, plain lines, or nothing)."""

    def channel(self, channel_id: str, index: int, total: int) -> None: ...
    def advance(self, channel_id: str, threads: int, messages: int) -> None: ...


class Silent:
    """No progress output."""

    def channel(self, channel_id: str, index: int, total: int) -> None:
        pass

    def advance(self, channel_id: str, threads: int, messages: int) -> None:
        pass


@dataclass
class BackfillReport:
    channels: int = 0
    threads: int = 0
    messages: int = 0
    learned: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)  # channels the bot cannot read


class Interrupted(Exception):
    """Raised by a `stop_after_pages` limit: a deterministic stand-in for Ctrl-C."""


def backfill(
    deps: Deps,
    *,
    days: float,
    channel: str | None = None,
    progress: Progress | None = None,
    stop_after_pages: int | None = None,
    page_size: int = PAGE,
) -> BackfillReport:
    """Learn from the last `days` of history; resumes an interrupted run of a channel."""
    started = time.monotonic()
    progress = progress or Silent()
    channels = _channels(deps, channel)
    report = BackfillReport(channels=len(channels))
    pages = 0
    for index, (channel_id, people) in enumerate(channels, 1):
        progress.channel(channel_id, index, len(channels))
        window = _window(deps, channel_id, days)
        try:
            for threads, messages, learned in _pages(deps, channel_id, window, people, page_size):
                report.threads += threads
                report.messages += messages
                report.learned += learned
                progress.advance(channel_id, threads, messages)
                pages += 1
                if stop_after_pages is not None and pages >= stop_after_pages:
                    raise Interrupted(f"stopped after {pages} pages")
        except SlackApiError as exc:
            if slack_error(exc) not in UNREADABLE:
                raise
            log.warning("backfill.channel_skipped", channel=channel_id, error=slack_error(exc))
            report.skipped.append(channel_id)
    report.seconds = time.monotonic() - started
    log.info("backfill.done", **report.__dict__)
    return report


def _channels(deps: Deps, only: str | None) -> list[tuple[str, _People]]:
    """Each channel to read, with the people of the workspace whose installation reads it."""
    found: list[tuple[str, _People]] = []
    for installed in deps.slack_clients.each():  # every workspace that installed the app
        slack = patient_client(installed, RATE_LIMIT_WAITS)
        people = _people_of(slack)
        if only is None:
            found += [(channel_id, people) for channel_id in shared_channels(slack)]
        elif _can_read(slack, only):
            return [(only, people)]
    if only is not None:  # no workspace can read it: the home one tries, and says why
        return [(only, _people_of(patient_client(deps.slack, RATE_LIMIT_WAITS)))]
    return found


def _people_of(slack: WebClient) -> _People:
    auth = slack.auth_test()
    return _People(slack, {str(auth[key]) for key in ("team_id", "enterprise_id") if auth.get(key)})


def _can_read(slack: WebClient, channel: str) -> bool:
    try:
        slack.conversations_info(channel=channel)
        return True
    except SlackApiError:
        return False


def shared_channels(slack: WebClient) -> list[str]:
    """The externally shared channels the bot is in."""
    found: list[str] = []
    cursor = None
    while True:
        page = slack.users_conversations(
            types="public_channel,private_channel",
            exclude_archived=True,
            limit=200,
            cursor=cursor,
        )
        found += [c["id"] for c in page["channels"] if c.get("is_ext_shared")]
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return found


@dataclass(frozen=True)
class _Window:
    oldest: str
    latest: str
    cursor: str | None


def _window(deps: Deps, channel_id: str, days: float) -> _Window:
    """The run's window: an unfinished one resumes, else a new one ending now."""
    now = datetime.now(UTC)
    with transaction(deps.sessions) as session:
        row = session.scalars(
            select(BackfillCursor).where(BackfillCursor.channel_id == channel_id)
        ).first()
        if row is not None and row.finished_at is None:
            log.info("backfill.resumed", channel=channel_id, cursor=bool(row.next_cursor))
            return _Window(row.oldest, row.latest, row.next_cursor)
        if row is None:
            row = BackfillCursor(channel_id=channel_id)
            session.add(row)
        row.oldest = f"{(now - timedelta(days=days)).timestamp():.6f}"
        row.latest = f"{now.timestamp():.6f}"
        row.next_cursor, row.finished_at, row.started_at = None, None, now
        row.threads = row.messages = 0
        return _Window(row.oldest, row.latest, None)


def _pages(
    deps: Deps, channel_id: str, window: _Window, people: _People, page_size: int
) -> Iterator[tuple[int, int, int]]:
    """Read the window page by page; yields (threads, messages, learned) per committed page."""
    cursor = window.cursor
    while True:
        page = people.slack.conversations_history(
            channel=channel_id,
            oldest=window.oldest,
            latest=window.latest,
            inclusive=True,
            limit=page_size,
            cursor=cursor,
        )
        messages = page.get("messages") or []
        evidence: list[Evidence] = []
        threads, seen = 0, len(messages)
        for parent in messages:
            if not parent.get("reply_count") or not people.is_customer(parent):
                continue
            thread = _replies(people.slack, channel_id, parent["ts"])
            threads += 1
            seen += len(thread) - 1
            evidence += thread_evidence(channel_id, thread, people)
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        learned = _commit(deps, channel_id, evidence, cursor, threads, seen)
        yield threads, seen, learned
        if cursor is None:
            return


def _replies(slack: WebClient, channel_id: str, ts: str) -> list[dict[str, Any]]:
    """The whole thread, parent first."""
    thread: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = slack.conversations_replies(channel=channel_id, ts=ts, limit=1000, cursor=cursor)
        messages = page.get("messages") or []
        thread += messages if not thread else messages[1:]  # the parent comes on every page
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return thread


def thread_evidence(
    channel_id: str, thread: list[dict[str, Any]], people: _People
) -> list[Evidence]:
    """Who of the organisation answered this customer thread, on what question, how well."""
    parent, replies = thread[0], thread[1:]
    question = [parent.get("text") or ""]
    chars: dict[str, int] = {}
    said: dict[str, list[str]] = {}
    first: dict[str, str] = {}
    up: dict[str, int] = {}
    down: dict[str, int] = {}
    last_answer = last_customer = ""
    texts = {m["ts"]: m.get("text") or "" for m in replies}
    for message in replies:
        if people.is_customer(message):
            if not chars:  # the customer's follow-ups before any answer are the question
                question.append(message.get("text") or "")
            last_customer = message["ts"]
        elif people.is_colleague(message):
            user = str(message["user"])
            if _hands_off(message, user):  # "Looping in <@U…>": the mentioned one answers
                continue
            chars[user] = chars.get(user, 0) + len(message.get("text") or "")
            said.setdefault(user, []).append(message.get("text") or "")
            first.setdefault(user, message["ts"])
            last_answer = message["ts"]
            for reaction in message.get("reactions") or []:
                if reaction.get("name") in UP:
                    up[user] = up.get(user, 0) + int(reaction.get("count", 0))
                elif reaction.get("name") in DOWN:
                    down[user] = down.get(user, 0) + int(reaction.get("count", 0))
    total = sum(chars.values())
    if not total:
        return []
    # The customer came back after the last answer with more than a thank-you.
    reopened = last_customer > last_answer and classify_offline(texts[last_customer]).needs_reply
    return [
        Evidence(
            source_key=f"thread:{channel_id}:{parent['ts']}",
            user_id=user,
            kind="history",
            channel_id=channel_id,
            question="\n".join(q for q in question if q),
            answer="\n".join(said[user]),
            share=count / total,
            up=up.get(user, 0),
            down=down.get(user, 0),
            reopened=reopened,
            answered_at=datetime.fromtimestamp(float(first[user]), UTC),
        )
        for user, count in chars.items()
    ]


_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
HAND_OFF_CHARS = 160  # a reply this short that mentions a colleague is a hand-off


def _hands_off(message: dict[str, Any], author: str) -> bool:
    """A short reply that brings in someone else ("Looping in <@U…>") is not an answer."""
    text = message.get("text") or ""
    others = {m for m in _MENTION.findall(text) if m != author}
    return bool(others) and len(_MENTION.sub("", text)) <= HAND_OFF_CHARS


def _commit(
    deps: Deps,
    channel_id: str,
    evidence: list[Evidence],
    cursor: str | None,
    threads: int,
    messages: int,
) -> int:
    """Store a page's new evidence and where to go next, in one transaction."""
    with transaction(deps.sessions) as session:
        known = evidence_rows(session, sorted({e.source_key for e in evidence}))
        new = [e for e in evidence if (e.source_key, e.user_id) not in known]
        session.add_all(new)
        row = session.scalars(
            select(BackfillCursor).where(BackfillCursor.channel_id == channel_id)
        ).one()
        row.next_cursor = cursor
        row.threads += threads
        row.messages += messages
        if cursor is None:
            row.finished_at = datetime.now(UTC)
        return len(new)


class _People:
    """Whether a message's author is a customer, a colleague, or neither (bots, the app)."""

    def __init__(self, slack: WebClient, ours: set[str]) -> None:
        self.slack, self.ours = slack, ours
        self.teams: dict[str, str | None] = {}

    def _team(self, message: dict[str, Any]) -> str | None:
        team = message.get("user_team") or message.get("team")
        if team:
            return str(team)
        user = message.get("user")
        if not user:
            return None
        if user not in self.teams:
            try:
                info = self.slack.users_info(user=user)["user"]
                self.teams[user] = None if info.get("is_bot") else info.get("team_id")
            except SlackApiError as exc:
                log.info("backfill.user_unknown", user=user, error=slack_error(exc))
                self.teams[user] = None
        return self.teams[user]

    def _person(self, message: dict[str, Any]) -> bool:
        subtype = message.get("subtype")
        return (
            bool(message.get("user"))
            and not message.get("bot_id")
            and subtype
            in (
                None,
                "thread_broadcast",
            )
        )

    def is_customer(self, message: dict[str, Any]) -> bool:
        team = self._team(message) if self._person(message) else None
        return team is not None and team not in self.ours

    def is_colleague(self, message: dict[str, Any]) -> bool:
        return self._person(message) and self._team(message) in self.ours
