"""What the pipeline's stages hand each other, typed, and how it is kept in the store.

Each stage returns a pydantic model; the store keeps it as JSON in the request's or the draft's
JSON column (`requests.context`, `requests.suggestions`, `drafts.details`) and the readers
load it back as the model, through the accessors at the bottom. Triage is kept in plain
columns (`requests.category`, `urgency`, `summary`, `needs_reply`) and read back the same way.

Stored JSON leaves out fields that are None (`stored`): other readers query these columns by
key in SQL (retention looks for `suggestions.purged`, the report for `context.account.name`),
where an absent key and a None must mean the same, so a flag that SQL looks for is None until
it is set. Every field a row written by an older version may lack has a default, and a JSON
`null` reads as the default, so old rows load.

The stored account (`Account`) is not the CRM adapters' `integrations.salesforce.AccountContext`:
that is what a CRM answers (dates as dates, nothing of Slack); this is what the request keeps of
it, with the Slack users the context stage found for its owner and its Cases' owners.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from integrations.salesforce import AccountContext
from integrations.store.models import Draft, Request
from workers.triage_types import Category, Triage, Urgency


class _Stored(BaseModel):
    """A model kept in a JSON column: a `null` there reads as the field's default."""

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


def stored(model: BaseModel) -> dict[str, Any]:
    """The model as a JSON column holds it: JSON types, None fields left out."""
    return model.model_dump(mode="json", exclude_none=True)


# --- triage ------------------------------------------------------------------------------------
def request_triage(request: Request) -> Triage:
    """The triage kept on the request; an untriaged one reads as `other`, `normal`."""
    return Triage(
        category=Category(request.category or Category.OTHER),
        urgency=Urgency(request.urgency or Urgency.NORMAL),
        summary=request.summary or "",
        needs_reply=request.needs_reply if request.needs_reply is not None else True,
    )


def store_triage(request: Request, triage: Triage) -> None:
    request.category, request.urgency = triage.category.value, triage.urgency.value
    request.summary, request.needs_reply = triage.summary, triage.needs_reply


# --- account context ---------------------------------------------------------------------------
class Person(_Stored):
    """A CRM user (an account's owner, a Case's owner) and their Slack user, when found."""

    name: str = ""
    email: str | None = None
    slack_user_id: str | None = None


class Case(_Stored):
    id: str = ""
    number: str = ""
    subject: str = ""
    status: str = ""
    priority: str = ""
    opened_at: datetime | None = None
    owner: Person | None = None


class Opportunity(_Stored):
    id: str = ""
    name: str = ""
    stage: str = ""
    close_date: date | None = None
    type: str | None = None
    amount: float | None = None


class Contact(_Stored):
    id: str = ""
    name: str = ""
    email: str | None = None


class Account(_Stored):
    """The channel's account as the request keeps it; nothing of any other account."""

    id: str = ""
    name: str = ""
    tier: str | None = None
    owner: Person | None = None
    open_cases: list[Case] = Field(default_factory=list)
    opportunities: list[Opportunity] = Field(default_factory=list)
    renewal_date: date | None = None
    contact: Contact | None = None
    business_hours: str | None = None  # overrides BUSINESS_HOURS for this account's SLA

    @classmethod
    def from_crm(cls, account: AccountContext) -> Account:
        return cls.model_validate(account.to_dict())


class RequestContext(_Stored):
    """The context stage's answer (`requests.context`): the account, or why there is none.

    `ok`: `account`, its one-line mrkdwn `summary` for the card and plain-text `brief` for the
    drafter; `unlinked` and `unavailable`: the `reason`, shown on the card."""

    status: Literal["ok", "unlinked", "unavailable"]
    reason: str | None = None
    source: str | None = None  # the CRM's mode: "access token", "accounts file"...
    cached: bool = False
    summary: str = ""
    brief: str = ""
    account: Account | None = None


def request_context(request: Request) -> RequestContext | None:
    """The request's account context; None until the context stage has run."""
    return RequestContext.model_validate(request.context) if request.context else None


# --- suggested colleagues ----------------------------------------------------------------------
class Suggestion(_Stored):
    user_id: str
    reason: str = ""


class Suggestions(_Stored):
    """The suggest stage's answer (`requests.suggestions`): the people, best first, or why
    there are none."""

    status: Literal["ok", "unavailable"]
    people: list[Suggestion] = Field(default_factory=list)
    reason: str | None = None
    purged: bool | None = None  # True once retention replaced the reasons (it queries this key)


def request_suggestions(request: Request) -> Suggestions | None:
    """The request's suggested colleagues; None until the suggest stage has run."""
    return Suggestions.model_validate(request.suggestions) if request.suggestions else None


# --- the draft ---------------------------------------------------------------------------------
class UnseenImage(_Stored):
    """An image the model was not shown, and why."""

    name: str = ""
    reason: str = ""


class Feedback(_Stored):
    """👍/👎 counts on a posted answer (workers.feedback keeps them, retrieval weighs them)."""

    up: int = 0
    down: int = 0


class Translation(_Stored):
    """The customer's messages and the draft in the team's language (`TEAM_LANGUAGE`), for an
    approver who may not read the customer's (SPEC §5.4). Kept only when the two languages
    differ; empty, with `missing` saying why, when there is none (an offline draft)."""

    language: str = "en"  # the team's, translated into
    message: str = ""  # the customer's messages, translated
    reply: str = ""  # the draft, translated
    missing: str | None = None  # why there is no translation


class AutoSent(_Stored):
    """A draft posted without approval (SPEC §6.7): what allowed it, and what undid it."""

    revision: int = 0  # the request's revision it answered: a later message hands it back
    score: float = 0.0  # its best cited source's grounding score (workers.grounding_score)
    confidence: float = 0.0
    handed_back: str | None = None  # why a person has it now: undone, 👎, a follow-up...
    undone_by: str | None = None  # who clicked Undo: its post is deleted


class DraftDetails(_Stored):
    """How a draft was made and what it was made from (`drafts.details`), and the feedback
    on it once posted."""

    confidence: float | None = None
    needs_expert: bool | None = None
    sources: list[str] = Field(default_factory=list)  # example-1, kb-2, request:<id>, a file
    flags: list[str] = Field(default_factory=list)  # what to check before sending
    masked: dict[str, int] = Field(default_factory=dict)  # kind -> values masked in the prompt
    model: str | None = None
    images: list[str] = Field(default_factory=list)  # file ids the model saw
    unseen: list[UnseenImage] = Field(default_factory=list)
    error: str | None = None  # why the model could not draft
    language: str | None = None  # the customer's (ISO 639-1); None: too little text to tell
    translation: Translation | None = None  # when the customer's language is not the team's
    feedback: Feedback = Field(default_factory=Feedback)
    feedback_by: dict[str, list[str]] = Field(default_factory=dict)  # up/down -> user ids
    # Each source offered, by the id a draft cites it with: 0..1 (workers.grounding_score)
    grounding: dict[str, float] = Field(default_factory=dict)
    auto_sent: AutoSent | None = None  # it was posted without approval (workers.auto_send)


def draft_details(draft: Draft) -> DraftDetails:
    return details_of(draft.details)


def forget_translation(draft: Draft, why: str) -> None:
    """Drop the translations of the customer's words and of the draft from the draft's details
    (the customer deleted a message); the card then says `why` there is none."""
    details = draft_details(draft)
    translation = details.translation
    if translation is not None and (translation.message or translation.reply):
        details.translation = Translation(language=translation.language, missing=why)
        draft.details = stored(details)


def details_of(details: dict[str, Any] | None) -> DraftDetails:
    """`drafts.details` as read by a query that selects the column alone."""
    return DraftDetails.model_validate(details) if details else DraftDetails()
