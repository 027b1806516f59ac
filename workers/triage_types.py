"""The triage result (SPEC §5.2): the shape both the model and the offline rules produce."""

from __future__ import annotations

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
