"""How closely a draft's grounding matches the question: a number from 0 to 1 per source.

Retrieval ranks with BM25+ (`workers.retrieval`), whose scores grow with the collection and
the question's length and mean nothing on their own. Auto-send (SPEC §6.7) needs a bar that
means the same everywhere, `AUTO_SEND_MIN_SCORE`, so each source offered to a draft also gets
this score, kept in the draft's details under the id the draft cites it by:

- an approved answer (`example-N`, or `request:<id>` offline): the share of the question's
  words (stemmed, stop words left out) that the question it answered also had;
- a knowledge-base passage (`kb-N`, or its file and heading offline): the share of the
  question's words found in the passage.

A question asked again in other words scores lower than the same words: this is a bar for
sending without a person, so it errs towards asking one.
"""

from __future__ import annotations

from integrations.store.search_terms import stem, tokens
from workers.retrieval import Grounding


def coverage(question: str, source: str) -> float:
    """The share of `question`'s words that `source` has too (0 when the question has none)."""
    asked = {stem(word) for word in tokens(question)}
    if not asked:
        return 0.0
    found = {stem(word) for word in tokens(source)}
    return len(asked & found) / len(asked)


def grounding_scores(question: str, grounding: Grounding) -> dict[str, float]:
    """Each offered source's score, under every id a draft may cite it by."""
    scores: dict[str, float] = {}
    for number, example in enumerate(grounding.examples, start=1):
        score = round(coverage(question, example.question), 3)
        scores[f"example-{number}"] = scores[f"request:{example.request_id}"] = score
    for number, passage in enumerate(grounding.passages, start=1):
        score = round(coverage(question, passage.text), 3)
        scores[f"kb-{number}"] = scores[passage.source] = score
    return scores


def best_cited(sources: list[str], scores: dict[str, float]) -> float:
    """The best score among the sources a draft cites (0 when it cites none we offered)."""
    return max((scores.get(source, 0.0) for source in sources), default=0.0)
