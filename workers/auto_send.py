"""Answers that send themselves (SPEC §6.7): opt-in, off by default, every condition or none.

Where `AUTO_SEND` names the request's channel (`channel:<id>`) or its account's tier
(`tier:<name>`), the card stage asks `why_not` before the card goes out. A draft is posted
without approval only when nothing stands in the way:

- the kill switch is on (`/triage auto-send off` turns it off for every process at once);
- the triage's category is in `AUTO_SEND_CATEGORIES` and its urgency is low or normal;
- its confidence is at least `AUTO_SEND_MIN_CONFIDENCE`: the model's own, or, offline, how
  well the question matches the one whose approved answer the draft reuses word for word
  (an offline acknowledgement or knowledge-base quote has none); it does not ask for an
  expert, and every draft check passed (no flag on the card, every image seen);
- it cites an approved answer or a knowledge-base passage scoring at least
  `AUTO_SEND_MIN_SCORE` (`workers.grounding_score`);
- the account is not part of an open incident;
- the customer is not already talking with a person: a new top-level message, never
  escalated, with no earlier draft decided, no colleague's answer, no automatic answer before.

Then, in one transaction, the draft becomes `auto_sent` (a conditional UPDATE, as a click
is) and its outbox row is written, of kind `auto_reply`: a customer kind that delivery posts
only after checking again (`workers.auto_send_flow.check_before_post`). The post says it is
automatic and how to reach a person. Every auto-send is audited; posts are counted
(`triage_drafts_total{outcome="auto_sent"}`). What happens after (Undo, a 👎, a follow-up)
is `workers.auto_send_flow`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.settings import Settings
from integrations.store.audit import fingerprint
from integrations.store.db import transaction
from integrations.store.incident_models import Incident, IncidentReport, IncidentState
from integrations.store.models import AuditEntry, Draft, DraftStatus, Request, RequestState
from integrations.store.switch_models import Switch
from workers.acknowledgements import phrases
from workers.grounding_score import best_cited
from workers.outbox_rows import deliver_soon, outbox_row
from workers.stage_data import AutoSent, draft_details, request_context, stored

log = structlog.get_logger(__name__)

KIND = "auto_reply"  # the outbox kind of an automatic answer: one of delivery's CUSTOMER_KINDS
ACTOR = "auto-send"  # who decided, in drafts, clocks and the audit log
SWITCH = "auto_send"
CALM = ("low", "normal")


def allowed_here(settings: Settings, channel_id: str, tier: str | None) -> bool:
    """Whether AUTO_SEND names this channel or this tier."""
    rules = set(settings.auto_send)
    return f"channel:{channel_id}" in rules or (tier is not None and f"tier:{tier}" in rules)


def switched_on(session: Session) -> bool:
    """The kill switch: on unless a support lead turned it off (no row: never touched)."""
    enabled = session.scalar(select(Switch.enabled).where(Switch.name == SWITCH))
    return enabled is None or bool(enabled)


def set_switch(deps: Deps, *, enabled: bool, user_id: str) -> bool:
    """Turn auto-send on or off for every process (a support lead's `/triage auto-send`);
    True when it changed. Audited. An answer already queued is checked again as it goes out
    (`workers.auto_send_flow.check_before_post`): switched off, it is not posted."""
    with transaction(deps.sessions) as session:
        switch = session.get(Switch, SWITCH, with_for_update=True)
        if switch is None:
            switch = Switch(name=SWITCH, enabled=True)
            session.add(switch)
        if switch.enabled == enabled:
            return False
        switch.enabled, switch.changed_by, switch.changed_at = enabled, user_id, datetime.now(UTC)
        session.add(
            AuditEntry(actor=user_id, action="auto_send.on" if enabled else "auto_send.off")
        )
    log.warning("auto_send.switched", enabled=enabled, by=user_id)
    return True


def switch_state(deps: Deps) -> tuple[bool, str | None, datetime | None]:
    """The kill switch: on or off, who turned it last and when (None: never touched)."""
    with transaction(deps.sessions) as session:
        switch = session.get(Switch, SWITCH)
        if switch is None:
            return True, None, None
        return switch.enabled, switch.changed_by, switch.changed_at


def why_not(session: Session, settings: Settings, request: Request, draft: Draft) -> list[str]:
    """Every reason this draft may not be posted without approval; empty: it may."""
    context = request_context(request)
    account = context.account if context is not None else None
    tier = (account.tier or "").lower() or None if account is not None else None
    if not allowed_here(settings, request.channel_id, tier):
        return ["AUTO_SEND names neither this channel nor this tier"]
    details = draft_details(draft)
    reasons = []
    if not switched_on(session):
        reasons.append("auto-send is switched off")
    if request.state != RequestState.OPEN:
        reasons.append(f"the request is {request.state.value}")
    if draft.status != DraftStatus.PENDING or not draft.text.strip():
        reasons.append("the draft is not a pending reply")
    if (request.category or "") not in settings.auto_send_categories:
        reasons.append(f"category {request.category} is not in AUTO_SEND_CATEGORIES")
    if (request.urgency or "") not in CALM:
        reasons.append(f"urgency {request.urgency} is not low or normal")
    if details.confidence is None:  # an offline acknowledgement or knowledge-base quote
        reasons.append("the draft has no confidence: it reuses no answer a person approved")
    elif details.confidence < settings.auto_send_min_confidence:
        reasons.append(f"confidence {details.confidence:.2f} is under AUTO_SEND_MIN_CONFIDENCE")
    if details.needs_expert:
        reasons.append("the model asked for an expert")
    if details.flags or details.unseen or details.error:
        reasons.append("a draft check did not pass")
    score = best_cited(details.sources, details.grounding)
    if score < settings.auto_send_min_score:
        reasons.append(f"grounding {score:.2f} is under AUTO_SEND_MIN_SCORE")
    if _in_open_incident(session, request):
        reasons.append("the account is part of an open incident")
    reasons.extend(_with_a_person(session, request, draft))
    return reasons


def _in_open_incident(session: Session, request: Request) -> bool:
    reported = (
        select(IncidentReport.id)
        .join(Incident, Incident.id == IncidentReport.incident_id)
        .where(IncidentReport.split_at.is_(None), Incident.state == IncidentState.OPEN)
    )
    if request.account_key:
        reported = reported.where(IncidentReport.account_key == request.account_key)
    else:
        reported = reported.where(IncidentReport.request_id == request.id)
    return bool(session.scalar(select(exists(reported))))


def _with_a_person(session: Session, request: Request, draft: Draft) -> list[str]:
    """Why the customer is already in a conversation with a person, if they are."""
    reasons = []
    if request.thread_ts != request.ts:
        reasons.append("the customer wrote in an existing thread")
    if request.card_ts is not None:  # a person may be writing the answer already
        reasons.append("its card already showed a draft for a person")
    if request.escalations or request.escalated_at is not None:
        reasons.append("the request was escalated")
    if request.answered_by:
        reasons.append("a colleague answered in the thread")
    decided = session.scalar(
        select(
            exists().where(
                Draft.request_id == request.id,
                Draft.id != draft.id,
                (Draft.decided_by.is_not(None)) | (Draft.posted_ts.is_not(None)),
            )
        )
    )
    before = any(draft_details(d).auto_sent is not None for d in request.drafts)
    if decided or before:
        reasons.append("a person or an automatic answer already took part")
    return reasons


def decide(deps: Deps, request_id: int) -> bool:
    """The card stage's question: post the current draft without approval? When every
    condition holds, mark it auto_sent and queue its post; True when it did."""
    settings = deps.settings
    if not settings.auto_send:
        return False
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        draft = request.current_draft
        if draft is None:
            return False
        reasons = why_not(session, settings, request, draft)
        if reasons:
            if reasons[0] != "AUTO_SEND names neither this channel nor this tier":
                log.info("auto_send.held", request_id=request_id, why=reasons)
            return False
        details = draft_details(draft)
        text = f"{draft.text.strip()}\n\n{phrases(details.language).automatic}"
        marked = session.execute(
            update(Draft)
            .where(Draft.id == draft.id, Draft.status == DraftStatus.PENDING)
            .values(
                status=DraftStatus.AUTO_SENT,
                decided_by=ACTOR,
                decided_at=datetime.now(UTC),
                posted_text=text,
            )
        ).rowcount  # type: ignore[attr-defined]
        if not marked:  # a person clicked meanwhile: theirs stands
            return False
        score = best_cited(details.sources, details.grounding)
        details.auto_sent = AutoSent(
            revision=request.revision, score=score, confidence=details.confidence or 0.0
        )
        session.execute(update(Draft).where(Draft.id == draft.id).values(details=stored(details)))
        outbox_id = outbox_row(
            session,
            f"auto-reply:{draft.id}",
            kind=KIND,
            request_id=request.id,
            draft_id=draft.id,
            channel_id=request.channel_id,
            thread_ts=request.thread_ts,
            body={"text": text},
        )
        session.add(
            AuditEntry(
                actor=ACTOR,
                action="draft.auto_sent",
                request_id=request.id,
                draft_id=draft.id,
                detail={
                    "score": score,
                    "confidence": details.confidence,
                    "category": request.category,
                    **fingerprint(text=text),
                },
            )
        )
    log.info("auto_send.queued", request_id=request_id, outbox_id=outbox_id, score=score)
    deliver_soon(deps, outbox_id)
    return True
