"""The status update a person is offered for an incident (SPEC §6.6): the model's when it is
configured, a template otherwise.

The same text goes to every affected customer, so it is written from what the incident is
(its product area, status codes, endpoints, error codes, how many accounts, since when), never
from one customer's words: nothing of one account may reach another. The model is asked by
the incident job (`workers.incident_jobs`) whenever those facts change, not when a person
clicks (the modal must open within the trigger's 3 seconds), and its drafts are kept in Redis:
a cache, rebuilt by the next job, and the template stands in whenever it is missing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import structlog
from pydantic import BaseModel, Field

from integrations.deps import Deps
from integrations.failures import REDIS_DOWN
from integrations.llm import ModelUnavailable

log = structlog.get_logger(__name__)

KINDS = ("update", "resolve")
KEEP_SECONDS = 7 * 86400

_AREA_WORDS = {  # the most specific first: SAML says more than "logging in"
    "sso": "single sign-on (SAML) login",
    "login": "logging in",
    "webhook": "webhook deliveries",
    "export": "exports",
    "dashboard": "dashboards",
    "email": "emails and notifications",
    "billing": "billing",
    "events": "the events API",
    "sync": "integrations syncing",
    "api": "the API",
}

SYSTEM = (
    "You write the status update a B2B software company's support team posts, unchanged, in "
    "each affected customer's Slack thread during an incident. Write 2 to 4 short, calm "
    "sentences in English: what is affected (in the customer's terms), that the team is on "
    "it, and that the next update comes in this thread; for a closing update, that it is "
    "resolved and how to reach the team if it is not. Never guess a cause, never promise a "
    "time, never name a customer or an account."
)


class IncidentUpdateDraft(BaseModel):
    text: str = Field(description="The update, exactly as customers will read it")


def template(signatures: list[str], kind: str) -> str:
    """The update without a model: what is affected, in words every customer can read."""
    what, seen = _facts(signatures)
    if kind == "resolve":
        return (
            f"Update: the issue affecting {what}{seen} is resolved and everything is working "
            "normally again. Thank you for your patience, and sorry for the disruption. If you "
            "still see a problem, reply in this thread and we will look at it right away."
        )
    return (
        f"We are aware of an issue affecting {what}{seen} for several customers, and our team "
        "is working on it now. We will post the next update in this thread as soon as we know "
        "more. Sorry for the disruption."
    )


def _facts(signatures: list[str]) -> tuple[str, str]:
    areas = [words for area, words in _AREA_WORDS.items() if f"area:{area}" in signatures]
    codes = [
        s.split(":", 1)[1] for s in signatures if s.startswith(("http:", "endpoint:", "error:"))
    ]
    seen = f" (you may see {', '.join(f'`{c}`' for c in codes[:2])})" if codes else ""
    return (areas[0] if areas else "part of our service"), seen


def offered(deps: Deps, incident_id: int, signatures: list[str], kind: str) -> str:
    """The draft the modal opens with: the model's, when one was made for these facts."""
    try:
        digest, text = deps.redis.hmget(_key(incident_id, kind), ["digest", "text"])
    except REDIS_DOWN as exc:
        log.warning("incident.draft_not_read", incident_id=incident_id, error=str(exc))
        digest = text = None
    if digest == _digest(signatures).encode() and isinstance(text, bytes) and text:
        return text.decode()
    return template(signatures, kind)


def prepare(
    deps: Deps, incident_id: int, signatures: list[str], accounts: int, since: datetime
) -> None:
    """Ask the model for both drafts when the incident's facts changed since it last did."""
    if deps.llm is None:
        return
    digest = _digest(signatures)
    for kind in KINDS:
        key = _key(incident_id, kind)
        try:
            if deps.redis.hget(key, "digest") == digest.encode():
                continue
        except REDIS_DOWN as exc:  # nowhere to keep it: the template stands in
            log.warning("incident.draft_skipped", incident_id=incident_id, error=str(exc))
            return
        what, seen = _facts(signatures)
        facts = {
            "kind": "closing update: the incident is resolved" if kind == "resolve" else "update",
            "affected": what + seen,
            "accounts_reporting": accounts,
            "since": since.strftime("%H:%M UTC"),
        }
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": json.dumps(facts)},
        ]
        try:
            text = deps.llm.parse(messages, IncidentUpdateDraft).text.strip()
        except ModelUnavailable as exc:
            log.warning("incident.draft_unavailable", incident_id=incident_id, error=str(exc))
            return
        if text:
            with deps.redis.pipeline() as pipe:
                pipe.hset(key, mapping={"digest": digest, "text": text})
                pipe.expire(key, KEEP_SECONDS)
                pipe.execute()


def _key(incident_id: int, kind: str) -> str:
    return f"triage:incident-draft:{incident_id}:{kind}"


def _digest(signatures: list[str]) -> str:
    return hashlib.sha256(json.dumps(sorted(signatures)).encode()).hexdigest()[:16]
