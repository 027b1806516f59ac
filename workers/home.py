"""Publish a person's App Home (SPEC §6.5), as a job: the listener only queues it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from slack_sdk.errors import SlackApiError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.slack import slack_error
from integrations.store.db import transaction
from integrations.store.incident_models import in_open_incident
from integrations.store.models import DraftStatus, Request, RequestState, SlaClock
from workers.blocks.home import AccountRisk, HomeData, HomeItem, build_home
from workers.health import accounts_at_risk
from workers.incident_status import open_incident_of, open_incidents
from workers.report import Stats, build_report, minutes_text
from workers.stage_data import request_context

log = structlog.get_logger(__name__)


def publish_home(
    deps: Deps, *, user_id: str, team_id: str | None = None, enterprise_id: str | None = None
) -> None:
    """RQ job: render and publish `user_id`'s App Home."""
    publish_home_now(deps, user_id, team_id, enterprise_id)


def publish_home_now(
    deps: Deps, user_id: str, team_id: str | None = None, enterprise_id: str | None = None
) -> None:
    """`team_id`/`enterprise_id`: the workspace where they opened it (OAuth installs)."""
    with transaction(deps.sessions) as session:
        data = home_data(session, user_id)
    slack = deps.slack_for(team_id, enterprise_id) if team_id or enterprise_id else deps.slack
    try:
        slack.views_publish(user_id=user_id, view=build_home(data))
    except SlackApiError as exc:  # no such user, a 429: the Home shows its last state until
        log.warning("home.unpublished", user=user_id, error=slack_error(exc))  # the next open
        return
    log.info(
        "home.published",
        user=user_id,
        yours=len(data.yours),
        others=len(data.others),
        incidents=len(data.incidents),
    )


def home_data(session: Session, viewer: str, now: datetime | None = None) -> HomeData:
    """What the viewer should see, read from the database."""
    now = now or datetime.now(UTC)
    data = HomeData(viewer=viewer, incidents=open_incidents(session), as_of=now)
    incident_of = open_incident_of(session) if data.incidents else {}
    open_requests = session.scalars(
        select(Request).where(Request.state == RequestState.OPEN).order_by(Request.id)
    ).all()
    for request in open_requests:
        draft = request.current_draft
        if draft is None or draft.status != DraftStatus.PENDING or request.card_ts is None:
            continue
        context = request_context(request)
        owner = context.account.owner if context is not None and context.account else None
        mine = owner is not None and owner.slack_user_id == viewer
        (data.yours if mine else data.others).append(_item(request, None, incident_of))
    clocks = session.scalars(
        select(SlaClock)
        .where(
            SlaClock.stopped_at.is_(None),
            ~in_open_incident(SlaClock.request_id),  # paused: the incident's own clock runs
            or_(SlaClock.breached_at.is_not(None), SlaClock.remind_at <= now),
        )
        .order_by(SlaClock.deadline_at)
    ).all()
    for clock in clocks:
        waiting = session.get(Request, clock.request_id)
        if waiting is not None and waiting.state == RequestState.OPEN:
            data.near_sla.append(_item(waiting, clock))
    data.at_risk = [
        AccountRisk(
            name=a.name, level=a.health.level, score=a.health.score, reasons=a.health.reasons
        )
        for a in accounts_at_risk(session, now)
    ]
    report = build_report(session, since=now - timedelta(days=7), now=now)
    week, incidents = report.team, report.incidents
    median, compliance = week.median_first_response, week.sla_compliance
    first_update = incidents.median_first_update
    data.week = {
        "requests": str(week.requests),
        "median first response": "–" if median is None else minutes_text(median),
        "SLA met": "–" if compliance is None else f"{compliance:.0%}",
        "drafts sent as they were": str(week.approved_unchanged),
        "drafts edited before sending": str(week.approved_edited),
        "drafts rejected": str(week.rejected),
        **(
            {"answers sent automatically (handed back)": f"{week.auto_sent} ({week.handed_back})"}
            if week.auto_sent or week.handed_back
            else {}
        ),
        "👍 / 👎 on answers": f"{week.thumbs_up} / {week.thumbs_down}",
        "CSAT (customers asked how we did)": _csat(week),
        "incidents (reports they absorbed)": f"{incidents.incidents} ({incidents.absorbed})",
        "first update on an incident (median)": "–"
        if first_update is None
        else minutes_text(first_update),
    }
    return data


def _csat(week: Stats) -> str:
    """`75% 👍 (3 👍 · 1 👎 of 9 asked)`; `–` before anyone answered."""
    score = week.csat_score
    if score is None:
        return f"– ({week.csat_asked} asked)" if week.csat_asked else "–"
    return f"{score:.0%} 👍 ({week.csat_good} 👍 · {week.csat_bad} 👎 of {week.csat_asked} asked)"


def _item(
    request: Request, clock: SlaClock | None = None, incident_of: dict[int, int] | None = None
) -> HomeItem:
    return HomeItem(
        request_id=request.id,
        channel_id=request.channel_id,
        customer_id=request.user_id,
        summary=request.summary or request.text[:150],
        urgency=request.urgency,
        permalink=request.permalink,
        deadline=clock.deadline_at if clock else None,
        breached=bool(clock and clock.breached_at),
        incident=(incident_of or {}).get(request.id),
    )
