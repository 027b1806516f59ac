"""Draft (SPEC §5.4): the reply an account manager approves, edits or rejects.

In this version only the offline drafter exists: an honest acknowledgement that restates what
the customer asked, labelled as offline on the card. The OpenAI drafter, retrieval of approved
answers and the knowledge base arrive with the issue "Drafts an account manager would send".
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.triage import Category, Triage, Urgency


@dataclass(frozen=True)
class DraftResult:
    text: str
    source: str  # offline | openai | unavailable
    note: str  # what the card says about how this draft was made


_OPENERS = {
    Category.INCIDENT: (
        "Thanks for flagging this. We're treating it as urgent and looking into it now."
    ),
    Category.BUG: "Thanks for the report. We're reproducing it on our side.",
    Category.BILLING: "Thanks for reaching out about billing. We're checking your account now.",
    Category.ACCOUNT_ACCESS: "Thanks for letting us know. We're looking at your access right away.",
    Category.FEATURE_REQUEST: "Thanks for the suggestion. We'll share it with our product team.",
}


def draft_offline(*, user_id: str, triage: Triage) -> DraftResult:
    """An acknowledgement the approver can send as is or edit; it promises nothing specific."""
    opener = _OPENERS.get(triage.category, "Thanks for your message. We're looking into it.")
    follow_up = (
        "We'll update you in this thread within the hour."
        if triage.urgency in (Urgency.URGENT, Urgency.HIGH)
        else "We'll follow up in this thread shortly."
    )
    return DraftResult(
        text=f"Hi <@{user_id}>, {opener[0].lower()}{opener[1:]} {follow_up}",
        source="offline",
        note=(
            "Offline draft: no OPENAI_API_KEY is set, so this is an acknowledgement, not an answer."
        ),
    )
