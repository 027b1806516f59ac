"""The local model server's answer to `KnowledgeArticle` (workers/gap_articles.py): a
deterministic article made of the approved answers it was given, so tests can tell that the
article came from the model's call and from nothing else (a developer tool)."""

from __future__ import annotations

import re
from typing import Any

_BLOCK = re.compile(r"^<<<DATA (question|approved-answer)-(\d+)\n(.*?)\n<<<END$", re.S | re.M)


def knowledge_article(text: str) -> dict[str, Any]:
    """A title from the gap's words, then each distinct approved answer once."""
    gap = re.search(r"The gap: requests about (.+?)\.$", text, re.M)
    answers: list[str] = []
    questions = 0
    for kind, _, body in _BLOCK.findall(text):
        if kind == "question":
            questions += 1
        elif body.strip() not in answers:
            answers.append(body.strip())
    title = f"How to: {gap.group(1) if gap else 'a common question'}"
    summary = f"Customers asked this {questions} times; the approved answers say:"
    sections = "\n\n".join(f"## Answer {n}\n\n{a}" for n, a in enumerate(answers, 1))
    return {"title": title, "body": f"{summary}\n\n{sections}"}
