"""Triage (SPEC §5.2): category, urgency, one-line summary, needs-reply.

The model decides when configured; otherwise, and whenever the model fails, the deterministic
offline rules of `workers.triage_rules` do. `triage classify` prints either's output.
"""

from __future__ import annotations

import structlog

from integrations.llm import LanguageModel, ModelUnavailable
from workers.prompt import triage_prompt
from workers.triage_rules import classify_offline
from workers.triage_types import Category, Triage, Urgency

__all__ = ["Category", "Triage", "TriageResult", "Urgency", "classify_offline", "triage_text"]

log = structlog.get_logger(__name__)


class TriageResult(Triage):
    """The model's answer (the class name is the JSON schema's name)."""


def triage_text(llm: LanguageModel | None, text: str) -> tuple[Triage, str]:
    """The model's triage when configured and answering, else the offline rules; and which."""
    if llm is None:
        return classify_offline(text), "rules"
    try:
        answer = llm.parse(triage_prompt(text).messages, TriageResult)
    except ModelUnavailable as exc:
        log.warning("triage.model_unavailable", error=str(exc))
        return classify_offline(text), "rules (the model was unavailable)"
    return Triage.model_validate(answer.model_dump()), "model"
