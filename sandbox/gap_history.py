"""A month of requests with two knowledge gaps planted in it, and noise around them, for
`triage gaps`' tests and the README's example (a developer tool: it writes rows directly, not
through Slack). `bench/gaps.py` measures the grouping on larger labelled sets.

The two gaps: scheduled dashboard exports (English, Spanish and Chinese, no grounding, one
rejected, one heavily edited) and SCIM provisioning (no grounding, edited). The noise: requests
on the same and other subjects that were answered from grounding as drafted (not gaps), gap
requests that are each alone in what they ask, a withdrawn one, and one whose words retention
purged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy.orm import Session

from integrations.store.models import (
    Draft,
    DraftStatus,
    Evidence,
    Request,
    RequestMessage,
    RequestState,
    Stage,
)

ACCOUNTS = [
    ("C0GLOBEX", "Globex Corporation"),
    ("C0INITECH", "Initech"),
    ("C0UMBRELLA", "Umbrella"),
]
EXPORTS, SCIM = "exports", "scim"


class Asked(NamedTuple):
    """One seeded request: what the customer wrote, which gap it belongs to (None: noise),
    how its draft went, and the reply that answered it."""

    text: str
    gap: str | None
    outcome: str  # ungrounded | rejected | edited | grounded
    answer: str


_EXPORT_ANSWER = (
    "Hi {account} team! Dashboards can be exported on a schedule: open the dashboard, "
    "choose Share → Schedule export, pick CSV or PDF and the recipients. Scheduled exports "
    "run in the dashboard owner's timezone; write to exports@tallyboard.example if one fails."
)
_SCIM_ANSWER = (
    "SCIM provisioning is under Settings → Security → SCIM: generate a token, paste it with "
    "the base URL into Okta or Azure AD, then assign users. Deprovisioned users lose access "
    "within five minutes."
)

HISTORY = [
    Asked("How do I schedule a weekly CSV export of a dashboard?", EXPORTS, "ungrounded", ""),
    Asked("Can dashboards be exported to PDF automatically every Monday?", EXPORTS, "rejected", ""),
    Asked("is there a way to email a dashboard export as csv on a schedule", EXPORTS, "edited", ""),
    Asked(
        "¿Se puede programar la exportación del dashboard a CSV cada semana?",
        EXPORTS,
        "ungrounded",
        "",
    ),
    Asked(
        "Scheduled dashboard export to CSV didn't arrive — how do we set the schedule?",
        EXPORTS,
        "edited",
        "",
    ),
    Asked("如何定时导出仪表板为CSV？dashboard export schedule", EXPORTS, "ungrounded", ""),
    Asked("How do we set up SCIM provisioning with Okta?", SCIM, "ungrounded", ""),
    Asked(
        "Does SCIM provisioning work with Azure AD? Need to automate user provisioning",
        SCIM,
        "edited",
        "",
    ),
    Asked("SCIM token for Okta provisioning — where do I generate it?", SCIM, "ungrounded", ""),
    Asked("Can we deprovision users automatically via SCIM when they leave?", SCIM, "rejected", ""),
    # Answered from grounding as drafted: not gaps, whatever their subject.
    Asked(
        "How do I export a dashboard to CSV once?", None, "grounded", "Use Share → Export → CSV."
    ),
    Asked(
        "Where do I reset my password?",
        None,
        "grounded",
        "Use Forgot password on the sign-in page.",
    ),
    Asked(
        "Can I change the workspace currency to EUR?",
        None,
        "grounded",
        "Settings → Billing → Currency.",
    ),
    Asked("How do I invite a colleague?", None, "grounded", "Members → Invite, then their email."),
    # Gaps alone in what they ask: listed apart, no article.
    Asked("Do you have a status page RSS feed?", None, "ungrounded", ""),
    Asked("Our invoice shows the wrong VAT number", None, "rejected", ""),
    Asked("Is there a dark mode for the mobile app?", None, "edited", ""),
    Asked("Can the API return timestamps in milliseconds?", None, "ungrounded", ""),
]


def seed_gaps(
    session: Session, *, now: datetime | None = None, days: float = 27
) -> dict[str, list[int]]:
    """Write the history over the `days` before `now`, oldest first; returns the request ids
    by gap ("exports", "scim"), "noise", "withdrawn" and "purged"."""
    now = now or datetime.now(UTC)
    planted: dict[str, list[int]] = {EXPORTS: [], SCIM: [], "noise": []}
    for n, asked in enumerate(HISTORY):
        channel, account = ACCOUNTS[n % len(ACCOUNTS)]
        answer = asked.answer or (_EXPORT_ANSWER if asked.gap == EXPORTS else _SCIM_ANSWER)
        if asked.gap is None and not asked.answer:
            answer = "Thanks, a colleague will look into this."
        at = now - timedelta(days=days * (len(HISTORY) - n) / len(HISTORY), hours=3)
        request = _request(session, channel, account, at, asked.text)
        _draft(session, request, asked.outcome, answer.format(account=account), at)
        planted[asked.gap or "noise"].append(request.id)
    withdrawn = _request(
        session, *ACCOUNTS[0], now - timedelta(days=days / 9), "SCIM provisioning?"
    )
    withdrawn.state = RequestState.WITHDRAWN
    _draft(session, withdrawn, "ungrounded", "", now - timedelta(days=days / 9))
    purged = _request(
        session, *ACCOUNTS[1], now - timedelta(days=days * 0.95), ""
    )  # retention's work
    _draft(session, purged, "rejected", "", now - timedelta(days=days * 0.95))
    planted["withdrawn"], planted["purged"] = [withdrawn.id], [purged.id]
    session.flush()
    return planted


def _request(session: Session, channel: str, account: str, at: datetime, text: str) -> Request:
    ts = f"{at.timestamp():.6f}"
    request = Request(
        team_id="T0ACME",
        channel_id=channel,
        ts=ts,
        thread_ts=ts,
        user_id="U0C",
        state=RequestState.ANSWERED,
        stage=Stage.DONE,
        category="question",
        urgency="normal",
        needs_reply=True,
        created_at=at,
        answered_at=at + timedelta(minutes=20),
        account_key=f"channel:{channel}",
        context={"status": "ok", "account": {"id": channel, "name": account}},
        permalink=f"https://acme.slack.com/archives/{channel}/p{ts.replace('.', '')}",
    )
    session.add(request)
    session.flush()
    session.add(
        RequestMessage(request_id=request.id, channel_id=channel, ts=ts, user_id="U0C", text=text)
    )
    return request


def _draft(session: Session, request: Request, outcome: str, answer: str, at: datetime) -> None:
    """The request's draft, decided as `outcome` says, each a gap for one reason only:
    `ungrounded` (no sources, approved as the model wrote it), `edited` (grounded, approved
    with 80% of its words changed), `rejected` (grounded, rejected; a colleague answered in
    the thread); `grounded` (approved as drafted: no gap)."""
    acknowledged = "Thanks for reaching out! We're checking this and will follow up here."
    grounded = outcome != "ungrounded"
    approved = outcome != "rejected"
    decided = at + timedelta(minutes=20)
    session.add(
        Draft(
            request_id=request.id,
            text=acknowledged if outcome == "edited" else answer,
            source="openai",
            details={"sources": ["example-1"]} if grounded else {"sources": []},
            status=DraftStatus.APPROVED if approved else DraftStatus.REJECTED,
            decided_by="U0AMY",
            decided_at=decided,
            posted_text=answer if approved else None,
            posted_ts=f"{(decided + timedelta(minutes=1)).timestamp():.6f}" if approved else None,
            edit_distance=(0.8 if outcome == "edited" else 0.0) if approved else None,
        )
    )
    if not approved and answer:
        session.add(
            Evidence(
                source_key=f"request:{request.id}",
                user_id="U0BOB",
                kind="reply",
                channel_id=request.channel_id,
                request_id=request.id,
                answer=answer,
                answered_at=decided,
            )
        )
