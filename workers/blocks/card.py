"""The approval card (SPEC §5.6) and the edit modal: pure builders over plain data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    InputBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from workers.blocks.auto_send import auto_sent_line, handed_back_line, undo_button
from workers.blocks.incident import IncidentMark, incident_mark
from workers.blocks.kit import clip, modal, plain, slack_time, text_input
from workers.blocks.translation import draft_translation, message_translation
from workers.ids import ActionId, BlockId, CallbackId
from workers.language import language_name
from workers.stage_data import AutoSent, RequestContext, Suggestions, Translation

SECTION_LIMIT = 3000  # Block Kit: a section's text
_URGENCY_MARK = {"urgent": "🔴 urgent", "high": "🟠 high", "normal": "🟢 normal", "low": "⚪ low"}


@dataclass(frozen=True)
class CardView:
    """Everything a card shows, read from the database by the worker."""

    request_id: int
    channel_id: str
    customer_id: str
    text: str
    state: str  # open | answered | closed | withdrawn
    permalink: str | None = None
    category: str | None = None
    urgency: str | None = None
    summary: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    context: RequestContext | None = None  # None: not gathered yet
    suggestions: Suggestions | None = None
    draft_id: int | None = None
    draft_text: str | None = None
    draft_status: str | None = None
    draft_note: str = ""
    decided_by: str | None = None
    decision_reason: str | None = None
    posted_text: str | None = None
    answered_by: str | None = None  # a colleague who answered in the thread
    draft_flags: list[str] = field(default_factory=list)  # what to check before sending
    escalation: Escalation | None = None
    sla: SlaState | None = None
    incident: IncidentMark | None = None  # part of an incident (SPEC §6.6)
    language: str | None = None  # the customer's (ISO 639-1), when it could be told
    translation: Translation | None = None  # when it is not the team's (SPEC §5.4)
    health: str = ""  # the account's health when not good, on its line (workers.health)
    auto_sent: AutoSent | None = None  # AUTO_SEND posted it, or did before a handback


@dataclass(frozen=True)
class Escalation:
    """The request's latest escalation, as the card shows it."""

    priority: str
    by: str | None
    reason: str | None
    count: int = 1
    case_id: str | None = None


@dataclass(frozen=True)
class SlaState:
    """The request's first-response clock (SPEC §6.3)."""

    deadline: datetime
    reminded: bool = False
    breached: bool = False
    stopped_at: datetime | None = None
    tier: str | None = None


def build_approval_card(card: CardView) -> list[Block]:
    """The card's blocks; decided or withdrawn cards lose their buttons."""
    if card.state == "withdrawn":
        return [
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"🗑 *Withdrawn.* <@{card.customer_id}> deleted their message in "
                    f"<#{card.channel_id}>; its text is no longer stored."
                )
            )
        ]
    blocks: list[Block] = [_headline(card)]
    if card.incident:
        blocks.extend(incident_mark(card.incident, request_id=card.request_id))
    if card.escalation:
        blocks.append(_context(_escalation_line(card.escalation)))
    blocks.append(_customer_message(card))
    if card.translation is not None:
        blocks.append(message_translation(card.translation))
    if card.files:
        names = ", ".join(f.get("name") or f.get("title") or "file" for f in card.files[:5])
        blocks.append(_context(f"📎 {len(card.files)} file(s): {names}"))
    account = _status_line("🏢 Account", card.context, _account_summary)
    blocks.append(_context(f"{account} · {card.health}" if card.health else account))
    blocks.append(DividerBlock())
    blocks.extend(_draft(card))
    blocks.append(_context(_status_line("🙋 Suggested colleagues", card.suggestions, _people)))
    blocks.extend(_suggested_people(card))
    if card.state == "answered" and card.draft_status == "pending" and card.answered_by:
        blocks.append(
            _context(
                f"💬 <@{card.answered_by}> already answered in the customer's "
                "thread. Send this draft only if it still adds something."
            )
        )
    if card.sla:
        blocks.append(_context(_sla_line(card.sla)))
    if card.draft_status == "pending":
        if card.auto_sent is not None:
            blocks.append(handed_back_line(card.auto_sent))
        blocks.append(_buttons(card))
    else:
        automatic = card.draft_status == "auto_sent"
        if automatic:
            blocks.append(auto_sent_line(card.auto_sent, posted=card.state == "answered"))
        else:
            blocks.append(_decision(card))
        blocks.append(
            ActionsBlock(
                block_id=f"{BlockId.CARD_ACTIONS}:{card.request_id}:escalate",
                elements=[
                    *([undo_button(card.draft_id)] if automatic else []),
                    _escalate_button(card),
                ],
            )
        )
    return blocks


def _escalate_button(card: CardView) -> ButtonElement:
    return ButtonElement(text="Escalate", action_id=ActionId.ESCALATE, value=str(card.request_id))


def _escalation_line(escalation: Escalation) -> str:
    who = f" by <@{escalation.by}>" if escalation.by else ""
    again = f" ({escalation.count} times)" if escalation.count > 1 else ""
    reason = f": {plain(escalation.reason)}" if escalation.reason else ""
    case = f" · Case {escalation.case_id}" if escalation.case_id else ""
    return f"🚨 Escalated *{escalation.priority}*{who}{again}{reason}{case}"


def _sla_line(sla: SlaState) -> str:
    tier = f" ({sla.tier})" if sla.tier else ""
    if sla.stopped_at is not None and not sla.breached:
        return f"⏱ SLA{tier}: answered in time"
    if sla.breached:
        return f"🔥 SLA{tier} breached: no first response by {slack_time(sla.deadline)}"
    reminded = " · reminder sent" if sla.reminded else ""
    return f"⏱ SLA{tier}: first response due {slack_time(sla.deadline)}{reminded}"


def card_fallback_text(card: CardView) -> str:
    """The notification text of the card (shown where blocks cannot be)."""
    if card.state == "withdrawn":
        return "Request withdrawn: the customer deleted their message."
    return f"Request from <@{card.customer_id}>: {clip(card.summary or card.text, 150)}"


def build_edit_modal(*, draft_id: int, text: str) -> View:
    """The `edit_draft` modal, prefilled with the draft."""
    reply = text_input(
        BlockId.EDIT_TEXT,
        BlockId.EDIT_TEXT_INPUT,
        label="Reply to the customer",
        hint="Posted in the customer's thread when you submit.",
        max_length=SECTION_LIMIT,
        initial_value=clip(text, SECTION_LIMIT) or None,
    )
    return _draft_modal(CallbackId.EDIT_DRAFT, draft_id, "Edit reply", "Post reply", reply)


def build_reject_modal(*, draft_id: int) -> View:
    """The `reject_draft` modal: an optional reason, kept in the audit log and on the card."""
    reason = text_input(
        BlockId.REJECT_REASON,
        BlockId.REJECT_REASON_INPUT,
        label="Why? (optional)",
        hint="Nothing is sent to the customer.",
        max_length=500,
        optional=True,
    )
    return _draft_modal(CallbackId.REJECT_DRAFT, draft_id, "Reject draft", "Reject", reason)


def _draft_modal(
    callback_id: CallbackId, draft_id: int, title: str, submit: str, field: InputBlock
) -> View:
    """A modal on a draft: its id in the metadata (what `payloads._DraftModal` reads back)."""
    metadata = {"draft_id": draft_id}
    return modal(callback_id, title=title, submit=submit, metadata=metadata, blocks=[field])


def _headline(card: CardView) -> SectionBlock:
    urgency = _URGENCY_MARK.get(card.urgency or "", card.urgency or "untriaged")
    category = (card.category or "untriaged").replace("_", " ")
    summary = f"\n{card.summary}" if summary_adds(card.summary, card.text) else ""
    language = f" · 🌐 {language_name(card.language)}" if card.language else ""
    return SectionBlock(
        text=MarkdownTextObject(
            text=clip(
                f"*Request #{card.request_id}* from <@{card.customer_id}> in <#{card.channel_id}>"
                f" · {urgency} · {category}{language}{summary}",
                SECTION_LIMIT,
            )
        )
    )


def summary_adds(summary: str | None, text: str) -> bool:
    """Whether a summary says more than the quoted message below it: the offline rules'
    summary is the message's first sentence, and a card that showed both would say it twice."""
    if not summary:
        return False
    gist = " ".join(summary.removesuffix("…").split())
    return not " ".join(text.split()).startswith(gist)


def _customer_message(card: CardView) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=quote_message(card.text, card.permalink)))


def quote_message(text: str, permalink: str | None) -> str:
    """The customer's message quoted, then a link to it, within a section's 3,000 characters.

    A longer message is cut at a word, with a note saying how much is shown: the request keeps
    the whole text, and "View in channel" opens the original."""
    link = f"\n<{permalink}|View in channel>" if permalink else ""
    text = text or "(no text)"
    if len(_quote(text)) + len(link) <= SECTION_LIMIT:
        return _quote(text) + link
    budget = SECTION_LIMIT - len(link) - len(_shortened(text, text, _SEE_MESSAGE))
    low, high = 0, min(len(text), SHOWN)  # the longest head whose quote fits the budget
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if len(_quote(text[:middle])) <= budget else (low, middle - 1)
    head = _head(text, low)
    return _quote(head) + _shortened(text, head, _SEE_MESSAGE) + link


SHOWN = 2500  # the most of a long message or draft a card shows (a section holds 3,000)
_SEE_MESSAGE = " — see the message in the channel"


def _quote(text: str) -> str:
    return "\n".join(f">{line}" for line in text.splitlines())


def _head(text: str, size: int) -> str:
    """The first `size` characters of `text`, or fewer to end at a space or a line and not
    inside a Slack link, mention or escape (`<…>`, `&amp;`)."""
    head = text[:size]
    opened = head.rfind("<")
    if opened > head.rfind(">") and size - opened < 500:
        head = head[:opened]
    amp = head.rfind("&")
    if amp > head.rfind(";") and len(head) - amp < 8:
        head = head[:amp]
    space = max(head.rfind(" "), head.rfind("\n"))
    return (head[:space] if space > len(head) * 0.9 else head).rstrip()


def _shortened(text: str, head: str, where: str) -> str:
    """The note under a text the card shows only the beginning of."""
    return f"\n_…shortened: {len(text):,} characters, the first {len(head):,} shown{where}_"


def _draft(card: CardView) -> list[Block]:
    if card.draft_text is None:
        return [SectionBlock(text=MarkdownTextObject(text="*Draft reply:* not drafted yet…"))]
    if not card.draft_text:  # the model failed: the note says why
        return [
            SectionBlock(text=MarkdownTextObject(text="*Draft reply:* unavailable")),
            _context(f"⚠️ {card.draft_note}"),
        ]
    draft = card.draft_text
    if len(draft) > SECTION_LIMIT - 20:  # the draft stays whole: Approve posts all of it
        head = _head(draft, SHOWN)
        draft = head + _shortened(draft, head, "; Approve posts all of it")
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f"*Draft reply*\n{draft}"))]
    if card.translation is not None and card.translation.reply:
        blocks.append(draft_translation(card.translation))
    if card.draft_note:
        blocks.append(_context(f"ℹ️ {card.draft_note}"))
    if card.draft_flags:
        blocks.append(_context("⚠️ Check before sending: " + "; ".join(card.draft_flags) + "."))
    return blocks


def _buttons(card: CardView) -> ActionsBlock:
    value = str(card.draft_id)
    approve = ButtonElement(
        text="Approve & send", action_id=ActionId.APPROVE_DRAFT, value=value, style="primary"
    )
    edit = "Edit" if card.draft_text else "Write reply"  # an unavailable draft has no text
    return ActionsBlock(
        block_id=f"{BlockId.CARD_ACTIONS}:{card.request_id}",
        elements=[
            *([approve] if card.draft_text else []),
            ButtonElement(text=edit, action_id=ActionId.EDIT_DRAFT, value=value),
            ButtonElement(text="Regenerate", action_id=ActionId.REGENERATE_DRAFT, value=value),
            ButtonElement(
                text="Reject", action_id=ActionId.REJECT_DRAFT, value=value, style="danger"
            ),
            _escalate_button(card),
        ],
    )


def _decision(card: CardView) -> ContextBlock:
    who = f"<@{card.decided_by}>" if card.decided_by else "someone"
    if card.draft_status == "approved":
        edited = " (edited)" if card.posted_text and card.posted_text != card.draft_text else ""
        return _context(f"✅ Approved{edited} by {who}; the reply is in the customer's thread.")
    if card.draft_status == "rejected":
        reason = f": {card.decision_reason}" if card.decision_reason else ""
        return _context(f"❌ Rejected by {who}{reason}. Nothing was sent.")
    return _context("⏳ Redrafting…")


_Stage = TypeVar("_Stage", RequestContext, Suggestions)


def _status_line(label: str, data: _Stage | None, render: Callable[[_Stage], str]) -> str:
    if data is None:
        return f"{label}: not gathered yet"
    # Reasons are plain text: escape Slack's control characters ("/triage link <account>").
    reason = plain(data.reason or "unknown reason")
    if data.status == "unlinked":
        return f"{label}: {reason}"
    if data.status != "ok":
        return f"{label}: unavailable ({reason})"
    return f"{label}: {render(data)}"


def _account_summary(context: RequestContext) -> str:
    return context.summary or "linked"


def _people(suggestions: Suggestions) -> str:
    if not suggestions.people:
        return f"none ({plain(suggestions.reason)})" if suggestions.reason else "none"
    return "ranked by expertise, account team, availability and load"


def _suggested_people(card: CardView) -> list[Block]:
    """One line per suggested colleague: a mention, the reasons, and a `pull_in` button
    (value: the user id; block_id: `pull_in:<request id>:<user id>`) while it is open."""
    if card.suggestions is None or card.suggestions.status != "ok":
        return []
    blocks: list[Block] = []
    for person in card.suggestions.people[:3]:
        user = person.user_id
        button = (
            ButtonElement(text="Pull in", action_id=ActionId.PULL_IN, value=user)
            if card.state == "open"
            else None
        )
        blocks.append(
            SectionBlock(
                block_id=f"{ActionId.PULL_IN}:{card.request_id}:{user}",
                text=MarkdownTextObject(text=clip(f"<@{user}> · {plain(person.reason)}", 2000)),
                accessory=button,
            )
        )
    return blocks


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, SECTION_LIMIT))])
