"""Context (SPEC §5.3): the customer's account, for the card and the drafter.

The channel's account is the one an admin linked (`triage link`), else the one whose channel
field holds the channel id. What the CRM says is cached in Redis per (channel, customer) for
`CONTEXT_CACHE_SECONDS`: a warm request costs no CRM call and no Slack call. `triage link`
and a Case the app opens drop the cache (`invalidate_context`).

The answer is a `RequestContext` (workers/stage_data.py), stored on the request and read by
the card and the drafter, with one of three statuses:

- `ok`: the `account`, its one-line mrkdwn `summary` and its plain-text `brief`
- `unlinked`, with the `reason`: a channel with no account still gets its card
- `unavailable`, with the `reason`: the CRM failed; the card says why

Only the channel's own account is ever read, so nothing of another customer reaches the card
or the prompt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel
from redis import Redis
from redis.exceptions import RedisError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from integrations.deps import Deps
from integrations.salesforce import CrmUnavailable, NewCase
from integrations.slack import refused_by_budget, slack_error
from integrations.slack_budget import waiting_at_most
from integrations.store.db import transaction
from integrations.store.models import ChannelLink
from workers.stage_data import Account, Case, RequestContext, stored

log = structlog.get_logger(__name__)

UNLINKED = "this channel is not linked to an account: /triage link <account id or name>"
NO_CRM = "no CRM configured: set SALESFORCE_* or ACCOUNTS_FILE"
_PAUSE_KEY = "triage:crm-pause"
_PRIORITY_RANK = {"critical": 0, "urgent": 0, "high": 1, "medium": 2, "normal": 2, "low": 3}


def gather_context(
    deps: Deps,
    *,
    channel_id: str,
    user_id: str,
    team: tuple[str | None, str | None] = (None, None),
) -> RequestContext:
    """The account context of a customer's request in a channel, or why there is none.

    `team` is the (team, enterprise) whose installation sees the channel and its customer."""
    directory = deps.accounts
    if directory is None:
        return RequestContext(status="unavailable", reason=NO_CRM)
    cached = _cache_get(deps.redis, channel_id, user_id, deps.settings.context_cache_seconds)
    if cached is not None:
        log.info("context.cached", channel=channel_id, status=cached.status)
        return present(cached, cached=True)
    paused = _paused(deps.redis)
    if paused:
        return RequestContext(status="unavailable", reason=paused)
    account_id = linked_account(deps, channel_id)
    email, asked = _customer_email(deps.slack_for(*team), user_id)
    try:
        answer = directory.context(
            channel_id=channel_id, account_id=account_id, customer_email=email
        )
    except CrmUnavailable as exc:
        log.warning("context.unavailable", channel=channel_id, reason=exc.reason)
        if exc.pause_seconds:
            _pause(deps.redis, exc.reason, exc.pause_seconds)
        return RequestContext(status="unavailable", reason=exc.reason)
    if answer is None:  # no account has this channel, or the linked one is gone
        entry = Found(status="unlinked", source=directory.mode, missing_account_id=account_id)
    else:
        account = Account.from_crm(answer)
        if account.owner:
            account.owner.slack_user_id = _slack_user(deps, account.owner.email)
        for case in account.open_cases[:CASE_OWNERS_LOOKED_UP]:
            if case.owner:  # the account team includes who works its cases
                case.owner.slack_user_id = _slack_user(deps, case.owner.email)
        entry = Found(status="ok", source=directory.mode, account=account)
    log.info("context.gathered", channel=channel_id, status=entry.status, linked=bool(account_id))
    if asked:  # without the customer's email, their Contact is looked for again next time
        _cache_put(deps.redis, channel_id, user_id, entry, deps.settings.context_cache_seconds)
    return present(entry, cached=False)


class Found(BaseModel):
    """What the CRM said of a channel, as cached: its account, or that it has none."""

    status: Literal["ok", "unlinked"]
    source: str | None = None
    account: Account | None = None
    missing_account_id: str | None = None  # the linked account the CRM no longer has


def linked_account(deps: Deps, channel_id: str) -> str | None:
    """The account an admin linked this channel to, if any."""
    with transaction(deps.sessions) as session:
        return session.scalars(
            select(ChannelLink.account_id).where(ChannelLink.channel_id == channel_id)
        ).first()


def invalidate_context(
    redis: Redis, *, channel_id: str | None = None, account_id: str | None = None
) -> None:
    """Forget cached context: of a channel (it was linked anew), or of every channel of an
    account (a Case was opened on it). Never fails: the TTL bounds a missed invalidation."""
    try:
        keys = [_key(channel_id)] if channel_id else []
        if account_id:
            index = _account_key(account_id)
            members: Any = redis.smembers(index)
            keys += [_key(c.decode() if isinstance(c, bytes) else str(c)) for c in members]
            keys.append(index)
        if keys:
            redis.delete(*keys)
    except RedisError as exc:
        log.warning("context.invalidate_failed", error=type(exc).__name__)


def open_case(deps: Deps, case: NewCase) -> str:
    """Open a Case on the account (escalation, SPEC §6.2) and drop the account's cached
    context, so the next card counts it. CrmUnavailable when the CRM cannot."""
    if deps.accounts is None:
        raise CrmUnavailable(NO_CRM)
    case_id = deps.accounts.create_case(case)
    invalidate_context(deps.redis, account_id=case.account_id)
    return case_id


def change_case(deps: Deps, *, account_id: str, case_id: str, fields: dict[str, Any]) -> None:
    """Update a Case the app opened (priority, status...) and drop the account's cache."""
    if deps.accounts is None:
        raise CrmUnavailable(NO_CRM)
    deps.accounts.update_case(case_id, fields)
    invalidate_context(deps.redis, account_id=account_id)


# --- what the card and the drafter see ---------------------------------------------------------
def present(entry: Found, *, cached: bool, now: datetime | None = None) -> RequestContext:
    """What the CRM said as the request's context, its ages and days counted from `now`."""
    if entry.status != "ok" or entry.account is None:
        reason = UNLINKED
        if entry.missing_account_id:
            reason = (
                f"the account this channel is linked to ({entry.missing_account_id}) was not "
                "found: /triage link <account id or name>"
            )
        return RequestContext(status="unlinked", reason=reason, source=entry.source)
    now = now or datetime.now(UTC)
    account = entry.account
    return RequestContext(
        status="ok",
        source=entry.source,
        cached=cached,
        summary=account_summary(account, now),
        brief=account_brief(account, now),
        account=account,
    )


def account_summary(account: Account, now: datetime) -> str:
    """The card's line: name · tier · owner · open cases and the most urgent · renewal."""
    parts = [f"*{_mrkdwn(account.name or '?')}*"]
    if account.tier:
        parts.append(_mrkdwn(account.tier))
    owner = account.owner
    if owner and owner.slack_user_id:
        parts.append(f"owner <@{owner.slack_user_id}>")
    elif owner and owner.name:
        parts.append(f"owner {_mrkdwn(owner.name)}")
    cases = account.open_cases
    urgent = most_urgent_case(cases)
    if urgent is None:
        parts.append("no open cases")
    else:
        count = f"{len(cases)} open case{'s' if len(cases) != 1 else ''}"
        label = f"{urgent.number} " if urgent.number else ""
        subject = _mrkdwn(_clip(urgent.subject, 60))
        details = ", ".join(x for x in (urgent.priority, urgent.status, _age(urgent, now)) if x)
        most = "most urgent: " if len(cases) > 1 else ""
        parts.append(f"{count}, {most}{label}“{subject}” ({details})")
    renewal = _renewal(account, now)
    if renewal:
        parts.append(renewal)
    return " · ".join(parts)


def account_brief(account: Account, now: datetime) -> str:
    """Plain text for the drafter: this account only, no email addresses, no deal amounts."""
    lines = [f"Account: {account.name}"]
    if account.tier:
        lines.append(f"Support tier: {account.tier}")
    if account.owner and account.owner.name:
        lines.append(f"Account owner: {account.owner.name}")
    cases = account.open_cases
    lines.append(f"Open support cases: {len(cases)}")
    for case in sorted(cases, key=_urgency_rank)[:5]:
        lines.append(
            f"- Case {case.number or case.id}: {case.subject} "
            f"(status {case.status}, priority {case.priority}, "
            f"opened {_age(case, now) or 'recently'} ago)"
        )
    renewal = _renewal(account, now)
    if renewal:
        lines.append(f"Contract: {renewal} ({account.renewal_date})")
    if account.contact and account.contact.name:
        lines.append(f"The customer is the contact {account.contact.name}")
    return "\n".join(lines)


def most_urgent_case(cases: list[Case]) -> Case | None:
    """The open case to look at first: the highest priority, then the oldest."""
    return min(cases, key=_urgency_rank, default=None)


def _urgency_rank(case: Case) -> tuple[int, str]:
    opened = case.opened_at.isoformat() if case.opened_at else "9999"
    return _PRIORITY_RANK.get(case.priority.lower(), 4), opened


def _age(case: Case, now: datetime) -> str | None:
    if case.opened_at is None:
        return None
    opened = case.opened_at
    if opened.tzinfo is None:
        opened = opened.replace(tzinfo=UTC)
    seconds = max(0.0, (now - opened).total_seconds())
    return f"{int(seconds // 86400)}d" if seconds >= 86400 else f"{int(seconds // 3600)}h"


def _renewal(account: Account, now: datetime) -> str | None:
    if account.renewal_date is None:
        return None
    days = (account.renewal_date - now.date()).days
    if days == 0:
        return "renewal today"
    if days < 0:
        return f"renewal {-days} day{'s' if days != -1 else ''} overdue"
    return f"renewal in {days} day{'s' if days != 1 else ''}"


def _mrkdwn(text: str) -> str:
    """Slack's three control characters, escaped so a name like "O'Brien & Co" shows as is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Slack look-ups -----------------------------------------------------------------------------
# users.info is Tier 4 (~100 a minute) and each new customer needs one: on an outage morning
# hundreds of new customers write at once, and the account's context (its tier, owner, Cases)
# matters more than the writer's Contact. So the look-up never waits for a turn: on a quiet day
# there always is one; in a burst, whoever finds none goes without (measured: waiting even a
# second held 500 new customers to users.info's pace, 1.5 a second).
CUSTOMER_LOOKUP_WAIT_SECONDS = 0.0


def _customer_email(slack: WebClient, user_id: str) -> tuple[str | None, bool]:
    """The customer's email, for their Contact; Slack Connect may hide it (then None). And
    whether Slack was asked: False when the call budget had no turn for it in time."""
    try:
        with waiting_at_most(CUSTOMER_LOOKUP_WAIT_SECONDS):
            profile = slack.users_info(user=user_id)["user"].get("profile") or {}
    except SlackApiError as exc:
        if refused_by_budget(exc):
            log.info("context.customer_lookup_deferred", user=user_id)
            return None, False
        log.warning("context.customer_lookup_failed", user=user_id, error=slack_error(exc))
        return None, True
    return profile.get("email") or None, True


CASE_OWNERS_LOOKED_UP = 5  # users.lookupByEmail calls per context, at most, beyond the owner


# users.lookupByEmail is Tier 3 (~50 a minute): the same few owners would otherwise be looked
# up again for each new customer writing (the context is cached per channel and customer).
PEOPLE_CACHE_SECONDS = 3600  # who a colleague's email is in Slack
NOT_IN_SLACK_SECONDS = 600  # an email Slack does not know, asked again after this


def _slack_user(deps: Deps, email: str | None) -> str | None:
    """A CRM user's Slack user (the account owner, a case owner), by their email; the answer
    remembered in Redis (a Redis failure only costs the call)."""
    if not email:
        return None
    key = f"triage:slack-user-by-email:{hashlib.sha256(email.lower().encode()).hexdigest()[:24]}"
    try:
        known = deps.redis.get(key)
    except RedisError:
        known = None
    if known is not None:
        return known.decode() or None  # type: ignore[union-attr]
    try:
        user = deps.slack.users_lookupByEmail(email=email)["user"]
        found = None if user.get("deleted") else str(user["id"])
    except SlackApiError as exc:
        log.info("context.owner_not_in_slack", error=slack_error(exc))
        if slack_error(exc) not in ("users_not_found", "user_not_found"):
            return None  # rate limited, Slack down: not an answer to remember
        found = None
    with contextlib.suppress(RedisError):
        ttl = PEOPLE_CACHE_SECONDS if found else NOT_IN_SLACK_SECONDS
        deps.redis.set(key, found or "", ex=ttl)
    return found


# --- the cache -----------------------------------------------------------------------------------
def _key(channel_id: str) -> str:
    return f"triage:context:{channel_id}"


def _account_key(account_id: str) -> str:
    return f"triage:context-channels:{account_id}"


def _field(user_id: str) -> str:
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


def _cache_get(redis: Redis, channel_id: str, user_id: str, ttl: float) -> Found | None:
    if ttl <= 0:
        return None
    try:
        raw = redis.hget(_key(channel_id), _field(user_id))
    except RedisError as exc:
        log.warning("context.cache_unavailable", error=type(exc).__name__)
        return None
    if raw is None:
        return None
    cached = json.loads(raw)  # type: ignore[arg-type]
    return Found.model_validate(cached["entry"]) if time.time() - cached["at"] < ttl else None


def _cache_put(redis: Redis, channel_id: str, user_id: str, entry: Found, ttl: float) -> None:
    if ttl <= 0:
        return
    kept = json.dumps({"at": time.time(), "entry": stored(entry)})
    try:
        with redis.pipeline() as pipe:
            pipe.hset(_key(channel_id), _field(user_id), kept)
            pipe.expire(_key(channel_id), int(ttl) + 1)
            if entry.account is not None:
                index = _account_key(entry.account.id)
                pipe.sadd(index, channel_id)
                pipe.expire(index, int(ttl) + 1)
            pipe.execute()
    except RedisError as exc:
        log.warning("context.cache_unavailable", error=type(exc).__name__)


def _paused(redis: Redis) -> str | None:
    """Why the CRM is not being asked right now (after a spent limit, a hang), if it is not."""
    try:
        reason = redis.get(_PAUSE_KEY)
        left = redis.ttl(_PAUSE_KEY) if reason else 0
    except RedisError:
        return None
    if not reason:
        return None
    return f"{str(reason, 'utf-8')}; not asking again for {max(int(left), 1)} s"  # type: ignore[arg-type]


def _pause(redis: Redis, reason: str, seconds: float) -> None:
    with contextlib.suppress(RedisError):  # no pause without Redis: each request just asks
        redis.set(_PAUSE_KEY, reason, ex=max(1, int(seconds)))
