"""Reading a retrieval evaluation set (bench/retrieval_eval.py) into answers and questions.

The held-out set (bench/data/retrieval_paraphrase.jsonl) is described beside it
(retrieval_paraphrase.md): `type` "answer" (`account`, `id`, `question`, `answer`, `lang`) or
"test" (`account`, `question`, `lang`, `kind`, `expected`: an answer's id, or null when the
account has no answer to it). This repository's development set (tests/data/retrieval_dev.jsonl)
is JSON lines, each an approved answer (`kind` "answer": `id`, `account`, `question`,
`answer`) or a test question (`kind` "query": `id`, `account`, `question`, `expected`,
`language`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Answer:
    id: str
    scope: str  # the tenant, as retrieval names it ("account:001A")
    question: str
    answer: str


@dataclass(frozen=True)
class Question:
    id: str
    scope: str
    text: str
    expected: str | None  # the id of the answer it should find; None: nothing should be
    language: str
    kind: str = "paraphrase"


@dataclass
class EvalSet:
    answers: list[Answer] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)


def load(path: Path) -> EvalSet:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return _held_out(rows) if rows and "type" in rows[0] else _dev_set(rows)


def _held_out(rows: list[dict[str, Any]]) -> EvalSet:
    data = EvalSet()
    for n, row in enumerate(rows, 1):
        scope = f"account:{row['account']}"
        if row["type"] == "answer":
            data.answers.append(Answer(row["id"], scope, row["question"], row["answer"]))
        else:
            data.questions.append(
                Question(f"t{n}", scope, row["question"], row["expected"], row["lang"], row["kind"])
            )
    return data


def _dev_set(rows: list[dict[str, Any]]) -> EvalSet:
    data = EvalSet()
    for row in rows:
        scope = f"account:{row['account']}"
        if row["kind"] == "answer":
            data.answers.append(Answer(row["id"], scope, row["question"], row["answer"]))
        else:
            data.questions.append(
                Question(row["id"], scope, row["question"], row["expected"], row["language"])
            )
    return data
