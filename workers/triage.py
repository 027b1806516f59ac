"""Triage (SPEC §5.2): category, urgency, one-line summary, needs-reply.

This is the deterministic offline classifier: ordered keyword and pattern rules, the first
category whose rule matches wins. The model-backed triage (issue "Drafts an account manager
would send") will use it as its fallback; `triage classify` will print its output.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel


class Category(StrEnum):
    QUESTION = "question"
    BUG = "bug"
    INCIDENT = "incident"
    FEATURE_REQUEST = "feature_request"
    BILLING = "billing"
    ACCOUNT_ACCESS = "account_access"
    OTHER = "other"
    NO_ACTION = "no_action"


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Triage(BaseModel):
    category: Category
    urgency: Urgency
    summary: str
    needs_reply: bool


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


# Order matters: an outage that mentions an invoice is an incident.
_CATEGORY_RULES: list[tuple[Category, re.Pattern[str]]] = [
    (
        Category.INCIDENT,
        _words(
            r"outage",
            r"(?:is|are|went|go(?:ne)?) down",
            r"down for",
            r"not loading",
            r"unreachable",
            r"5\d\d errors?",
            r"production",
            r"all (?:of )?(?:our |the )?users",
            r"nobody can",
            r"sev ?[12]",
            r"p1",
        ),
    ),
    (
        Category.ACCOUNT_ACCESS,
        _words(
            r"log ?in",
            r"sign ?in",
            r"password",
            r"sso",
            r"saml",
            r"2fa",
            r"mfa",
            r"locked out",
            r"access",
            r"permissions?",
            r"invite",
            r"seats?",
        ),
    ),
    (
        Category.BILLING,
        _words(
            r"invoices?",
            r"billing",
            r"billed",
            r"charged?",
            r"refund",
            r"payment",
            r"credit card",
            r"pricing",
            r"subscription",
            r"renewal",
        ),
    ),
    (
        Category.BUG,
        _words(
            r"bug",
            r"error",
            r"broken",
            r"crash(?:es|ed)?",
            r"fails?",
            r"failing",
            r"doesn'?t work",
            r"not working",
            r"wrong",
            r"exception",
        ),
    ),
    (
        Category.FEATURE_REQUEST,
        _words(
            r"feature request",
            r"would be (?:great|nice)",
            r"could you add",
            r"please add",
            r"support for",
            r"roadmap",
            r"wish",
        ),
    ),
]
_QUESTION = re.compile(
    r"\?|^\s*(?:how|what|why|when|where|which|who|can|could|is|are|do|does)\b", re.IGNORECASE
)
_NO_ACTION = re.compile(
    r"^\W*(?:thanks?(?: you)?(?: so much| a lot)?|thx|ty|cheers|ok(?:ay)?|got it|perfect|great|"
    r"awesome|cool|nice|sounds good|will do|done|appreciated?|much appreciated)\W*$",
    re.IGNORECASE,
)
# A short message that opens with thanks/ok and asks nothing ("thanks, all good now!").
_CLOSING = re.compile(
    r"^\W*(?:thanks?|thank you|thx|ty|cheers|ok(?:ay)?|got it|perfect|great|awesome|"
    r"sounds good|will do|appreciated?|much appreciated)\b",
    re.IGNORECASE,
)
_URGENT = _words(
    r"urgent(?:ly)?",
    r"asap",
    r"emergency",
    r"critical",
    r"outage",
    r"p1",
    r"sev ?1",
    r"right now",
    r"immediately",
)
_HIGH = _words(
    r"blocked",
    r"blocking",
    r"can'?t",
    r"cannot",
    r"deadline",
    r"today",
    r"customers? (?:are|is) affected",
)


def classify_offline(text: str) -> Triage:
    """Classify a customer's words with the documented rules above."""
    clean = " ".join(text.split())
    stripped = re.sub(r":[a-z0-9_+\-]+:", "", clean).strip()  # :+1: and friends
    if not stripped or _NO_ACTION.match(stripped) or _is_closing(stripped):
        return Triage(
            category=Category.NO_ACTION,
            urgency=Urgency.LOW,
            summary=_summary(clean) or "(no text)",
            needs_reply=False,
        )
    category = next((c for c, rule in _CATEGORY_RULES if rule.search(clean)), None)
    if category is None:
        category = Category.QUESTION if _QUESTION.search(clean) else Category.OTHER
    if _URGENT.search(clean) or category == Category.INCIDENT:
        urgency = Urgency.URGENT if _URGENT.search(clean) else Urgency.HIGH
    elif _HIGH.search(clean) or category == Category.BUG:
        urgency = Urgency.HIGH if _HIGH.search(clean) else Urgency.NORMAL
    elif category == Category.FEATURE_REQUEST:
        urgency = Urgency.LOW
    else:
        urgency = Urgency.NORMAL
    return Triage(category=category, urgency=urgency, summary=_summary(clean), needs_reply=True)


def _is_closing(text: str) -> bool:
    return (
        bool(_CLOSING.match(text))
        and "?" not in text
        and len(text.split()) <= 8
        and not any(rule.search(text) for _, rule in _CATEGORY_RULES)
    )


def _summary(text: str, limit: int = 120) -> str:
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"
