"""Typed stage data: what the stages store loads back as the model, rows written before the
models existed load too, and the JSON keeps the keys other readers query in SQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from integrations.salesforce import AccountContext, Contact, OpenCase, Owner
from integrations.store.models import Draft, Request
from workers.blocks.card import CardView, build_approval_card
from workers.context import Found, present
from workers.stage_data import (
    Account,
    DraftDetails,
    Feedback,
    RequestContext,
    Suggestion,
    Suggestions,
    draft_details,
    request_context,
    request_suggestions,
    stored,
)

NOW = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)

# A context row as the context stage wrote it before it was typed (`AccountContext.to_dict()`
# with the owner's Slack user added; `None` where the CRM had nothing).
OLD_CONTEXT = {
    "status": "ok",
    "source": "access token",
    "cached": False,
    "summary": "*Globex* · enterprise",
    "brief": "Account: Globex",
    "account": {
        "id": "001G",
        "name": "Globex",
        "tier": "enterprise",
        "owner": {"name": "Amy", "email": "amy@example.test", "slack_user_id": "U0AMY"},
        "open_cases": [
            {
                "id": "500A",
                "number": "00001002",
                "subject": "SSO outage",
                "status": "Working",
                "priority": "High",
                "opened_at": "2026-11-15T10:00:00+00:00",
                "owner": None,
            }
        ],
        "opportunities": [
            {
                "id": "006R",
                "name": "Renewal",
                "stage": "Negotiation",
                "close_date": "2026-12-28",
                "type": "Renewal",
                "amount": None,
            }
        ],
        "renewal_date": "2026-12-28",
        "contact": None,
        "business_hours": None,
    },
}


def test_rows_written_before_the_models_load() -> None:
    context = request_context(Request(context=OLD_CONTEXT))
    assert context is not None and context.account is not None
    assert context.account.owner is not None and context.account.owner.slack_user_id == "U0AMY"
    assert context.account.open_cases[0].opened_at == datetime(2026, 11, 15, 10, tzinfo=UTC)
    assert context.account.renewal_date == date(2026, 12, 28)
    unlinked = {"status": "unlinked", "reason": "not linked", "source": None}
    assert request_context(Request(context=unlinked)) == RequestContext(
        status="unlinked", reason="not linked"
    )
    assert request_context(Request(context=None)) is None  # the card: "not gathered yet"

    purged = {"status": "ok", "people": [{"user_id": "U1", "reason": "(purged)"}], "purged": True}
    suggestions = request_suggestions(Request(suggestions=purged))
    assert suggestions == Suggestions(
        status="ok", people=[Suggestion(user_id="U1", reason="(purged)")], purged=True
    )

    assert Suggestion.model_validate({"user_id": "U1", "reason": None}).reason == ""  # null
    assert draft_details(Draft(details=None)) == DraftDetails()
    offline = draft_details(Draft(details={"sources": ["request:7"]}))
    assert offline.sources == ["request:7"] and offline.flags == []
    liked = draft_details(Draft(details={"feedback": {"up": 2, "down": 0}, "model": "m"}))
    assert liked.feedback == Feedback(up=2) and liked.model == "m"


def test_what_is_stored_loads_back_as_the_same_model() -> None:
    context = RequestContext.model_validate(OLD_CONTEXT)
    assert RequestContext.model_validate(json.loads(json.dumps(stored(context)))) == context
    details = DraftDetails(confidence=0.0, needs_expert=False, flags=["x"], masked={"email": 1})
    assert DraftDetails.model_validate(stored(details)) == details


def test_the_stored_json_keeps_the_keys_sql_readers_query() -> None:
    # workers/retention.py purges suggestions whose `purged` key is absent;
    # workers/report.py reads `context.account.name`.
    assert "purged" not in stored(Suggestions(status="ok", people=[Suggestion(user_id="U1")]))
    kept = stored(RequestContext.model_validate(OLD_CONTEXT))
    assert kept["account"]["name"] == "Globex" and kept["status"] == "ok"
    assert stored(DraftDetails(feedback=Feedback(up=2)))["feedback"] == {"up": 2, "down": 0}


def test_the_crm_answer_becomes_the_stored_account() -> None:
    crm = AccountContext(
        id="001G",
        name="Globex",
        tier="enterprise",
        owner=Owner("Amy", "amy@example.test"),
        open_cases=[
            OpenCase("500A", "00001002", "SSO outage", "Working", "High", NOW, Owner("Gus"))
        ],
        contact=Contact("003C", "Carol", "carol@example.test"),
        renewal_date=date(2026, 12, 28),
    )
    account = Account.from_crm(crm)
    assert account.open_cases[0].owner is not None and account.open_cases[0].owner.name == "Gus"
    assert account.contact is not None and account.contact.id == "003C"
    shown = present(
        Found(status="ok", source="accounts file", account=account), cached=False, now=NOW
    )
    assert shown.summary.startswith("*Globex* · enterprise · owner Amy · 1 open case, 00001002")
    assert "renewal in 40 days" in shown.summary
    assert "@" not in shown.brief  # the drafter gets no email addresses


def test_the_card_shows_typed_context_and_suggestions() -> None:
    card = CardView(
        request_id=1,
        channel_id="C1",
        customer_id="U0CUSTOMER",
        text="Where is the export?",
        state="open",
        context=RequestContext(status="unavailable", reason="CRM <down>"),
        suggestions=Suggestions(status="ok", people=[Suggestion(user_id="U0SAM", reason="a & b")]),
    )
    text = json.dumps([b.to_dict() for b in build_approval_card(card)], ensure_ascii=False)
    assert "🏢 Account: unavailable (CRM &lt;down&gt;)" in text
    assert "<@U0SAM> · a &amp; b" in text
    empty = CardView(request_id=1, channel_id="C1", customer_id="U", text="t", state="open")
    text = json.dumps([b.to_dict() for b in build_approval_card(empty)], ensure_ascii=False)
    assert "🏢 Account: not gathered yet" in text and "colleagues: not gathered yet" in text
