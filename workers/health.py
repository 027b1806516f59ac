"""Account health (SPEC §6.7): a score from 0 to 100 with its reasons, in words, for the card's
account line and App Home. Computed from what we already store and the account's CRM context;
no model call, no Slack or Salesforce call.

The score starts at 100 and each signal takes points off, up to its cap:

| signal (window)                                   | points off            | cap |
|---------------------------------------------------|-----------------------|-----|
| open P1/P2 Cases (the CRM context: Priority P1, P2, High, Critical or Urgent) | 15 each | 30 |
| SLA breaches (`sla_clocks.breached_at`, 30 days)  | 10 each               | 30  |
| 👎 on our answers (answers posted in 30 days)     | 8 each                | 24  |
| unhappy CSAT answers (votes cast in 30 days)      | 8 each                | 16  |
| frustrated messages (the last 20, 14 days)        | 5 each                | 15  |
| requests triaged urgent or high (14 days)         | 5 each                | 10  |
| renewal within 60 days (the CRM context)          | 15 within 30 days, 8 within 60 | |

Levels: `good` from 80, `watch` from 50, `at risk` below. The reasons come worst first.

"Sentiment" here is deliberately cheap and honest: a small multilingual lexicon of frustration
and urgency markers (English, Spanish, Portuguese, French, German), and a repeated "!!",
over the account's recent customer messages, beside the urgency the triage classifier
already gave its recent requests. It is not a sentiment model; it counts messages that say
"still broken", "unacceptable", "¡urgente!" and the like.

Everything is read in two statements for any number of accounts (`accounts_health`): the
counts per account (breaches, 👎, CSAT, urgent requests, each joined to the accounts' requests
of the window), and the recent messages (the last 20 per account). Every statement filters on
`requests.account_key`: one account's troubles never count towards another's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from integrations.store.csat_models import CsatValue, CsatVote
from integrations.store.models import Draft, Request, RequestMessage, SlaClock
from workers.stage_data import RequestContext

WINDOW = timedelta(days=30)
RECENT = timedelta(days=14)  # the window of "recent" messages and requests
# A request's last message is no older than it (nor than its messages) by more than this: a
# message is stored when Slack delivers it, which a retry may delay; bounds an index range.
_LATE = timedelta(days=1)
RECENT_MESSAGES = 20  # per account
RENEWAL_DAYS = 60
SEVERE_PRIORITIES = {"p1", "p2", "high", "critical", "urgent"}  # CASE_PRIORITY: P1, P2 = High
GOOD, WATCH = 80, 50  # the lowest score of each level

_FRUSTRATION = re.compile(
    r"\b(?:"
    # English
    r"unacceptable|frustrat\w*|disappoint\w*|ridiculous|furious|angry|annoy\w*|"
    r"still (?:not|broken|down|waiting|failing)|yet again|asap|urgent\w*|escalat\w*|"
    r"cancel\w*|terrible|awful|worst|no response|nobody|"
    # Spanish / Portuguese
    r"inaceptable|inaceitável|urgente|otra vez|sigue sin|"
    r"molest\w*|decepcion\w*|horrível|péssimo|cancelar|ainda não|"
    # French
    r"inacceptable|toujours pas|déçu\w*|agacé\w*|annuler|"
    # German
    r"inakzeptabel|dringend|immer noch|schon wieder|enttäuscht|ärgerlich|kündigen"
    r")\b"
    r"|!!",  # "!!" and more
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Health:
    """An account's health: `score` 0–100, its `level` and the `reasons`, worst first."""

    score: int
    level: str  # good | watch | at risk
    reasons: list[str] = field(default_factory=list)

    def card_note(self, shown: str = "", most: int = 3) -> str:
        """What the card's account line gains: nothing for a healthy account (an approver
        needs an alarm, not a report), else the level and the `most` worst reasons the line
        does not say already (`shown`: it has the renewal), as in "🩺 at risk: 2 SLA breaches
        in 30 days · 1 👎 on our answers in 30 days"."""
        if self.level == "good":
            return ""
        reasons = [reason for reason in self.reasons if reason not in shown][:most]
        return f"🩺 {self.level}: " + " · ".join(reasons) if reasons else f"🩺 {self.level}"


@dataclass
class _Signals:
    severe_cases: int = 0
    breaches: int = 0
    thumbs_down: int = 0
    csat_bad: int = 0
    csat_answers: int = 0
    urgent: int = 0
    frustrated: int = 0
    renewal_days: int | None = None


def account_health(
    session: Session, account_key: str, context: RequestContext | None, now: datetime
) -> Health:
    """The health of one account (`requests.account_key`), with its CRM `context`."""
    return accounts_health(session, {account_key: context}, now)[account_key]


def accounts_health(
    session: Session, contexts: Mapping[str, RequestContext | None], now: datetime
) -> dict[str, Health]:
    """The health of each account in `contexts` (account key -> its latest CRM context), read
    in two statements however many accounts there are."""
    signals = {key: _from_context(context, now) for key, context in contexts.items()}
    if signals:
        _read_history(session, signals, now)
        _read_messages(session, signals, now)
    return {key: _score(found) for key, found in signals.items()}


def frustrated(text: str) -> bool:
    """Whether a customer's message carries a frustration or urgency marker."""
    return _FRUSTRATION.search(text) is not None


def _from_context(context: RequestContext | None, now: datetime) -> _Signals:
    account = context.account if context is not None and context.status == "ok" else None
    if account is None:
        return _Signals()
    severe = [c for c in account.open_cases if c.priority.strip().lower() in SEVERE_PRIORITIES]
    days = (account.renewal_date - now.date()).days if account.renewal_date else None
    return _Signals(
        severe_cases=len(severe),
        renewal_days=days if days is not None and 0 <= days <= RENEWAL_DAYS else None,
    )


def _read_history(session: Session, signals: dict[str, _Signals], now: datetime) -> None:
    """Breaches, 👎, CSAT votes and urgent requests of each account, in one statement: the
    accounts' requests of the window read once (a CTE), then each signal joined to them and
    counted per account. (A row per request with a subquery per signal took twice as long
    on a busy account's 325 requests: bench/RESULTS.md, "History search", session 14.)"""
    since = now - WINDOW
    # A breach or a vote comes after its request was opened: twice the window finds them.
    window = (
        select(Request.id, Request.account_key, Request.created_at, Request.urgency)
        .where(
            Request.account_key.in_(signals),
            Request.last_message_at >= now - 2 * WINDOW - _LATE,  # read by the index
            Request.created_at >= now - 2 * WINDOW,
        )
        .cte("health_window")
    )
    key = window.c.account_key

    def signal(name: str, value: Any) -> Any:  # `name`: the `_Signals` field it fills
        return select(key, literal(name).label("signal"), value).select_from(window)

    voted = func.coalesce(CsatVote.changed_at, CsatVote.voted_at) >= since
    counted = union_all(
        signal("breaches", func.count())
        .join(SlaClock, SlaClock.request_id == window.c.id)
        .where(SlaClock.breached_at >= since)
        .group_by(key),
        signal("thumbs_down", func.sum(Draft.details[("feedback", "down")].as_integer()))
        .join(Draft, Draft.request_id == window.c.id)
        .where(Draft.decided_at >= since, Draft.posted_ts.is_not(None))
        .group_by(key),
        signal("csat_bad", func.count())
        .join(CsatVote, CsatVote.request_id == window.c.id)
        .where(voted, CsatVote.value == CsatValue.BAD)
        .group_by(key),
        signal("csat_answers", func.count())
        .join(CsatVote, CsatVote.request_id == window.c.id)
        .where(voted)
        .group_by(key),
        signal("urgent", func.count())
        .where(window.c.created_at >= now - RECENT, window.c.urgency.in_(("urgent", "high")))
        .group_by(key),
    )
    for account, name, value in session.execute(counted):
        setattr(signals[account], name, int(value or 0))


def _read_messages(session: Session, signals: dict[str, _Signals], now: datetime) -> None:
    """The last RECENT_MESSAGES customer messages of each account, in the RECENT window."""
    ranked = (
        select(
            Request.account_key.label("key"),
            RequestMessage.text.label("text"),
            func.row_number()
            .over(partition_by=Request.account_key, order_by=RequestMessage.created_at.desc())
            .label("n"),
        )
        .join(Request, Request.id == RequestMessage.request_id)
        .where(
            Request.account_key.in_(signals),
            Request.last_message_at >= now - RECENT - _LATE,  # the account's recent requests
            RequestMessage.created_at >= now - RECENT,
        )
        .subquery()
    )
    latest = select(ranked.c.key, ranked.c.text).where(ranked.c.n <= RECENT_MESSAGES)
    for key, text in session.execute(latest):
        if text and frustrated(text):
            signals[key].frustrated += 1


def _score(found: _Signals) -> Health:
    penalties: list[tuple[int, str]] = []

    def take(count: int, each: int, cap: int, words: str) -> None:
        if count > 0:
            penalties.append((min(count * each, cap), words))

    take(found.severe_cases, 15, 30, _plural(found.severe_cases, "open P1/P2 Case"))
    take(found.breaches, 10, 30, _plural(found.breaches, "SLA breach", "es") + " in 30 days")
    take(found.thumbs_down, 8, 24, f"{found.thumbs_down} 👎 on our answers in 30 days")
    take(found.csat_bad, 8, 16, f"CSAT: {found.csat_bad} of {found.csat_answers} unhappy")
    take(found.frustrated, 5, 15, _plural(found.frustrated, "frustrated message"))
    take(found.urgent, 5, 10, _plural(found.urgent, "urgent request") + " in 14 days")
    if found.renewal_days is not None:
        days = found.renewal_days
        when = {0: "today", 1: "in 1 day"}.get(days, f"in {days} days")  # the account line's
        penalties.append((15 if days <= 30 else 8, f"renewal {when}"))
    score = max(0, 100 - sum(points for points, _ in penalties))
    level = "good" if score >= GOOD else "watch" if score >= WATCH else "at risk"
    worst_first = sorted(penalties, key=lambda p: -p[0])  # stable: ties keep the table's order
    return Health(score=score, level=level, reasons=[words for _, words in worst_first])


def _plural(count: int, noun: str, suffix: str = "s") -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}{suffix}"


@dataclass(frozen=True)
class AccountHealth:
    """An account as App Home lists it: its name (or its channel, unlinked) and its health."""

    key: str
    name: str
    health: Health


def accounts_at_risk(session: Session, now: datetime, most: int = 5) -> list[AccountHealth]:
    """The `most` least healthy accounts (not `good`) among those with requests in the last
    60 days, worst first; each with the CRM context of its latest request. Three statements."""
    latest = (
        select(func.max(Request.id))
        .where(Request.account_key.is_not(None), Request.created_at >= now - 2 * WINDOW)
        .group_by(Request.account_key)
    )
    rows = session.execute(
        select(Request.account_key, Request.context).where(Request.id.in_(latest))
    )
    contexts = {
        str(key): RequestContext.model_validate(context) if context else None
        for key, context in rows
    }
    found = [
        AccountHealth(key=key, name=_name(key, contexts[key]), health=health)
        for key, health in accounts_health(session, contexts, now).items()
        if health.level != "good"
    ]
    return sorted(found, key=lambda a: (a.health.score, a.name))[:most]


def _name(key: str, context: RequestContext | None) -> str:
    account = context.account if context is not None else None
    if account is not None and account.name:
        return account.name
    kind, _, ident = key.partition(":")
    return f"<#{ident}>" if kind == "channel" else ident or key
