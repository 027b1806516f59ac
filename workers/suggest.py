"""Suggest colleagues (SPEC §5.5); `workers.pull_in` brings one into the thread (§5.6).

A person's score is a sum of documented terms (`SUGGEST_WEIGHT_*`): expertise learned from
who answered similar questions (`workers.expertise`), the account team (owner, owners of
open Cases), availability (`users.getPresence`, local time from `users.info` `tz` inside
`SUGGEST_WORKING_HOURS`) and load (open requests already on them, subtracted). The history
also says who serves the account (`workers.account_people`): the channel's regulars join its
team, and the expertise of someone who answers only other accounts counts for less.
Customers, bots, deactivated users, the requester and people in `SUGGEST_OPT_OUT` never appear.

The answer is a `Suggestions` (workers/stage_data.py): `ok` with the `people`, best first, each
with their reason (and a `reason` when there is nobody), or `unavailable` with the `reason`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError
from sqlalchemy import false, select

from integrations.business_hours import BusinessHours
from integrations.deps import Deps
from integrations.settings import Settings
from integrations.slack import slack_error
from integrations.store.db import transaction
from integrations.store.expertise_changes import note_reopened
from integrations.store.models import (
    Evidence,
    Request,
    RequestState,
)
from integrations.store.search_index import EXPERTISE
from workers.account_people import account_people
from workers.expertise import (
    Expertise,
    expertise_for,
    expertise_phrase,
)
from workers.semantic import Query, prepare
from workers.stage_data import (
    RequestContext,
    Suggestion,
    Suggestions,
    request_context,
)

log = structlog.get_logger(__name__)

TOP = 3  # people shown on the card
LOOKED_UP = 8  # candidates whose presence and time zone are asked of Slack
MAX_LOAD = 5
USER_CACHE_SECONDS = 600  # a deactivation shows within ten minutes
PRESENCE_CACHE_SECONDS = 60  # who is online, as of a minute ago at most


@dataclass
class Candidate:
    """One person being ranked for a request, and why."""

    user_id: str
    expertise: Expertise | None = None
    served: float = 1.0  # the share of their expertise that counts for this account
    roles: list[str] = field(default_factory=list)  # "account owner", "owns Case 00001026"
    team_score: float = 0.0
    online: bool | None = None
    local: datetime | None = None
    in_hours: bool = False
    load: int = 0
    score: float = 0.0

    def reason(self) -> str:
        """The score in words: "answered 6 similar questions about SAML (4 👍) · online ..."."""
        parts = [p for p in [expertise_phrase(self.expertise), *self.roles] if p]
        if self.online is not None:
            parts.append("online" if self.online else "away")
        if self.local is not None:
            outside = "" if self.in_hours else " (outside working hours)"
            parts.append(f"{self.local:%H:%M} local{outside}")
        if self.load:
            parts.append(f"{self.load} open request{'s' if self.load > 1 else ''} on them")
        return " · ".join(parts)


def suggest_colleagues(deps: Deps, *, request_id: int, now: datetime | None = None) -> Suggestions:
    """The top colleagues to pull in on a request, with their reasons.

    Reads the database in short transactions and asks Slack with none open."""
    settings = deps.settings
    now = now or datetime.now(UTC)
    meaning = _meaning(deps, request_id)
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        query, requester = request.text, request.user_id
        ours = {t for t in (request.team_id, request.enterprise_id) if t}
        team = account_team(request_context(request), settings)
        half_life = settings.suggest_half_life_days
        note_reopened(session, request_id)  # before ranking: this request may reopen one
        expertise = expertise_for(
            session,
            query,
            index=deps.expertise,
            half_life_days=half_life,
            now=now,
            meaning=meaning,
        )
        load = open_load(session, exclude=request_id)
        # expertise_for brought the corpus up to date a moment ago: no second catch-up
        with deps.expertise.reading(session, catch_up=False) as corpus:
            served = account_people(corpus, request.channel_id)
    team += [
        (r.user_id, r.role(), settings.suggest_weight_regular * r.share) for r in served.regulars
    ]
    skip = {requester, *settings.suggest_opt_out}
    candidates: dict[str, Candidate] = {}
    for user_id, found in expertise.items():
        candidates[user_id] = Candidate(user_id, expertise=found, served=served.factor(user_id))
    for user_id, role, weight in team:
        person = candidates.setdefault(user_id, Candidate(user_id))
        person.roles.append(role)
        person.team_score += weight
    for person in candidates.values():
        person.load = min(load.get(person.user_id, 0), MAX_LOAD)
        person.score = _base_score(person, settings)
    ranked = sorted(
        (p for p in candidates.values() if p.user_id not in skip),
        key=lambda p: (-p.score, p.user_id),
    )
    chosen = []
    looked_up = ranked[:LOOKED_UP]
    users, presence = _cached(deps, [p.user_id for p in looked_up])
    for person in looked_up:
        if _look_up(
            deps, person, ours, now, users.get(person.user_id), presence.get(person.user_id)
        ):
            person.score += _availability_score(person, settings)
            chosen.append(person)
    chosen.sort(key=lambda p: (-p.score, p.user_id))
    people = [Suggestion(user_id=p.user_id, reason=p.reason()) for p in chosen[:TOP]]
    log.info("suggest.ranked", request_id=request_id, people=[p.user_id for p in people])
    if not people:
        return Suggestions(
            status="ok",
            reason="nobody has answered a similar question yet, and the account has no "
            "owner in Slack",
        )
    return Suggestions(status="ok", people=people)


def _meaning(deps: Deps, request_id: int) -> Query | None:
    """The question's vector, every answered question embedded (across accounts: only a
    person comes of it); None without an embedding model or on any failure (words only)."""
    try:
        return prepare(deps.sessions, deps.embedder, request_id, EXPERTISE, "", cache=deps.vectors)
    except Exception:  # suggestions never fail for a vector
        log.exception("semantic.failed", request_id=request_id, where="suggest")
        return None


def _base_score(person: Candidate, settings: Settings) -> float:
    expertise = person.expertise.score * person.served if person.expertise else 0.0
    return (
        settings.suggest_weight_expertise * expertise
        + person.team_score
        - settings.suggest_weight_load * person.load
    )


def _availability_score(person: Candidate, settings: Settings) -> float:
    return settings.suggest_weight_online * bool(
        person.online
    ) + settings.suggest_weight_working_hours * bool(person.in_hours)


def account_team(
    context: RequestContext | None, settings: Settings
) -> list[tuple[str, str, float]]:
    """(user, role, weight) for the account's owner and the owners of its open Cases."""
    account = context.account if context is not None and context.status == "ok" else None
    if account is None:
        return []
    found: list[tuple[str, str, float]] = []
    owner = account.owner.slack_user_id if account.owner else None
    if owner:
        found.append((owner, "account owner", settings.suggest_weight_owner))
    for case in account.open_cases:
        # workers/context.py maps each open Case's owner to a Slack user by email.
        case_owner = case.owner.slack_user_id if case.owner else None
        if case_owner and not any(u == case_owner and "Case" in r for u, r, _ in found):
            role = f"owns Case {case.number or case.id}"
            found.append((case_owner, role, settings.suggest_weight_case_owner))
    return found


def open_load(session: Any, *, exclude: int) -> Counter[str]:
    """Open requests already on each person: suggested first, or pulled in and not answered."""
    load: Counter[str] = Counter()
    rows = session.scalars(
        select(Request.suggestions)
        .where(Request.state == RequestState.OPEN, Request.id != exclude)
        .order_by(Request.id.desc())
        .limit(2000)
    )
    for suggestions in rows:
        people = Suggestions.model_validate(suggestions).people if suggestions else []
        if people:
            load[people[0].user_id] += 1
    pulled = session.execute(
        select(Evidence.user_id)
        .join(Request, Request.id == Evidence.request_id)
        .where(
            Evidence.kind == "pull_in",
            Evidence.answered == false(),  # "= false": the partial index's "NOT answered"
            Request.state == RequestState.OPEN,
            Request.id != exclude,
        )
    )
    for (user_id,) in pulled:
        load[str(user_id)] += 1
    return load


def _look_up(
    deps: Deps,
    person: Candidate,
    ours: set[str],
    now: datetime,
    user_cached: bytes | None,
    presence_cached: bytes | None,
) -> bool:
    """Fill presence and local time; False for anyone who must never be suggested. Slack is
    asked only what the cache (`_cached`) did not hold."""
    user = _user(deps, person.user_id, user_cached)
    if user is None:
        return False
    if not is_suggestible(user, ours):
        return False
    person.online = _online(deps, person.user_id, presence_cached)
    person.local, person.in_hours = local_time(
        user.get("tz"), now, deps.settings.suggest_working_hours
    )
    return True


_USER_FIELDS = (
    "id",
    "team_id",
    "enterprise_user",
    "tz",
    "deleted",
    "is_bot",
    "is_restricted",
    "is_ultra_restricted",
    "is_stranger",
)
_USER_KEY, _PRESENCE_KEY = "triage:suggest-user:", "triage:suggest-presence:"


def _cached(deps: Deps, user_ids: list[str]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The candidates' cached `users.info` and presence, in one round trip to Redis (two
    GETs a candidate were 16 on every request); nothing on a Redis failure (Slack is asked)."""
    users = [f"{_USER_KEY}{u}" for u in user_ids]
    presence = [f"{_PRESENCE_KEY}{u}" for u in user_ids]
    try:
        found: list[Any] = deps.redis.mget(users + presence) if user_ids else []
    except RedisError as exc:
        log.warning("suggest.cache_failed", error=type(exc).__name__)
        return {}, {}
    half = len(user_ids)
    return (
        {u: v for u, v in zip(user_ids, found[:half], strict=True) if v},
        {u: v for u, v in zip(user_ids, found[half:], strict=True) if v},
    )


def _user(deps: Deps, user_id: str, cached: bytes | None) -> dict[str, Any] | None:
    """What ranking needs of `users.info` (`cached`, else asked and cached in Redis for
    `USER_CACHE_SECONDS`): a busy channel's requests do not ask Slack about the same people
    again and again."""
    if cached:
        return dict(json.loads(cached))
    key = f"{_USER_KEY}{user_id}"
    try:
        info = deps.slack.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        log.info("suggest.user_skipped", user=user_id, error=slack_error(exc))
        return None
    user = {k: info[k] for k in _USER_FIELDS if k in info}
    try:
        deps.redis.set(key, json.dumps(user), ex=USER_CACHE_SECONDS)
    except RedisError as exc:
        log.warning("suggest.cache_failed", error=type(exc).__name__)
    return user


def _online(deps: Deps, user_id: str, cached: bytes | None) -> bool | None:
    """Whether `users.getPresence` says active (None: unknown): `cached`, else asked and
    cached in Redis for `PRESENCE_CACHE_SECONDS`: a Tier-3 call per candidate per request
    would spend the workspace's 50 a minute on a busy morning, and a minute-old presence
    ranks as well."""
    if cached:
        return bool(cached == b"active")
    key = f"{_PRESENCE_KEY}{user_id}"
    try:
        presence = str(deps.slack.users_getPresence(user=user_id).get("presence") or "away")
    except SlackApiError as exc:
        log.info("suggest.presence_unknown", user=user_id, error=slack_error(exc))
        return None
    try:
        deps.redis.set(key, presence, ex=PRESENCE_CACHE_SECONDS)
    except RedisError as exc:
        log.warning("suggest.cache_failed", error=type(exc).__name__)
    return presence == "active"


def is_suggestible(user: dict[str, Any], ours: set[str]) -> bool:
    """A person of the organisation: not a bot, not deactivated, not a guest or a customer."""
    if user.get("is_bot") or user.get("deleted") or user.get("id") == "USLACKBOT":
        return False
    if user.get("is_restricted") or user.get("is_ultra_restricted") or user.get("is_stranger"):
        return False
    enterprise = (user.get("enterprise_user") or {}).get("enterprise_id")
    return user.get("team_id") in ours or (enterprise is not None and enterprise in ours)


def local_time(tz: str | None, now: datetime, hours: str) -> tuple[datetime | None, bool]:
    """The person's local time, and whether it is inside their working hours."""
    if not tz:
        return None, False
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return None, False
    local = now.astimezone(zone)
    windows = BusinessHours.parse(f"{hours} UTC").windows[local.weekday()]
    minute = local.hour * 60 + local.minute
    return local, any(start <= minute < end for start, end in windows)
