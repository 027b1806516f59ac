"""Semantic retrieval (SPEC §5.4) on the local OpenAI server's Embeddings endpoint: a question
asked in other words finds its answer, only ever within its own account (the canary, with
embeddings on); each text is embedded once; and when embeddings fail, retrieval is BM25's and
the draft goes on."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from integrations.llm import OpenAIModel
from integrations.store.db import transaction
from integrations.store.expertise_index import ExpertiseIndex
from integrations.store.models import Draft, Evidence, Request, RequestState
from integrations.store.search_index import ANSWERS, EXPERTISE, QUESTIONS
from integrations.store.search_models import Embedding
from integrations.store.vector_cache import VectorCache
from sandbox.openai_server import OpenAIServer
from tests.harness import model_world
from tests.test_retrieval import _answer
from tests.test_search_isolation import NOW, WEBHOOK, answered
from workers import semantic
from workers.expertise import expertise_for
from workers.retrieval import Scope, retrieve
from workers.semantic import prepare

PARAPHRASE = "Rotating webhooks' signing-secrets: what are the steps?"  # one BM25 term shared
RESTATED = "Rolling over the hook's key?"  # no stem shared: what expertise compares


def asking(sessions: sessionmaker[Session], account: str, text: str) -> int:
    """A new request of `account` asking `text`: the one being grounded."""
    with transaction(sessions) as session:
        request = answered(account, text, "")
        request.drafts, request.state = [], RequestState.OPEN
        session.add(request)
        session.flush()
        return request.id


def grounded(
    sessions: sessionmaker[Session],
    embedder: OpenAIModel | None,
    account: str,
    request: int,
    *,
    cache: VectorCache | None = None,
) -> list[int]:
    """The examples retrieval gives `request` of `account`, with embeddings when `embedder`
    (and the scopes' vectors kept in `cache`, as a worker keeps them)."""
    meaning = prepare(
        sessions, embedder, request, ANSWERS, account, exclude_request=request, cache=cache
    )
    with transaction(sessions) as session:
        text = session.get_one(Request, request).text
        found = retrieve(
            session,
            Scope(account),
            text,
            exclude_request=request,
            knowledge_dir=None,
            meaning=meaning,
        )
    assert found.scope == Scope(account)
    return [e.request_id for e in found.examples]


def test_a_paraphrase_is_found_by_meaning_and_not_by_words(
    sessions: sessionmaker[Session], embedder: OpenAIModel
) -> None:
    with transaction(sessions) as session:
        ours = answered("account:001A", WEBHOOK, "Settings > Webhooks > Rotate.")
        other = answered("account:001A", "Where is last month's invoice?", "Billing > Invoices.")
        session.add_all([ours, other])
    request = asking(sessions, "account:001A", PARAPHRASE)
    assert grounded(sessions, None, "account:001A", request) == []  # words alone: nothing
    assert grounded(sessions, embedder, "account:001A", request) == [ours.id]


def test_with_embeddings_no_answer_of_another_account_is_retrieved(
    sessions: sessionmaker[Session], embedder: OpenAIModel, model: OpenAIServer
) -> None:
    """The canary: the other accounts hold the very same question (cosine 1.0), and still
    none of their answers is offered, nor any of their texts embedded for this request."""
    with transaction(sessions) as session:
        ours = answered("account:001A", "Can we rotate a secret for the API?", "Yes, in Admin.")
        theirs = answered("account:001B", WEBHOOK, "Initech: Settings > Webhooks > Rotate.")
        channel = answered("channel:C0OTHER", WEBHOOK, "Channel: Settings > Webhooks.")
        session.add_all([ours, theirs, channel])
    for account, expected in [
        ("account:001A", [ours.id]),
        ("account:001B", [theirs.id]),
        ("channel:C0OTHER", [channel.id]),
        ("account:001Z", []),
    ]:
        before = len(model.embeddings.requests())
        request = asking(sessions, account, WEBHOOK)
        assert grounded(sessions, embedder, account, request) == expected
        sent = [t for body in model.embeddings.requests()[before:] for t in body["input"]]
        assert sent.count(WEBHOOK) == (1 if account in ("account:001A", "account:001Z") else 2)
        assert "Can we rotate a secret for the API?" not in sent or account == "account:001A"
    theirs_request = asking(sessions, "account:001B", PARAPHRASE)
    assert grounded(sessions, embedder, "account:001B", theirs_request) == [theirs.id]
    assert grounded(sessions, embedder, "account:001B", theirs.id) == []  # never its own


def test_each_text_is_embedded_once_and_a_changed_one_again(
    sessions: sessionmaker[Session], embedder: OpenAIModel, model: OpenAIServer
) -> None:
    with transaction(sessions) as session:
        first = answered("account:001A", WEBHOOK, "Settings > Webhooks > Rotate.")
        session.add(first)
    request = asking(sessions, "account:001A", PARAPHRASE)
    grounded(sessions, embedder, "account:001A", request)
    grounded(sessions, embedder, "account:001A", request)  # a redraft: nothing new to embed
    assert [body["input"] for body in model.embeddings.requests()] == [[PARAPHRASE, WEBHOOK]]
    with transaction(sessions) as session:
        session.get_one(Request, first.id).messages[0].text = "How do we export to CSV?"
    assert grounded(sessions, embedder, "account:001A", request) == []
    assert model.embeddings.requests()[-1]["input"] == ["How do we export to CSV?"]
    with transaction(sessions) as session:  # a 👎 takes the answer, and its vector, away
        draft = session.scalars(select(Draft).where(Draft.request_id == first.id)).one()
        draft.details = {"feedback": {"up": 0, "down": 1}}
    with transaction(sessions) as session:
        kept = session.execute(select(Embedding.corpus, Embedding.source_id)).all()
    assert kept == [(QUESTIONS, request)]


def test_when_embeddings_fail_retrieval_is_bm25s(
    sessions: sessionmaker[Session], embedder: OpenAIModel, model: OpenAIServer
) -> None:
    with transaction(sessions) as session:
        ours = answered("account:001A", WEBHOOK, "Settings > Webhooks > Rotate.")
        session.add(ours)
    request = asking(sessions, "account:001A", "how to rotate the webhook signing secret")
    model.embeddings.fail(500, times=2)  # the client's attempt and its one retry
    assert prepare(sessions, embedder, request, ANSWERS, "account:001A") is None
    assert grounded(sessions, embedder, "account:001A", request) == [ours.id]  # paused: words
    assert len(model.embeddings.requests()) == 2  # no call while paused
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Embedding)) == 0


def test_a_scope_too_large_to_compare_in_process_is_searched_by_words(
    sessions: sessionmaker[Session], embedder: OpenAIModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request reads its scope's vectors: above MAX_SCOPE documents (20,000) that costs
    each request seconds and hundreds of MB, so the scope is searched by words alone."""
    with transaction(sessions) as session:
        ours = answered("account:001A", WEBHOOK, "Settings > Webhooks > Rotate.")
        other = answered("account:001A", "Where is last month's invoice?", "Billing > Invoices.")
        session.add_all([ours, other])
    request = asking(sessions, "account:001A", PARAPHRASE)
    monkeypatch.setattr(semantic, "MAX_SCOPE", 1)  # this account's two answers are too many
    assert prepare(sessions, embedder, request, ANSWERS, "account:001A") is None
    assert grounded(sessions, embedder, "account:001A", request) == []  # words alone
    monkeypatch.setattr(semantic, "MAX_SCOPE", 2)
    assert grounded(sessions, embedder, "account:001A", request) == [ours.id]


def test_the_sandbox_vectors_are_deterministic_and_in_openais_format(
    model: OpenAIServer, embedder: OpenAIModel
) -> None:
    a, b, c = embedder.embed([WEBHOOK, WEBHOOK, "Where is last month's invoice?"])
    assert a == b and len(a) == 1536
    assert float(np.dot(a, a)) == pytest.approx(1.0, abs=1e-5)
    least = embedder.min_cosine
    assert float(np.dot(a, c)) < least < float(np.dot(a, embedder.embed([PARAPHRASE])[0]))
    import openai

    client = openai.OpenAI(api_key="sk-test", base_url=model.base_url)
    assert len(client.embeddings.create(model="m", input="x").data[0].embedding) == 1536  # b64
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="m", input=[""])


def test_a_drafts_prompt_is_never_grounded_on_another_account(
    database_url: str, redis_url: str, model: OpenAIServer
) -> None:
    """End to end with the model: Acme's answer grounds Acme's next question, and Initech's
    same question (cosine 1.0) gets none of it; with embeddings down, the cards still come."""
    with model_world(database_url, redis_url, model.base_url, grouping_minutes=0) as world:
        _answer(world, WEBHOOK, "Hi Carol, Settings > Webhooks > Rotate secret; 24 h overlap.")
        world.customer_says(f"{WEBHOOK} (Carol)")
        world.initech_says(f"{WEBHOOK} (Peter)")
        world.drain()
        prompts = [json.dumps(b["messages"], ensure_ascii=False) for b in model.requests()]
        ours = [p for p in prompts if f"{WEBHOOK} (Carol)" in p]
        theirs = [p for p in prompts if f"{WEBHOOK} (Peter)" in p]
        assert ours and theirs
        assert all("24 h overlap" in p for p in ours)
        assert not any("24 h overlap" in p for p in theirs)  # the canary
        assert model.embeddings.requests()
        model.embeddings.fail(500, times=50)
        cards = len(world.cards())
        world.customer_says("Another question about the webhook signing secret")
        world.drain()
        assert len(world.cards()) == cards + 1


def test_suggestions_find_who_answered_a_question_asked_in_other_words(
    sessions: sessionmaker[Session], embedder: OpenAIModel, model: OpenAIServer
) -> None:
    """Expertise compares across accounts (only a person comes of it): Sam answered the
    webhook question for another account, which the request asks in other words. The
    server's vectors here know that (its default ones only spell: see sandbox)."""

    def meaning(texts: list[str]) -> np.ndarray:
        concept = [0 if t in (RESTATED, WEBHOOK) else 1 if "invoice" in t else 2 for t in texts]
        return np.eye(3)[concept]

    model.embeddings.vectors = meaning
    with transaction(sessions) as session:
        for user, question in [("U0SAM", WEBHOOK), ("U0INA", "Where is last month's invoice?")]:
            session.add(
                Evidence(
                    source_key=f"thread:C0OTHER:{user}",
                    user_id=user,
                    kind="history",
                    question=question,
                    answer="Done.",
                    answered=True,
                    answered_at=NOW,
                )
            )
    request = asking(sessions, "account:001A", RESTATED)
    index = ExpertiseIndex()
    with transaction(sessions) as session:
        assert expertise_for(session, RESTATED, index=index, half_life_days=180, now=NOW) == {}
    meaning = prepare(sessions, embedder, request, EXPERTISE, "")
    with transaction(sessions) as session:
        found = expertise_for(
            session, RESTATED, index=index, half_life_days=180, now=NOW, meaning=meaning
        )
    assert list(found) == ["U0SAM"]
    assert found["U0SAM"].topic == ""  # no word in common to name it by
    embedded = [t for body in model.embeddings.requests() for t in body["input"]]
    assert sorted(embedded) == sorted([RESTATED, WEBHOOK, "Where is last month's invoice?"])
