"""Incidents (SPEC §6.6): reports of one problem from several accounts become one incident.

`group_request` runs in the card stage, before the request's clock starts and its card is
posted, so the card shows `part of Incident #N` from the start. A request joins the open
incident whose reports it most resembles (`workers.incident_match`, at least
`INCIDENT_SIMILARITY`), or, with the recent reports like it that are in no incident, forms a
new one once they come from `INCIDENT_MIN_ACCOUNTS` accounts. Only failure reports are
grouped: category bug or incident, or one naming a status code, an endpoint or an error, or
saying something is down or failing (the offline classifier files "can't log in, 500" and
"sso down?" under access as often as under bugs).

Without `INCIDENT_CHANNEL` or `ESCALATION_CHANNEL` there is nowhere to post the incident card a
person answers from, so nothing is grouped (a paused clock nobody could restart).

One deployment-wide lock (Redis) makes the grouping of two requests at once see each other;
without Redis the worst case is two incidents for one problem, which a person can live with.
A request is grouped at most once (`incident_reports.request_id` is unique): a split report
keeps its row and is never grouped again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import structlog
from redis.exceptions import LockError
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.failures import REDIS_DOWN, enqueued
from integrations.store.db import transaction
from integrations.store.incident_models import Incident, IncidentReport, IncidentState
from integrations.store.models import Request, RequestState
from workers.incident_match import (
    Fingerprint,
    conflicts,
    core,
    fingerprint,
    group_similarity,
    pair_similarity,
    rarity,
)
from workers.metrics import INCIDENT_REPORTS, INCIDENTS
from workers.semantic import request_vectors
from workers.sla import policy_for
from workers.stage_data import request_context
from workers.triage_types import Category

log = structlog.get_logger(__name__)

FAILURES = frozenset({Category.BUG.value, Category.INCIDENT.value})
NEVER = frozenset(
    {Category.NO_ACTION.value, Category.FEATURE_REQUEST.value, Category.BILLING.value}
)
MAX_CANDIDATES = 500  # recent ungrouped reports compared with a new one
PROFILE_REPORTS = 30  # an incident's profile: the words and signatures of its newest reports
LOCK = "triage:incidents:lock"
LOCK_SECONDS = 30


@dataclass(frozen=True)
class Grouped:
    """What grouping a request did: the incident, whether it formed now, and the other
    requests it took in (their posted cards are redrawn)."""

    incident_id: int
    formed: bool
    others: tuple[int, ...] = ()


def is_failure_report(category: str | None, print_: Fingerprint) -> bool:
    if category is None or category in NEVER:
        return False
    return category in FAILURES or print_.has_error_signature or print_.says_down


def group_request(deps: Deps, request_id: int, *, now: datetime | None = None) -> Grouped | None:
    """Join the request to an incident or form one with it (see the module's docstring), as
    of `now` (the current time unless a benchmark replays a morning)."""
    settings = deps.settings
    if not settings.incidents or not (settings.incident_channel or settings.escalation_channel):
        return None  # off, or nowhere to post the card a person answers it from
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        report = _report_of(session, request_id)
        if report is not None:  # grouped before (a retried stage), or split out
            return None if report.split_at else Grouped(report.incident_id, formed=False)
        print_ = fingerprint(request.text)
        failure = is_failure_report(request.category, print_)
        if request.state != RequestState.OPEN or not (failure or print_.follows_up):
            return None
        now = now or datetime.now(UTC)
        since = now - timedelta(minutes=settings.incident_window_minutes)
        compared = [request_id, *_compared(session, since, now)]
    # Embedded outside the lock and any transaction (stored: each text once, mostly already
    # by the draft stage); none without a model, or when embedding failed: words alone.
    vectors = request_vectors(deps.sessions, deps.embedder, compared)
    print_ = replace(print_, vector=vectors.get(request_id))
    with _lock(deps), transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        grouped = _group(deps, session, request, print_, failure, now, vectors)
    if grouped is None:
        return None
    if grouped.formed:
        INCIDENTS.inc()
    INCIDENT_REPORTS.inc(1 + len(grouped.others))
    log.info(
        "incident.formed" if grouped.formed else "incident.joined",
        incident_id=grouped.incident_id,
        request_id=request_id,
        others=len(grouped.others),
    )
    # A new incident's job redraws every report's card once its own card is posted (with the
    # link to it): redrawing the others now too would cost a Tier-3 chat.update each, twice.
    others = () if grouped.formed else grouped.others
    after_change(deps, grouped.incident_id, others)
    return grouped


def after_change(deps: Deps, incident_id: int, requests: Sequence[int] = ()) -> None:
    """Bring the incident's card (and Cases) up to date, and redraw the cards of `requests`;
    a lost job is the sweeper's (`recover_incidents`)."""
    enqueued(
        log,
        lambda: deps.queues.enqueue_incident(incident_id),
        what="incident",
        incident_id=incident_id,
    )
    for other in requests:
        enqueued(
            log,
            lambda other=other: deps.queues.enqueue_card_refresh(other),  # type: ignore[misc]
            what="card refresh",
            request_id=other,
        )


def _group(
    deps: Deps,
    session: Session,
    request: Request,
    print_: Fingerprint,
    failure: bool,
    now: datetime,
    vectors: Mapping[int, np.ndarray],
) -> Grouped | None:
    since = now - timedelta(minutes=deps.settings.incident_window_minutes)
    threshold = deps.settings.incident_similarity
    if _report_of(session, request.id) is not None:
        return None  # grouped by another request's forming, while this one waited its turn
    idf = _rarity(session, since, now, print_)
    best: tuple[float, Incident] | None = None
    follow_up: tuple[float, Incident] | None = None
    mine = _account(request)
    for incident in session.scalars(
        select(Incident).where(
            Incident.state == IncidentState.OPEN, Incident.last_report_at >= since
        )
    ):
        prints, accounts = _profile(session, incident.id, vectors)
        score = group_similarity(print_, prints, idf)
        if failure and score >= threshold and (best is None or score > best[0]):
            best = (score, incident)
        # "Still broken" from an account that reported it: theirs, unless it names another
        # error or product area.
        if mine in accounts and not conflicts(print_, core(prints)) and follow_up is None:
            follow_up = (score, incident)
    chosen = best or follow_up
    if chosen is not None:
        _add(deps, session, chosen[1], request, chosen[0], now)
        return Grouped(chosen[1].id, formed=False)
    return _form(deps, session, request, print_, since, now, idf, vectors) if failure else None


def _form(
    deps: Deps,
    session: Session,
    request: Request,
    print_: Fingerprint,
    since: datetime,
    now: datetime,
    idf: dict[str, float],
    vectors: Mapping[int, np.ndarray],
) -> Grouped | None:
    threshold = deps.settings.incident_similarity
    candidates = [
        (other, fingerprint(other.text, vectors.get(other.id)))
        for other in session.scalars(
            select(Request)
            .where(
                Request.created_at >= since,
                Request.created_at <= now,
                Request.id != request.id,
                Request.state.in_((RequestState.OPEN, RequestState.ANSWERED)),
                ~exists(select(IncidentReport.id).where(IncidentReport.request_id == Request.id)),
            )
            .order_by(Request.created_at.desc())
            .limit(MAX_CANDIDATES)
        )
    ]
    candidates = [(o, p) for o, p in candidates if is_failure_report(o.category, p)]
    scores = {o.id: pair_similarity(print_, p, idf) for o, p in candidates}
    members = [(o, scores[o.id]) for o, _ in candidates if scores[o.id] >= threshold]
    if not members:
        return None
    group = [print_, *(p for o, p in candidates if scores[o.id] >= threshold)]
    # Reports like the group as a whole, though not like this one alone (a terse "sso down?").
    chosen = {o.id for o, _ in members}
    for other, other_print in candidates:
        score = group_similarity(other_print, group, idf)
        if other.id not in chosen and score >= threshold:
            members.append((other, score))
            chosen.add(other.id)
    accounts = {_account(request)} | {_account(o) for o, _ in members}
    if len(accounts) < deps.settings.incident_min_accounts:
        return None
    everyone = [request, *(o for o, _ in members)]
    first = min(r.created_at for r in everyone)
    deadline, tier = min((_deadline(deps, r, first) for r in everyone), key=lambda d: d[0])
    incident = Incident(
        title=_title(request),
        signatures=_common_signatures([fingerprint(r.text) for r in everyone]),
        first_report_at=first,
        last_report_at=now,
        deadline_at=deadline,
        tier=tier,
    )
    session.add(incident)
    session.flush()
    _add(deps, session, incident, request, 1.0, now)
    for other, score in members:
        _add(deps, session, incident, other, score, now)
    return Grouped(incident.id, formed=True, others=tuple(o.id for o, _ in members))


def _add(
    deps: Deps, session: Session, incident: Incident, request: Request, score: float, now: datetime
) -> None:
    """The request becomes one of the incident's reports; the incident's clock takes the
    strictest tier among its accounts."""
    session.add(
        IncidentReport(
            incident_id=incident.id,
            request_id=request.id,
            account_key=_account(request),
            similarity=score,
            joined_at=now,
        )
    )
    incident.last_report_at = now
    incident.cases_done = False  # its account's Case is linked by the incident job, or the sweeper
    deadline, tier = _deadline(deps, request, incident.first_report_at)
    if incident.first_update_at is None and deadline < incident.deadline_at:
        incident.deadline_at, incident.tier = deadline, tier
    session.flush()


def _deadline(deps: Deps, request: Request, first: datetime) -> tuple[datetime, str | None]:
    """When the incident must have its first update by this report's account's tier."""
    policy = policy_for(deps.settings, request_context(request))
    return policy.hours.add(first, policy.minutes), policy.tier


def _rarity(
    session: Session, since: datetime, now: datetime, print_: Fingerprint
) -> dict[str, float]:
    """How rare each word is among the window's messages (every request, grouped or not)."""
    texts = session.scalars(
        select(Request)
        .where(Request.created_at >= since, Request.created_at <= now)
        .order_by(Request.created_at.desc())
        .limit(MAX_CANDIDATES)
    )
    return rarity([print_, *(fingerprint(r.text) for r in texts)])


def _profile(
    session: Session, incident_id: int, vectors: Mapping[int, np.ndarray]
) -> tuple[list[Fingerprint], set[str]]:
    """The fingerprints of the incident's newest reports, and its accounts."""
    accounts = set(
        session.scalars(
            select(IncidentReport.account_key).where(
                IncidentReport.incident_id == incident_id, IncidentReport.split_at.is_(None)
            )
        )
    )
    requests = session.scalars(
        select(Request)
        .join(IncidentReport, IncidentReport.request_id == Request.id)
        .where(IncidentReport.incident_id == incident_id, IncidentReport.split_at.is_(None))
        .order_by(IncidentReport.joined_at.desc())
        .limit(PROFILE_REPORTS)
    )
    return [fingerprint(r.text, vectors.get(r.id)) for r in requests], accounts


def _compared(session: Session, since: datetime, now: datetime) -> list[int]:
    """The requests a new report may be compared with: the window's, and the newest reports
    of the incidents still open in it (their vectors are read before the lock is taken)."""
    window = session.scalars(
        select(Request.id)
        .where(Request.created_at >= since, Request.created_at <= now)
        .order_by(Request.created_at.desc())
        .limit(MAX_CANDIDATES)
    )
    reports = session.scalars(
        select(IncidentReport.request_id)
        .join(Incident, Incident.id == IncidentReport.incident_id)
        .where(Incident.state == IncidentState.OPEN, Incident.last_report_at >= since)
        .order_by(IncidentReport.joined_at.desc())
        .limit(MAX_CANDIDATES)
    )
    return list(dict.fromkeys([*window, *reports]))


def _report_of(session: Session, request_id: int) -> IncidentReport | None:
    return session.scalars(
        select(IncidentReport).where(IncidentReport.request_id == request_id)
    ).first()


def _account(request: Request) -> str:
    return request.account_key or f"channel:{request.channel_id}"


def _title(request: Request) -> str:
    summary = (request.summary or request.text or "").strip().splitlines()
    line = summary[0] if summary else "Customers report a problem"
    return line if len(line) <= 150 else line[:149] + "…"


def _common_signatures(prints: Sequence[Fingerprint]) -> list[str]:
    """The signatures most reports share, most shared first (what the card says it is)."""
    counts: dict[str, int] = {}
    for print_ in prints:
        for signature in print_.signatures:
            counts[signature] = counts.get(signature, 0) + 1
    ranked = sorted(counts, key=lambda s: (-counts[s], s))
    return [s for s in ranked if counts[s] >= 2 and not s.startswith("symptom:")][:6]


@contextlib.contextmanager
def _lock(deps: Deps) -> Iterator[None]:
    """One grouping at a time across the deployment; without Redis, none (see above)."""
    try:
        lock = deps.redis.lock(LOCK, timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS)
        acquired = lock.acquire()
    except REDIS_DOWN as exc:
        log.warning("incident.unlocked", error=str(exc))
        yield
        return
    try:
        yield
    finally:
        if acquired:
            with contextlib.suppress(*REDIS_DOWN, LockError):
                lock.release()
