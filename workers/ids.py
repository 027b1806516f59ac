"""Identifiers that are part of the interface with Slack (SPEC §5.6): never rename casually."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    APPROVE_DRAFT = "approve_draft"
    EDIT_DRAFT = "edit_draft"
    REGENERATE_DRAFT = "regenerate_draft"
    REJECT_DRAFT = "reject_draft"
    PULL_IN = "pull_in"
    ESCALATE = "escalate"
    INCIDENT_UPDATE = "incident_update"  # the incident card: post a status update
    INCIDENT_RESOLVE = "incident_resolve"  # the incident card: the closing update
    INCIDENT_SPLIT = "incident_split"  # value: a request id, taken out of the incident
    INCIDENT_SEND_UPDATE = "incident_send_update"  # a late report's card: the latest update
    CSAT_GOOD = "csat_good"  # the CSAT question in a customer's thread; value: the request id
    CSAT_BAD = "csat_bad"
    UNDO_AUTO_SEND = "undo_auto_send"  # the card of an automatic answer; value: the draft id


class CallbackId(StrEnum):
    EDIT_DRAFT = "edit_draft"
    REJECT_DRAFT = "reject_draft"
    ESCALATE_MESSAGE = "escalate_message"  # the message shortcut
    ESCALATE_REQUEST = "escalate_request"  # the escalation modal
    INCIDENT_UPDATE = "incident_update"  # the update (or closing update) modal


class BlockId(StrEnum):
    EDIT_TEXT = "draft_text"
    EDIT_TEXT_INPUT = "draft_text_input"
    REJECT_REASON = "reject_reason"
    REJECT_REASON_INPUT = "reject_reason_input"
    CARD_ACTIONS = "card_actions"
    ESCALATE_REQUEST = "escalate_request"
    ESCALATE_REQUEST_INPUT = "escalate_request_input"
    ESCALATE_PRIORITY = "escalate_priority"
    ESCALATE_PRIORITY_INPUT = "escalate_priority_input"
    ESCALATE_REASON = "escalate_reason"
    ESCALATE_REASON_INPUT = "escalate_reason_input"
    INCIDENT_TEXT = "incident_text"
    INCIDENT_TEXT_INPUT = "incident_text_input"
    INCIDENT_ACTIONS = "incident_actions"
    CSAT_ACTIONS = "csat_actions"


class Reaction(StrEnum):
    SEEN = "eyes"
    ANSWERED = "white_check_mark"


OUTBOX_EVENT_TYPE = "triage_outbox"  # message metadata that lets a crashed post be found again
