"""Triage (SPEC §5.2): category, urgency, one-line summary, needs-reply.

The model decides when configured; otherwise, and whenever the model fails, the learned offline
classifier of `workers.triage_model` does (trained on `workers/classifier_data/train.jsonl`,
shipped with the package). `triage classify` prints either's output.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from integrations.llm import LanguageModel, ModelUnavailable
from workers.prompt import triage_prompt
from workers.triage_model import classify_offline
from workers.triage_types import Category, Triage, Urgency

__all__ = ["Category", "Triage", "TriageResult", "Urgency", "classify_offline", "triage_text"]

log = structlog.get_logger(__name__)


class TriageResult(Triage):
    """The model's answer (the class name is the JSON schema's name)."""


def triage_text(
    llm: LanguageModel | None, text: str, offline: Callable[[str], Triage] | None = None
) -> tuple[Triage, str]:
    """The model's triage when configured and answering, else the offline classifier's
    (`offline`, by default the packaged one); and which decided."""
    offline = offline or classify_offline
    if llm is None:
        return offline(text), "offline"
    try:
        answer = llm.parse(triage_prompt(text).messages, TriageResult)
    except ModelUnavailable as exc:
        log.warning("triage.model_unavailable", error=str(exc))
        return offline(text), "offline (the model was unavailable)"
    return Triage.model_validate(answer.model_dump()), "model"
