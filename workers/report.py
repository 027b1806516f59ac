"""The numbers of SPEC §6.5: first-response time, SLA compliance, what happened to drafts,
feedback and CSAT (SPEC §6.7); for the team, per account, and per day; and the period's
incidents (SPEC §6.6, `workers.incident_report`). Read from the database only, so App Home,
`triage report` and its chart all say the same thing.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.store.csat_models import CsatSurvey, CsatValue, CsatVote
from integrations.store.models import (
    ChannelLink,
    Draft,
    DraftStatus,
    Request,
    RequestState,
    SlaClock,
)
from workers.incident_report import IncidentStats, incident_stats
from workers.incident_status import open_incident_of
from workers.stage_data import draft_details, request_context


@dataclass
class Stats:
    """One group's numbers (the whole team, an account, or a day)."""

    requests: int = 0
    first_response_minutes: list[float] = field(default_factory=list)
    sla_met: int = 0
    sla_missed: int = 0
    approved_unchanged: int = 0
    approved_edited: int = 0
    rejected: int = 0
    auto_sent: int = 0  # answers AUTO_SEND posted that still stand (SPEC §6.7)
    handed_back: int = 0  # automatic answers a person took over: undone, 👎, a follow-up
    thumbs_up: int = 0
    thumbs_down: int = 0
    csat_asked: int = 0  # requests whose customers were asked "How did we do?"
    csat_good: int = 0  # their answers, one per person (their latest click)
    csat_bad: int = 0

    @property
    def csat_score(self) -> float | None:
        """The share of 👍 among the customers' answers; None when nobody answered."""
        answers = self.csat_good + self.csat_bad
        return self.csat_good / answers if answers else None

    @property
    def median_first_response(self) -> float | None:
        values = self.first_response_minutes
        return statistics.median(values) if values else None

    @property
    def sla_compliance(self) -> float | None:
        decided = self.sla_met + self.sla_missed
        return self.sla_met / decided if decided else None


@dataclass
class Report:
    since: datetime
    team: Stats
    accounts: dict[str, Stats]  # by account name (or channel when unlinked)
    days: dict[date, Stats]
    incidents: IncidentStats = field(default_factory=IncidentStats)


def build_report(
    session: Session, *, since: datetime, account: str | None = None, now: datetime | None = None
) -> Report:
    """The report of requests opened since `since` (optionally one account's, by name or id)."""
    now = now or datetime.now(UTC)
    requests = session.scalars(
        select(Request).where(Request.created_at >= since).order_by(Request.id)
    ).all()
    clocks = {
        c.request_id: c
        for c in session.scalars(
            select(SlaClock).where(SlaClock.request_id.in_([r.id for r in requests]))
        )
    }
    # A report of an open incident: its clock is paused (the incident's runs), neither met
    # nor missed yet, whatever its own deadline says.
    paused = open_incident_of(session)
    drafts: dict[int, list[Draft]] = defaultdict(list)
    for draft in session.scalars(
        select(Draft).where(Draft.request_id.in_([r.id for r in requests]))
    ):
        drafts[draft.request_id].append(draft)
    csat = _csat(session, [r.id for r in requests])
    report = Report(since, Stats(), defaultdict(Stats), defaultdict(Stats))
    for request in requests:
        name = account_name(request)
        if account and not _names(account, name, request.account_key):
            continue
        if request.state == RequestState.CLOSED and not drafts[request.id]:
            continue  # triaged as needing no reply ("thanks!"): nobody waited, no row for it
        day = request.created_at.astimezone(UTC).date()
        for stats in (report.team, report.accounts[name], report.days[day]):
            clock = None if request.id in paused else clocks.get(request.id)
            _count(stats, request, clock, drafts[request.id], now)
            _count_csat(stats, csat.get(request.id))
    if account and not report.accounts:
        _require_account(session, account)
    report.accounts = dict(sorted(report.accounts.items()))
    report.days = dict(sorted(report.days.items()))
    report.incidents = incident_stats(
        session,
        since=since,
        now=now,
        include=(lambda r: _names(account, account_name(r), r.account_key)) if account else None,
    )
    return report


class NoSuchAccount(ValueError):
    """`--account` names no account any request ever came from; says which ones there are."""

    def __init__(self, account: str, known: list[str]) -> None:
        shown = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
        super().__init__(
            f"no such account: {account}; known accounts: {shown}"
            if known
            else f"no such account: {account}; no requests have been stored yet"
        )


def account_name(request: Request) -> str:
    """The account's name from the context the card showed, else the channel."""
    context = request_context(request)
    account = context.account if context is not None else None
    return (account.name if account is not None else "") or f"#{request.channel_id}"


def _names(query: str, name: str, account_key: str | None) -> bool:
    """Whether `--account` means this account: its name, its key (`account:001...`) or id;
    an unlinked channel's name is `#C...`, with or without the `#`."""
    key = (account_key or "").lower()
    return query.lower().lstrip("#") in (name.lower().lstrip("#"), key, key.split(":")[-1])


def _require_account(session: Session, account: str) -> None:
    """Raise NoSuchAccount unless a request of any period, or a channel link, names `account`:
    an empty period for a real account is "no requests", not a typo."""
    name = Request.context[("account", "name")].as_string()
    seen = session.execute(select(name, Request.account_key, Request.channel_id).distinct())
    known = [(str(n or f"#{channel}"), key) for n, key, channel in seen]
    links = session.execute(select(ChannelLink.account_name, ChannelLink.account_id))
    known += [(n or i, f"account:{i}") for n, i in links]
    if not any(_names(account, n, key) for n, key in known):
        names = sorted({n for n, _ in known}, key=lambda n: (n.startswith("#"), n.lower()))
        raise NoSuchAccount(account, names)


def _count(
    stats: Stats, request: Request, clock: SlaClock | None, drafts: list[Draft], now: datetime
) -> None:
    stats.requests += 1
    if request.answered_at is not None:
        minutes = (request.answered_at - request.created_at).total_seconds() / 60
        stats.first_response_minutes.append(max(0.0, minutes))
    if clock is not None:
        if clock.breached_at is not None or (clock.stopped_at is None and now > clock.deadline_at):
            stats.sla_missed += 1
        elif clock.stopped_at is not None:
            stats.sla_met += 1
    for draft in drafts:
        if draft.status == DraftStatus.APPROVED:
            if draft.posted_text is not None and draft.posted_text.strip() != draft.text.strip():
                stats.approved_edited += 1
            else:
                stats.approved_unchanged += 1
        elif draft.status == DraftStatus.REJECTED:
            stats.rejected += 1
        details = draft_details(draft)
        if details.auto_sent is not None:
            if details.auto_sent.handed_back:
                stats.handed_back += 1
            elif draft.status == DraftStatus.AUTO_SENT and draft.posted_ts:
                stats.auto_sent += 1
        feedback = details.feedback
        stats.thumbs_up += feedback.up
        stats.thumbs_down += feedback.down


def _csat(session: Session, request_ids: list[int]) -> dict[int, list[CsatValue]]:
    """The asked requests among these, each with its customers' answers (maybe none)."""
    answers: dict[int, list[CsatValue]] = {
        request_id: []
        for request_id in session.scalars(
            select(CsatSurvey.request_id).where(
                CsatSurvey.request_id.in_(request_ids), CsatSurvey.asked_at.is_not(None)
            )
        )
    }
    votes = select(CsatVote.request_id, CsatVote.value).where(CsatVote.request_id.in_(answers))
    for request_id, value in session.execute(votes):
        answers[request_id].append(value)
    return answers


def _count_csat(stats: Stats, answers: list[CsatValue] | None) -> None:
    if answers is None:
        return  # not asked (not yet, or not this tier)
    stats.csat_asked += 1
    stats.csat_good += answers.count(CsatValue.GOOD)
    stats.csat_bad += answers.count(CsatValue.BAD)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`30d`, `12h`, `2w`, or an ISO date, as the start of the report."""
    now = now or datetime.now(UTC)
    units = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
    text = text.strip().lower()
    if text[:-1].isdigit() and text[-1:] in units:
        return now - int(text[:-1]) * units[text[-1]]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r}: use 30d, 12h, 2w or a date like 2026-11-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def minutes_text(minutes: float) -> str:
    """A duration for people: seconds under a minute, minutes under two hours, else hours."""
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
